"""Decision variables on hand-made payloads, with their missing policies (R-6.5(a))."""

from __future__ import annotations

import copy
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.sources import validate_payload
from puhui.domain.risk.variables import (
    VARIABLE_CATALOGUE,
    MissingPolicy,
    VariableCatalogue,
    VariableDefinition,
    VariableType,
    compute,
)

AS_OF = date(2026, 11, 20)
SPEC_NAMES = {
    "applicant_age": "int", "borrower_type": "str", "product_code": "str",
    "requested_amount": "decimal", "requested_term_months": "int", "region_code": "str",
    "industry_code": "str", "guarantee_type": "str", "identity_verified": "bool",
    "phone_in_service_months": "int", "enterprise_status": "str", "licence_valid": "bool",
    "months_in_business": "int", "sanction_hit": "bool", "dishonest_debtor": "bool",
    "open_enforcement_cases": "int", "admin_penalties_24m": "int",
    "major_admin_penalties_24m": "int", "has_credit_record": "bool",
    "current_overdue_amount": "decimal", "worst_dpd_24m": "int", "enquiries_3m": "int",
    "bureau_monthly_debt_service": "decimal", "tax_grade": "str", "tax_revenue_12m": "decimal",
    "tax_revenue_growth": "decimal", "bank_inflow_12m": "decimal", "gambling_txn_12m": "int",
    "platform_gmv_12m": "decimal", "social_security_months": "int", "monthly_income": "decimal",
    "debt_service_ratio": "decimal", "fraud_level": "str",
}  # fmt: skip


def an_application(kind: str = "micro_enterprise", **overrides: Any) -> CreditApplication:
    data: dict[str, Any] = {
        "application_id": "A-1",
        "product_code": {"consumer": "CONSUMER", "individual_business": "INDIV-BIZ"}.get(
            kind, "MICRO-BIZ"
        ),
        "borrower_type": kind,
        "applicant_name": "张三",
        "applicant_resident_id": make_resident_id("110105", date(1985, 6, 15), 123),
        "applicant_mobile": "13812345678",
        "enterprise_uscc": make_uscc("91110105MA0000001") if kind == "micro_enterprise" else None,
        "requested_amount": "300000",
        "requested_term_months": 24,
        "purpose": "working_capital",
        "region_code": "110105",
        "industry_code": "F",
        "guarantee_type": "guarantee",
        "applied_on": "2026-11-18",
    }
    data.update(overrides)
    return CreditApplication.from_mapping(data)


def months(first: str, count: int, **values: str) -> list[dict[str, str]]:
    year, month = map(int, first.split("-"))
    out = []
    for i in range(count):
        y, m = divmod(year * 12 + month - 1 + i, 12)
        out.append({"month": f"{y}-{m + 1:02d}", **values})
    return out


def payloads() -> dict[str, Any]:
    """Every source, with numbers chosen so that each variable has a checkable value."""
    tax_months = months("2024-11", 12, revenue="100000.00") + months(
        "2025-11", 12, revenue="115000.00"
    )
    data: dict[str, Any] = {
        "credit_bureau": {
            "report_id": "R-1", "has_record": True, "current_overdue_amount": "1500.50",
            "worst_dpd_24m": 35, "enquiries_3m": 4, "monthly_debt_service": "3210.00",
            "total_credit_balance": "80000.00", "accounts": [],
        },
        "tax": {"tax_grade": "B", "registered_on": "2018-03-01", "monthly_revenue": tax_months},
        "business_registry": {
            "uscc": make_uscc("91110105MA0000001"), "name": "北京测试商贸有限公司",
            "status": "in_operation", "established_on": "2019-02-21",
            "licence_valid_until": "2026-11-20", "industry_code": "F", "region_code": "110105",
            "registered_capital": "1000000.00",
        },
        "judicial": {"dishonest_debtor": False, "open_enforcement_cases": 2, "cases": []},
        "admin_penalty": {"penalties": [
            {"decided_on": "2024-11-20", "authority": "A", "severity": "major", "amount": "1.00"},
            {"decided_on": "2024-11-21", "authority": "A", "severity": "minor", "amount": "1.00"},
            {"decided_on": "2026-01-10", "authority": "A", "severity": "major", "amount": "1.00"},
            {"decided_on": "2026-11-21", "authority": "A", "severity": "major", "amount": "1.00"},
        ]},
        "sanctions": {"hits": [
            {"list": "UN", "entry_id": "UN-1", "match_score": "0.89"},
            {"list": "OFAC", "entry_id": "SDN-1", "match_score": "0.90"},
        ]},
        "bank_flows": {
            "months": months("2025-11", 12, inflow="50000.00", outflow="49000.00",
                             end_balance="10000.00"),
            "gambling_txn_12m": 3,
        },
        "platform_receipts": {
            "platform": "jd", "store_opened_on": "2020-01-01",
            "months": months("2025-11", 12, gmv="20000.50", refund_rate="0.03"),
        },
        "social_security": {
            "months_contributed": 36, "employer": None, "contribution_base": "9000.00",
        },
        "identity": {"id_name_match": True, "phone_owner_match": True,
                     "phone_in_service_months": 5},
    }  # fmt: skip
    for source_id, payload in data.items():
        validate_payload(source_id, payload)
    return data


def test_every_variable_on_a_full_payload_set() -> None:
    result = compute(an_application(), payloads(), AS_OF)
    assert result.values == {
        "applicant_age": 41,
        "borrower_type": "micro_enterprise",
        "product_code": "MICRO-BIZ",
        "requested_amount": Decimal("300000.00"),
        "requested_term_months": 24,
        "region_code": "110105",
        "industry_code": "F",
        "guarantee_type": "guarantee",
        "identity_verified": True,
        "phone_in_service_months": 5,
        "enterprise_status": "in_operation",
        "licence_valid": True,  # valid until as_of, inclusive
        "months_in_business": 92,  # 2019-02-21 → 2026-11-20: 7 years 8 full months
        "sanction_hit": True,  # 0.90 reaches the threshold, 0.89 does not
        "dishonest_debtor": False,
        "open_enforcement_cases": 2,
        "admin_penalties_24m": 2,  # (2024-11-20, 2026-11-20]: not the boundary, not the future
        "major_admin_penalties_24m": 1,
        "has_credit_record": True,
        "current_overdue_amount": Decimal("1500.50"),
        "worst_dpd_24m": 35,
        "enquiries_3m": 4,
        "bureau_monthly_debt_service": Decimal("3210.00"),
        "tax_grade": "B",
        "tax_revenue_12m": Decimal("1380000.00"),
        "tax_revenue_growth": Decimal("0.1500"),
        "bank_inflow_12m": Decimal("600000.00"),
        "gambling_txn_12m": 3,
        "platform_gmv_12m": Decimal("240006.00"),
        "social_security_months": 36,
        "monthly_income": Decimal("15000.00"),  # 600,000 / 12 × 0.3
        "debt_service_ratio": Decimal("0.2140"),  # 3,210 / 15,000
        "fraud_level": "low",  # phone in service < 6 months
    }
    assert result.missing == () and result.needs_review is False
    assert str(result.values["debt_service_ratio"]) == "0.2140"


def test_names_and_types_are_the_spec() -> None:
    assert {d.name: d.type.value for d in VARIABLE_CATALOGUE.definitions} == SPEC_NAMES
    values = compute(an_application(), payloads(), AS_OF).values
    python_type = {"int": int, "decimal": Decimal, "bool": bool, "str": str}
    for name, kind in SPEC_NAMES.items():
        value = values[name]
        assert isinstance(value, python_type[kind]), name
        if kind == "int":
            assert not isinstance(value, bool), name


def test_age_before_the_birthday() -> None:
    app = an_application(applicant_resident_id=make_resident_id("110105", date(1985, 11, 21), 1))
    assert compute(app, payloads(), AS_OF).values["applicant_age"] == 40


def test_consumer_has_no_enterprise_variables_and_nothing_missing() -> None:
    data = payloads()
    for source_id in ("tax", "business_registry", "platform_receipts"):
        data[source_id] = None  # not applicable: the collection does not fetch them
    result = compute(an_application("consumer", purpose="consumption"), data, AS_OF)
    values = result.values
    assert values["enterprise_status"] == "none" and values["licence_valid"] is True
    for name in ("months_in_business", "tax_grade", "tax_revenue_12m", "tax_revenue_growth"):
        assert values[name] is None
    assert values["platform_gmv_12m"] is None
    assert values["monthly_income"] == Decimal("9000.00")  # the social-security base
    assert values["debt_service_ratio"] == Decimal("0.3567")  # 3,210 / 9,000, half-up
    assert result.missing == () and not result.needs_review


def test_individual_business_without_uscc_uses_tax_registration() -> None:
    data = payloads()
    data["business_registry"] = None
    result = compute(an_application("individual_business"), data, AS_OF)
    assert result.values["months_in_business"] == 104  # since 2018-03-01
    assert result.values["enterprise_status"] == "none"
    assert result.missing == ()


def test_declared_income_wins_and_zero_income_gives_no_ratio() -> None:
    app = an_application(declared_monthly_income="20000")
    values = compute(app, payloads(), AS_OF).values
    assert values["monthly_income"] == Decimal("20000.00")
    assert values["debt_service_ratio"] == Decimal("0.1605")
    zero = compute(an_application(declared_monthly_income="0"), payloads(), AS_OF)
    assert zero.values["debt_service_ratio"] is None
    assert "debt_service_ratio" not in zero.missing


def test_business_income_falls_back_to_social_base() -> None:
    data = payloads()
    data["bank_flows"] = None
    result = compute(an_application(), data, AS_OF)
    assert result.values["monthly_income"] == Decimal("9000.00")
    data["social_security"] = {"months_contributed": 0, "employer": None, "contribution_base": "0"}
    result = compute(an_application(), data, AS_OF)
    assert result.values["monthly_income"] is None and "monthly_income" in result.missing


def test_registry_status_and_licence() -> None:
    data = payloads()
    data["business_registry"]["licence_valid_until"] = "2026-11-19"
    assert compute(an_application(), data, AS_OF).values["licence_valid"] is False
    data["business_registry"].update(status="revoked", licence_valid_until=None)
    values = compute(an_application(), data, AS_OF).values
    assert values["enterprise_status"] == "revoked" and values["licence_valid"] is False
    data["business_registry"]["status"] = "in_operation"
    assert compute(an_application(), data, AS_OF).values["licence_valid"] is True


def test_sanction_below_threshold_is_no_hit() -> None:
    data = payloads()
    data["sanctions"]["hits"] = [{"list": "UN", "entry_id": "UN-1", "match_score": "0.89"}]
    assert compute(an_application(), data, AS_OF).values["sanction_hit"] is False
    data["sanctions"]["hits"] = []
    assert compute(an_application(), data, AS_OF).values["sanction_hit"] is False


def test_growth_needs_24_months_and_a_base() -> None:
    data = payloads()
    data["tax"]["monthly_revenue"] = data["tax"]["monthly_revenue"][-23:]
    values = compute(an_application(), data, AS_OF).values
    assert values["tax_revenue_growth"] is None
    assert values["tax_revenue_12m"] == Decimal("1380000.00")
    data = payloads()
    for month in data["tax"]["monthly_revenue"][:12]:
        month["revenue"] = "0.00"
    assert compute(an_application(), data, AS_OF).values["tax_revenue_growth"] is None
    data = payloads()
    data["tax"]["monthly_revenue"][-1]["revenue"] = "0.00"  # 1,265,000 / 1,200,000 − 1
    assert compute(an_application(), data, AS_OF).values["tax_revenue_growth"] == Decimal("0.0542")


@pytest.mark.parametrize(
    ("identity", "level", "verified"),
    [
        ({"id_name_match": False, "phone_owner_match": False}, "high", False),
        ({"id_name_match": True, "phone_owner_match": False}, "medium", False),
        ({"id_name_match": True, "phone_owner_match": True, "phone_in_service_months": 5}, "low",
         True),
        ({"id_name_match": True, "phone_owner_match": True, "phone_in_service_months": 6}, "none",
         True),
    ],
)  # fmt: skip
def test_fraud_level(identity: dict[str, Any], level: str, verified: bool) -> None:
    data = payloads()
    data["identity"].update(identity)
    values = compute(an_application(), data, AS_OF).values
    assert (values["fraud_level"], values["identity_verified"]) == (level, verified)


def test_missing_policies() -> None:
    result = compute(an_application(), {}, AS_OF)
    values = result.values
    from_application = {
        "applicant_age", "borrower_type", "product_code", "requested_amount",
        "requested_term_months", "region_code", "industry_code", "guarantee_type",
    }  # fmt: skip
    assert set(result.missing) == set(SPEC_NAMES) - from_application
    assert result.needs_review is True
    assert values["social_security_months"] == 0  # policy "default"
    for name in set(result.missing) - {"social_security_months"}:
        assert values[name] is None, name
    review = {d.name for d in VARIABLE_CATALOGUE.definitions if d.missing_policy == "review"}
    assert review == {
        "identity_verified", "enterprise_status", "licence_valid", "sanction_hit",
        "dishonest_debtor", "major_admin_penalties_24m", "has_credit_record", "fraud_level",
    }  # fmt: skip


def test_only_null_policy_sources_missing_do_not_need_review() -> None:
    data = payloads()
    data["bank_flows"] = data["platform_receipts"] = None
    result = compute(an_application(), data, AS_OF)
    assert result.missing == ("bank_inflow_12m", "gambling_txn_12m", "platform_gmv_12m")
    assert result.needs_review is False
    data["sanctions"] = None
    assert compute(an_application(), data, AS_OF).needs_review is True


def test_to_mapping_is_json_ready() -> None:
    mapping = compute(an_application(), payloads(), AS_OF).to_mapping()
    assert mapping["values"]["debt_service_ratio"] == "0.2140"
    assert mapping["missing"] == [] and mapping["needs_review"] is False


def test_compute_is_pure() -> None:
    data = payloads()
    before = copy.deepcopy(data)
    first = compute(an_application(), data, AS_OF)
    assert compute(an_application(), data, AS_OF) == first
    assert data == before


@given(
    dropped=st.sets(st.sampled_from(sorted(payloads()))),
    kind=st.sampled_from(["micro_enterprise", "individual_business", "consumer"]),
)
def test_any_missing_combination_is_handled(dropped: set[str], kind: str) -> None:
    data = {k: (None if k in dropped else v) for k, v in payloads().items()}
    result = compute(an_application(kind), data, AS_OF)
    assert set(result.values) == set(SPEC_NAMES)
    policies = {d.name: d.missing_policy for d in VARIABLE_CATALOGUE.definitions}
    assert result.needs_review == any(policies[n] == "review" for n in result.missing)
    for name in result.missing:
        sources = VARIABLE_CATALOGUE.get(name).sources
        assert any(s in dropped for s in sources), name


def test_catalogue_hash_and_new_versions() -> None:
    same = VariableCatalogue("1", VARIABLE_CATALOGUE.definitions)
    assert same.content_hash == VARIABLE_CATALOGUE.content_hash
    assert len(VARIABLE_CATALOGUE.content_hash) == 64 and VARIABLE_CATALOGUE.version == "1"

    def fraud_v2(ctx: Any) -> str:
        return "none"

    old = VARIABLE_CATALOGUE.get("fraud_level")
    new = VariableDefinition(
        "fraud_level", 2, VariableType.STR, ("identity",), MissingPolicy.REVIEW, None,
        "欺诈风险等级", "Fraud level", fraud_v2,
    )  # fmt: skip
    updated = VARIABLE_CATALOGUE.with_definition(new, version="2")
    assert updated.version == "2" and updated.names == VARIABLE_CATALOGUE.names
    assert updated.get("fraud_level").version == 2 and old.version == 1
    assert updated.content_hash != VARIABLE_CATALOGUE.content_hash
    assert compute(an_application(), payloads(), AS_OF).values["fraud_level"] == "low"
    assert updated.compute(an_application(), payloads(), AS_OF).values["fraud_level"] == "none"


def test_bad_catalogues_and_definitions() -> None:
    with pytest.raises(ValidationError) as excinfo:
        VariableCatalogue("x", VARIABLE_CATALOGUE.definitions * 2)
    assert excinfo.value.code == "risk.variable.duplicate"
    with pytest.raises(ValidationError):
        VariableDefinition("x", 1, VariableType.INT, ("horoscope",), MissingPolicy.NULL, None,
                           "", "", lambda c: 1)  # fmt: skip
    with pytest.raises(ValidationError):
        VariableDefinition("x", 1, VariableType.INT, (), MissingPolicy.DEFAULT, None,
                           "", "", lambda c: 1)  # fmt: skip
    with pytest.raises(ValidationError) as excinfo:
        VARIABLE_CATALOGUE.get("horoscope")
    assert excinfo.value.code == "risk.variable.unknown"


def test_a_full_set_is_fast() -> None:
    """Target < 30 µs per full set on a quiet machine; here only a loose guard (shared CI)."""
    app, data = an_application(), payloads()
    runs = 500
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(runs):
            compute(app, data, AS_OF)
        best = min(best, (time.perf_counter() - start) / runs)
    assert best < 500e-6
