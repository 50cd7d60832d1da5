"""Data-source registry and payload validation (R-6.3)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from puhui.domain.errors import ErrorKind
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import ConsentPurpose
from puhui.domain.risk.sources import (
    SOURCE_REGISTRY,
    ProviderPayloadInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    SourceChannel,
    SourceFallback,
    SourceOutcome,
    SourceStatus,
    missing_sources,
    payloads_of,
    required_fallback,
    subject_ids,
    validate_payload,
)

PERSON = make_resident_id("110105", date(1985, 6, 15), 123)
USCC = make_uscc("91110105MA0000001")

VALID: dict[str, dict[str, Any]] = {
    "credit_bureau": {
        "report_id": "R-1",
        "has_record": True,
        "current_overdue_amount": "0.00",
        "worst_dpd_24m": 0,
        "enquiries_3m": 1,
        "monthly_debt_service": "1234.00",
        "total_credit_balance": "20000.00",
        "accounts": [
            {
                "kind": "credit_card",
                "opened_on": "2020-05-01",
                "limit": "30000.00",
                "balance": "20000.00",
                "overdue_amount": "0.00",
                "worst_dpd_24m": 0,
            }
        ],
    },
    "tax": {
        "tax_grade": "A",
        "registered_on": "2019-03-01",
        "monthly_revenue": [{"month": "2025-11", "revenue": "1.00"}],
    },
    "business_registry": {
        "uscc": USCC,
        "name": "北京测试商贸有限公司",
        "status": "in_operation",
        "established_on": "2019-02-01",
        "licence_valid_until": None,
        "industry_code": "F",
        "region_code": "110105",
        "registered_capital": "1000000.00",
    },
    "judicial": {
        "dishonest_debtor": False,
        "open_enforcement_cases": 1,
        "cases": [
            {
                "case_no": "(2025)京0105执1号",
                "filed_on": "2025-01-01",
                "amount": "5.00",
                "status": "open",
            }
        ],
    },
    "admin_penalty": {
        "penalties": [
            {
                "decided_on": "2025-01-01",
                "authority": "市场监督管理局",
                "severity": "minor",
                "amount": "500.00",
            }
        ]
    },
    "sanctions": {"hits": [{"list": "UN", "entry_id": "UN-1", "match_score": "0.97"}]},
    "bank_flows": {
        "months": [{"month": "2025-11", "inflow": "10.00", "outflow": "5.00", "end_balance": "-5"}],
        "gambling_txn_12m": 0,
    },
    "platform_receipts": {
        "platform": "jd",
        "store_opened_on": "2020-01-01",
        "months": [{"month": "2025-11", "gmv": "100.00", "refund_rate": "0.02"}],
    },
    "social_security": {"months_contributed": 24, "employer": None, "contribution_base": "8000"},
    "identity": {"id_name_match": True, "phone_owner_match": True, "phone_in_service_months": 60},
}


def test_registry_has_the_ten_sources_with_their_attributes() -> None:
    assert list(SOURCE_REGISTRY) == [
        "credit_bureau",
        "tax",
        "business_registry",
        "judicial",
        "admin_penalty",
        "sanctions",
        "bank_flows",
        "platform_receipts",
        "social_security",
        "identity",
    ]
    for source_id, spec in SOURCE_REGISTRY.items():
        assert spec.source_id == source_id
        assert spec.name_zh and spec.name_en and spec.owner and spec.data_type
        assert isinstance(spec.channel, SourceChannel)
        assert isinstance(spec.cost_cny, Decimal) and spec.cost_cny > 0
        assert spec.freshness >= timedelta(days=1)
        assert spec.fallback in (SourceFallback.DECLINE_SAFE, SourceFallback.REVIEW)


def test_registry_consents_and_freshness_match_the_spec() -> None:
    expected = {
        "credit_bureau": ("credit_report", 30),
        "tax": ("tax_data", 30),
        "business_registry": (None, 7),
        "judicial": (None, 1),
        "admin_penalty": (None, 7),
        "sanctions": (None, 1),
        "bank_flows": ("bank_flows", 30),
        "platform_receipts": ("platform_data", 7),
        "social_security": ("social_security", 30),
        "identity": ("identity_verification", 365),
    }
    for source_id, (purpose, days) in expected.items():
        spec = SOURCE_REGISTRY[source_id]
        assert spec.consent_purpose == (ConsentPurpose(purpose) if purpose else None)
        assert spec.freshness == timedelta(days=days)
    assert SOURCE_REGISTRY["sanctions"].fallback is SourceFallback.DECLINE_SAFE


def an_app(kind: str, uscc: str | None) -> CreditApplication:
    product = {"consumer": "CONSUMER", "individual_business": "INDIV-BIZ"}.get(kind, "MICRO-BIZ")
    return CreditApplication.from_mapping(
        {
            "application_id": "A-1",
            "product_code": product,
            "borrower_type": kind,
            "applicant_name": "张三",
            "applicant_resident_id": PERSON,
            "applicant_mobile": "13812345678",
            "enterprise_uscc": uscc,
            "requested_amount": "10000",
            "requested_term_months": 12,
            "purpose": "other",
            "region_code": "110105",
            "industry_code": "F",
            "guarantee_type": "credit",
            "applied_on": "2026-11-20",
        }
    )


def test_subjects_per_borrower_type() -> None:
    consumer = an_app("consumer", None)
    sole = an_app("individual_business", None)
    company = an_app("micro_enterprise", USCC)
    s = SOURCE_REGISTRY
    assert subject_ids(s["credit_bureau"], consumer) == (PERSON,)
    assert subject_ids(s["business_registry"], consumer) == ()
    assert subject_ids(s["tax"], consumer) == ()
    assert subject_ids(s["platform_receipts"], consumer) == ()
    assert subject_ids(s["tax"], sole) == (PERSON,)  # individual business without USCC
    assert subject_ids(s["business_registry"], sole) == ()
    assert subject_ids(s["tax"], company) == (USCC,)
    assert subject_ids(s["judicial"], company) == (PERSON, USCC)
    assert subject_ids(s["sanctions"], consumer) == (PERSON,)
    assert subject_ids(s["bank_flows"], company) == (USCC,)
    assert subject_ids(s["bank_flows"], consumer) == (PERSON,)


def test_every_source_has_a_schema_and_the_examples_pass() -> None:
    assert set(VALID) == set(SOURCE_REGISTRY)
    for source_id, payload in VALID.items():
        validate_payload(source_id, payload)
        validate_payload(source_id, {**payload, "sandbox": True})


def invalid(source_id: str, payload: object) -> ProviderPayloadInvalid:
    with pytest.raises(ProviderPayloadInvalid) as excinfo:
        validate_payload(source_id, payload)
    error = excinfo.value
    assert (error.code, error.kind) == ("risk.source.invalid_payload", ErrorKind.UNAVAILABLE)
    assert error.details["source_id"] == source_id
    return error


def changed(source_id: str, path: list[Any], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(VALID[source_id])
    target = payload
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("source_id", "path", "value", "key", "reason"),
    [
        ("credit_bureau", ["report_id"], KeyError, "report_id", "missing_key"),
        ("credit_bureau", ["worst_dpd_24m"], "120", "worst_dpd_24m", "not_a_count"),
        ("credit_bureau", ["worst_dpd_24m"], True, "worst_dpd_24m", "not_a_count"),
        ("credit_bureau", ["enquiries_3m"], -1, "enquiries_3m", "not_a_count"),
        ("credit_bureau", ["has_record"], "yes", "has_record", "not_a_boolean"),
        ("credit_bureau", ["current_overdue_amount"], 0.0, "current_overdue_amount",
         "not_a_decimal_string"),
        ("credit_bureau", ["current_overdue_amount"], "-1.00", "current_overdue_amount",
         "not_a_decimal_string"),
        ("credit_bureau", ["accounts", 0, "limit"], "lots", "accounts[0].limit",
         "not_a_decimal_string"),
        ("credit_bureau", ["accounts", 0, "opened_on"], "2020-02-30", "accounts[0].opened_on",
         "not_a_date"),
        ("credit_bureau", ["accounts"], {}, "accounts", "not_a_list"),
        ("tax", ["tax_grade"], "E", "tax_grade", "not_allowed"),
        ("tax", ["monthly_revenue", 0, "month"], "2025-13", "monthly_revenue[0].month",
         "not_a_month"),
        ("business_registry", ["status"], "closed", "status", "not_allowed"),
        ("business_registry", ["region_code"], "1101", "region_code", "not_a_region_code"),
        ("business_registry", ["licence_valid_until"], "never", "licence_valid_until",
         "not_a_date"),
        ("judicial", ["cases", 0, "extra"], 1, "cases[0].extra", "unknown_key"),
        ("admin_penalty", ["penalties", 0, "severity"], "huge", "penalties[0].severity",
         "not_allowed"),
        ("sanctions", ["hits", 0, "match_score"], "1.20", "hits[0].match_score", "out_of_range"),
        ("sanctions", ["hits", 0, "list"], "EU", "hits[0].list", "not_allowed"),
        ("bank_flows", ["gambling_txn_12m"], None, "gambling_txn_12m", "not_a_count"),
        ("platform_receipts", ["months", 0, "refund_rate"], "2", "months[0].refund_rate",
         "out_of_range"),
        ("social_security", ["employer"], 5, "employer", "not_a_string"),
        ("identity", ["id_name_match"], 1, "id_name_match", "not_a_boolean"),
        ("identity", ["surprise"], True, "surprise", "unknown_key"),
        ("identity", ["sandbox"], "yes", "sandbox", "not_a_boolean"),
    ],
)  # fmt: skip
def test_malformed_payloads_name_the_key(
    source_id: str, path: list[Any], value: Any, key: str, reason: str
) -> None:
    error = invalid(source_id, changed(source_id, path, value))
    assert (error.details["key"], error.details["reason"]) == (key, reason)


def test_lists_are_bounded_and_months_ordered() -> None:
    months = [{"month": f"2024-{m:02d}", "revenue": "1.00"} for m in range(1, 13)]
    months += [{"month": f"2025-{m:02d}", "revenue": "1.00"} for m in range(1, 13)]
    validate_payload("tax", {**VALID["tax"], "monthly_revenue": months})
    too_many = [*months, {"month": "2026-01", "revenue": "1.00"}]
    assert invalid("tax", {**VALID["tax"], "monthly_revenue": too_many}).details["reason"] == (
        "too_long"
    )
    shuffled = [months[1], months[0]]
    error = invalid("tax", {**VALID["tax"], "monthly_revenue": shuffled})
    assert error.details["reason"] == "months_not_ascending"


def test_not_an_object_and_unknown_source() -> None:
    assert invalid("identity", ["not", "an", "object"]).details["key"] == "$"
    with pytest.raises(ProviderPayloadInvalid):
        validate_payload("horoscope", {})


def test_provider_errors_are_unavailable() -> None:
    assert (ProviderTimeout.code, ProviderTimeout.kind) == (
        "risk.source.timeout",
        ErrorKind.UNAVAILABLE,
    )
    assert (ProviderUnavailable.code, ProviderUnavailable.kind) == (
        "risk.source.unavailable",
        ErrorKind.UNAVAILABLE,
    )


def test_outcome_helpers() -> None:
    outcomes = {
        "credit_bureau": SourceOutcome("credit_bureau", SourceStatus.OK, VALID["credit_bureau"]),
        "tax": SourceOutcome("tax", SourceStatus.NOT_APPLICABLE),
        "bank_flows": SourceOutcome("bank_flows", SourceStatus.MISSING_CONSENT),
        "identity": SourceOutcome("identity", SourceStatus.CACHED, VALID["identity"]),
    }
    assert payloads_of(outcomes) == {
        "credit_bureau": VALID["credit_bureau"],
        "tax": None,
        "bank_flows": None,
        "identity": VALID["identity"],
    }
    assert missing_sources(outcomes) == ("bank_flows",)
    assert required_fallback(outcomes) is SourceFallback.REVIEW
    outcomes["sanctions"] = SourceOutcome("sanctions", SourceStatus.TIMEOUT)
    assert required_fallback(outcomes) is SourceFallback.DECLINE_SAFE
    del outcomes["sanctions"], outcomes["bank_flows"]
    assert required_fallback(outcomes) is None
