"""Data-source providers of the credit decision (R-6.3): a **sandbox** and an HTTP client.

``SandboxDataProvider`` — SIMULATED data, no source is queried. Each payload is generated from
``sha256(subject id + source id)`` (subject id: resident ID or USCC), so the same identity
always gets the same payload for the same application date, and carries ``"sandbox": true``.
Distributions are plausible (most applicants clean; ~3 % current overdue, ~1 % dishonest
debtors, ~0.2 % sanctions hits ...). Special identities force each adverse condition:

Resident ID **sequence code** (digits 15-17; build with :func:`sandbox_resident_id`):

====  ==================  ===========================================================
code  source              condition
====  ==================  ===========================================================
900   all                 clean: no random adverse event on any source of the person
901   sanctions           UN list hit, match score 0.98
902   judicial            dishonest debtor (失信被执行人) with an open case
903   credit_bureau       current overdue 8,500.00 (45 days past due)
904   credit_bureau       worst DPD in 24 months 120, nothing overdue now
905   admin_penalty       major penalty decided 180 days before the application
906   bank_flows          24 gambling transactions in 12 months
907   identity            ID number and name do not match
908   identity            phone not owned by the applicant
909   credit_bureau       provider time-out (``ProviderTimeout``)
910   credit_bureau       malformed payload (fails ``validate_payload``)
911   credit_bureau       no credit record (thin file)
912   judicial            two open enforcement cases, not a dishonest debtor
913   identity            phone in service for 2 months
914   credit_bureau       9 enquiries in 3 months
915   credit_bureau       provider down (``ProviderUnavailable``)
916   sanctions           near miss, match score 0.85 (below the 0.90 threshold)
917   social_security     no contributions
918   tax                 tax credit grade D
====  ==================  ===========================================================

USCC **marker** = characters 15-17 of the code (build with :func:`sandbox_uscc`):
``Y00`` clean enterprise, ``Y01`` revoked, ``Y02`` cancelled, ``Y03`` suspended,
``Y04`` licence expired 30 days before the application, ``Y05`` enterprise is a dishonest debtor,
``Y06`` enterprise OFAC hit 0.95, ``Y07`` major admin penalty, ``Y08`` tax grade D,
``Y09`` business founded 3 months ago, ``Y10`` revenue down 40 % year on year,
``Y11`` registry time-out, ``Y12`` platform receipts unavailable.

Random identities hit a sequence code 900-918 about 2 % of the time; demo generators that
want ordinary people use sequences below 900.

``HttpDataProvider`` — the real connection: per-source endpoint, HMAC-SHA256 signed requests,
time-out, retries with exponential back-off on 5xx and time-outs (never on 4xx), a circuit
breaker per source, and payload validation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from puhui.domain.calendar import add_months
from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.sources import (
    DataSourceSpec,
    ProviderPayloadInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    subject_ids,
    validate_payload,
)
from puhui.services.datasources import DataProvider

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "HttpDataProvider",
    "HttpSourceEndpoint",
    "SandboxDataProvider",
    "http_providers_from_file",
    "sandbox_resident_id",
    "sandbox_uscc",
    "sign_request",
]


def sandbox_resident_id(
    code: int = 0, *, region: str = "110105", birth: date = date(1985, 6, 15)
) -> str:
    """A valid resident ID whose sequence code is ``code`` (901 → sanctions hit ...)."""
    return make_resident_id(region, birth, code)


def sandbox_uscc(marker: str = "Y00", *, region: str = "110105", serial: int = 0) -> str:
    """A valid USCC of a company (91...) whose characters 15-17 are ``marker``."""
    return make_uscc(f"91{region}MA{serial % 10000:04d}{marker}")


# --- sandbox ---------------------------------------------------------------------------------


def _rng(subject: str, salt: str) -> random.Random:
    seed = hashlib.sha256(f"{subject}\x00{salt}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))  # noqa: S311 - simulated data only


def _money(units: int) -> str:
    return f"{max(units, 0)}.00"


def _months_back(ref: date, count: int) -> list[str]:
    """The ``count`` months before ``ref``'s month, oldest first, as ``YYYY-MM``."""
    first = add_months(ref.replace(day=1), -count)
    return [add_months(first, i).strftime("%Y-%m") for i in range(count)]


def _weighted(r: random.Random, table: list[tuple[Any, int]]) -> Any:
    return r.choices([v for v, _ in table], weights=[w for _, w in table])[0]


@dataclass(frozen=True)
class _Profile:
    """Facts shared by every source about one subject (founding date, scale, trend)."""

    founded_months_ago: int
    monthly_revenue: int
    growth_pct: int


def _profile(subject: str, marker: str | None) -> _Profile:
    r = _rng(subject, "profile")
    founded = 3 if marker == "Y09" else r.randint(8, 200)
    growth = -40 if marker == "Y10" else r.randint(-15, 35)
    return _Profile(founded, int(r.lognormvariate(11.2, 0.8)), growth)


@dataclass(frozen=True)
class _Ask:
    """One generation request: about ``subject`` (the person or the enterprise)."""

    app: CreditApplication
    r: random.Random
    subject: str
    is_person: bool
    clean: bool  # a 900 / Y00 identity: no random adverse event
    marker: str | None  # the enterprise's USCC marker

    @property
    def ref(self) -> date:
        return self.app.applied_on

    def profile(self) -> _Profile:
        return _profile(self.subject, self.marker)

    def income(self) -> int:
        """The applicant's monthly income scale (median 9,000; 18,000 for business owners)."""
        r = _rng(self.app.applicant_resident_id, "person-profile")
        median = 18000 if self.app.is_business else 9000
        return max(int(median * r.lognormvariate(0, 0.5)), 2500)

    def days_ago(self, low: int, high: int) -> str:
        return (self.ref - timedelta(self.r.randint(low, high))).isoformat()


class SandboxDataProvider:
    """SIMULATED payloads for every source (see the module docstring for special identities)."""

    name = "sandbox"

    def fetch(self, spec: DataSourceSpec, application: CreditApplication) -> dict[str, Any]:
        sid = spec.source_id
        code = application.applicant_sequence_code
        uscc = application.enterprise_uscc
        marker = uscc[14:17] if uscc else None
        if (sid, code) == ("credit_bureau", "909") or (sid, marker) == ("business_registry", "Y11"):
            raise ProviderTimeout("Sandbox: the source timed out.", details={"source_id": sid})
        if (sid, code) == ("credit_bureau", "915") or (sid, marker) == ("platform_receipts", "Y12"):
            raise ProviderUnavailable("Sandbox: the source is down.", details={"source_id": sid})
        subjects = subject_ids(spec, application)
        if not subjects:
            raise ValidationError(
                "The source does not apply to this application.",
                code="risk.source.not_applicable",
                details={"source_id": sid},
            )
        if (sid, code) == ("credit_bureau", "910"):
            return {"report_id": "SBX-BAD", "has_record": "yes", "worst_dpd_24m": "120"}
        generate: Callable[[_Ask], dict[str, Any]] = _GENERATORS[sid]
        parts = []
        for subject in subjects:
            is_person = subject == application.applicant_resident_id
            clean = code == "900" if is_person else marker == "Y00"
            parts.append(generate(_Ask(application, _rng(subject, sid), subject, is_person,
                                       clean, marker)))  # fmt: skip
        payload = parts[0] if len(parts) == 1 else _merge(sid, parts)
        _overlay(sid, payload, application, code, marker)
        payload["sandbox"] = True
        return payload


_ACCOUNT_KINDS = {  # kind: (limit in months of income, monthly service in ‰ of the balance)
    "credit_card": ((1, 4), 50),
    "consumer_loan": ((2, 10), 80),
    "business_loan": ((3, 18), 40),
    "mortgage": ((60, 150), 6),
}


def _credit_bureau(q: _Ask) -> dict[str, Any]:
    r = q.r
    income = q.income()
    accounts: list[dict[str, Any]] = []
    if q.clean or r.random() < 0.85:
        kinds = ["credit_card", "consumer_loan", "mortgage"]
        kinds += ["business_loan"] * 2 if q.app.is_business else ["credit_card"]
        for _ in range(r.randint(1, 4)):
            kind = r.choice(kinds)
            low, high = _ACCOUNT_KINDS[kind][0]
            limit = income * r.randint(low, high) // 100 * 100
            accounts.append(
                {
                    "kind": kind,
                    "opened_on": q.days_ago(90, 3650),
                    "limit": _money(limit),
                    "balance": _money(limit * r.randint(0, 70) // 100),
                    "overdue_amount": "0.00",
                    "worst_dpd_24m": 0,
                }
            )
        u = 1.0 if q.clean else r.random()
        if u < 0.03:  # overdue now
            accounts[0]["worst_dpd_24m"] = r.choice([15, 30, 45, 60, 90])
            accounts[0]["overdue_amount"] = _money(r.randint(500, 20000))
        elif u < 0.15:  # repaid late in the past
            accounts[0]["worst_dpd_24m"] = _weighted(
                r, [(r.randint(1, 30), 70), (r.randint(31, 60), 30),
                    (r.randint(61, 90), 15), (r.randint(91, 180), 5)],
            )  # fmt: skip
    _cap_debt_service(q, accounts)
    enquiries = 0 if q.clean else _weighted(
        r, [(0, 40), (1, 25), (2, 15), (3, 10), (4, 5), (r.randint(5, 8), 5)]
    )  # fmt: skip
    return _bureau_totals(f"SBX-CR-{r.getrandbits(48):012x}", accounts, enquiries)


def _cap_debt_service(q: _Ask, accounts: list[dict[str, Any]]) -> None:
    """Keep the monthly debt service a plausible share of income: 15-40 % for a clean identity;
    otherwise mostly below 45 %, with a tail above 55 % and 70 % (the warn and decline lines).
    Income here is the one the decision derives (declared, or 30 % of a business's inflows,
    about 55 % of the owner's income scale)."""
    r = q.r
    target = r.randint(150, 400) if q.clean else _weighted(
        r, [(r.randint(50, 450), 80), (r.randint(450, 600), 12),
            (r.randint(600, 700), 4), (r.randint(700, 1200), 4)],
    )  # fmt: skip
    basis = q.income() * (55 if q.app.is_business else 100) // 100
    allowed = basis * target // 1000
    service = sum(int(a["balance"][:-3]) * _ACCOUNT_KINDS[a["kind"]][1] // 1000 for a in accounts)
    if service > allowed > 0:
        for a in accounts:
            a["balance"] = _money(int(a["balance"][:-3]) * allowed // service)


def _tax(q: _Ask) -> dict[str, Any]:
    profile = q.profile()
    grades = [("A", 25), ("B", 45), ("M", 15), ("C", 10), ("D", 5)]
    grade = "B" if q.clean else _weighted(q.r, grades)
    count = min(24, profile.founded_months_ago)
    revenue = []
    for i, month in enumerate(_months_back(q.ref, count)):
        trend = max(100 + profile.growth_pct * (i - count + 1) // 12, 10)
        amount = profile.monthly_revenue * trend * q.r.randint(85, 115) // 10000
        revenue.append({"month": month, "revenue": _money(amount)})
    registered = add_months(q.ref, -profile.founded_months_ago)
    return {"tax_grade": grade, "registered_on": registered.isoformat(), "monthly_revenue": revenue}


def _business_registry(q: _Ask) -> dict[str, Any]:
    r = q.r
    statuses = [("in_operation", 970), ("suspended", 12), ("revoked", 10), ("cancelled", 8)]
    established = add_months(q.ref, -q.profile().founded_months_ago)
    until: date | None = None
    if r.random() < 0.3:
        until = add_months(established, 12 * r.choice([20, 30]))
        if not q.clean and r.random() < 0.03:
            until = q.ref - timedelta(r.randint(1, 200))
    return {
        "uscc": q.subject,
        "name": q.app.enterprise_name or f"沙箱测试企业{q.subject[-6:]}有限公司",
        "status": "in_operation" if q.clean else _weighted(r, statuses),
        "established_on": established.isoformat(),
        "licence_valid_until": until.isoformat() if until else None,
        "industry_code": q.app.industry_code,
        "region_code": q.subject[2:8],
        "registered_capital": _money(r.choice([1, 3, 5, 10, 50, 100, 500]) * 10**5),
    }


def _judicial(q: _Ask) -> dict[str, Any]:
    r = q.r
    u = 1.0 if q.clean else r.random()
    dishonest = u < 0.01
    open_cases = 1 if dishonest else (r.randint(1, 2) if u < 0.04 else 0)
    closed = 1 if 0.04 <= u < 0.09 else 0
    cases = [
        {
            "case_no": f"({q.ref.year - 1})京0105执{r.randint(1000, 9999)}号",
            "filed_on": q.days_ago(30, 700),
            "amount": _money(r.randint(5, 500) * 1000),
            "status": "open" if i < open_cases else "closed",
        }
        for i in range(open_cases + closed)
    ]
    return {"dishonest_debtor": dishonest, "open_enforcement_cases": open_cases, "cases": cases}


def _admin_penalty(q: _Ask) -> dict[str, Any]:
    r = q.r
    u = 1.0 if q.clean else r.random()
    authorities = ["市场监督管理局", "生态环境局", "税务局", "应急管理局"]
    penalties = [
        {
            "decided_on": q.days_ago(10, 1000),
            "authority": r.choice(authorities),
            "severity": "major" if u < 0.006 and i == 0 else "minor",
            "amount": _money(r.randint(1, 200) * 500),
        }
        for i in range(0 if u >= 0.066 else r.randint(1, 2))
    ]
    return {"penalties": penalties}


def _sanctions(q: _Ask) -> dict[str, Any]:
    r = q.r
    u = 1.0 if q.clean else r.random()
    if u >= 0.012:
        return {"hits": []}
    score = r.randint(90, 100) if u < 0.002 else r.randint(60, 85)  # ~0.2 % hits, ~1 % near
    listed = r.choice(["UN", "PBOC", "OFAC"])
    entry = f"{listed}-{r.randint(10000, 99999)}"
    return {"hits": [{"list": listed, "entry_id": entry, "match_score": f"{score / 100:.2f}"}]}


def _bank_flows(q: _Ask) -> dict[str, Any]:
    r = q.r
    # a business's account (an individual business without USCC: the owner's account)
    business = q.app.is_business
    scale = q.profile().monthly_revenue if business else q.income() * r.randint(100, 130) // 100
    balance = scale * r.randint(10, 200) // 100
    months = []
    for month in _months_back(q.ref, 12):
        inflow = scale * r.randint(80, 125) // 100
        outflow = min(inflow * r.randint(85, 102) // 100, balance + inflow)
        balance += inflow - outflow
        months.append({"month": month, "inflow": _money(inflow), "outflow": _money(outflow),
                       "end_balance": _money(balance)})  # fmt: skip
    gambling = 0 if q.clean or r.random() >= 0.015 else r.randint(1, 40)
    return {"months": months, "gambling_txn_12m": gambling}


def _platform_receipts(q: _Ask) -> dict[str, Any]:
    r = q.r
    profile = q.profile()
    opened_ago = r.randint(min(3, profile.founded_months_ago), profile.founded_months_ago)
    months = [
        {
            "month": month,
            "gmv": _money(profile.monthly_revenue * r.randint(20, 70) // 100),
            "refund_rate": f"0.{r.randint(50, 1500):04d}",
        }
        for month in _months_back(q.ref, min(12, opened_ago))
    ]
    return {
        "platform": r.choice(["taobao", "jd", "pinduoduo", "meituan", "douyin"]),
        "store_opened_on": add_months(q.ref, -opened_ago).isoformat(),
        "months": months,
    }


def _social_security(q: _Ask) -> dict[str, Any]:
    r = q.r
    if r.random() >= (0.5 if q.app.is_business else 0.8):
        return {"months_contributed": 0, "employer": None, "contribution_base": "0.00"}
    return {
        "months_contributed": r.randint(6, 240),
        "employer": None if q.app.is_business else f"沙箱雇主{r.randint(100, 999)}有限公司",
        "contribution_base": _money(min(max(q.income(), 3500), 35000) // 100 * 100),
    }


def _identity(q: _Ask) -> dict[str, Any]:
    r = q.r
    u = 1.0 if q.clean else r.random()
    new_phone = 0.025 <= u < 0.055
    return {
        "id_name_match": u >= 0.005,
        "phone_owner_match": not 0.005 <= u < 0.025,
        "phone_in_service_months": r.randint(1, 5) if new_phone else r.randint(6, 180),
    }


_GENERATORS: dict[str, Callable[[_Ask], dict[str, Any]]] = {
    "credit_bureau": _credit_bureau,
    "tax": _tax,
    "business_registry": _business_registry,
    "judicial": _judicial,
    "admin_penalty": _admin_penalty,
    "sanctions": _sanctions,
    "bank_flows": _bank_flows,
    "platform_receipts": _platform_receipts,
    "social_security": _social_security,
    "identity": _identity,
}


def _bureau_totals(
    report_id: str, accounts: list[dict[str, Any]], enquiries: int
) -> dict[str, Any]:
    balances = [int(a["balance"][:-3]) for a in accounts]
    service = sum(b * _ACCOUNT_KINDS.get(a["kind"], ((0, 0), 50))[1] // 1000
                  for a, b in zip(accounts, balances, strict=True))  # fmt: skip
    return {
        "report_id": report_id,
        "has_record": bool(accounts),
        "current_overdue_amount": _money(sum(int(a["overdue_amount"][:-3]) for a in accounts)),
        "worst_dpd_24m": max((a["worst_dpd_24m"] for a in accounts), default=0),
        "enquiries_3m": enquiries,
        "monthly_debt_service": _money(service),
        "total_credit_balance": _money(sum(balances)),
        "accounts": accounts,
    }


def _merge(source_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One payload about the person and the enterprise (judicial, sanctions)."""
    if source_id == "judicial":
        return {
            "dishonest_debtor": any(p["dishonest_debtor"] for p in parts),
            "open_enforcement_cases": sum(p["open_enforcement_cases"] for p in parts),
            "cases": [c for p in parts for c in p["cases"]],
        }
    return {"hits": [h for p in parts for h in p["hits"]]}


def _overlay(
    sid: str, p: dict[str, Any], app: CreditApplication, code: str, marker: str | None
) -> None:
    """Apply the special identities' forced conditions (module docstring)."""
    ref = app.applied_on
    if sid == "sanctions":
        if code == "901":
            p["hits"].append({"list": "UN", "entry_id": "UN-SBX-901", "match_score": "0.98"})
        if code == "916":
            p["hits"].append({"list": "PBOC", "entry_id": "PBOC-SBX-916", "match_score": "0.85"})
        if marker == "Y06":
            p["hits"].append({"list": "OFAC", "entry_id": "OFAC-SBX-Y06", "match_score": "0.95"})
    elif sid == "judicial" and (code in ("902", "912") or marker == "Y05"):
        opened = 2 if code == "912" else 1
        for i in range(opened):
            p["cases"].append({"case_no": f"(2025)京0105执SBX{i}号",
                               "filed_on": (ref - timedelta(90)).isoformat(),
                               "amount": "50000.00", "status": "open"})  # fmt: skip
        p["open_enforcement_cases"] += opened
        p["dishonest_debtor"] = p["dishonest_debtor"] or code == "902" or marker == "Y05"
    elif sid == "credit_bureau" and code in ("903", "904", "911", "914"):
        accounts = [] if code == "911" else p["accounts"]
        if code in ("903", "904"):
            if not accounts:
                accounts.append({"kind": "consumer_loan", "opened_on": "2020-01-01",
                                 "limit": "50000.00", "balance": "20000.00",
                                 "overdue_amount": "0.00", "worst_dpd_24m": 0})  # fmt: skip
            accounts[0]["worst_dpd_24m"] = 45 if code == "903" else 120
            accounts[0]["overdue_amount"] = "8500.00" if code == "903" else "0.00"
        enquiries = 9 if code == "914" else p["enquiries_3m"]
        p.update(_bureau_totals(p["report_id"], accounts, enquiries))
    elif sid == "admin_penalty" and (code == "905" or marker == "Y07"):
        p["penalties"].append({"decided_on": (ref - timedelta(180)).isoformat(),
                               "authority": "市场监督管理局", "severity": "major",
                               "amount": "200000.00"})  # fmt: skip
    elif sid == "bank_flows" and code == "906":
        p["gambling_txn_12m"] = 24
    elif sid == "identity":
        p["id_name_match"] = p["id_name_match"] and code != "907"
        p["phone_owner_match"] = p["phone_owner_match"] and code != "908"
        if code == "913":
            p["phone_in_service_months"] = 2
    elif sid == "social_security" and code == "917":
        p.update(months_contributed=0, employer=None, contribution_base="0.00")
    elif sid == "tax" and (code == "918" or marker == "Y08"):
        p["tax_grade"] = "D"
    elif sid == "business_registry" and marker in ("Y01", "Y02", "Y03", "Y04"):
        if marker == "Y04":
            p.update(status="in_operation", licence_valid_until=(ref - timedelta(30)).isoformat())
        else:
            p["status"] = {"Y01": "revoked", "Y02": "cancelled", "Y03": "suspended"}[marker]


# --- HTTP ------------------------------------------------------------------------------------


def sign_request(secret: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``METHOD\npath\ntimestamp\nsha256hex(body)``."""
    digest = hashlib.sha256(body).hexdigest()
    message = f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HttpSourceEndpoint:
    """Where and how one source is reached; ``secret`` is the HMAC key of ``key_id``."""

    base_url: str
    path: str
    key_id: str
    secret: bytes = field(repr=False)
    timeout_seconds: float = 5.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` consecutive failures → half-open once
    ``cool_down`` has passed (one trial call) → closed on success, open again on failure."""

    def __init__(
        self, *, failure_threshold: int, cool_down: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self.clock = clock
        self.failures = 0
        self.opened_at: datetime | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self._trial_running or self.clock() - self.opened_at >= self.cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        with self._lock:
            state = self.state
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self._trial_running = 0, None, False

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self._trial_running or self.failures >= self.failure_threshold:
                self.opened_at = self.clock()
            self._trial_running = False


class _ClientError(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class HttpDataProvider:
    """Queries each source's HTTP endpoint (``POST base_url + path``, JSON body, JSON answer).

    Signed headers ``X-Puhui-Key-Id``, ``X-Puhui-Timestamp`` (Unix seconds) and
    ``X-Puhui-Signature`` (:func:`sign_request`). A call makes at most ``1 + max_retries``
    attempts; it retries time-outs, connection errors and 5xx after ``backoff_base_seconds *
    2**n`` (capped), never a 4xx. A source whose breaker is open fails at once with
    ``ProviderUnavailable``; a 4xx proves the server is up and does not count as a failure.
    The request carries only the identifiers the source needs (R-11.2).
    """

    name = "http"

    def __init__(
        self,
        endpoints: Mapping[str, HttpSourceEndpoint],
        *,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 2,
        backoff_base_seconds: float = 0.2,
        backoff_cap_seconds: float = 2.0,
        failure_threshold: int = 5,
        cool_down: timedelta = timedelta(seconds=30),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoints = dict(endpoints)
        self.max_retries = max_retries
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.clock = clock
        self.sleep = sleep
        self.breakers = {
            sid: CircuitBreaker(
                failure_threshold=failure_threshold, cool_down=cool_down, clock=clock
            )
            for sid in self.endpoints
        }
        self._client = httpx.Client(transport=transport)

    def close(self) -> None:
        self._client.close()

    def fetch(self, spec: DataSourceSpec, application: CreditApplication) -> dict[str, Any]:
        sid = spec.source_id
        endpoint = self.endpoints.get(sid)
        if endpoint is None:
            raise ProviderUnavailable(
                "No endpoint is configured for this source.",
                details={"source_id": sid, "reason": "no_endpoint"},
            )
        breaker = self.breakers[sid]
        if not breaker.allow():
            raise ProviderUnavailable(
                "The source is failing; calls are paused (circuit open).",
                details={"source_id": sid, "reason": "circuit_open"},
            )
        body = json.dumps(
            _query(spec, application), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        try:
            payload = self._call(sid, endpoint, body)
        except _ClientError as error:
            breaker.record_success()
            raise ProviderUnavailable(
                "The source refused the request.",
                details={"source_id": sid, "reason": "client_error", "status": error.status},
            ) from None
        except (ProviderTimeout, ProviderUnavailable, ProviderPayloadInvalid):
            breaker.record_failure()
            raise
        breaker.record_success()
        return payload

    def _call(self, sid: str, endpoint: HttpSourceEndpoint, body: bytes) -> dict[str, Any]:
        url = httpx.URL(endpoint.base_url.rstrip("/") + endpoint.path)
        last: ProviderTimeout | ProviderUnavailable | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff_base_seconds * 2 ** (attempt - 1)
                self.sleep(min(delay, self.backoff_cap_seconds))
            timestamp = str(int(self.clock().timestamp()))
            headers = {
                "Content-Type": "application/json",
                "X-Puhui-Key-Id": endpoint.key_id,
                "X-Puhui-Timestamp": timestamp,
                "X-Puhui-Signature": sign_request(
                    endpoint.secret, "POST", url.path, timestamp, body
                ),
            }
            details = {"source_id": sid, "attempts": attempt + 1}
            try:
                response = self._client.post(
                    url, content=body, headers=headers, timeout=endpoint.timeout_seconds
                )
            except httpx.TimeoutException:
                last = ProviderTimeout("The source did not answer in time.", details=details)
                continue
            except httpx.TransportError:
                last = ProviderUnavailable("The source could not be reached.", details=details)
                continue
            if response.status_code >= 500:
                details["status"] = response.status_code
                last = ProviderUnavailable("The source failed.", details=details)
                continue
            if response.status_code != 200:
                raise _ClientError(response.status_code)
            return _payload(sid, response)
        assert last is not None
        raise last


def _payload(sid: str, response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise ProviderPayloadInvalid(
            "The source did not answer JSON.",
            details={"source_id": sid, "key": "$", "reason": "not_json"},
        ) from None
    validate_payload(sid, payload)
    assert isinstance(payload, dict)
    return payload


def _query(spec: DataSourceSpec, app: CreditApplication) -> dict[str, Any]:
    """The request body: the application reference and only the identifiers needed."""
    subjects: dict[str, str] = {}
    for subject in subject_ids(spec, app):
        if subject == app.applicant_resident_id:
            subjects.update(resident_id=subject, name=app.applicant_name)
            if spec.source_id == "identity":
                subjects["mobile"] = app.applicant_mobile
        else:
            subjects["uscc"] = subject
            if app.enterprise_name:
                subjects["enterprise_name"] = app.enterprise_name
    return {
        "source_id": spec.source_id,
        "data_type": spec.data_type,
        "application_id": app.application_id,
        "purpose": spec.consent_purpose.value if spec.consent_purpose else None,
        "subjects": subjects,
    }


def http_providers_from_file(path: str | Path) -> DataProvider:
    """An :class:`HttpDataProvider` configured by a JSON file; secrets come from the environment::

    {"max_retries": 2, "backoff_base_seconds": 0.2, "failure_threshold": 5,
     "cool_down_seconds": 30,
     "sources": {"credit_bureau": {"base_url": "https://bureau.example", "path": "/v1/report",
                                   "key_id": "puhui-01", "secret_env": "PUHUI_BUREAU_SECRET",
                                   "timeout_seconds": 5}}}
    """

    def bad(message: str, **details: Any) -> ValidationError:
        return ValidationError(message, code="risk.provider_config.invalid", details=details)

    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        sources = config["sources"]
        endpoints = {}
        for source_id, entry in sources.items():
            secret = os.environ.get(entry["secret_env"], "")
            if len(secret) < 16:
                raise bad("The source's secret is missing or shorter than 16 characters.",
                          source_id=source_id, secret_env=entry["secret_env"])  # fmt: skip
            endpoints[source_id] = HttpSourceEndpoint(
                base_url=str(entry["base_url"]),
                path=str(entry["path"]),
                key_id=str(entry["key_id"]),
                secret=secret.encode(),
                timeout_seconds=float(entry.get("timeout_seconds", 5.0)),
            )
        return HttpDataProvider(
            endpoints,
            max_retries=int(config.get("max_retries", 2)),
            backoff_base_seconds=float(config.get("backoff_base_seconds", 0.2)),
            backoff_cap_seconds=float(config.get("backoff_cap_seconds", 2.0)),
            failure_threshold=int(config.get("failure_threshold", 5)),
            cool_down=timedelta(seconds=float(config.get("cool_down_seconds", 30))),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise bad("The data-provider file is not valid.", error=type(error).__name__) from None
