"""Shared machinery of the schedule generators: period dates, day counts, rounding, assembly.

Stdlib only. The generators (``schedule.py`` for ``cn_bank``, ``schedule_fineract.py`` for the
two Fineract convention sets) all build on these pieces, so dates, fees and the final
``Schedule`` are made one way whatever the arithmetic.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache
from typing import Final, NamedTuple

from puhui.domain.calendar import add_months
from puhui.domain.calendar import days_in_year as calendar_days_in_year
from puhui.domain.daycount import DayCountConvention, day_count, year_fraction
from puhui.domain.errors import ValidationError
from puhui.domain.lending.terms import (
    Amortization,
    FeeKind,
    Frequency,
    InterestPeriod,
    LoanTerms,
    Schedule,
    ScheduledPeriod,
)
from puhui.domain.money import Currency, RoundingMode, quantize

__all__ = [
    "Plan",
    "RateBasis",
    "Rounder",
    "Span",
    "arithmetic",
    "counts_thirty",
    "effective_plan",
    "fees_of",
    "make_schedule",
    "months_between",
    "period_spans",
    "step_date",
    "unsupported",
    "year_fraction_of",
]

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)


class Span(NamedTuple):
    """The dates of one installment: interest runs from ``start`` (counted) to ``due``.

    A named tuple: immutable, hashable and about half the cost of a frozen dataclass to build,
    which shows when every loan has its own dates."""

    n: int
    start: date
    due: date
    days: int
    regular: bool  # False only for a broken (partial or long) first period


@dataclass(frozen=True, slots=True)
class Plan:
    """How principal is repaid, after mapping 先息后本 and 到期一次还本付息 onto grace.

    ``interest_only`` is equal principal with principal grace on every period but the last;
    ``bullet`` is the same with the interest of those periods deferred to the last as well.
    """

    amortization: Amortization  # EQUAL_INSTALLMENTS or EQUAL_PRINCIPAL
    principal_grace: int
    interest_grace: int


def effective_plan(terms: LoanTerms) -> Plan:
    return _plan(
        terms.amortization,
        terms.repayments,
        terms.grace_principal_periods,
        terms.grace_interest_periods,
    )


@lru_cache(maxsize=1024)
def _plan(amortization: str, repayments: int, principal_grace: int, interest_grace: int) -> Plan:
    last = repayments - 1
    if amortization == Amortization.INTEREST_ONLY:
        return Plan(Amortization.EQUAL_PRINCIPAL, last, interest_grace)
    if amortization == Amortization.BULLET:
        return Plan(Amortization.EQUAL_PRINCIPAL, last, last)
    return Plan(Amortization(amortization), principal_grace, interest_grace)


@dataclass(frozen=True, slots=True)
class RateBasis:
    """The terms a period's rate depends on (not the principal): a cache key for the factors
    that loans with the same product and dates share."""

    annual_rate: Decimal
    interest_period: InterestPeriod
    frequency: Frequency
    every: int
    days_in_year: int | str
    days_in_month: int | str

    @classmethod
    def of(cls, terms: LoanTerms) -> RateBasis:
        return cls(
            terms.annual_rate,
            InterestPeriod(terms.interest_period),
            Frequency(terms.frequency),
            terms.every,
            terms.days_in_year,
            terms.days_in_month,
        )


def unsupported(message: str, **details: object) -> ValidationError:
    return ValidationError(message, code="terms.unsupported_by_conventions", details=details)


# -- dates ------------------------------------------------------------------------------------


def step_date(anchor: date, k: int, every: int, frequency: Frequency) -> date:
    """The date ``k`` periods of ``every`` × ``frequency`` after ``anchor``, counted from it.

    Months come from :func:`add_months` on the anchor itself (31 Jan → 29 Feb → 31 Mar), never
    from the previous due date, so a clamped month end does not drift.
    """
    return _steps(anchor, range(k, k + 1), every, frequency)[0]


def _steps(anchor: date, ks: range, every: int, frequency: Frequency) -> list[date]:
    try:
        if frequency == Frequency.MONTHS:
            return [add_months(anchor, k * every) for k in ks]
        step = timedelta(days=every * (7 if frequency == Frequency.WEEKS else 1))
        return [anchor + step * k for k in ks]
    except OverflowError:
        raise ValidationError(
            "The schedule runs past the calendar's range.", code="terms.date_out_of_range"
        ) from None


def period_spans(terms: LoanTerms) -> tuple[Span, ...]:
    """The installments' dates.

    Regular due dates are ``k`` periods after ``schedule_start_date`` (or the disbursement
    date). A ``first_repayment_date`` that differs from the first regular due date makes a
    broken first period from the start to that date; later due dates then follow the first
    repayment date (``first + k`` periods), as a fixed repayment day (固定还款日) does.
    Spans are immutable and depend on five values only, so they are cached (loans disbursed
    the same day share them).
    """
    anchor = terms.schedule_start_date or terms.disbursement_date
    return _spans(
        anchor, terms.first_repayment_date, terms.every, terms.frequency, terms.repayments
    )


@lru_cache(maxsize=4096)
def _spans(
    anchor: date, first: date | None, every: int, frequency: Frequency, n: int
) -> tuple[Span, ...]:
    broken = first is not None and first != step_date(anchor, 1, every, frequency)
    if first is None or not broken:
        dues = _steps(anchor, range(1, n + 1), every, frequency)
    else:
        if first <= anchor:
            raise ValidationError(
                "first_repayment_date must be after the schedule start date",
                code="terms.first_repayment_before_start",
                details={"schedule_start": anchor.isoformat(), "first": first.isoformat()},
            )
        dues = [first, *_steps(first, range(1, n), every, frequency)]
    spans = []
    start = anchor
    for k, due in enumerate(dues, start=1):
        spans.append(Span(k, start, due, (due - start).days, not (broken and k == 1)))
        start = due
    return tuple(spans)


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (``add_months(start, m) <= end``)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


def year_fraction_of(span: Span, days_in_year: int | str, *, thirty: bool) -> Decimal:
    """The year fraction a span accrues under a day count (``daily`` interest).

    ``thirty``: count days 30/360-style (ISDA 4.16(f)), for ``days_in_month = 30`` on monthly
    periods; otherwise actual days. ``days_in_year = "actual"`` splits a period across calendar
    years (ACT/ACT ISDA: 365 or 366 by year).
    """
    return _year_fraction(span.start, span.due, span.days, days_in_year, thirty)


@lru_cache(maxsize=65536)
def _year_fraction(
    start: date, due: date, days: int, days_in_year: int | str, thirty: bool
) -> Decimal:
    if thirty:
        days = day_count(start, due, DayCountConvention.THIRTY_360)
    if days_in_year == "actual":
        if thirty:
            return _CONTEXT.divide(Decimal(days), Decimal(calendar_days_in_year(start.year)))
        return year_fraction(start, due, DayCountConvention.ACT_ACT_ISDA)
    assert isinstance(days_in_year, int)
    return _CONTEXT.divide(Decimal(days), Decimal(days_in_year))


def counts_thirty(terms: LoanTerms | RateBasis) -> bool:
    """Whether monthly periods count 30/360 days: ``days_in_month = 30`` on a monthly loan.

    Weekly and daily periods always count actual days.
    """
    return terms.days_in_month == 30 and terms.frequency == Frequency.MONTHS


# -- rounding ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rounder:
    """Rounds amounts to the terms' ``decimals`` the way :func:`money.quantize` does.

    ``money.quantize`` is the definition: a half-up (or half-even) quantize to the minor unit.
    Calling it per amount costs a context copy and argument checks each time (~2 µs, more than
    the rest of a period's arithmetic), so a generator opens one decimal context per schedule
    (``arithmetic()``) and rounds with ``Decimal.quantize`` to the same exponent and mode.
    ``tests/unit/test_schedule.py`` checks that both agree on arbitrary amounts; the rare
    rounding to a multiple goes through ``money.quantize`` itself.
    """

    currency: Currency  # the loan's currency code with ``decimals`` minor units
    mode: RoundingMode
    exponent: Decimal  # the minor unit: Decimal("0.01") for 2 decimals
    rounding: str  # the ``decimal`` constant of ``mode``
    zero: Decimal

    @classmethod
    def for_terms(cls, terms: LoanTerms, mode: RoundingMode) -> Rounder:
        return _rounder(terms.currency.code, terms.decimals, mode)

    def __call__(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.exponent, self.rounding)

    def to_multiple(self, amount: Decimal, step: Decimal, mode: RoundingMode) -> Decimal:
        return quantize(amount, self.currency, mode, step=step)

    def check_principal(self, principal: Decimal) -> None:
        if self(principal) != principal:
            raise ValidationError(
                f"principal has more than {self.currency.minor_units} decimal places",
                code="terms.principal_precision",
                details={"decimals": self.currency.minor_units},
            )


@lru_cache(maxsize=64)
def _rounder(code: str, decimals: int, mode: RoundingMode) -> Rounder:
    currency = Currency(code, decimals)
    exponent = currency.minor_unit
    return Rounder(currency, mode, exponent, str(mode.value), quantize(ZERO, currency, mode))


def arithmetic() -> AbstractContextManager[Context]:
    """The decimal context a generator computes in: 34 digits, half-even, errors trapped.

    Entered once per schedule, so the thread's own context is neither read nor changed."""
    return localcontext(_CONTEXT)


_CONTEXT: Final = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def fees_of(terms: LoanTerms, rnd: Rounder) -> tuple[Decimal, Decimal]:
    """(upfront fees, fees added to each installment), each rounded."""
    if not terms.fees:
        return rnd.zero, rnd.zero
    upfront = sum(
        (f.charge_on(terms.principal) for f in terms.fees if f.kind == FeeKind.UPFRONT), ZERO
    )
    per_period = sum(
        (f.charge_on(terms.principal) for f in terms.fees if f.kind == FeeKind.PER_PERIOD), ZERO
    )
    return rnd(upfront), rnd(per_period)


# -- assembly ---------------------------------------------------------------------------------


def make_schedule(
    terms: LoanTerms,
    spans: tuple[Span, ...],
    principal: list[Decimal],
    interest: list[Decimal],
    balances: list[Decimal],
    upfront: Decimal,
    fee: Decimal,
) -> Schedule:
    """Assemble the frozen ``Schedule`` from per-period columns (already rounded)."""
    build = tuple.__new__
    periods = [
        build(ScheduledPeriod, (s.n, s.start, s.due, s.days, p, i, fee, b))
        for s, p, i, b in zip(spans, principal, interest, balances, strict=True)
    ]
    return Schedule(terms=terms, periods=tuple(periods), upfront_fees=upfront)
