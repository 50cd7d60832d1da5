"""Repayment schedules: invariants (Hypothesis), conventions, grace, fees and bad input
(R-8.4c, R-11.3d)."""

from __future__ import annotations

import decimal
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.lending.schedule import annuity_payment, generate_schedule, periodic_rate
from puhui.domain.lending.schedule_base import Rounder, arithmetic
from puhui.domain.lending.terms import LoanTerms, Schedule, ScheduledPeriod
from puhui.domain.money import CNY, RoundingMode, quantize


def a_loan(**overrides: Any) -> LoanTerms:
    """A loan in the domain's words: 10,000 at 12 % over 12 months, disbursed 15 Jan 2024."""
    values: dict[str, Any] = {
        "principal": Decimal(10_000),
        "annual_rate": Decimal("0.12"),
        "repayments": 12,
        "disbursement_date": date(2024, 1, 15),
    }
    values.update(overrides)
    return LoanTerms(**values)


def from_file(**fields: Any) -> LoanTerms:
    data = {"principal": "10000", "annual_rate": "0.12", "repayments": 12}
    data["disbursement_date"] = "2024-01-15"
    data.update(fields)
    return LoanTerms.from_mapping(data)


# -- strategies -------------------------------------------------------------------------------


@st.composite
def loan_terms(draw: st.DrawFn) -> LoanTerms:
    conventions = draw(st.sampled_from(["cn_bank", "fineract_cumulative", "fineract_progressive"]))
    progressive = conventions == "fineract_progressive"
    decimals = draw(st.integers(0, 4))
    principal = draw(
        st.decimals(min_value=1, max_value=10_000_000, places=decimals, allow_nan=False)
    )
    repayments = draw(st.integers(1, 60))
    frequency = draw(st.sampled_from(["months", "weeks", "days"]))
    every = draw(st.integers(1, 3 if frequency == "months" else 30))
    disbursed = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31)))
    amortization = (
        "equal_installments"
        if progressive
        else draw(
            st.sampled_from(["equal_installments", "equal_principal", "interest_only", "bullet"])
        )
    )
    grace = (
        (0, 0)
        if progressive
        else (draw(st.integers(0, repayments - 1)), draw(st.integers(0, repayments - 1)))
    )
    first = None
    if draw(st.booleans()):
        first = disbursed + timedelta(days=draw(st.integers(1, 60)))
    return LoanTerms(
        principal=principal,
        annual_rate=draw(st.decimals(min_value=0, max_value="0.36", places=4, allow_nan=False)),
        repayments=repayments,
        disbursement_date=disbursed,
        amortization=amortization,
        interest_method=draw(st.sampled_from(["declining_balance", "flat"])),
        interest_period=draw(st.sampled_from(["per_period", "daily"])),
        every=every,
        frequency=frequency,
        days_in_year=draw(st.sampled_from([360, 364, 365, "actual"])),
        days_in_month=draw(st.sampled_from([30, "actual"])),
        first_repayment_date=first,
        grace_principal_periods=grace[0],
        grace_interest_periods=grace[1],
        installment_multiple=draw(st.sampled_from([None, None, Decimal(1), Decimal(10)])),
        decimals=decimals,
        conventions=conventions,
    )


def amounts(period: ScheduledPeriod) -> list[Decimal]:
    return [period.principal, period.interest, period.fees, period.balance_after]


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(loan_terms())
def test_principal_sums_exactly_and_the_final_balance_is_zero(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    assert len(schedule.periods) == terms.repayments
    assert schedule.total_principal == terms.principal
    assert schedule.periods[-1].balance_after == 0
    balance = terms.principal
    for p in schedule.periods:
        balance -= p.principal
        assert p.balance_after == balance


@PROPERTY
@given(loan_terms())
def test_balances_never_increase_and_nothing_is_negative(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    previous = terms.principal
    for p in schedule.periods:
        assert p.balance_after <= previous
        assert all(a >= 0 for a in amounts(p))
        previous = p.balance_after


@PROPERTY
@given(loan_terms())
def test_every_amount_is_quantized_to_the_terms_decimals(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    for p in schedule.periods:
        for amount in amounts(p):
            assert amount.as_tuple().exponent == -terms.decimals, (p.n, amount)
    assert schedule.upfront_fees.as_tuple().exponent == -terms.decimals


@PROPERTY
@given(loan_terms())
def test_due_dates_strictly_increase_and_periods_chain(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    start = terms.schedule_start_date or terms.disbursement_date
    for p in schedule.periods:
        assert p.from_date == start < p.due_date
        assert p.days == (p.due_date - p.from_date).days
        start = p.due_date


@PROPERTY
@given(
    per_installment=st.decimals(min_value=100, max_value=100_000, places=2),
    rate=st.decimals(min_value="0.001", max_value="0.24", places=4),
    repayments=st.integers(2, 60),
    conventions=st.sampled_from(["cn_bank", "fineract_cumulative", "fineract_progressive"]),
)
def test_equal_installments_are_equal_except_the_last(
    per_installment: Decimal, rate: Decimal, repayments: int, conventions: str
) -> None:
    terms = a_loan(
        principal=per_installment * repayments,
        annual_rate=rate,
        repayments=repayments,
        conventions=conventions,
    )
    totals = [p.total for p in generate_schedule(terms).periods]
    assert len(set(totals[:-1])) == 1
    # The last installment only absorbs the rounding: the installment's own half cent and each
    # interest's, compounded at the monthly rate until maturity.
    monthly = float(rate) / 12
    compounded = sum((1 + monthly) ** k for k in range(repayments))
    assert abs(totals[-1] - totals[0]) <= Decimal(repr(0.01 * compounded)) + Decimal("0.01")


@PROPERTY
@given(st.decimals(min_value="-1e9", max_value="1e9", places=6, allow_nan=False))
def test_the_fast_rounding_is_money_quantize(amount: Decimal) -> None:
    for mode in (RoundingMode.HALF_UP, RoundingMode.HALF_EVEN):
        for decimals in range(5):
            rnd = Rounder.for_terms(a_loan(decimals=decimals), mode)
            with arithmetic():
                fast = rnd(amount)
            assert fast == quantize(amount, rnd.currency, mode)
            assert str(fast) == str(quantize(amount, rnd.currency, mode))
    assert str(quantize(amount, CNY)) == str(
        Rounder.for_terms(a_loan(), RoundingMode.HALF_UP)(amount)
    )


def test_periods_equal_ones_built_by_their_constructor() -> None:
    period = generate_schedule(a_loan()).periods[0]
    rebuilt = ScheduledPeriod(
        period.n,
        period.from_date,
        period.due_date,
        period.days,
        period.principal,
        period.interest,
        period.fees,
        period.balance_after,
    )
    assert period == rebuilt
    assert repr(period) == repr(rebuilt)
    assert hash(period) == hash(rebuilt)
    with pytest.raises(AttributeError):
        period.principal = Decimal(0)  # type: ignore[misc]


def test_the_threads_decimal_context_is_left_alone() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        ctx.rounding = decimal.ROUND_DOWN
        schedule = generate_schedule(a_loan(principal=Decimal("123456.78")))
        assert decimal.getcontext().prec == 5
        assert decimal.getcontext().rounding == decimal.ROUND_DOWN
    assert schedule == generate_schedule(a_loan(principal=Decimal("123456.78")))


# -- dates ------------------------------------------------------------------------------------


def test_month_ends_come_from_the_anchor_without_drift() -> None:
    schedule = generate_schedule(a_loan(disbursement_date=date(2024, 1, 31), repayments=4))
    assert [p.due_date for p in schedule.periods] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]


def test_weekly_and_daily_steps() -> None:
    weekly = generate_schedule(a_loan(frequency="weeks", every=2, repayments=3))
    assert [p.days for p in weekly.periods] == [14, 14, 14]
    daily = generate_schedule(a_loan(frequency="days", every=10, repayments=2))
    assert [p.due_date for p in daily.periods] == [date(2024, 1, 25), date(2024, 2, 4)]


def test_schedule_start_date_anchors_the_periods() -> None:
    schedule = generate_schedule(a_loan(schedule_start_date=date(2024, 2, 1), repayments=2))
    assert [p.due_date for p in schedule.periods] == [date(2024, 3, 1), date(2024, 4, 1)]


def test_a_broken_first_period_accrues_annual_over_360_per_day() -> None:
    # cn_bank: 15 Jan → 20 Feb is 36 days: 10,000 × 12 % / 360 × 36 = 120.00. The principal
    # stays the annuity table's (888.49 − 100.00), later due dates follow the 20th.
    schedule = generate_schedule(a_loan(first_repayment_date=date(2024, 2, 20)))
    first, second = schedule.periods[0], schedule.periods[1]
    assert (first.days, first.interest, first.principal) == (
        36,
        Decimal("120.00"),
        Decimal("788.49"),
    )
    assert second.due_date == date(2024, 3, 20)
    assert second.total == Decimal("888.49")


def test_first_repayment_on_the_regular_date_is_not_broken() -> None:
    regular = generate_schedule(a_loan())
    same = generate_schedule(a_loan(first_repayment_date=date(2024, 2, 15)))
    assert [(p.due_date, p.total) for p in same.periods] == [
        (p.due_date, p.total) for p in regular.periods
    ]


def test_first_repayment_before_the_schedule_start_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        generate_schedule(
            a_loan(schedule_start_date=date(2024, 3, 1), first_repayment_date=date(2024, 2, 1))
        )
    assert err.value.code == "terms.first_repayment_before_start"


# -- amortizations, interest methods and periods ----------------------------------------------


def test_annuity_formula() -> None:
    with arithmetic():
        rate = periodic_rate(a_loan())
    assert rate == Decimal("0.01")
    payment = annuity_payment(Decimal(10_000), rate, 12)
    assert payment.quantize(Decimal("0.0001")) == Decimal("888.4879")
    assert annuity_payment(Decimal(1200), Decimal(0), 12) == Decimal(100)


def test_interest_only_pays_interest_then_all_principal() -> None:
    schedule = generate_schedule(a_loan(amortization="interest_only", repayments=3))
    assert [(p.principal, p.interest) for p in schedule.periods] == [
        (Decimal("0.00"), Decimal("100.00")),
        (Decimal("0.00"), Decimal("100.00")),
        (Decimal("10000.00"), Decimal("100.00")),
    ]


def test_bullet_pays_everything_at_maturity() -> None:
    schedule = generate_schedule(a_loan(amortization="bullet", repayments=3))
    assert [p.total for p in schedule.periods] == [
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("10300.00"),
    ]
    single = generate_schedule(a_loan(amortization="bullet", repayments=1, every=12))
    assert single.periods[0].total == Decimal("11200.00")


def test_equal_principal() -> None:
    schedule = generate_schedule(a_loan(amortization="equal_principal", repayments=3))
    assert [(p.principal, p.interest) for p in schedule.periods] == [
        (Decimal("3333.33"), Decimal("100.00")),
        (Decimal("3333.33"), Decimal("66.67")),
        (Decimal("3333.34"), Decimal("33.33")),
    ]


def test_flat_interest_is_on_the_original_principal() -> None:
    schedule = generate_schedule(a_loan(interest_method="flat", repayments=4))
    assert {p.interest for p in schedule.periods} == {Decimal("100.00")}
    assert {p.principal for p in schedule.periods} == {Decimal("2500.00")}


def test_daily_interest_counts_actual_days() -> None:
    schedule = generate_schedule(
        a_loan(interest_period="daily", days_in_year=365, days_in_month="actual", repayments=2)
    )
    first, second = schedule.periods
    assert first.interest == Decimal("101.92")  # 10,000 × 12 % × 31 / 365
    accrued = first.balance_after * Decimal("0.12") * 29 / 365
    assert second.interest == accrued.quantize(Decimal("0.01"))
    assert second.principal == first.balance_after


def test_daily_interest_with_thirty_day_months_matches_the_periodic_rate() -> None:
    daily = generate_schedule(a_loan(interest_period="daily"))  # 360 / 30 by default
    regular = generate_schedule(a_loan())
    assert [p.interest for p in daily.periods] == [p.interest for p in regular.periods]


def test_actual_days_in_year_split_at_new_year() -> None:
    # 15 Dec 2023 → 15 Jan 2024: 17 days of 2023 (/365) and 14 days of 2024 (/366).
    schedule = generate_schedule(
        a_loan(
            disbursement_date=date(2023, 12, 15),
            interest_period="daily",
            days_in_year="actual",
            days_in_month="actual",
            repayments=1,
        )
    )
    expected = Decimal(10_000) * Decimal("0.12") * (Decimal(17) / 365 + Decimal(14) / 366)
    assert schedule.periods[0].interest == expected.quantize(Decimal("0.01"))


def test_zero_rate() -> None:
    schedule = generate_schedule(a_loan(annual_rate=Decimal(0), repayments=3))
    assert [p.total for p in schedule.periods] == [
        Decimal("3333.33"),
        Decimal("3333.33"),
        Decimal("3333.34"),
    ]


# -- grace ------------------------------------------------------------------------------------


def test_principal_grace_spreads_principal_over_the_rest() -> None:
    schedule = generate_schedule(a_loan(grace_principal_periods=2, repayments=6))
    assert [p.principal for p in schedule.periods[:2]] == [Decimal("0.00")] * 2
    assert [p.interest for p in schedule.periods[:2]] == [Decimal("100.00")] * 2
    # the annuity runs over the 4 remaining installments: PMT(1 %, 4, 10,000) = 2,562.81
    assert {p.total for p in schedule.periods[2:-1]} == {Decimal("2562.81")}


def test_interest_grace_defers_interest_to_the_first_installment_after_it() -> None:
    schedule = generate_schedule(
        a_loan(grace_principal_periods=2, grace_interest_periods=2, repayments=6)
    )
    assert [p.total for p in schedule.periods[:2]] == [Decimal("0.00")] * 2
    # 100 + 100 deferred (no interest on interest) + 100 for the third period
    assert schedule.periods[2].interest == Decimal("300.00")
    assert (
        schedule.total_interest
        == generate_schedule(a_loan(grace_principal_periods=2, repayments=6)).total_interest
    )


# -- fees, rounding, multiples ----------------------------------------------------------------


def test_fees() -> None:
    terms = from_file(
        fees=[
            {"kind": "upfront", "rate": "0.01"},
            {"kind": "upfront", "amount": "50"},
            {"kind": "per_period", "amount": "5"},
            {"kind": "per_period", "rate": "0.001"},
        ]
    )
    schedule = generate_schedule(terms)
    assert schedule.upfront_fees == Decimal("150.00")
    assert {p.fees for p in schedule.periods} == {Decimal("15.00")}
    assert schedule.total_fees == Decimal("150.00") + 12 * Decimal("15.00")
    assert schedule.periods[0].total == Decimal("888.49") + Decimal("15.00")


def test_installment_multiple_rounds_up_in_cn_bank() -> None:
    schedule = generate_schedule(a_loan(installment_multiple=Decimal(10)))
    assert {p.total for p in schedule.periods[:-1]} == {Decimal("890.00")}
    assert schedule.total_principal == Decimal(10_000)


def test_installment_multiple_rounds_to_nearest_in_fineract() -> None:
    for conventions in ("fineract_cumulative", "fineract_progressive"):
        schedule = generate_schedule(
            a_loan(installment_multiple=Decimal(10), conventions=conventions)
        )
        assert schedule.periods[0].total == Decimal("890.00")  # 888.49 → 890 (nearest)
        low = generate_schedule(
            a_loan(
                installment_multiple=Decimal(10),
                annual_rate=Decimal("0.10"),
                conventions=conventions,
            )
        )
        assert low.periods[0].total == Decimal("880.00")  # 879.16 → 880 (nearest)
        below = generate_schedule(
            a_loan(installment_multiple=Decimal(100), conventions=conventions)
        )
        assert below.periods[0].total == Decimal("900.00")  # 888.49 → 900 (nearest 100)


def test_fineract_rounds_half_even() -> None:
    # 125 × 24 % / 12 = 2.5 of interest, at 0 decimals: half-up 3 (cn_bank), half-even 2.
    cn = generate_schedule(
        a_loan(principal=Decimal(125), annual_rate=Decimal("0.24"), repayments=1, decimals=0)
    )
    fineract = generate_schedule(
        a_loan(
            principal=Decimal(125),
            annual_rate=Decimal("0.24"),
            repayments=1,
            decimals=0,
            conventions="fineract_cumulative",
        )
    )
    assert cn.periods[0].interest == Decimal(3)  # 2.5 half-up
    assert fineract.periods[0].interest == Decimal(2)  # 2.5 half-even


def test_other_decimals() -> None:
    schedule = generate_schedule(a_loan(decimals=0, repayments=3))
    assert [p.total for p in schedule.periods] == [Decimal(3400), Decimal(3400), Decimal(3401)]


# -- conventions and refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"amortization": "equal_principal"},
        {"amortization": "interest_only"},
        {"amortization": "bullet"},
        {"grace_principal_periods": 1},
        {"grace_interest_periods": 1},
    ],
)
def test_progressive_refuses_what_it_does_not_model(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as err:
        generate_schedule(a_loan(conventions="fineract_progressive", **overrides))
    assert err.value.code == "terms.unsupported_by_conventions"


def test_principal_with_more_decimals_than_the_schedule_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        generate_schedule(a_loan(principal=Decimal("100.005")))
    assert err.value.code == "terms.principal_precision"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"principal": "0"}, "terms.non_positive_principal"),
        ({"principal": "-100"}, "terms.non_positive_principal"),
        ({"repayments": 0}, "terms.invalid_repayments"),
        ({"annual_rate": "10.5"}, "terms.rate_out_of_range"),
        ({"annual_rate": "-0.01"}, "terms.rate_out_of_range"),
        ({"principal": 10000.5}, "terms.invalid_number"),
        ({"annual_rate": 0.12}, "terms.invalid_number"),
        ({"tenor": 12}, "terms.unknown_field"),
        ({"first_repayment_date": "2024-01-10"}, "terms.date_before_disbursement"),
        ({"schedule_start_date": "2024-01-01"}, "terms.date_before_disbursement"),
        ({"disbursement_date": "15/01/2024"}, "terms.invalid_date"),
        ({"amortization": "balloon"}, "terms.invalid_choice"),
        ({"grace_principal_periods": 12}, "terms.invalid_grace"),
        ({"fees": [{"kind": "upfront", "amount": 5.5}]}, "terms.invalid_number"),
    ],
)
def test_bad_terms_have_clear_codes(fields: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as err:
        generate_schedule(from_file(**fields))
    assert err.value.code == code


def test_a_schedule_is_a_pure_function_of_its_terms() -> None:
    terms = a_loan(first_repayment_date=date(2024, 2, 3))
    first: Schedule = generate_schedule(terms)
    assert generate_schedule(terms) == first


def test_a_schedule_past_the_calendar_is_refused() -> None:
    for frequency, every in (("days", 366), ("months", 12)):
        terms = a_loan(
            disbursement_date=date(9000, 1, 1), repayments=1200, every=every, frequency=frequency
        )
        with pytest.raises(ValidationError) as err:
            generate_schedule(terms)
        assert err.value.code in {"terms.date_out_of_range", "calendar.overflow"}


@st.composite
def plain_cn_terms(draw: st.DrawFn) -> LoanTerms:
    decimals = draw(st.integers(0, 4))
    frequency = draw(st.sampled_from(["months", "weeks", "days"]))
    return LoanTerms(
        principal=draw(
            st.decimals(min_value=1, max_value=10_000_000, places=decimals, allow_nan=False)
        ),
        annual_rate=draw(st.decimals(min_value=0, max_value="0.36", places=4, allow_nan=False)),
        repayments=draw(st.integers(1, 120)),
        disbursement_date=draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 1, 1))),
        amortization=draw(st.sampled_from(["equal_installments", "equal_principal"])),
        every=draw(st.integers(1, 3 if frequency == "months" else 30)),
        frequency=frequency,
        days_in_year=draw(st.sampled_from([360, 364, 365, "actual"])),
        decimals=decimals,
    )


@given(plain_cn_terms())
def test_the_one_pass_plain_path_equals_the_general_path(terms: LoanTerms) -> None:
    """``_cn_plain`` (the common case in one pass) builds exactly what ``_cn_columns`` does."""
    from puhui.domain.lending import schedule as module
    from puhui.domain.lending.schedule_base import effective_plan, make_schedule, period_spans

    spans, plan = period_spans(terms), effective_plan(terms)
    assert module._is_plain(terms, spans, plan)
    rnd = Rounder.for_terms(terms, RoundingMode.HALF_UP)
    with arithmetic():
        rate = periodic_rate(terms)
        factors = module._accrual_factors(terms, spans, rate)
        columns = module._cn_columns(terms, spans, plan, rate, factors, rnd)
    zero = rnd.zero
    general = make_schedule(terms, spans, *columns, zero, zero)
    assert generate_schedule(terms) == general
