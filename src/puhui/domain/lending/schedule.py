"""Repayment schedules (还款计划): ``generate_schedule(terms) -> Schedule`` (R-8.4c, R-11.3d).

Three convention sets share dates, fees and assembly (``schedule_base``):

* ``cn_bank`` (here) — Chinese banks' calculators: a whole period accrues the periodic rate
  (annual / 12 a month, annual × every / 52 a week, annual × every / days-in-year a day), a
  broken first period accrues annual / days-in-year (360 by default) per actual day, and 等额本息
  uses P·r·(1+r)^n / ((1+r)^n − 1). Amounts round half-up (四舍五入).
* ``fineract_cumulative`` / ``fineract_progressive`` (``schedule_fineract``) — Apache Fineract's
  two generators, half-even at Fineract's 12-digit math context.

Every generator ends the same way: the last installment takes whatever principal is left, so the
scheduled principal sums exactly to the loan and the final balance is exactly zero.

Grace (cn_bank): in the first ``grace_principal_periods`` installments no principal is due and
the principal is spread over the remaining installments (the annuity is computed over them).
The interest of the first ``grace_interest_periods`` installments is accrued but not collected:
it is added, without interest on interest, to the first installment after the grace.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Final

from puhui.domain.lending.schedule_base import (
    ONE,
    Plan,
    RateBasis,
    Rounder,
    Span,
    arithmetic,
    counts_thirty,
    effective_plan,
    fees_of,
    make_schedule,
    period_spans,
    year_fraction_of,
)
from puhui.domain.lending.terms import (
    Amortization,
    Conventions,
    Frequency,
    InterestMethod,
    InterestPeriod,
    LoanTerms,
    Schedule,
    ScheduledPeriod,
)
from puhui.domain.money import RoundingMode

__all__ = ["annuity_payment", "generate_schedule", "periodic_rate", "periods_per_year"]

# Intermediate arithmetic: 34 significant digits, far beyond any amount's cents.
_CONTEXT: Final = Context(prec=34, rounding=ROUND_HALF_EVEN)


def generate_schedule(terms: LoanTerms) -> Schedule:
    """The repayment schedule of ``terms`` under ``terms.conventions``."""
    if terms.conventions == Conventions.CN_BANK:
        return _cn_bank(terms)
    from puhui.domain.lending.schedule_fineract import cumulative, progressive

    if terms.conventions == Conventions.FINERACT_CUMULATIVE:
        return cumulative(terms)
    return progressive(terms)


def periods_per_year(terms: LoanTerms) -> Decimal:
    """Regular periods in a year: 12 / every for months, 52 / every for weeks, and days in the
    year (365 when "actual") / every for days."""
    return _periods_per_year(terms.frequency, terms.every, terms.days_in_year)


@lru_cache(maxsize=256)
def _periods_per_year(frequency: Frequency, every: int, days_in_year: int | str) -> Decimal:
    if frequency == Frequency.MONTHS:
        per_year = 12
    elif frequency == Frequency.WEEKS:
        per_year = 52
    else:
        per_year = days_in_year if isinstance(days_in_year, int) else 365
    return _CONTEXT.divide(Decimal(per_year), Decimal(every))


def periodic_rate(terms: LoanTerms) -> Decimal:
    """The rate of one regular period (cn_bank): annual rate / periods per year."""
    return _CONTEXT.divide(terms.annual_rate, periods_per_year(terms))


def annuity_payment(principal: Decimal, rate: Decimal, periods: int) -> Decimal:
    """等额本息: P·r·(1+r)^n / ((1+r)^n − 1), or P / n at a zero rate (not rounded)."""
    return _CONTEXT.multiply(principal, _annuity_factor(rate, periods))


@lru_cache(maxsize=4096)
def _annuity_factor(rate: Decimal, periods: int) -> Decimal:
    """r·(1+r)^n / ((1+r)^n − 1): depends on the product only, so it is cached."""
    ctx = _CONTEXT
    if rate.is_zero():
        return ctx.divide(ONE, Decimal(periods))
    growth = ctx.power(ctx.add(ONE, rate), periods)
    return ctx.divide(ctx.multiply(rate, growth), ctx.subtract(growth, ONE))


def _accrual_factors(terms: LoanTerms, spans: tuple[Span, ...], rate: Decimal) -> Sequence[Decimal]:
    """Per period: the factor that turns a balance into that period's interest."""
    if terms.interest_period == InterestPeriod.PER_PERIOD and spans[0].regular:
        return [rate] * len(spans)
    return _day_count_factors(RateBasis.of(terms), spans, rate)


@lru_cache(maxsize=4096)
def _day_count_factors(
    basis: RateBasis, spans: tuple[Span, ...], rate: Decimal
) -> tuple[Decimal, ...]:
    annual, diy = basis.annual_rate, basis.days_in_year
    if basis.interest_period == InterestPeriod.DAILY:
        thirty = counts_thirty(basis)
        return tuple(
            _CONTEXT.multiply(annual, year_fraction_of(s, diy, thirty=thirty)) for s in spans
        )
    # per_period: whole periods accrue the periodic rate; a broken first period accrues
    # annual / days-in-year per actual day (annual / 360 a day by default).
    return tuple(
        rate if s.regular else _CONTEXT.multiply(annual, year_fraction_of(s, diy, thirty=False))
        for s in spans
    )


def _cn_bank(terms: LoanTerms) -> Schedule:
    rnd = Rounder.for_terms(terms, RoundingMode.HALF_UP)
    spans = period_spans(terms)
    plan = effective_plan(terms)
    with arithmetic():
        rnd.check_principal(terms.principal)
        upfront, fee = fees_of(terms, rnd)
        rate = periodic_rate(terms)
        if _is_plain(terms, spans, plan):
            return _cn_plain(terms, spans, plan, rate, rnd, upfront, fee)
        factors = _accrual_factors(terms, spans, rate)
        principal, interest, balances = _cn_columns(terms, spans, plan, rate, factors, rnd)
    return make_schedule(terms, spans, principal, interest, balances, upfront, fee)


def _is_plain(terms: LoanTerms, spans: tuple[Span, ...], plan: Plan) -> bool:
    """The common case: declining balance, whole periods at the periodic rate, no grace, no
    rounding to a multiple. ``_cn_plain`` computes it in one pass; ``_cn_columns`` is the
    general path, and a property test proves both give the same schedule."""
    return (
        spans[0].regular
        and terms.interest_period == InterestPeriod.PER_PERIOD
        and terms.interest_method == InterestMethod.DECLINING_BALANCE
        and plan.principal_grace == 0
        and plan.interest_grace == 0
        and terms.installment_multiple is None
        and plan.amortization in _PLAIN_AMORTIZATIONS
    )


_PLAIN_AMORTIZATIONS: Final = (Amortization.EQUAL_INSTALLMENTS, Amortization.EQUAL_PRINCIPAL)


def _cn_plain(
    terms: LoanTerms,
    spans: tuple[Span, ...],
    plan: Plan,
    rate: Decimal,
    rnd: Rounder,
    upfront: Decimal,
    fee: Decimal,
) -> Schedule:
    """One pass of ``_cn_columns`` for the plain case, building the periods as it goes."""
    exponent, rounding, zero = rnd.exponent, rnd.rounding, rnd.zero
    quantize = Decimal.quantize
    build = tuple.__new__
    balance = rnd(terms.principal)
    n = len(spans)
    annuity = plan.amortization == Amortization.EQUAL_INSTALLMENTS
    if annuity:
        installment = rnd(annuity_payment(balance, rate, n))
    else:
        fixed = rnd(balance / n)
    periods = []
    for s in spans[:-1]:
        accrued = quantize(balance * rate, exponent, rounding)
        part = installment - accrued if annuity else fixed
        if part > balance:
            part = balance
        elif part < zero:
            part = zero
        balance -= part
        periods.append(
            build(ScheduledPeriod, (s.n, s.start, s.due, s.days, part, accrued, fee, balance))
        )
    s = spans[-1]
    accrued = quantize(balance * rate, exponent, rounding)
    periods.append(
        build(ScheduledPeriod, (s.n, s.start, s.due, s.days, balance, accrued, fee, zero))
    )
    return Schedule(terms=terms, periods=tuple(periods), upfront_fees=upfront)


def _cn_installment(
    terms: LoanTerms, loan: Decimal, rate: Decimal, paying: int, rnd: Rounder
) -> Decimal:
    """The equal installment over the ``paying`` installments that carry principal."""
    if terms.interest_method == InterestMethod.FLAT:
        raw = rnd(loan / paying) + rnd(loan * rate)
    else:
        raw = annuity_payment(loan, rate, paying)
    multiple = terms.installment_multiple
    if multiple is None:
        return rnd(raw)
    return rnd.to_multiple(raw, multiple, RoundingMode.UP)  # rounded up to the multiple


def _cn_columns(
    terms: LoanTerms,
    spans: tuple[Span, ...],
    plan: Plan,
    rate: Decimal,
    factors: Sequence[Decimal],
    rnd: Rounder,
) -> tuple[list[Decimal], list[Decimal], list[Decimal]]:
    n = len(spans)
    zero = rnd.zero
    loan = rnd(terms.principal)
    paying = n - plan.principal_grace
    flat = terms.interest_method == InterestMethod.FLAT
    annuity = plan.amortization == Amortization.EQUAL_INSTALLMENTS
    # The installment's principal is the installment minus the whole-period interest: daily
    # accrual uses the interest actually accrued, a flat loan its constant interest.
    by_accrual = terms.interest_period == InterestPeriod.DAILY
    installment = flat_part = fixed = zero
    if annuity:
        installment = _cn_installment(terms, loan, rate, paying, rnd)
        flat_part = installment - rnd(loan * rate)
    else:
        fixed = rnd(loan / paying)
    principal: list[Decimal] = []
    interest: list[Decimal] = []
    balances: list[Decimal] = []
    exponent, rounding = rnd.exponent, rnd.rounding
    balance, deferred = loan, zero
    grace_p, grace_i, last = plan.principal_grace, plan.interest_grace, n - 1
    for k in range(n):
        accrued = ((loan if flat else balance) * factors[k]).quantize(exponent, rounding)
        if k < grace_p:
            part = zero
        elif k == last:
            part = balance
        elif not annuity:
            part = fixed
        elif flat:
            part = flat_part
        elif by_accrual or spans[k].regular:
            part = installment - accrued
        else:  # a broken first period keeps the annuity table's principal
            part = installment - (balance * rate).quantize(exponent, rounding)
        if part > balance:
            part = balance
        elif part < zero:
            part = zero
        if k < grace_i:
            deferred += accrued
            accrued = zero
        elif deferred:
            accrued += deferred
            deferred = zero
        balance -= part
        principal.append(part)
        interest.append(accrued)
        balances.append(balance)
    return principal, interest, balances
