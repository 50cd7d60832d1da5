"""Product catalogue entries: limits, servicing policy, refusals (R-8.4c, R-G7)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puhui.adapters.products import load_catalogue
from puhui.domain.errors import ValidationError
from puhui.domain.lending.allocation import AllocationStrategy, Component
from puhui.domain.lending.products import product_from_mapping
from puhui.domain.lending.terms import LoanTerms

ENTRY = {
    "code": "P",
    "name_zh": "测试",
    "name_en": "Test",
    "segment": "consumer",
    "min_principal": "1000",
    "max_principal": "200000",
    "min_repayments": 1,
    "max_repayments": 24,
    "amortizations": ["equal_installments", "bullet"],
    "min_rate": "0.04",
    "max_rate": "0.24",
    "max_bullet_days": 365,
    "servicing": {
        "penalty_uplift": "0.3",
        "allocation_order": ["principal", "interest", "penalty", "fee"],
        "allocation_strategy": "component_first",
    },
}


def terms(**kw: object) -> LoanTerms:
    base: dict[str, object] = {
        "principal": "10000",
        "annual_rate": "0.1",
        "repayments": 12,
        "disbursement_date": "2026-02-28",
    }
    return LoanTerms.from_mapping({**base, **kw})


def test_servicing_policy_comes_from_the_catalogue() -> None:
    product = product_from_mapping(ENTRY)
    assert product.servicing.penalty_uplift == Decimal("0.3")
    assert product.servicing.allocation_order[0] is Component.PRINCIPAL
    assert product.servicing.allocation_strategy is AllocationStrategy.COMPONENT_FIRST


def test_one_year_bullet_is_the_limit_including_leap_years() -> None:
    product = product_from_mapping(ENTRY)
    product.check(terms(amortization="bullet", repayments=12))
    product.check(terms(amortization="bullet", repayments=12, disbursement_date="2027-03-01"))
    with pytest.raises(ValidationError) as err:
        product.check(terms(amortization="bullet", repayments=13))
    assert err.value.code == "product.bullet_too_long"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_principal", "0"),
        ("amortizations", ["nope"]),
        ("segment", "x"),
        ("servicing", {"allocation_order": ["principal"]}),
        ("min_rate", "abc"),
    ],
)
def test_bad_definitions_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        product_from_mapping({**ENTRY, field: value})
    assert err.value.code in ("product.invalid_definition", "product.invalid_range")


def test_the_shipped_catalogue_loads() -> None:
    catalogue = load_catalogue()
    assert set(catalogue) == {"MICRO-BIZ", "INDIV-BIZ", "CONSUMER"}
    assert catalogue["CONSUMER"].max_principal == Decimal("200000")
