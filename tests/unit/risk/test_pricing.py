"""Risk-based pricing: LPR + spread, clamped to floor and ceiling (R-9.2, R-G7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.adapters.products import load_catalogue
from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.risk.policy import load_risk_policy
from puhui.domain.risk.pricing import price

POLICY = load_risk_policy().pricing
PRODUCTS = load_catalogue()
MICRO, INDIV, CONSUMER = PRODUCTS["MICRO-BIZ"], PRODUCTS["INDIV-BIZ"], PRODUCTS["CONSUMER"]


def test_micro_business_grade_b() -> None:
    result = price(POLICY, "B", MICRO)
    # 0.0310 LPR + 0.0120 spread = 0.0430; floor max(0.0310 + 0, min_rate 0.03) = 0.0310;
    # ceiling min(max_rate 0.18, rate_ceiling 0.24, policy 0.24) = 0.18
    assert result.annual_rate == Decimal("0.0430")
    assert (result.lpr, result.lpr_as_of) == (Decimal("0.0310"), date(2025, 5, 20))
    assert (result.spread, result.floor, result.ceiling) == (
        Decimal("0.0120"),
        Decimal("0.0310"),
        Decimal("0.18"),
    )
    assert not result.clamped and result.clamped_to is None


def test_consumer_adds_the_product_spread() -> None:
    result = price(POLICY, "C", CONSUMER)
    # 0.0310 + 0.0200 (grade C) + 0.0150 (CONSUMER) = 0.0660; ceiling min(0.24, 0.24, 0.24)
    assert result.annual_rate == Decimal("0.0660")
    assert result.spread == Decimal("0.0350")
    assert result.ceiling == Decimal("0.24")


def test_the_lpr_in_force_is_an_input() -> None:
    result = price(POLICY, "B", MICRO, lpr=Decimal("0.0300"), lpr_as_of=date(2025, 6, 20))
    # 0.0300 + 0.0120 = 0.0420
    assert result.annual_rate == Decimal("0.0420")
    assert result.lpr_as_of == date(2025, 6, 20)


def test_clamped_at_the_product_minimum_rate() -> None:
    result = price(POLICY, "A+", INDIV, lpr=Decimal("0.0280"))
    # 0.0280 + 0.0040 = 0.0320 < floor max(0.0280, INDIV min_rate 0.035) = 0.035
    assert result.annual_rate == Decimal("0.035")
    assert result.clamped and result.clamped_to == "floor"
    assert result.lpr_as_of is None  # an LPR passed without its date


def test_clamped_at_the_floor_spread() -> None:
    policy = replace(POLICY, floor_spread=Decimal("0.0050"))
    result = price(policy, "A+", MICRO)
    # 0.0310 + 0.0040 = 0.0350 < floor 0.0310 + 0.0050 = 0.0360
    assert result.annual_rate == Decimal("0.0360")
    assert result.clamped_to == "floor"


def test_clamped_at_the_comprehensive_cost_ceiling() -> None:
    result = price(POLICY, "E", CONSUMER, lpr=Decimal("0.20"))
    # 0.20 + 0.06 + 0.015 = 0.275 > ceiling min(0.24, 0.24, 0.24) = 0.24
    assert result.annual_rate == Decimal("0.24")
    assert result.clamped and result.clamped_to == "ceiling"
    policy = replace(POLICY, comprehensive_cost_ceiling=Decimal("0.06"))
    # 0.0310 + 0.0600 = 0.0910 on MICRO-BIZ > min(0.18, 0.24, 0.06) = 0.06
    assert price(policy, "E", MICRO).annual_rate == Decimal("0.06")


def test_unknown_grade_and_bad_lpr_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        price(POLICY, "Z", MICRO)
    assert info.value.code == "risk.pricing.unknown_grade"
    with pytest.raises(ValidationError) as info:
        price(POLICY, "B", MICRO, lpr=Decimal("-0.01"))
    assert info.value.code == "risk.pricing.invalid_lpr"


def test_a_floor_above_the_ceiling_is_a_configuration_error() -> None:
    policy = replace(POLICY, floor_spread=Decimal("0.30"))
    with pytest.raises(DomainError) as info:
        price(policy, "B", MICRO)
    assert info.value.code == "risk.pricing.empty_range"


@given(
    grade=st.sampled_from(["A+", "A", "B", "C", "D", "E"]),
    product=st.sampled_from([MICRO, INDIV, CONSUMER]),
    lpr=st.decimals("0", "0.15", places=4),
    spread=st.decimals("-0.10", "0.30", places=4),
)
def test_rate_is_always_within_floor_and_ceiling(
    grade: str, product: object, lpr: Decimal, spread: Decimal
) -> None:
    policy = replace(
        POLICY, grade_spreads=MappingProxyType({**POLICY.grade_spreads, grade: spread})
    )
    result = price(policy, grade, product, lpr=lpr)  # type: ignore[arg-type]
    assert result.floor <= result.annual_rate <= result.ceiling
    unclamped = lpr + result.spread
    assert result.clamped == (not result.floor <= unclamped <= result.ceiling)
    if not result.clamped:
        assert result.annual_rate == unclamped
