"""Rates: the annual rate first, exact decimals, derived rates in a private context (R-11.3)."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.rates import Rate

annual_rates = st.decimals(min_value=0, max_value=10, places=6, allow_nan=False)


def test_constructors_agree() -> None:
    assert Rate("0.0365") == Rate(Decimal("0.0365")) == Rate.percent("3.65")
    assert Rate.percent(Decimal("3.65")).annual == Decimal("0.0365")
    assert Rate.percent(24) == Rate("0.24")
    assert Rate(0).annual == 0
    assert Rate(10) == Rate.percent(1000)  # the upper bound is allowed


def test_annual_and_percent() -> None:
    rate = Rate.percent("3.65")
    assert rate.annual == Decimal("0.0365")
    assert rate.as_percent() == Decimal("3.65")


@pytest.mark.parametrize("make", [Rate, Rate.percent])
def test_float_is_refused(make: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        make(0.0365)  # type: ignore[operator]
    assert excinfo.value.code == "rate.float_refused"


@pytest.mark.parametrize("bad", ["-0.01", -1, Decimal("-0.0001")])
def test_negative_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "rate.negative"
    with pytest.raises(ValidationError):
        Rate.percent(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["10.0001", 11, Decimal("365")])
def test_absurd_rate_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "rate.out_of_range"


def test_percent_above_1000_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate.percent("1000.01")
    assert excinfo.value.code == "rate.out_of_range"


@pytest.mark.parametrize(
    "bad", ["abc", "3.65%", "NaN", "Infinity", "1e-2", "", Decimal("NaN"), True, None]
)
def test_malformed_rate_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "rate.invalid"


def test_monthly_daily_and_per_period() -> None:
    rate = Rate("0.0365")
    assert rate.daily(365) == Decimal("0.0001")
    assert rate.daily(360) == Decimal("0.0001013888888888888888888888888888889")
    assert rate.monthly() == Decimal("0.003041666666666666666666666666666667")
    assert rate.monthly() == rate.per_period(12)
    assert Rate("0.12").per_period(4) == Decimal("0.03")
    assert Rate("0.0366").daily(366) == Decimal("0.0001")
    assert Rate("0.0364").daily(364) == Decimal("0.0001")


@pytest.mark.parametrize("days", [0, 1, 180, 367, True])
def test_daily_needs_a_known_year_basis(days: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate("0.05").daily(days)
    assert excinfo.value.code == "rate.invalid_days_in_year"


@pytest.mark.parametrize("periods", [0, -12, True, Decimal(12)])
def test_per_period_needs_a_positive_int(periods: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rate("0.05").per_period(periods)  # type: ignore[arg-type]
    assert excinfo.value.code == "rate.invalid_periods"


def test_derived_rates_ignore_the_thread_decimal_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 4
        monthly = Rate("0.0365").monthly()
        assert decimal.getcontext().prec == 4
    assert len(monthly.as_tuple().digits) == 34


def test_comparisons_and_hash() -> None:
    assert Rate("0.05") == Rate("0.050")
    assert hash(Rate("0.05")) == hash(Rate("0.050"))
    assert Rate("0.0365") < Rate("0.04") <= Rate("0.04") < Rate("0.24")
    assert max(Rate("0.1"), Rate("0.2")) == Rate("0.2")
    with pytest.raises(TypeError):
        _ = Rate("0.1") < Decimal("0.2")  # type: ignore[operator]


def test_immutable() -> None:
    rate = Rate("0.05")
    with pytest.raises(AttributeError):
        rate.annual = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Rate("0.0365"), "3.65%"),
        (Rate("0.036500"), "3.65%"),
        (Rate("0.10"), "10%"),
        (Rate("0.154"), "15.4%"),
        (Rate(0), "0%"),
        (Rate(10), "1000%"),
        (Rate("0.000001"), "0.0001%"),
    ],
)
def test_display(rate: Rate, text: str) -> None:
    assert str(rate) == text


def test_repr() -> None:
    assert repr(Rate.percent("3.65")) == "Rate('0.0365')"


@given(annual_rates)
def test_percent_round_trip(annual: Decimal) -> None:
    rate = Rate(annual)
    assert Rate.percent(rate.as_percent()) == rate


@given(annual_rates, st.integers(min_value=1, max_value=366))
def test_periods_add_back_to_the_annual_rate(annual: Decimal, periods: int) -> None:
    per_period = Rate(annual).per_period(periods)
    assert abs(per_period * periods - annual) <= Decimal("1e-30")
