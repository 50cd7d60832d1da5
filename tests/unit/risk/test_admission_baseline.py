"""The baseline admission rule set (R-9.2a): every rule fires when it should and only then, a
clean applicant fires nothing, a missing variable fires nothing, and zen-engine 2.1.3 gives the
same fired rules as Puhui's evaluator on the same file (parity)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zen
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.risk.rule_set import RULE_CATEGORIES, RULE_OUTCOMES, evaluate, load_rule_set

BASELINE = Path(__file__).resolve().parents[3] / "src/puhui/config/rules/admission-baseline.json"
RULE_SET = load_rule_set(BASELINE)
RULE_IDS = [rule.rule_id for rule in RULE_SET.rules]


def a_clean_applicant(**overrides: Any) -> dict[str, Any]:
    """A micro-enterprise applicant with nothing adverse (R-6.5 variable names)."""
    values: dict[str, Any] = {
        "applicant_age": 38,
        "borrower_type": "micro_enterprise",
        "product_code": "MICRO-BIZ",
        "requested_amount": Decimal("300000.00"),
        "requested_term_months": 12,
        "region_code": "450103",
        "industry_code": "F",
        "guarantee_type": "credit",
        "identity_verified": True,
        "phone_in_service_months": 60,
        "enterprise_status": "in_operation",
        "licence_valid": True,
        "months_in_business": 48,
        "sanction_hit": False,
        "dishonest_debtor": False,
        "open_enforcement_cases": 0,
        "admin_penalties_24m": 0,
        "major_admin_penalties_24m": 0,
        "has_credit_record": True,
        "current_overdue_amount": Decimal("0.00"),
        "worst_dpd_24m": 0,
        "enquiries_3m": 1,
        "bureau_monthly_debt_service": Decimal("3000.00"),
        "tax_grade": "B",
        "tax_revenue_12m": Decimal("2400000.00"),
        "tax_revenue_growth": Decimal("0.12"),
        "bank_inflow_12m": Decimal("2600000.00"),
        "gambling_txn_12m": 0,
        "platform_gmv_12m": None,
        "social_security_months": 40,
        "monthly_income": Decimal("65000.00"),
        "debt_service_ratio": Decimal("0.0462"),
        "fraud_level": "none",
    }
    values.update(overrides)
    return values


CONSUMER = {"borrower_type": "consumer", "product_code": "CONSUMER", "enterprise_status": "none"}
INDIVIDUAL = {"borrower_type": "individual_business", "product_code": "INDIV-BIZ"}

# rule id → (variables that make it fire, the nearest variables that do not)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "LEG-001": ({"applicant_age": 17}, {"applicant_age": 18}),
    "LEG-002": ({**CONSUMER, "applicant_age": 66}, {**CONSUMER, "applicant_age": 65}),
    "LEG-003": ({**INDIVIDUAL, "applicant_age": 71}, {"applicant_age": 70}),
    "LEG-004": ({"enterprise_status": "revoked", "licence_valid": False},
                {**CONSUMER, "enterprise_status": "cancelled"}),
    "LEG-005": ({"licence_valid": False}, {**CONSUMER, "licence_valid": False}),
    "LEG-006": ({"months_in_business": 5}, {"months_in_business": 6}),
    "AML-001": ({"sanction_hit": True}, {"sanction_hit": False}),
    "BEH-001": ({"gambling_txn_12m": 3}, {"gambling_txn_12m": 2}),
    "BEH-002": ({"gambling_txn_12m": 1}, {"gambling_txn_12m": 3}),
    "BEH-003": ({"enquiries_3m": 6}, {"enquiries_3m": 5}),
    "BEH-004": ({"enquiries_3m": 4}, {"enquiries_3m": 6}),
    "ADM-001": ({"major_admin_penalties_24m": 1}, {"admin_penalties_24m": 2}),
    "ADM-002": ({"admin_penalties_24m": 3}, {"admin_penalties_24m": 2}),
    "ADM-003": ({"admin_penalties_24m": 2}, {"admin_penalties_24m": 3}),
    "CRD-001": ({"current_overdue_amount": Decimal("0.01")}, {"current_overdue_amount": 0}),
    "CRD-002": ({"worst_dpd_24m": 91}, {"worst_dpd_24m": 90}),
    "CRD-003": ({"worst_dpd_24m": 31}, {"worst_dpd_24m": 30}),
    "CRD-004": ({"worst_dpd_24m": 30}, {"worst_dpd_24m": 31}),
    "CRD-005": ({"dishonest_debtor": True}, {"dishonest_debtor": False}),
    "CRD-006": ({"open_enforcement_cases": 1}, {"open_enforcement_cases": 0}),
    "CRD-007": ({"debt_service_ratio": Decimal("0.7001")}, {"debt_service_ratio": Decimal("0.7")}),
    "CRD-008": ({"debt_service_ratio": Decimal("0.5501")}, {"debt_service_ratio": Decimal("0.55")}),
    "FRD-001": ({"identity_verified": False}, {"identity_verified": True}),
    "FRD-002": ({"fraud_level": "high"}, {"fraud_level": "medium"}),
    "FRD-003": ({"fraud_level": "medium"}, {"fraud_level": "low"}),
    "FRD-004": ({"fraud_level": "low"}, {"fraud_level": "none"}),
}  # fmt: skip


def fired(variables: dict[str, Any]) -> list[str]:
    return [rule.rule_id for rule in evaluate(RULE_SET, variables).fired]


def test_every_rule_has_a_case_and_every_category_is_covered() -> None:
    assert sorted(CASES) == sorted(RULE_IDS)
    assert 20 <= len(RULE_IDS) <= 26
    assert {rule.category for rule in RULE_SET.rules} == RULE_CATEGORIES
    assert {rule.outcome for rule in RULE_SET.rules} == RULE_OUTCOMES
    for rule in RULE_SET.rules:
        assert re.fullmatch(r"(LEG|AML|BEH|ADM|CRD|FRD)-\d{3}", rule.rule_id)
        assert re.search(r"[\u4e00-\u9fff]", rule.reason_zh)
        assert rule.reason_en


def test_rule_ids_follow_their_category() -> None:
    prefix = {"legal": "LEG", "aml": "AML", "behaviour": "BEH", "admin_penalty": "ADM",
              "credit_default": "CRD", "fraud": "FRD"}  # fmt: skip
    for rule in RULE_SET.rules:
        assert rule.rule_id.startswith(prefix[rule.category])


@pytest.mark.parametrize(
    "overrides", [{}, CONSUMER, INDIVIDUAL], ids=["micro", "consumer", "indiv"]
)
def test_a_clean_applicant_fires_nothing(overrides: dict[str, Any]) -> None:
    result = evaluate(RULE_SET, a_clean_applicant(**overrides))
    assert result.fired == ()
    assert [r.rule_id for r in result.rules] == RULE_IDS  # every rule evaluated, none fired
    assert result.outputs == {"rules": []}


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_the_rule_fires_on_its_case(rule_id: str) -> None:
    fires, _ = CASES[rule_id]
    assert rule_id in fired(a_clean_applicant(**fires))


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_the_rule_does_not_fire_next_to_its_case(rule_id: str) -> None:
    _, does_not = CASES[rule_id]
    assert rule_id not in fired(a_clean_applicant(**does_not))


def test_a_fired_rule_carries_its_outcome_and_reasons_to_the_output() -> None:
    result = evaluate(RULE_SET, a_clean_applicant(sanction_hit=True))
    (rule,) = result.fired
    assert (rule.rule_id, rule.category, rule.outcome) == ("AML-001", "aml", "decline")
    assert result.outputs == {
        "rules": [
            {
                "rule_id": "AML-001",
                "category": "aml",
                "outcome": "decline",
                "reason_zh": rule.reason_zh,
                "reason_en": rule.reason_en,
            },
        ]
    }


COLUMNS = [c["field"] for c in RULE_SET.content["nodes"][1]["content"]["inputs"]]


@pytest.mark.parametrize("variable", COLUMNS)
def test_a_missing_variable_fires_nothing(variable: str) -> None:
    for overrides in ({}, CONSUMER, INDIVIDUAL):
        assert fired(a_clean_applicant(**{**overrides, variable: None})) == []
        absent = a_clean_applicant(**overrides)
        del absent[variable]
        assert fired(absent) == []


# --- parity with zen-engine 2.1.3 -------------------------------------------------------------

ENGINE = zen.ZenEngine({"loader": lambda key: zen.ZenDecisionContent(BASELINE.read_text())})


def zen_fired(variables: dict[str, Any]) -> list[str]:
    # Decimals travel as exact JSON numbers (a float would round them)
    text = json.dumps(variables, default=lambda d: f"@@{d}@@")
    text = text.replace('"@@', "").replace('@@"', "")
    return [row["rule_id"] for row in ENGINE.evaluate("admission", text)["result"]["rules"]]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy, strategy, strategy)


def near(*values: int) -> st.SearchStrategy[int]:
    """Integers around the thresholds, plus anything in range."""
    return st.one_of(st.sampled_from(values), st.integers(min_value=0, max_value=max(values) * 2))


def ratios() -> st.SearchStrategy[Decimal]:
    boundaries = [Decimal(v) for v in ("0.55", "0.5500", "0.5501", "0.7", "0.70", "0.7001")]
    return st.one_of(
        st.sampled_from(boundaries),
        st.decimals(min_value=0, max_value=2, places=4, allow_nan=False),
    )


VARIABLES = st.fixed_dictionaries(
    {
        "applicant_age": maybe(near(17, 18, 65, 66, 70, 71)),
        "borrower_type": maybe(
            st.sampled_from(["consumer", "individual_business", "micro_enterprise"])
        ),
        "enterprise_status": maybe(
            st.sampled_from(["in_operation", "suspended", "revoked", "cancelled", "none"])
        ),
        "licence_valid": maybe(st.booleans()),
        "months_in_business": maybe(near(5, 6, 7)),
        "sanction_hit": maybe(st.booleans()),
        "gambling_txn_12m": maybe(near(0, 1, 2, 3)),
        "enquiries_3m": maybe(near(3, 4, 5, 6)),
        "major_admin_penalties_24m": maybe(near(0, 1)),
        "admin_penalties_24m": maybe(near(0, 1, 2, 3)),
        "current_overdue_amount": maybe(
            st.one_of(st.just(Decimal("0.00")), st.decimals(0, 50000, places=2))
        ),
        "worst_dpd_24m": maybe(near(0, 1, 30, 31, 90, 91)),
        "dishonest_debtor": maybe(st.booleans()),
        "open_enforcement_cases": maybe(near(0, 1)),
        "debt_service_ratio": maybe(ratios()),
        "identity_verified": maybe(st.booleans()),
        "fraud_level": maybe(st.sampled_from(["none", "low", "medium", "high"])),
        # values of the wrong type must be handled the same way by both engines
        "has_credit_record": st.one_of(st.booleans(), st.just("yes"), st.integers(0, 2)),
    }
)


@settings(max_examples=200, deadline=None)
@given(VARIABLES)
def test_zen_engine_fires_the_same_rules_as_puhui(variables: dict[str, Any]) -> None:
    assert fired(variables) == zen_fired(variables)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_zen_engine_agrees_on_every_rule_case(rule_id: str) -> None:
    for overrides in CASES[rule_id]:
        variables = a_clean_applicant(**overrides)
        assert fired(variables) == zen_fired(variables)
