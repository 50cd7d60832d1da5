"""The credit decision engine through the API on both databases (R-9.2, R-9.3, R-6.3, R-11.2):
decide an application with the sandbox providers, explain it completely, decline on the right
rule, route to manual review and review, survive provider failures, honour consent, refuse bad
input without saving anything, answer a retry with the stored decision, count the group's
unified exposure, and split traffic between a champion and a challenger.

The sandbox's special identities (``adapters/providers/datasources.py``) force each condition:
resident-id sequence codes 900-918 and USCC markers Y00-Y12. Every applicant here has its own
enterprise (its own USCC serial) unless a test links them on purpose, so that neither the source
cache nor the group exposure couples two applications by accident.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db import tables as t
from puhui.adapters.providers.datasources import sandbox_resident_id, sandbox_uscc
from puhui.adapters.risk_setup import DEFAULT_RULE_SET, load_strategy
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.domain.risk.sources import SOURCE_REGISTRY, DataSourceSpec, SourceStatus
from puhui.services import fraud
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts

PROBLEM = "application/problem+json"
TODAY = date(2026, 3, 2)  # the business date
APPLIED = "2026-03-01"
PURPOSES = ("credit_report", "identity_verification", "tax_data", "bank_flows")
MICRO_BIZ_RATES = (Decimal("0.03"), Decimal("0.18"))  # products.json min_rate, max_rate

CHAMPION = load_strategy()
RULE_IDS = [r.rule_id for r in CHAMPION.rule_set.rules]
GRADES = CHAMPION.scorecard.master_scale.grade_names
INTERCEPT = CHAMPION.scorecard.intercept_points
ARTIFACT = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.+-]+#[0-9a-f]{12}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
STATUSES = {s.value for s in SourceStatus}
DECISION_TABLES = ("consents", "source_cache", "credit_applications", "credit_decisions")


# -- the complete explanation ------------------------------------------------------------------


def canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def assert_complete(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision's explanation holds every part of the decision record (R-9.2) and
    ``record_hash`` is the SHA-256 of its canonical JSON; returns the explanation."""
    e = decision["explanation"]
    assert decision["record_hash"] == hashlib.sha256(canonical(e).encode()).hexdigest()
    assert e["outcome"] == decision["outcome"] and e["arm"] == decision["arm"]
    assert e["as_of"] == TODAY.isoformat()
    # versions of every artifact: id@version#hash12
    assert set(e["versions"]) == {"rule_set", "scorecard", "variables", "policy"}
    for ref in e["versions"].values():
        assert ARTIFACT.match(ref), ref
    # the application, by its snapshot hash only
    assert e["application"]["application_id"] == decision["application_ref"]
    assert e["application"]["product_code"] == decision["product_code"]
    assert HEX64.match(e["application"]["snapshot_hash"])
    # every rule of the rule set evaluated, fired or not
    assert [r["rule_id"] for r in e["rules"]] == RULE_IDS
    for rule in e["rules"]:
        assert isinstance(rule["fired"], bool)
        assert rule["category"] and rule["outcome"] in ("decline", "review", "warn")
        assert rule["reason_zh"] and rule["reason_en"]
    # score, grade, PD, points per characteristic and reason codes
    score = e["score"]
    assert score["grade"] in GRADES and decision["grade"] == score["grade"]
    assert score["score"] == decision["score"]
    assert DECIMAL.match(score["pd"]) and 0 < Decimal(score["pd"]) < 1
    assert DECIMAL.match(score["grade_pd"])
    assert {p["variable"] for p in score["points"]} == set(CHAMPION.scorecard.variables)
    for p in score["points"]:
        assert 0 <= p["points"] <= p["max_points"] and p["bin"]
        assert isinstance(p["missing"], bool)
    assert score["score"] == INTERCEPT + sum(p["points"] for p in score["points"])
    for reason in score["reasons"]:
        assert reason["code"] and reason["zh"] and reason["en"] and reason["points_lost"] > 0
    # price with its floor and ceiling
    price = e["price"]
    for key in ("annual_rate", "lpr", "spread", "floor", "ceiling"):
        assert DECIMAL.match(price[key]), key
    assert Decimal(price["floor"]) <= Decimal(price["annual_rate"]) <= Decimal(price["ceiling"])
    assert "clamped_to" in price
    assert decision["annual_rate"] == price["annual_rate"]
    # limit with its workings and binding constraint
    limit = e["limit"]
    assert limit["binding_constraint"]
    assert DECIMAL.match(limit["amount"]) and DECIMAL.match(limit["group_exposure"])
    steps = [w["step"] for w in limit["workings"]]
    assert steps[-1] == "limit" and Decimal(limit["workings"][-1]["value"]) == Decimal(
        limit["amount"]
    )
    # the regulatory cap room: the group's (business) or the borrower's (consumer)
    assert any(s.endswith("_credit_cap_room") or s == "group_exposure_cap_room" for s in steps)
    for w in limit["workings"]:
        assert DECIMAL.match(w["value"]) and "note" in w
    granted = Decimal(limit["amount"]) if decision["outcome"] != "decline" else Decimal(0)
    assert Decimal(decision["limit"]) == granted
    # the route with its reasons, as the API lists them
    assert e["route"] and all(len(r) == 3 and all(r) for r in e["route"])
    assert [r["code"] for r in decision["reasons"]] == [r[0] for r in e["route"]]
    # the sources with their statuses
    assert set(e["sources"]) == set(SOURCE_REGISTRY)
    for sid, source in e["sources"].items():
        assert source["status"] in STATUSES, sid
        usable = source["status"] in ("ok", "cached")
        assert (source["fetched_at"] is not None) == usable, sid
        assert source["sandbox"] is usable, sid  # the sandbox marks its payloads
        assert (source["error"] is None) == (usable or source["status"] == "not_applicable"), sid
    # the variables, with the missing ones listed
    variables = e["variables"]
    assert set(variables["missing"]) <= set(variables["values"])
    assert isinstance(variables["needs_review"], bool)
    return e


def fired(explanation: dict[str, Any]) -> list[str]:
    return [r["rule_id"] for r in explanation["rules"] if r["fired"]]


def reason_codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code, body
    return body


# -- applicants ----------------------------------------------------------------------------------


def person(code: int, day: int = 15) -> str:
    """A sandbox resident ID with sequence ``code``; ``day`` tells people apart."""
    return sandbox_resident_id(code, birth=date(1985, 6, day))


def application(app_id: str, resident_id: str, uscc: str | None, **fields: Any) -> dict[str, Any]:
    """A micro-business application in its JSON form."""
    data: dict[str, Any] = {
        "application_id": app_id,
        "product_code": "MICRO-BIZ",
        "borrower_type": "micro_enterprise",
        "applicant_name": "张三",
        "applicant_resident_id": resident_id,
        "applicant_mobile": "13812345678",
        "enterprise_uscc": uscc,
        "enterprise_name": "北京测试商贸有限公司",
        "requested_amount": "300000.00",
        "requested_term_months": 12,
        "purpose": "working_capital",
        "declared_annual_revenue": "3600000",
        "region_code": "110105",
        "industry_code": "F",
        "guarantee_type": "credit",
        "applied_on": APPLIED,
    }
    data.update(fields)
    return data


class Spy:
    """Wraps the data provider and records the source of every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def fetch(self, spec: DataSourceSpec, app: Any) -> dict[str, Any]:
        self.calls.append(spec.source_id)
        result: dict[str, Any] = self.inner.fetch(spec, app)
        return result


@pytest.fixture
def officer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "li.officer", "loan_officer")
    set_business_date(platform.ctx, SYSTEM, TODAY, allow_backwards=True)
    return login(client, "li.officer")


@pytest.fixture
def reviewer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "wang.reviewer", "reviewer")
    return login(client, "wang.reviewer")


@pytest.fixture
def spy(platform: Platform) -> Iterator[Spy]:
    assert platform.ctx.risk is not None
    wrapped = Spy(platform.ctx.risk.providers)
    platform.ctx.risk.providers = wrapped
    yield wrapped


def grant(
    client: TestClient,
    headers: dict[str, str],
    resident_id: str,
    purposes: Sequence[str] = PURPOSES,
) -> dict[str, str]:
    """Record the applicant's consents through the API; purpose -> consent id."""
    ids = {}
    for purpose in purposes:
        r = client.post(
            "/api/v1/consents",
            headers=headers,
            json={"resident_id": resident_id, "purpose": purpose, "text_version": "v2026.1"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["purpose"] == purpose and r.json()["revoked_at"] is None
        ids[purpose] = r.json()["consent_id"]
    return ids


def decide(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    r = client.post("/api/v1/decisions", headers=headers, json=body)
    assert r.status_code == status, r.text
    decision: dict[str, Any] = r.json()
    assert_complete(decision)
    return decision


def audit_since(platform: Platform, seq: int) -> list[dict[str, Any]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.audit_log).where(t.audit_log.c.seq > seq).order_by(t.audit_log.c.seq)
        ).mappings()
        return [dict(r) for r in rows]


def audit_head(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.audit_log.c.seq), 0))).scalar()
        )


# -- 1. a clean applicant ----------------------------------------------------------------------


def test_clean_micro_business_is_approved_and_fully_explained(
    platform: Platform, client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    rid = person(900)
    grant(client, officer, rid)
    seq = audit_head(platform)
    d = decide(client, officer, application("APP-CLEAN-1", rid, sandbox_uscc("Y00", serial=1)))
    e = d["explanation"]
    assert (d["outcome"], d["status"], d["arm"]) == ("approve", "approved", "champion")
    assert reason_codes(d) == ["ROUTE_APPROVE"] and fired(e) == []
    assert Decimal(d["limit"]) > 0 and Decimal(d["limit"]) <= Decimal("300000.00")
    low, high = MICRO_BIZ_RATES
    assert low <= Decimal(d["annual_rate"]) <= high
    assert Decimal(e["price"]["ceiling"]) <= high and Decimal(e["price"]["floor"]) >= low
    assert e["versions"] == CHAMPION.versions
    consented = {"credit_bureau", "identity", "tax", "bank_flows"}
    no_consent_needed = {"business_registry", "judicial", "admin_penalty", "sanctions"}
    for sid in consented | no_consent_needed:
        assert e["sources"][sid]["status"] == "ok", sid
    for sid in ("platform_receipts", "social_security"):  # not authorised: missing data only
        assert e["sources"][sid] == {
            "status": "missing_consent",
            "fetched_at": None,
            "error": "consent.missing",
            "sandbox": False,
        }
    assert {"platform_gmv_12m", "social_security_months"} <= set(e["variables"]["missing"])
    assert e["limit"]["group_exposure"] == "0.00"
    # the stored record is what the API gave, for the officer and for a reviewer
    for headers in (officer, reviewer):
        got = client.get(f"/api/v1/decisions/{d['application_id']}", headers=headers)
        assert got.status_code == 200, got.text
        assert_complete(got.json())
        assert got.json()["record_hash"] == d["record_hash"]
        assert got.json()["explanation"] == e
    # the decision is audited with its outcome and hash
    (entry,) = audit_since(platform, seq)
    assert (entry["action"], entry["result"]) == ("applications.decide", "ok")
    assert entry["target"] == f"credit_application:{d['application_id']}"
    assert json.loads(entry["details"])["record_hash"] == d["record_hash"]
    # identifiers are stored only as blind indexes
    with platform.engine.connect() as conn:
        row = conn.execute(sa.select(t.credit_applications)).mappings().one()
    assert rid not in json.dumps({k: str(v) for k, v in row.items()})
    assert assert_problem(
        client.get("/api/v1/decisions/999999", headers=officer), 404, "risk.application.not_found"
    )


# -- 2. declines name their rule ---------------------------------------------------------------

DECLINES = [
    # (sequence code, USCC marker, rule, category, what the explanation shows)
    (901, "Y00", "AML-001", "aml", ("sanction_hit", True)),
    (903, "Y00", "CRD-001", "credit_default", ("current_overdue_amount", "8500.00")),
    (907, "Y00", "FRD-001", "fraud", ("identity_verified", False)),
    (900, "Y01", "LEG-004", "legal", ("enterprise_status", "revoked")),
]


def test_declines_name_the_rule(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    for serial, (code, marker, rule_id, category, (variable, value)) in enumerate(DECLINES, 10):
        rid = person(code)
        grant(client, officer, rid)
        body = application(f"APP-DECL-{rule_id}", rid, sandbox_uscc(marker, serial=serial))
        d = decide(client, officer, body)
        e = d["explanation"]
        assert (d["outcome"], d["status"], d["limit"]) == ("decline", "declined", "0.00"), rule_id
        assert rule_id in fired(e) and rule_id == reason_codes(d)[0], (rule_id, d["reasons"])
        rule = next(r for r in e["rules"] if r["rule_id"] == rule_id)
        assert (rule["category"], rule["outcome"]) == (category, "decline")
        assert d["reasons"][0]["en"] == rule["reason_en"]
        assert e["variables"]["values"][variable] == value, rule_id
    with platform.engine.connect() as conn:
        statuses = conn.execute(sa.select(t.credit_applications.c.status)).scalars().all()
    assert statuses == ["declined"] * len(DECLINES)


# -- 3. manual review ---------------------------------------------------------------------------


def test_review_queue_and_review(
    platform: Platform, client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    rid = person(914)  # 9 enquiries in 3 months: BEH-003 asks for a review
    grant(client, officer, rid)
    d = decide(client, officer, application("APP-REV-1", rid, sandbox_uscc("Y00", serial=11)))
    e = d["explanation"]
    assert (d["outcome"], d["status"]) == ("review", "in_review")
    assert "BEH-003" in fired(e) and "BEH-003" in reason_codes(d)
    assert e["variables"]["values"]["enquiries_3m"] == 9
    engine_limit = Decimal(d["limit"])
    assert engine_limit > 1000
    app_id = d["application_id"]

    queue = client.get("/api/v1/review-queue", headers=reviewer)
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()["items"]
    assert item["application_id"] == app_id and item["status"] == "in_review"
    assert "explanation" not in item and item["record_hash"] == d["record_hash"]
    assert_problem(client.get("/api/v1/review-queue", headers=officer), 403, "auth.forbidden")

    path = f"/api/v1/review-queue/{app_id}/decision"
    before, seq = table_counts(platform), audit_head(platform)
    # the loan officer may not review: refused, and the refusal is audited
    r = client.post(path, headers=officer, json={"outcome": "approve", "reason": "看起来不错"})
    assert_problem(r, 403, "auth.forbidden")
    (refusal,) = audit_since(platform, seq)
    assert (refusal["action"], refusal["result"]) == (
        "applications.review",
        "denied:auth.forbidden",
    )
    # bad reviews change nothing
    above = f"{engine_limit + Decimal('0.01'):f}"
    for body, status, code in (
        (
            {"outcome": "approve", "reason": "经营稳定，同意", "limit": above},
            422,
            "risk.review.invalid",
        ),
        (
            {"outcome": "approve", "reason": "经营稳定，同意", "limit": "0"},
            422,
            "risk.review.invalid",
        ),
        (
            {"outcome": "approve", "reason": "经营稳定，同意", "limit": "10.001"},
            422,
            "risk.review.invalid",
        ),
        ({"outcome": "maybe", "reason": "经营稳定，同意"}, 422, "risk.review.invalid"),
        ({"outcome": "approve", "reason": "ok"}, 422, "risk.review.invalid"),
        (
            {"outcome": "approve", "reason": "经营稳定", "limit": 5000},
            422,
            "request.invalid_fields",
        ),
        (
            {"outcome": "approve", "reason": "经营稳定", "colour": "red"},
            422,
            "request.unknown_field",
        ),
    ):
        assert_problem(client.post(path, headers=reviewer, json=body), status, code)
    after = table_counts(platform)
    assert after == {**before, "audit_log": before["audit_log"] + 1}  # only the refusal

    lower = f"{(engine_limit / 2).quantize(Decimal('100')):f}"
    r = client.post(
        path,
        headers=reviewer,
        json={"outcome": "approve", "reason": "  多头查询为经营周转，  同意降额  ", "limit": lower},
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["outcome"] == "review"  # the engine's stays
    assert done["limit"] == d["limit"]
    assert done["review"]["outcome"] == "approve"
    assert Decimal(done["review"]["limit"]) == Decimal(lower)
    assert done["review"]["reviewer"] == "staff:wang.reviewer"
    assert done["review"]["reason"] == "多头查询为经营周转， 同意降额"
    stored = client.get(f"/api/v1/decisions/{app_id}", headers=reviewer).json()
    assert_complete(stored)
    assert stored["review"] == done["review"] and stored["record_hash"] == d["record_hash"]
    # reviewed once: a second review is refused, and the queue is empty
    r = client.post(path, headers=reviewer, json={"outcome": "decline", "reason": "改变主意了"})
    assert_problem(r, 409, "risk.review.not_pending")
    assert client.get("/api/v1/review-queue", headers=reviewer).json()["items"] == []
    assert_problem(
        client.post(
            "/api/v1/review-queue/999999/decision",
            headers=reviewer,
            json={"outcome": "approve", "reason": "不存在的申请"},
        ),
        404,
        "risk.application.not_found",
    )


def test_a_reviewer_declines(
    platform: Platform, client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    rid = person(914)
    grant(client, officer, rid)
    d = decide(client, officer, application("APP-REV-2", rid, sandbox_uscc("Y00", serial=11)))
    assert d["status"] == "in_review"
    r = client.post(
        f"/api/v1/review-queue/{d['application_id']}/decision",
        headers=reviewer,
        json={"outcome": "decline", "reason": "多头借贷风险较高"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined" and r.json()["review"]["limit"] == "0.00"


# -- 4. provider failures ------------------------------------------------------------------------

FAILURES = [
    (909, "timeout", "risk.source.timeout"),
    (915, "unavailable", "risk.source.unavailable"),
    (910, "invalid_payload", "risk.source.invalid_payload"),
]
BUREAU_VARIABLES = {"has_credit_record", "current_overdue_amount", "worst_dpd_24m", "enquiries_3m"}


def _failed_bureau(client: TestClient, officer: dict[str, str]) -> Iterator[dict[str, Any]]:
    for serial, (code, status, error) in enumerate(FAILURES, 20):
        rid = person(code)
        grant(client, officer, rid)
        d = decide(
            client, officer, application(f"APP-FAIL-{code}", rid, sandbox_uscc(serial=serial))
        )
        bureau = d["explanation"]["sources"]["credit_bureau"]
        assert (bureau["status"], bureau["error"]) == (status, error), code
        yield d


def test_provider_failures_are_explained_never_a_500(
    client: TestClient, officer: dict[str, str]
) -> None:
    for d in _failed_bureau(client, officer):
        e = d["explanation"]
        assert d["outcome"] != "approve"
        assert "source_unavailable_review" in reason_codes(d)
        reason = next(r for r in d["reasons"] if r["code"] == "source_unavailable_review")
        assert "credit_bureau" in reason["en"] and "credit_bureau" in reason["zh"]
        assert set(e["variables"]["missing"]) >= BUREAU_VARIABLES
        assert e["variables"]["needs_review"] is True
        assert e["sources"]["identity"]["status"] == "ok"  # the other sources still answered


def test_provider_failures_route_to_manual_review(
    client: TestClient, officer: dict[str, str]
) -> None:
    for d in _failed_bureau(client, officer):
        assert (d["outcome"], d["status"]) == ("review", "in_review"), reason_codes(d)


def _platform_outage(client: TestClient, officer: dict[str, str]) -> dict[str, Any]:
    """A clean applicant whose platform-receipts source is down (USCC marker Y12)."""
    rid = person(900, day=24)
    grant(client, officer, rid, (*PURPOSES, "platform_data"))
    d = decide(client, officer, application("APP-Y12", rid, sandbox_uscc("Y12", serial=91)))
    platform_receipts = d["explanation"]["sources"]["platform_receipts"]
    assert (platform_receipts["status"], platform_receipts["error"]) == (
        "unavailable",
        "risk.source.unavailable",
    )
    return d


def test_a_source_outage_sends_an_approval_to_review(
    client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    d = _platform_outage(client, officer)
    assert (d["outcome"], d["status"]) == ("review", "in_review")
    assert reason_codes(d)[-1] == "source_unavailable_review"
    assert fired(d["explanation"]) == []
    assert "platform_gmv_12m" in d["explanation"]["variables"]["missing"]
    items = client.get("/api/v1/review-queue", headers=reviewer).json()["items"]
    assert [i["application_id"] for i in items] == [d["application_id"]]


def test_a_review_fallback_does_not_say_approved(
    client: TestClient, officer: dict[str, str]
) -> None:
    d = _platform_outage(client, officer)
    assert d["outcome"] == "review"
    assert "ROUTE_APPROVE" not in reason_codes(d), d["reasons"]


# -- 5. consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["credit_report", "identity_verification"])
def test_without_a_required_consent_nothing_is_saved(
    platform: Platform, client: TestClient, officer: dict[str, str], spy: Spy, missing: str
) -> None:
    rid = person(900, day=3)
    grant(client, officer, rid, [p for p in PURPOSES if p != missing])
    before, seq = table_counts(platform), audit_head(platform)
    r = client.post(
        "/api/v1/decisions",
        headers=officer,
        json=application("APP-NOCONSENT", rid, sandbox_uscc(serial=30)),
    )
    body = assert_problem(r, 403, "consent.missing")
    assert body["details"]["purposes"] == [missing]
    source = {"credit_report": "credit_bureau", "identity_verification": "identity"}[missing]
    assert body["details"]["sources"] == [source]
    assert rid not in r.text  # the error never repeats the ID number
    assert source not in spy.calls  # never collected without consent
    after = table_counts(platform)
    refusals = audit_since(platform, seq)
    assert all(a["result"] == "denied:consent.missing" for a in refusals)
    assert after == {**before, "audit_log": before["audit_log"] + len(refusals)}
    for table in ("credit_applications", "credit_decisions", "source_cache"):
        assert after[table] == 0, table


def test_an_optional_consent_missing_is_missing_data_not_collected(
    client: TestClient, officer: dict[str, str], spy: Spy
) -> None:
    rid = person(900, day=4)
    grant(client, officer, rid, [p for p in PURPOSES if p != "tax_data"])
    d = decide(client, officer, application("APP-NOTAX", rid, sandbox_uscc(serial=31)))
    e = d["explanation"]
    assert e["sources"]["tax"]["status"] == "missing_consent"
    assert e["sources"]["tax"]["error"] == "consent.missing"
    assert {"tax_grade", "tax_revenue_12m"} <= set(e["variables"]["missing"])
    assert "tax" not in spy.calls
    assert {"credit_bureau", "identity", "bank_flows", "business_registry"} <= set(spy.calls)
    assert not {"platform_receipts", "social_security"} & set(spy.calls)


def test_revoking_consent_stops_collection(
    platform: Platform, client: TestClient, officer: dict[str, str], spy: Spy
) -> None:
    rid = person(900, day=5)
    consents = grant(client, officer, rid)
    decide(client, officer, application("APP-BEFORE", rid, sandbox_uscc(serial=32)))
    assert "credit_bureau" in spy.calls
    r = client.post(f"/api/v1/consents/{consents['credit_report']}/revocation", headers=officer)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None, r.text
    assert_problem(
        client.post(f"/api/v1/consents/{consents['credit_report']}/revocation", headers=officer),
        409,
        "consent.already_revoked",
    )
    listed = client.post("/api/v1/consents/lookup", headers=officer, json={"resident_id": rid})
    by_purpose = {c["purpose"]: c for c in listed.json()["items"]}
    assert by_purpose["credit_report"]["revoked_at"] is not None
    assert by_purpose["tax_data"]["revoked_at"] is None
    # empty the cache, so that only the consent check can keep the bureau from being called
    with platform.engine.begin() as conn:
        conn.execute(sa.delete(t.source_cache))
    spy.calls.clear()
    before = table_counts(platform)
    r = client.post(
        "/api/v1/decisions",
        headers=officer,
        json=application("APP-AFTER", rid, sandbox_uscc(serial=33)),
    )
    assert assert_problem(r, 403, "consent.missing")["details"]["purposes"] == ["credit_report"]
    assert "credit_bureau" not in spy.calls
    assert table_counts(platform)["credit_applications"] == before["credit_applications"]
    assert table_counts(platform)["source_cache"] == 0


# -- 6. bad input ---------------------------------------------------------------------------------

WRONG_CHECK_DIGIT = person(900)[:-1] + ("0" if person(900)[-1] != "0" else "1")


def _bad_bodies() -> list[tuple[str, Any, int, str, str | None]]:
    rid, uscc = person(900, day=6), sandbox_uscc(serial=40)

    def app(**fields: Any) -> dict[str, Any]:
        return application("APP-BAD", rid, uscc, **fields)

    without_term = app()
    del without_term["requested_term_months"]
    return [
        ("unknown field", app(colour="red"), 422, "risk.application.invalid", "colour"),
        ("missing field", without_term, 422, "risk.application.invalid", "requested_term_months"),
        (
            "ID check digit",
            app(applicant_resident_id=WRONG_CHECK_DIGIT),
            422,
            "risk.application.invalid",
            "applicant_resident_id",
        ),
        (
            "unknown product",
            app(product_code="GOLD-CARD"),
            422,
            "risk.application.unknown_product",
            "product_code",
        ),
        (
            "consumer product for an enterprise",
            app(product_code="CONSUMER"),
            422,
            "risk.application.inconsistent",
            "borrower_type",
        ),
        (
            "consumer with an enterprise",
            app(product_code="CONSUMER", borrower_type="consumer", purpose="consumption"),
            422,
            "risk.application.inconsistent",
            "enterprise_uscc",
        ),
        (
            "term outside the product",
            app(requested_term_months=48),
            422,
            "risk.application.inconsistent",
            "requested_term_months",
        ),
        (
            "applied after the business date",
            app(applied_on="2026-03-03"),
            422,
            "risk.application.inconsistent",
            "applied_on",
        ),
        (
            "float amount",
            app(requested_amount=300000.5),
            422,
            "risk.application.invalid",
            "requested_amount",
        ),
        (
            "negative amount",
            app(requested_amount="-5"),
            422,
            "risk.application.invalid",
            "requested_amount",
        ),
        (
            "three decimals",
            app(requested_amount="10.001"),
            422,
            "risk.application.invalid",
            "requested_amount",
        ),
        (
            "term as text",
            app(requested_term_months="12"),
            422,
            "risk.application.invalid",
            "requested_term_months",
        ),
        ("bad date", app(applied_on="2026-02-30"), 422, "risk.application.invalid", "applied_on"),
        ("bad id", app(application_id="APP 1"), 422, "risk.application.invalid", "application_id"),
        ("non-object body", [app()], 422, "request.invalid_fields", None),
        ("malformed JSON", b'{"application_id": "APP-BAD", ', 400, "request.malformed_json", None),
    ]


def test_bad_input_changes_nothing(
    platform: Platform, client: TestClient, officer: dict[str, str], spy: Spy
) -> None:
    grant(client, officer, person(900, day=6))
    before = table_counts(platform)
    for name, body, status, code, field in _bad_bodies():
        if isinstance(body, bytes):
            r = client.post(
                "/api/v1/decisions",
                headers={**officer, "content-type": "application/json"},
                content=body,
            )
        else:
            r = client.post("/api/v1/decisions", headers=officer, json=body)
        problem = assert_problem(r, status, code)
        if field is not None:
            assert problem["details"]["field"] == field, (name, problem)
        assert person(900, day=6) not in r.text, name
    assert spy.calls == []  # nothing was collected for a refused application
    assert table_counts(platform) == before


def test_deciding_needs_the_permission(
    platform: Platform, client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    rid = person(900, day=7)
    grant(client, officer, rid)
    make_user(platform, "zhao.analyst", "risk_analyst")
    analyst = login(client, "zhao.analyst")
    before = table_counts(platform)
    body = application("APP-PERM", rid, sandbox_uscc(serial=41))
    refused = client.post("/api/v1/decisions", headers=reviewer, json=body)
    assert_problem(refused, 403, "auth.forbidden")
    assert_problem(client.post("/api/v1/decisions", json=body), 401, "auth.unauthenticated")
    r = client.post(
        "/api/v1/consents",
        headers=analyst,
        json={"resident_id": rid, "purpose": "tax_data", "text_version": "v1"},
    )
    assert_problem(r, 403, "auth.forbidden")
    after = table_counts(platform)
    for table in DECISION_TABLES:
        assert after[table] == before[table], table
    d = decide(client, officer, body)
    assert_problem(
        client.get(f"/api/v1/decisions/{d['application_id']}", headers=analyst),
        403,
        "auth.forbidden",
    )


def test_a_refused_decision_is_audited(
    platform: Platform, client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    rid = person(900, day=8)
    grant(client, officer, rid)
    seq = audit_head(platform)
    body = application("APP-PERM-2", rid, sandbox_uscc(serial=42))
    refused = client.post("/api/v1/decisions", headers=reviewer, json=body)
    assert_problem(refused, 403, "auth.forbidden")
    (refusal,) = audit_since(platform, seq)
    assert refusal["result"] == "denied:auth.forbidden"
    assert refusal["action"] == "applications.decide"


# -- 7. idempotency -------------------------------------------------------------------------------


def test_the_same_application_gets_the_same_decision(
    platform: Platform, client: TestClient, officer: dict[str, str], spy: Spy
) -> None:
    rid = person(900, day=9)
    grant(client, officer, rid)
    body = application("APP-IDEM", rid, sandbox_uscc(serial=50))
    first = decide(client, officer, body)
    before, calls = table_counts(platform), len(spy.calls)
    # a retry, also with the amount written differently ("300000" is "300000.00")
    for retry in (body, {**body, "requested_amount": "300000"}):
        again = decide(client, officer, retry, status=201)  # the route always answers 201
        assert again["application_id"] == first["application_id"]
        assert again["record_hash"] == first["record_hash"]
        assert again["explanation"] == first["explanation"]
    assert table_counts(platform) == before and len(spy.calls) == calls
    # the same id for a different application is refused
    r = client.post(
        "/api/v1/decisions", headers=officer, json={**body, "requested_amount": "300000.01"}
    )
    problem = assert_problem(r, 409, "risk.application.duplicate")
    assert problem["details"] == {"application_id": "APP-IDEM"}
    assert table_counts(platform) == before
    # another channel is another application
    other = decide(client, officer, {**body, "channel": "branch"})
    assert other["application_id"] != first["application_id"]


# -- 8. unified exposure (R-9.3) ---------------------------------------------------------------


def test_group_exposure_links_enterprise_owner_and_spouse(
    client: TestClient, officer: dict[str, str]
) -> None:
    owner, spouse, partner, stranger = (person(900, day) for day in (11, 12, 13, 14))
    for rid in (owner, spouse, partner, stranger):
        grant(client, officer, rid)
    enterprise = sandbox_uscc(serial=60)
    first = decide(
        client,
        officer,
        application("APP-GRP-1", owner, enterprise, owner_spouse_resident_id=spouse),
    )
    assert first["outcome"] == "approve", first["reasons"]
    granted = first["limit"]
    assert Decimal(granted) > 0 and first["explanation"]["limit"]["group_exposure"] == "0.00"

    def exposure_of(app_id: str, rid: str, uscc: str, **fields: Any) -> str:
        d = decide(client, officer, application(app_id, rid, uscc, **fields))
        limit = d["explanation"]["limit"]
        room = next(w for w in limit["workings"] if w["step"] == "group_exposure_cap_room")
        assert room["note"] == f"10000000.00 - {limit['group_exposure']}"
        assert Decimal(room["value"]) == Decimal("10000000.00") - Decimal(limit["group_exposure"])
        return str(limit["group_exposure"])

    # the spouse named on the first application, with her own enterprise
    assert exposure_of("APP-GRP-2", spouse, sandbox_uscc(serial=61)) == granted
    # another person applying for the same enterprise
    assert exposure_of("APP-GRP-3", partner, enterprise) == granted
    # someone unrelated
    assert exposure_of("APP-GRP-4", stranger, sandbox_uscc(serial=62)) == "0.00"


def test_group_exposure_counts_the_reviewers_limit(
    client: TestClient, officer: dict[str, str], reviewer: dict[str, str]
) -> None:
    owner, spouse = person(914), person(900, day=16)
    grant(client, officer, owner)
    grant(client, officer, spouse)
    d = decide(client, officer, application("APP-GRP-R1", owner, sandbox_uscc(serial=11)))
    assert d["status"] == "in_review"
    # not approved yet: nothing counts
    pending = decide(
        client,
        officer,
        application("APP-GRP-R2", spouse, sandbox_uscc(serial=63), owner_spouse_resident_id=owner),
    )
    assert pending["explanation"]["limit"]["group_exposure"] == "0.00"
    r = client.post(
        f"/api/v1/review-queue/{d['application_id']}/decision",
        headers=reviewer,
        json={"outcome": "approve", "reason": "核实经营正常", "limit": "10000.00"},
    )
    assert r.status_code == 200, r.text
    later = decide(
        client,
        officer,
        application("APP-GRP-R3", spouse, sandbox_uscc(serial=64), owner_spouse_resident_id=owner),
    )
    exposure = Decimal(later["explanation"]["limit"]["group_exposure"])
    approved_before = Decimal(pending["limit"]) if pending["status"] == "approved" else Decimal(0)
    assert exposure == Decimal("10000.00") + approved_before


# -- 9. champion / challenger ------------------------------------------------------------------


def test_champion_and_challenger_share_the_traffic(
    platform: Platform, client: TestClient, officer: dict[str, str], tmp_path: Path
) -> None:
    document = json.loads(DEFAULT_RULE_SET.read_text(encoding="utf-8"))
    document["version"] = "1.1.0-challenger"
    path = tmp_path / "admission-challenger.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    challenger = load_strategy(path, arm="challenger")
    assert platform.ctx.risk is not None
    platform.ctx.risk.challenger = challenger
    platform.ctx.risk.challenger_share = Decimal("0.5")
    expected = {"champion": CHAMPION.versions, "challenger": challenger.versions}
    assert expected["champion"]["rule_set"] != expected["challenger"]["rule_set"]

    rid = person(900, day=17)
    grant(client, officer, rid)
    # one applicant 20 times in a row would meet the velocity rules: white-listed, a
    # known test customer's soft fraud signals count at most as low (a warning, still approved)
    fraud.add_list_entry(
        platform.ctx,
        SYSTEM,
        {"list_type": "white", "kind": "resident_id", "value": rid, "reason": "测试客户"},
    )
    uscc = sandbox_uscc(serial=70)
    arms = []
    for i in range(20):
        d = decide(client, officer, application(f"APP-CC-{i:02d}", rid, uscc))
        arms.append(d["arm"])
        assert d["explanation"]["versions"] == expected[d["arm"]], d["arm"]
        assert d["outcome"] == "approve"  # the same rules under another version
    assert {"champion", "challenger"} == set(arms)
    assert min(arms.count("champion"), arms.count("challenger")) >= 3
    with platform.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.credit_decisions.c.arm, t.credit_decisions.c.rule_set)
        ).all()
    assert sorted(arm for arm, _ in rows) == sorted(arms)
    for arm, rule_set in rows:
        assert rule_set == expected[arm]["rule_set"]
        prefix = {"champion": "@1.0.0#", "challenger": "@1.1.0-challenger#"}[arm]
        assert rule_set.startswith("admission-baseline" + prefix)
