"""Apache Fineract's two schedule generators, re-implemented from a reading of its source.

Nothing here is copied: the arithmetic was read in apache/fineract (files named below) and
written again. Where the source could not be confirmed, the choice is marked *best reading* and
listed in docs/loan-schedules.md.

Shared by both generators (``MoneyHelper``, ``Money``):

* intermediate arithmetic at Fineract's math context: 12 significant digits, HALF_EVEN;
* every money amount rounds HALF_EVEN to ``decimals`` (Fineract's default ``rounding-mode`` 6);
* ``installment_multiple`` rounds the installment to the *nearest* multiple, HALF_EVEN
  (``Money.roundToMultiplesOf``) — not up, as ``cn_bank`` does.

``fineract_cumulative`` (``LoanApplicationTerms``, ``AbstractCumulativeLoanScheduleGenerator``,
``CumulativeDecliningBalance…`` / ``CumulativeFlatInterestLoanScheduleGenerator``): the
installment is Excel's ``pmt`` in binary floating point on the periodic rate; interest is the
balance × the period's rate, rounded; the last installment takes the remaining principal.

``fineract_progressive`` (``ProgressiveEMICalculator``, ``EmiAdjustment``, ``InterestPeriod``):
each period has a rate factor r_k; EMI = P·Π(1+r_k) / f_n with f_1 = 1, f_k = 1 + f_{k−1}(1+r_k);
the last EMI takes the remainder, and the EMI is re-spread (at most three times) when the last
one differs by more than ⌊n/2⌋ hundredths of a currency unit and re-spreading narrows the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Final

from puhui.domain.calendar import add_months
from puhui.domain.calendar import days_in_year as calendar_days_in_year
from puhui.domain.lending.schedule_base import (
    ONE,
    ZERO,
    Plan,
    RateBasis,
    Rounder,
    Span,
    arithmetic,
    effective_plan,
    fees_of,
    make_schedule,
    months_between,
    period_spans,
    unsupported,
)
from puhui.domain.lending.terms import (
    Amortization,
    Frequency,
    InterestMethod,
    InterestPeriod,
    LoanTerms,
    Schedule,
)
from puhui.domain.money import RoundingMode

__all__ = ["cumulative", "progressive"]

_MC: Final = Context(prec=12, rounding=ROUND_HALF_EVEN)  # MoneyHelper.getMathContext()
_WIDE: Final = Context(prec=60, rounding=ROUND_HALF_EVEN)  # BigDecimal ops without a context
_HUNDRED: Final = Decimal(100)
_SCALE_12: Final = Decimal("1e-12")
_MODE: Final = RoundingMode.HALF_EVEN

Columns = tuple[list[Decimal], list[Decimal], list[Decimal]]


def _percent(basis: RateBasis) -> Decimal:
    """Fineract keeps the nominal annual rate in percent (12 for 12 %)."""
    return _WIDE.multiply(basis.annual_rate, _HUNDRED)


def _nearest_multiple(amount: Decimal, multiple: Decimal | None) -> Decimal:
    """``Money.roundToMultiplesOf``: divide to scale 0 half-even, multiply back (not money)."""
    if multiple is None:
        return amount
    units = _WIDE.divide(amount, multiple).quantize(ONE, rounding=ROUND_HALF_EVEN, context=_WIDE)
    return _WIDE.multiply(units, multiple)


def _units_between(start: date, end: date, frequency: Frequency) -> Decimal:
    """``calculatePeriodsBetweenDates``: whole frequency units plus a fraction computed in
    binary floating point (``(double) daysLeft / daysInPeriod``), as Fineract does."""
    if frequency == Frequency.MONTHS:
        whole = months_between(start, end)
        base, nxt = add_months(start, whole), add_months(start, whole + 1)
        fraction = (end - base).days / (nxt - base).days
        return Decimal(whole) + Decimal(repr(fraction))
    days = (end - start).days
    if frequency == Frequency.WEEKS:
        return Decimal(days // 7) + Decimal(repr((days % 7) / 7))
    return Decimal(days)


def _span_units(basis: RateBasis, span: Span) -> Decimal:
    if span.regular:
        return Decimal(basis.every)
    return _units_between(span.start, span.due, basis.frequency)


# -- cumulative -------------------------------------------------------------------------------


def _periods_in_year(basis: RateBasis) -> Decimal:
    """``LoanApplicationTerms.calculatePeriodsInOneYear``; "actual" days count 365 here."""
    diy = basis.days_in_year
    if basis.interest_period == InterestPeriod.DAILY or basis.frequency == Frequency.DAYS:
        return Decimal(diy if isinstance(diy, int) else 365)
    return Decimal(12 if basis.frequency == Frequency.MONTHS else 52)


def _cumulative_rate(basis: RateBasis, units: Decimal, days: int, *, for_pmt: bool) -> Decimal:
    """``periodicInterestRate``: the rate of a period of ``units`` frequency units."""
    per_unit = _MC.divide(_MC.divide(_percent(basis), _periods_in_year(basis)), _HUNDRED)
    if basis.interest_period == InterestPeriod.PER_PERIOD:
        return _WIDE.multiply(per_unit, units)
    if basis.frequency == Frequency.MONTHS:
        if for_pmt or basis.days_in_month == 30:  # the pmt always counts 30-day months
            return _MC.multiply(per_unit, _MC.multiply(units, Decimal(30)))
    elif for_pmt:
        days = basis.every * (7 if basis.frequency == Frequency.WEEKS else 1)
    return _MC.multiply(per_unit, Decimal(days))


def _pmt(rate: Decimal, periods: int, principal: Decimal) -> Decimal:
    """``FinanicalFunctions.pmt`` in IEEE doubles, read back as ``BigDecimal.valueOf``."""
    r = float(rate)
    pv = -float(principal)
    if r == 0:
        payment = -1 * pv / periods
    else:
        growth = (r + 1) ** periods
        payment = (pv * growth) * r / (1 * (1 - growth))
    return Decimal(repr(payment))


@lru_cache(maxsize=4096)
def _cumulative_rates(
    basis: RateBasis, spans: tuple[Span, ...]
) -> tuple[Decimal, tuple[Decimal, ...]]:
    """The pmt's periodic rate and each period's rate; shared by loans of one product."""
    pmt_rate = _cumulative_rate(basis, Decimal(basis.every), 0, for_pmt=True)
    rates = tuple(
        _cumulative_rate(basis, _span_units(basis, s), s.days, for_pmt=False) for s in spans
    )
    return pmt_rate, rates


def cumulative(terms: LoanTerms) -> Schedule:
    """``fineract_cumulative``: Fineract's cumulative loan schedule generator."""
    rnd = Rounder.for_terms(terms, _MODE)
    spans = period_spans(terms)
    plan = effective_plan(terms)
    with arithmetic():
        rnd.check_principal(terms.principal)
        upfront, fee = fees_of(terms, rnd)
        if terms.interest_method == InterestMethod.FLAT:
            columns = _cumulative_flat(terms, spans, plan, rnd)
        else:
            columns = _cumulative_declining(terms, spans, plan, rnd)
    return make_schedule(terms, spans, *columns, upfront, fee)


def _cumulative_declining(
    terms: LoanTerms, spans: tuple[Span, ...], plan: Plan, rnd: Rounder
) -> Columns:
    n = len(spans)
    zero = rnd.zero
    loan = rnd(terms.principal)
    paying = n - plan.principal_grace
    basis = RateBasis.of(terms)
    pmt_rate, rates = _cumulative_rates(basis, spans)
    if plan.amortization == Amortization.EQUAL_INSTALLMENTS:
        installment = rnd(
            _nearest_multiple(_pmt(pmt_rate, paying, loan), terms.installment_multiple)
        )
        fixed_principal = zero
    else:
        installment = zero
        fixed_principal = rnd(_MC.divide(loan, Decimal(paying)))
    principal: list[Decimal] = []
    interest: list[Decimal] = []
    balances: list[Decimal] = []
    balance, deferred, last = loan, zero, n - 1
    for k in range(n):
        accrued = rnd(_MC.multiply(balance, rates[k]))  # Money.multiplyRetainScale
        if k < plan.principal_grace:
            part = zero
        elif k == last:
            part = balance  # adjustPrincipalIfLastRepaymentPeriod
        elif plan.amortization == Amortization.EQUAL_INSTALLMENTS:
            part = installment - accrued
        else:
            part = fixed_principal
        part = min(max(part, zero), balance)
        if k < plan.interest_grace:  # interest payment grace: brought forward
            deferred += accrued
            due = zero
        else:
            due, deferred = accrued + deferred, zero
        balance -= part
        principal.append(part)
        interest.append(due)
        balances.append(balance)
    return principal, interest, balances


def _cumulative_flat(
    terms: LoanTerms, spans: tuple[Span, ...], plan: Plan, rnd: Rounder
) -> Columns:
    n = len(spans)
    zero = rnd.zero
    loan = rnd(terms.principal)
    start, end = spans[0].start, spans[-1].due
    if terms.interest_period == InterestPeriod.DAILY:
        units = Decimal((end - start).days)
    elif spans[0].regular:
        units = Decimal(n * terms.every)
    else:
        units = _units_between(start, end, terms.frequency)
    basis = RateBasis.of(terms)
    per_unit = _MC.divide(_MC.divide(_percent(basis), _periods_in_year(basis)), _HUNDRED)
    total_interest = rnd(_MC.multiply(loan, _WIDE.multiply(per_unit, units)))
    averaged = plan.amortization == Amortization.EQUAL_INSTALLMENTS
    # Equal installments average the interest over the installments that collect it; equal
    # principal charges total / n each period and brings grace interest forward.
    share = rnd(_MC.divide(total_interest, Decimal(n - plan.interest_grace if averaged else n)))
    per_period = rnd(_MC.divide(loan, Decimal(n - plan.principal_grace)))
    multiple = terms.installment_multiple
    principal: list[Decimal] = []
    interest: list[Decimal] = []
    balances: list[Decimal] = []
    balance, charged, deferred, last = loan, zero, zero, n - 1
    for k in range(n):
        if k < plan.interest_grace:
            due = zero
            if not averaged:
                deferred += share
        else:
            due, deferred = share + deferred, zero
        if k == last:  # adjustInterestIfLastRepaymentPeriod; never below zero (deviation)
            due = max(total_interest - charged, zero)
        if k < plan.principal_grace:
            part = zero
        elif k == last:
            part = balance
        elif multiple is not None:
            # principal 416.67 → 417 and interest 12.50 → 13 give 417.50 of principal, so the
            # installment is a multiple (calculateTotalPrincipalPerPeriodWithoutGrace).
            rounded = _nearest_multiple(per_period, multiple) + _nearest_multiple(due, multiple)
            part = rnd(rounded - due)
        else:
            part = per_period
        part = min(max(part, zero), balance)
        balance -= part
        charged += due
        principal.append(part)
        interest.append(due)
        balances.append(balance)
    return principal, interest, balances


# -- progressive ------------------------------------------------------------------------------


def _scale_12(value: Decimal) -> Decimal:
    return value.quantize(_SCALE_12, rounding=ROUND_HALF_EVEN, context=_WIDE)


def _by_fraction(rate: Decimal, fraction: Decimal, actual: int, calculated: int) -> Decimal:
    """``rateFactorByRepaymentPeriod``: rate × fraction × actual / calculated, scale 12."""
    if calculated == 0:
        return ZERO
    value = _MC.multiply(_MC.multiply(rate, fraction), Decimal(actual))
    return _scale_12(_MC.divide(value, Decimal(calculated)))


def _year_fractions(start: date, due: date) -> Decimal:
    """``calculatePeriodFractions``: days in each calendar year / that year's length; a year's
    part ends on 31 December (``interestRecognitionOnDisbursementDate`` off)."""
    total, cursor = ZERO, start
    for year in range(start.year, due.year + 1):
        end = due if year == due.year else date(year, 12, 31)
        length = Decimal(calendar_days_in_year(year))
        total = _MC.add(total, _MC.divide(Decimal((end - cursor).days), length))
        cursor = end
    return total


def _progressive_rate(basis: RateBasis, span: Span, rate: Decimal, *, for_emi: bool) -> Decimal:
    """``calculateRateFactorPerPeriod`` (EMI) / ``…ForInterest`` (interest): r_k of a span."""
    days, every = span.days, Decimal(basis.every)
    freq, diy = basis.frequency, basis.days_in_year
    if basis.interest_period == InterestPeriod.PER_PERIOD and freq != Frequency.DAYS:
        per_year = Decimal(12 if freq == Frequency.MONTHS else 52)
        return _by_fraction(rate, _MC.divide(every, per_year), days, days)
    if diy == "actual" and span.due.year > span.start.year:
        return _by_fraction(rate, _year_fractions(span.start, span.due), 1, 1)
    year = Decimal(calendar_days_in_year(span.start.year) if diy == "actual" else diy)
    if basis.days_in_month == "actual":
        return _by_fraction(rate, _MC.divide(Decimal(days), year), 1, 1)
    unit_days = Decimal({Frequency.MONTHS: 30, Frequency.WEEKS: 7, Frequency.DAYS: 1}[freq])
    # A regular period spans ``every`` units; for interest a broken one spans its own length
    # in units (``calculatePeriodRatio``), while the EMI keeps ``every`` (best reading).
    units = every if for_emi or span.regular else _units_between(span.start, span.due, freq)
    return _by_fraction(rate, _MC.divide(_MC.multiply(unit_days, units), year), days, days)


@lru_cache(maxsize=4096)
def _progressive_rates(
    basis: RateBasis, spans: tuple[Span, ...]
) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """Each period's rate factor for the EMI and for interest; shared by loans of a product."""
    rate = _MC.divide(_percent(basis), _HUNDRED)
    return (
        tuple(_progressive_rate(basis, s, rate, for_emi=True) for s in spans),
        tuple(_progressive_rate(basis, s, rate, for_emi=False) for s in spans),
    )


def progressive(terms: LoanTerms) -> Schedule:
    """``fineract_progressive``: Fineract's progressive loan schedule (EMI) generator."""
    plan = effective_plan(terms)
    if plan.amortization != Amortization.EQUAL_INSTALLMENTS:
        raise unsupported(
            "fineract_progressive supports equal_installments only",
            amortization=str(terms.amortization),
        )
    if plan.principal_grace or plan.interest_grace:
        raise unsupported("fineract_progressive does not support grace periods here")
    rnd = Rounder.for_terms(terms, _MODE)
    spans = period_spans(terms)
    with arithmetic():
        rnd.check_principal(terms.principal)
        upfront, fee = fees_of(terms, rnd)
        r_emi, r_interest = _progressive_rates(RateBasis.of(terms), spans)
        loan = rnd(terms.principal)
        if terms.interest_method == InterestMethod.FLAT:
            columns = _progressive_flat(terms, spans, loan, r_interest, rnd)
        else:
            columns = _progressive_declining(terms, spans, loan, r_emi, r_interest, rnd)
    return make_schedule(terms, spans, *columns, upfront, fee)


def _progressive_interest(balance: Decimal, r: Decimal, days: int, rnd: Rounder) -> Decimal:
    """``InterestPeriod.getCalculatedDueInterest`` for a period with one interest period."""
    if days == 0:
        return rnd.zero
    rounded = rnd(_MC.multiply(balance, r))
    return rnd(_MC.multiply(_MC.divide(rounded, Decimal(days)), Decimal(days)))


def _progressive_rows(
    spans: tuple[Span, ...],
    loan: Decimal,
    emi: Decimal,
    r_interest: Sequence[Decimal],
    rnd: Rounder,
) -> tuple[Columns, Decimal]:
    zero = rnd.zero
    principal: list[Decimal] = []
    interest: list[Decimal] = []
    balances: list[Decimal] = []
    balance, last = loan, len(spans) - 1
    for k, span in enumerate(spans):
        due = _progressive_interest(balance, r_interest[k], span.days, rnd)
        part = balance if k == last else min(max(emi - due, zero), balance)
        balance -= part
        principal.append(part)
        interest.append(due)
        balances.append(balance)
    return (principal, interest, balances), principal[-1] + interest[-1]


def _progressive_declining(
    terms: LoanTerms,
    spans: tuple[Span, ...],
    loan: Decimal,
    r_emi: Sequence[Decimal],
    r_interest: Sequence[Decimal],
    rnd: Rounder,
) -> Columns:
    factors = [_MC.add(r, ONE) for r in r_emi]
    product = ONE
    for f in factors:
        product = _MC.multiply(product, f)
    fn = ONE
    for f in factors[1:]:
        fn = _MC.add(ONE, _MC.multiply(fn, f))
    raw = _MC.divide(_MC.multiply(product, loan), fn)
    emi = rnd(_nearest_multiple(rnd(raw), terms.installment_multiple))
    columns, last_emi = _progressive_rows(spans, loan, emi, r_interest, rnd)
    # checkAndAdjustEmiIfNeededOnRelatedRepaymentPeriods / EmiAdjustment
    n, half = len(spans), len(spans) // 2
    for _ in range(3):
        difference = last_emi - emi
        if half == 0 or difference == 0 or abs(difference) * _HUNDRED <= half:
            break
        adjusted = emi + rnd(_MC.divide(difference, Decimal(n)))
        adjusted = rnd(_nearest_multiple(adjusted, terms.installment_multiple))
        if adjusted == emi:
            break
        new_columns, new_last = _progressive_rows(spans, loan, adjusted, r_interest, rnd)
        if not abs(new_last - adjusted) < abs(difference):
            break
        columns, last_emi, emi = new_columns, new_last, adjusted
    return columns


def _progressive_flat(
    terms: LoanTerms,
    spans: tuple[Span, ...],
    loan: Decimal,
    r_interest: Sequence[Decimal],
    rnd: Rounder,
) -> Columns:
    # calculateEMIOnActualModelWithFlatInterestMethod; interest on the disbursed principal in
    # every period is our best reading of the flat due-interest calculation.
    zero = rnd.zero
    dues = [
        _progressive_interest(loan, r, s.days, rnd) for r, s in zip(r_interest, spans, strict=True)
    ]
    total = loan + sum(dues, zero)
    emi = rnd(
        _nearest_multiple(rnd(_MC.divide(total, Decimal(len(spans)))), terms.installment_multiple)
    )
    principal: list[Decimal] = []
    balances: list[Decimal] = []
    balance, last = loan, len(spans) - 1
    for k, due in enumerate(dues):
        part = balance if k == last else min(max(emi - due, zero), balance)
        balance -= part
        principal.append(part)
        balances.append(balance)
    return principal, dues, balances
