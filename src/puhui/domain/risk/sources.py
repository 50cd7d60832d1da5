"""External data sources of the credit decision: one registry, each source with its provider,
channel, subject, data type, consent purpose, freshness, cost and fallback (R-6.3).

Every payload a provider returns is checked by :func:`validate_payload` against the exact keys and
types below before anything uses it; a malformed payload raises :class:`ProviderPayloadInvalid`
(``risk.source.invalid_payload``, details name the key, e.g. ``accounts[0].limit``). Amounts,
ratios and scores are decimal *strings*, dates ``YYYY-MM-DD``, months ``YYYY-MM``, counts
non-negative integers. Any payload may carry ``"sandbox": true`` (simulated data).

Continuity plan (R-6.3): a source that times out, is down or answers garbage yields a
:class:`SourceOutcome` with that status instead of an exception, and the decision applies the
source's ``fallback``: ``decline_safe`` — the application must not be approved without this
data (decline now, the applicant may re-apply; used for AML screening and identity), ``review``
— route to manual review, listing the missing data.

Costs are indicative list prices per call, to be set from each provider contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final

from puhui.domain.errors import DomainError, ErrorKind
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import ConsentPurpose

__all__ = [
    "SOURCE_REGISTRY",
    "DataSourceSpec",
    "Payload",
    "ProviderPayloadInvalid",
    "ProviderTimeout",
    "ProviderUnavailable",
    "SourceChannel",
    "SourceFallback",
    "SourceOutcome",
    "SourceStatus",
    "SourceSubject",
    "missing_sources",
    "payloads_of",
    "required_fallback",
    "subject_ids",
    "validate_payload",
]

Payload = Mapping[str, Any]


class ProviderTimeout(DomainError):
    code = "risk.source.timeout"
    kind = ErrorKind.UNAVAILABLE


class ProviderUnavailable(DomainError):
    code = "risk.source.unavailable"
    kind = ErrorKind.UNAVAILABLE


class ProviderPayloadInvalid(DomainError):
    """The provider answered, but not with the documented payload (a provider fault)."""

    code = "risk.source.invalid_payload"
    kind = ErrorKind.UNAVAILABLE


class SourceChannel(StrEnum):
    API = "api"  # online query
    FILE = "file"  # list or batch file loaded by the platform
    PARTNER = "partner"  # through a scenario partner's connection


class SourceSubject(StrEnum):
    """Whom a source is queried about; :func:`subject_ids` resolves it for an application."""

    PERSON = "person"
    ENTERPRISE = "enterprise"  # only when the application has an enterprise (USCC)
    BUSINESS = "business"  # the enterprise, or the owner of an individual business without USCC
    ENTERPRISE_OR_PERSON = "enterprise_or_person"  # the enterprise if any, else the person
    PERSON_AND_ENTERPRISE = "person_and_enterprise"  # both, one merged payload


class SourceFallback(StrEnum):
    DECLINE_SAFE = "decline_safe"
    REVIEW = "review"


class SourceStatus(StrEnum):
    OK = "ok"
    CACHED = "cached"
    MISSING_CONSENT = "missing_consent"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    INVALID_PAYLOAD = "invalid_payload"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class DataSourceSpec:
    """One registered data source (R-6.3: source, channel, subject, data type)."""

    source_id: str
    name_zh: str
    name_en: str
    subject: SourceSubject
    channel: SourceChannel
    data_type: str
    owner: str
    consent_purpose: ConsentPurpose | None
    freshness: timedelta
    cost_cny: Decimal
    fallback: SourceFallback


def _spec(
    source_id: str,
    name_zh: str,
    name_en: str,
    subject: SourceSubject,
    channel: SourceChannel,
    data_type: str,
    owner: str,
    purpose: ConsentPurpose | None,
    days: int,
    cost: str,
    fallback: SourceFallback = SourceFallback.REVIEW,
) -> DataSourceSpec:
    return DataSourceSpec(
        source_id,
        name_zh,
        name_en,
        subject,
        channel,
        data_type,
        owner,
        purpose,
        timedelta(days=days),
        Decimal(cost),
        fallback,
    )


_S = SourceSubject
_C = SourceChannel
_P = ConsentPurpose
SOURCE_REGISTRY: Final[Mapping[str, DataSourceSpec]] = MappingProxyType(
    {
        s.source_id: s
        for s in (
            _spec("credit_bureau", "征信报告", "Credit report", _S.PERSON, _C.API,
                  "credit_report", "中国人民银行征信中心 (PBOC Credit Reference Center)",
                  _P.CREDIT_REPORT, 30, "2.00"),
            _spec("tax", "涉税信息", "Tax records", _S.BUSINESS, _C.PARTNER, "tax_records",
                  "国家税务总局 银税互动 (State Taxation Administration, bank-tax interaction)",
                  _P.TAX_DATA, 30, "1.00"),
            _spec("business_registry", "工商登记", "Business registry", _S.ENTERPRISE, _C.API,
                  "registry", "国家企业信用信息公示系统 (SAMR enterprise credit publicity)",
                  None, 7, "0.50"),
            _spec("judicial", "司法执行", "Court enforcement", _S.PERSON_AND_ENTERPRISE, _C.API,
                  "court_enforcement", "中国执行信息公开网 (Supreme People's Court)",
                  None, 1, "0.30"),
            _spec("admin_penalty", "行政处罚", "Administrative penalties",
                  _S.ENTERPRISE_OR_PERSON, _C.FILE, "administrative_penalty",
                  "信用中国 (Credit China, NDRC)", None, 7, "0.10"),
            _spec("sanctions", "反洗钱制裁名单", "AML sanctions lists", _S.PERSON_AND_ENTERPRISE,
                  _C.FILE, "aml_sanctions", "UN Security Council / PBOC / OFAC SDN lists",
                  None, 1, "0.05", SourceFallback.DECLINE_SAFE),
            _spec("bank_flows", "银行流水", "Bank account flows", _S.ENTERPRISE_OR_PERSON,
                  _C.API, "bank_flows", "开户银行 (account-holding bank, open banking)",
                  _P.BANK_FLOWS, 30, "1.50"),
            _spec("platform_receipts", "平台经营流水", "Platform receipts", _S.BUSINESS,
                  _C.PARTNER, "platform_receipts", "电商/收单平台 (e-commerce/acquiring partner)",
                  _P.PLATFORM_DATA, 7, "1.00"),
            _spec("social_security", "社保缴纳", "Social security", _S.PERSON, _C.PARTNER,
                  "social_security", "人力资源和社会保障局 (social security bureau)",
                  _P.SOCIAL_SECURITY, 30, "0.80"),
            _spec("identity", "身份核验", "Identity verification", _S.PERSON, _C.API,
                  "identity_verification", "公安部身份核查 + 运营商 (NCIIC + mobile operators)",
                  _P.IDENTITY_VERIFICATION, 365, "0.60", SourceFallback.DECLINE_SAFE),
        )
    }
)  # fmt: skip
"""The ten data sources of the decision, by ``source_id`` (R-6.3)."""


def subject_ids(spec: DataSourceSpec, application: CreditApplication) -> tuple[str, ...]:
    """Identifiers the source is queried about (resident ID and/or USCC); ``()`` when the source
    does not apply (an enterprise source on a consumer application)."""
    person = application.applicant_resident_id
    uscc = application.enterprise_uscc
    subject = spec.subject
    if subject is SourceSubject.PERSON:
        return (person,)
    if subject is SourceSubject.ENTERPRISE:
        return (uscc,) if uscc else ()
    if subject is SourceSubject.BUSINESS and not application.is_business:
        return ()
    if subject is SourceSubject.PERSON_AND_ENTERPRISE:
        return (person, uscc) if uscc else (person,)
    return (uscc,) if uscc else (person,)


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What collecting one source gave: a payload (``ok``/``cached``) or why there is none."""

    source_id: str
    status: SourceStatus
    payload: Payload | None = None
    fetched_at: datetime | None = None
    error_code: str | None = None

    @property
    def usable(self) -> bool:
        return self.status in (SourceStatus.OK, SourceStatus.CACHED)


def payloads_of(outcomes: Mapping[str, SourceOutcome]) -> dict[str, Payload | None]:
    """The input of variable computation: each source's payload, ``None`` when unusable."""
    return {sid: (o.payload if o.usable else None) for sid, o in outcomes.items()}


def missing_sources(outcomes: Mapping[str, SourceOutcome]) -> tuple[str, ...]:
    """Sources that applied but gave no usable payload, in registry order of the mapping."""
    return tuple(
        sid
        for sid, o in outcomes.items()
        if not o.usable and o.status is not SourceStatus.NOT_APPLICABLE
    )


def required_fallback(
    outcomes: Mapping[str, SourceOutcome],
    registry: Mapping[str, DataSourceSpec] = SOURCE_REGISTRY,
) -> SourceFallback | None:
    """The strictest fallback among missing sources: ``decline_safe`` beats ``review``."""
    fallbacks = {registry[sid].fallback for sid in missing_sources(outcomes)}
    if SourceFallback.DECLINE_SAFE in fallbacks:
        return SourceFallback.DECLINE_SAFE
    return SourceFallback.REVIEW if fallbacks else None


# --- payload validation -----------------------------------------------------------------------

Check = Callable[[Any, str, str], None]
_DECIMAL: Final = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")
_SIGNED_DECIMAL: Final = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION: Final = re.compile(r"[0-9]{6}")
_MONTH: Final = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def _fail(source_id: str, path: str, reason: str) -> ProviderPayloadInvalid:
    return ProviderPayloadInvalid(
        f"The {source_id} payload is malformed at '{path}' ({reason}).",
        details={"source_id": source_id, "key": path, "reason": reason},
    )


def _bool(v: Any, sid: str, path: str) -> None:
    if not isinstance(v, bool):
        raise _fail(sid, path, "not_a_boolean")


def _count(v: Any, sid: str, path: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1_000_000:
        raise _fail(sid, path, "not_a_count")


def _text(v: Any, sid: str, path: str) -> None:
    if not isinstance(v, str) or not 1 <= len(v) <= 200:
        raise _fail(sid, path, "not_a_string")


def _decimal(pattern: re.Pattern[str], upper: Decimal | None = None) -> Check:
    def check(v: Any, sid: str, path: str) -> None:
        if not isinstance(v, str) or not pattern.fullmatch(v):
            raise _fail(sid, path, "not_a_decimal_string")
        if upper is not None and Decimal(v) > upper:
            raise _fail(sid, path, "out_of_range")

    return check


_amount = _decimal(_DECIMAL)
_signed = _decimal(_SIGNED_DECIMAL)
_ratio = _decimal(_DECIMAL, Decimal(1))


def _date(v: Any, sid: str, path: str) -> None:
    if not isinstance(v, str) or not _DATE.fullmatch(v):
        raise _fail(sid, path, "not_a_date")
    try:
        date.fromisoformat(v)
    except ValueError:
        raise _fail(sid, path, "not_a_date") from None


def _month(v: Any, sid: str, path: str) -> None:
    if not isinstance(v, str) or not _MONTH.fullmatch(v):
        raise _fail(sid, path, "not_a_month")


def _region(v: Any, sid: str, path: str) -> None:
    if not isinstance(v, str) or not _REGION.fullmatch(v):
        raise _fail(sid, path, "not_a_region_code")


def _one_of(*allowed: str) -> Check:
    def check(v: Any, sid: str, path: str) -> None:
        if not isinstance(v, str) or v not in allowed:
            raise _fail(sid, path, "not_allowed")

    return check


def _optional(inner: Check) -> Check:
    def check(v: Any, sid: str, path: str) -> None:
        if v is not None:
            inner(v, sid, path)

    return check


def _object(schema: Mapping[str, Check], *, sandbox: bool = False) -> Check:
    def check(v: Any, sid: str, path: str) -> None:
        if not isinstance(v, Mapping):
            raise _fail(sid, path or "$", "not_an_object")
        prefix = f"{path}." if path else ""
        for key in v:
            if key not in schema and not (sandbox and key == "sandbox"):
                raise _fail(sid, f"{prefix}{key}"[:120], "unknown_key")
        for key, inner in schema.items():
            if key not in v:
                raise _fail(sid, prefix + key, "missing_key")
            inner(v[key], sid, prefix + key)
        if sandbox and "sandbox" in v:
            _bool(v["sandbox"], sid, "sandbox")

    return check


def _list(item: Check, max_len: int, *, months_ascending: bool = False) -> Check:
    def check(v: Any, sid: str, path: str) -> None:
        if not isinstance(v, list):
            raise _fail(sid, path, "not_a_list")
        if len(v) > max_len:
            raise _fail(sid, path, "too_long")
        for i, element in enumerate(v):
            item(element, sid, f"{path}[{i}]")
        if months_ascending:
            months = [element["month"] for element in v]
            if any(a >= b for a, b in pairwise(months)):
                raise _fail(sid, path, "months_not_ascending")

    return check


_SCHEMAS: Final[Mapping[str, Check]] = MappingProxyType({
    "credit_bureau": _object({
        "report_id": _text, "has_record": _bool, "current_overdue_amount": _amount,
        "worst_dpd_24m": _count, "enquiries_3m": _count, "monthly_debt_service": _amount,
        "total_credit_balance": _amount,
        "accounts": _list(_object({
            "kind": _text, "opened_on": _date, "limit": _amount, "balance": _amount,
            "overdue_amount": _amount, "worst_dpd_24m": _count,
        }), 500),
    }, sandbox=True),
    "tax": _object({
        "tax_grade": _one_of("A", "B", "M", "C", "D"), "registered_on": _date,
        "monthly_revenue": _list(_object({"month": _month, "revenue": _amount}), 24,
                                 months_ascending=True),
    }, sandbox=True),
    "business_registry": _object({
        "uscc": _text, "name": _text,
        "status": _one_of("in_operation", "suspended", "revoked", "cancelled"),
        "established_on": _date, "licence_valid_until": _optional(_date),
        "industry_code": _one_of(*"ABCDEFGHIJKLMNOPQRST"), "region_code": _region,
        "registered_capital": _amount,
    }, sandbox=True),
    "judicial": _object({
        "dishonest_debtor": _bool, "open_enforcement_cases": _count,
        "cases": _list(_object({
            "case_no": _text, "filed_on": _date, "amount": _amount, "status": _text,
        }), 500),
    }, sandbox=True),
    "admin_penalty": _object({
        "penalties": _list(_object({
            "decided_on": _date, "authority": _text, "severity": _one_of("minor", "major"),
            "amount": _amount,
        }), 500),
    }, sandbox=True),
    "sanctions": _object({
        "hits": _list(_object({
            "list": _one_of("UN", "PBOC", "OFAC"), "entry_id": _text, "match_score": _ratio,
        }), 100),
    }, sandbox=True),
    "bank_flows": _object({
        "months": _list(_object({
            "month": _month, "inflow": _amount, "outflow": _amount, "end_balance": _signed,
        }), 12, months_ascending=True),
        "gambling_txn_12m": _count,
    }, sandbox=True),
    "platform_receipts": _object({
        "platform": _text, "store_opened_on": _date,
        "months": _list(_object({"month": _month, "gmv": _amount, "refund_rate": _ratio}), 12,
                        months_ascending=True),
    }, sandbox=True),
    "social_security": _object({
        "months_contributed": _count, "employer": _optional(_text),
        "contribution_base": _amount,
    }, sandbox=True),
    "identity": _object({
        "id_name_match": _bool, "phone_owner_match": _bool, "phone_in_service_months": _count,
    }, sandbox=True),
})  # fmt: skip


def validate_payload(source_id: str, payload: object) -> None:
    """Check ``payload`` has exactly the keys and types documented for ``source_id``.

    Raises :class:`ProviderPayloadInvalid` with ``details={"source_id", "key", "reason"}``.
    """
    check = _SCHEMAS.get(source_id)
    if check is None:
        raise _fail(str(source_id)[:40], "$", "unknown_source")
    check(payload, source_id, "")
