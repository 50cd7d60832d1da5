"""Annualized rates per PBoC Announcement [2021] No. 3, and rate ceilings (R-G7, R-11.3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.calendar import add_months
from puhui.domain.errors import ValidationError
from puhui.domain.lending.apr import (
    DEFAULT_RATE_CEILING,
    AnnualizedRate,
    CeilingStatus,
    annualized_rate,
    check_rate_ceiling,
    periodic_irr,
    schedule_annualized_rate,
    xirr,
)
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import LoanTerms

PAYMENTS = [Decimal("8833.33")] * 12


def pct(value: Decimal, places: str = "0.0001") -> Decimal:
    return value.quantize(Decimal(places))


def a_loan(**overrides: Any) -> LoanTerms:
    values: dict[str, Any] = {
        "principal": Decimal(10_000),
        "annual_rate": Decimal("0.12"),
        "repayments": 12,
        "disbursement_date": date(2024, 1, 15),
    }
    values.update(overrides)
    return LoanTerms(**values)


# -- the REFERENCE.md §1 worked example ------------------------------------------------------


def test_worked_example_with_the_upfront_fee() -> None:
    # 100,000 lent, 1,000 upfront fee, 12 monthly payments of 8,833.33: net 99,000 received.
    apr = annualized_rate(Decimal(100_000), PAYMENTS, 12, upfront_fees=Decimal(1000))
    assert pct(apr.periodic_irr, "0.000001") == Decimal("0.010670")  # 1.0670 % a month
    assert pct(apr.nominal_apr) == Decimal("0.1280")  # r × 12 = 12.80 %
    assert pct(apr.effective_annual) == Decimal("0.1358")  # (1 + r)^12 − 1 = 13.58 %
    assert apr.total_cost == Decimal("6999.96")  # 105,999.96 − 99,000


def test_worked_example_without_the_fee() -> None:
    apr = annualized_rate(Decimal(100_000), PAYMENTS, 12)
    assert pct(apr.nominal_apr) == Decimal("0.1090")
    assert pct(apr.effective_annual) == Decimal("0.1146")


def test_labels_name_the_method() -> None:
    apr = annualized_rate(Decimal(100_000), PAYMENTS, 12)
    assert "IRR" in apr.label_zh and "IRR" in apr.label_en
    assert "单利" in apr.simple_label_zh and "simple" in apr.simple_label_en
    assert apr.method == "irr"


# -- the IRR solver ---------------------------------------------------------------------------


def test_irr_of_a_single_period() -> None:
    assert pct(periodic_irr([Decimal(-1000), Decimal(1300)]), "1e-20") == Decimal("0.3")


def test_irr_can_be_zero_or_negative() -> None:
    assert abs(periodic_irr([Decimal(-1200)] + [Decimal(100)] * 12)) < Decimal("1e-25")
    assert periodic_irr([Decimal(-1000), Decimal(500), Decimal(400)]) < 0


def test_irr_of_a_very_expensive_loan() -> None:
    # 1,000 lent, 1,500 back a week later: the bracket widens past 100 % a period.
    assert pct(periodic_irr([Decimal(-1000), Decimal(1500)]), "1e-20") == Decimal("0.5")
    assert pct(periodic_irr([Decimal(-100), Decimal(1000)]), "1e-20") == Decimal(9)


@pytest.mark.parametrize(
    "flows",
    [
        [Decimal(1000), Decimal(100)],  # nothing lent
        [Decimal(-1000)],  # nothing back
        [Decimal(-1000), Decimal(0), Decimal(0)],
        [Decimal(-1000), Decimal(-5)],
    ],
)
def test_irr_without_a_solution(flows: list[Decimal]) -> None:
    with pytest.raises(ValidationError) as err:
        periodic_irr(flows)
    assert err.value.code == "apr.no_solution"


@settings(max_examples=200, deadline=None)
@given(
    rate=st.decimals(min_value="0.0001", max_value="0.5", places=6),
    periods=st.integers(1, 360),
    principal=st.decimals(min_value=100, max_value=10_000_000, places=2),
)
def test_irr_recovers_the_rate_of_an_exact_annuity(
    rate: Decimal, periods: int, principal: Decimal
) -> None:
    growth = (1 + rate) ** periods
    payment = principal * rate * growth / (growth - 1)
    found = periodic_irr([-principal] + [payment] * periods)
    assert abs(found - rate) < Decimal("1e-18")


def test_the_simple_rate_on_irr_balances_equals_the_nominal_rate() -> None:
    # With the principal in use taken as the net amount amortized at the IRR, the interest of
    # each period is exactly r × the balance: cost / average balance / years = r × k.
    apr = annualized_rate(Decimal(100_000), PAYMENTS, 12, upfront_fees=Decimal(1000))
    assert abs(apr.simple_rate - apr.nominal_apr) < Decimal("1e-25")


def test_simple_rate_with_given_principal_in_use() -> None:
    # 10,000 for a year, 1,000 interest at maturity: 10 % simple, whatever the compounding.
    apr = annualized_rate(Decimal(10_000), [Decimal(11_000)], 1, principal_in_use=[10_000])
    assert apr.simple_rate == Decimal("0.1")
    # 12,000 repaid 1,000 a month with 60 of interest each month: average principal in use
    # (12,000 + 11,000 + … + 1,000) / 12 = 6,500; cost 720 over one year → 11.08 % simple.
    in_use = [Decimal(12_000 - 1000 * k) for k in range(12)]
    apr = annualized_rate(Decimal(12_000), [Decimal(1060)] * 12, 12, principal_in_use=in_use)
    assert pct(apr.simple_rate) == Decimal("0.1108")
    assert apr.average_principal_in_use == Decimal(6500)


def test_bad_loans_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        annualized_rate(Decimal(1000), [Decimal(1100)], 12, upfront_fees=Decimal(1000))
    assert err.value.code == "apr.invalid_loan"
    with pytest.raises(ValidationError) as err:
        annualized_rate(Decimal(1000), [Decimal(1100)], 12, principal_in_use=[1, 2])
    assert err.value.code == "apr.invalid_principal_in_use"


# -- XIRR -------------------------------------------------------------------------------------


def test_xirr_of_one_year() -> None:
    flows = [(date(2023, 1, 1), Decimal(-10_000)), (date(2024, 1, 1), Decimal(11_000))]
    assert pct(xirr(flows), "1e-20") == Decimal("0.1")


def test_xirr_agrees_with_the_periodic_irr_on_a_regular_schedule() -> None:
    start = date(2023, 1, 1)
    flows = [(start, Decimal(-99_000))]
    flows += [(start + timedelta(days=round(365 / 12 * k)), p) for k, p in enumerate(PAYMENTS, 1)]
    assert abs(xirr(flows) - Decimal("0.1358")) < Decimal("0.001")


def test_xirr_refuses_flows_before_the_first() -> None:
    flows = [(date(2024, 1, 1), Decimal(-100)), (date(2023, 1, 1), Decimal(110))]
    with pytest.raises(ValidationError) as err:
        xirr(flows)
    assert err.value.code == "apr.no_solution"


# -- schedules --------------------------------------------------------------------------------


def test_a_schedule_without_fees_has_its_contract_rate() -> None:
    apr = schedule_annualized_rate(generate_schedule(a_loan()))
    assert isinstance(apr, AnnualizedRate)
    assert pct(apr.nominal_apr) == Decimal("0.1200")
    assert pct(apr.effective_annual) == Decimal("0.1268")  # 1.01^12 − 1


def test_fees_raise_the_annualized_rate() -> None:
    terms = LoanTerms.from_mapping(
        {
            "principal": "10000",
            "annual_rate": "0.12",
            "repayments": 12,
            "disbursement_date": "2024-01-15",
            "fees": [{"kind": "upfront", "amount": "200"}, {"kind": "per_period", "amount": "10"}],
        }
    )
    apr = schedule_annualized_rate(generate_schedule(terms))
    assert apr.nominal_apr > Decimal("0.15")
    assert apr.total_cost == generate_schedule(terms).total_interest + Decimal(200 + 12 * 10)


def test_weekly_schedules_annualize_by_52() -> None:
    apr = schedule_annualized_rate(generate_schedule(a_loan(frequency="weeks", every=2)))
    assert apr.periods_per_year == 26
    assert pct(apr.nominal_apr, "0.001") == Decimal("0.120")


def test_a_broken_first_period_uses_xirr_on_dates() -> None:
    schedule = generate_schedule(a_loan(first_repayment_date=date(2024, 2, 25)))
    apr = schedule_annualized_rate(schedule)
    assert apr.method == "xirr"
    # the loan's own rate, give or take the long first period's day count
    assert Decimal("0.118") < apr.nominal_apr < Decimal("0.125")
    flows = [(date(2024, 1, 15), Decimal(-10_000))]
    flows += [(p.due_date, p.total) for p in schedule.periods]
    assert apr.effective_annual == xirr(flows)


def test_monthly_due_dates_helper_matches_add_months() -> None:
    schedule = generate_schedule(a_loan())
    assert [p.due_date for p in schedule.periods] == [
        add_months(date(2024, 1, 15), k) for k in range(1, 13)
    ]


# -- ceilings ---------------------------------------------------------------------------------


def test_within_the_default_ceiling() -> None:
    verdict = check_rate_ceiling(Decimal("0.18"))
    assert verdict.ok and verdict.status == CeilingStatus.OK
    assert verdict.ceiling == DEFAULT_RATE_CEILING == Decimal("0.24")
    assert verdict.breaches == ()


def test_above_the_ceiling() -> None:
    verdict = check_rate_ceiling(Decimal("0.2401"))
    assert verdict.status == CeilingStatus.ABOVE_CEILING
    assert "24.00%" in verdict.message_en and "24.00%" in verdict.message_zh


def test_equal_to_a_threshold_is_within_it() -> None:
    assert check_rate_ceiling(Decimal("0.24")).ok
    assert check_rate_ceiling(Decimal("0.154"), lpr=Decimal("0.0385")).ok


def test_above_four_times_the_lpr() -> None:
    # SPC 2020 private-lending rule: 4 × 3.85 % = 15.4 %.
    verdict = check_rate_ceiling(Decimal("0.16"), lpr=Decimal("0.0385"))
    assert verdict.status == CeilingStatus.ABOVE_LPR_CAP
    assert verdict.lpr_cap == Decimal("0.1540")
    both = check_rate_ceiling(Decimal("0.30"), lpr=Decimal("0.0385"))
    assert both.status == CeilingStatus.ABOVE_CEILING
    assert both.breaches == (CeilingStatus.ABOVE_CEILING, CeilingStatus.ABOVE_LPR_CAP)


def test_thresholds_are_parameters() -> None:
    assert not check_rate_ceiling(Decimal("0.20"), ceiling=Decimal("0.18")).ok
    assert check_rate_ceiling(Decimal("0.16"), lpr=Decimal("0.0385"), lpr_multiple=Decimal(5)).ok
    with pytest.raises(ValidationError) as err:
        check_rate_ceiling(Decimal("0.1"), ceiling=Decimal(0))
    assert err.value.code == "apr.invalid_threshold"


def test_an_annualized_rate_is_judged_by_its_disclosed_nominal_figure() -> None:
    apr = annualized_rate(Decimal(100_000), PAYMENTS, 12, upfront_fees=Decimal(1000))
    verdict = check_rate_ceiling(apr, ceiling=Decimal("0.13"))
    assert verdict.ok  # 12.80 % nominal, although 13.58 % effective
    assert verdict.rate == apr.nominal_apr
