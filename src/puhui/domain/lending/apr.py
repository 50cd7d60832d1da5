"""The annualized rate (年化利率) of a loan, per PBoC Announcement [2021] No. 3 (R-G7, R-11.3).

The announcement requires every lender to show the annualized rate of *all* borrowing costs —
interest plus every fee tied to the loan — over the principal actually in use, and allows two
methods: compound (the IRR method, 内部收益率法) and simple (单利), a simple figure being
labelled as such. This module computes both from the cash flows:

* at t0 the borrower receives ``principal − upfront fees`` (fees deducted or paid at
  disbursement reduce the money actually lent);
* each installment (principal + interest + fees) is paid back.

The periodic IRR ``r`` solves Σ CF_t / (1+r)^t = 0 (Newton's method with a bisection fallback,
40-digit decimals). ``nominal_apr = r × periods per year`` is the IRR-method figure to disclose;
``effective_annual = (1+r)^k − 1`` is its compounded equivalent. ``simple_rate`` divides the total
cost by the average principal in use and by the years.

Worked example (REFERENCE.md §1): 100,000 lent, 1,000 upfront fee, 12 monthly payments of
8,833.33 → r = 1.0670 % a month, 12.80 % (r × 12) and 13.58 % ((1+r)^12 − 1); without the fee
10.90 % and 11.46 %.

Rate ceilings are thresholds passed in (24 % and 4 × the one-year LPR by default in callers'
configuration), never constants buried here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from enum import StrEnum
from typing import Final

from puhui.domain.errors import ValidationError
from puhui.domain.lending.schedule_base import step_date
from puhui.domain.lending.terms import Frequency, Schedule

__all__ = [
    "DEFAULT_LPR_MULTIPLE",
    "DEFAULT_RATE_CEILING",
    "AnnualizedRate",
    "CeilingStatus",
    "RateCeilingVerdict",
    "annualized_rate",
    "check_rate_ceiling",
    "periodic_irr",
    "schedule_annualized_rate",
    "schedule_periods_per_year",
    "xirr",
]

_CTX: Final = Context(
    prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_TOLERANCE: Final = Decimal("1e-30")  # on the rate
_LOWEST: Final = Decimal("-0.999999")  # a rate of −100 % makes every discount factor infinite
_HIGHEST: Final = Decimal(1_000_000)
_MAX_ITERATIONS: Final = 400
_DAYS_PER_YEAR: Final = Decimal(365)

# Defaults for configuration (REFERENCE.md §1); callers pass their configured values.
DEFAULT_RATE_CEILING: Final = Decimal("0.24")
DEFAULT_LPR_MULTIPLE: Final = Decimal(4)

IRR_LABEL_ZH: Final = "年化利率（内部收益率法 IRR，复利）"
IRR_LABEL_EN: Final = "Annualized rate (IRR method, compound)"
SIMPLE_LABEL_ZH: Final = "年化利率（单利法）"
SIMPLE_LABEL_EN: Final = "Annualized rate (simple interest method)"


@dataclass(frozen=True, slots=True)
class AnnualizedRate:
    """All annualized figures of one loan; ``nominal_apr`` is the one to disclose."""

    periodic_irr: Decimal  # r: the IRR of one period
    periods_per_year: Decimal  # k
    nominal_apr: Decimal  # r × k — the IRR-method annualized rate (PBoC No. 3)
    effective_annual: Decimal  # (1 + r)^k − 1
    simple_rate: Decimal  # total cost / average principal in use / years (labelled simple)
    total_cost: Decimal  # interest + every fee
    average_principal_in_use: Decimal
    years: Decimal
    method: str = "irr"  # "irr" (equal periods) or "xirr" (actual dates)
    label_zh: str = IRR_LABEL_ZH
    label_en: str = IRR_LABEL_EN
    simple_label_zh: str = SIMPLE_LABEL_ZH
    simple_label_en: str = SIMPLE_LABEL_EN


# -- root finding ---------------------------------------------------------------------------

Residual = Callable[[Decimal], tuple[Decimal, Decimal]]  # rate -> (present value, its slope)


def _no_solution() -> ValidationError:
    return ValidationError("no rate makes the cash flows balance", code="apr.no_solution")


def _find_rate(residual: Residual, guess: Decimal) -> Decimal:
    """The rate where ``residual`` is zero: Newton's method, with a bisection step whenever
    Newton would leave the bracket known to hold the root, so it cannot diverge.

    The bracket starts at (−99.9999 %, 100 %) and widens upwards until the present value turns
    negative; a loan's present value falls as the rate rises (money out first, back later).
    """
    low, high = _LOWEST, _ONE
    if residual(low)[0] < 0:
        raise _no_solution()
    while residual(high)[0] > 0:
        high = _CTX.multiply(high, 2)
        if high > _HIGHEST:
            raise _no_solution()
    rate = min(max(guess, low), high)
    for _ in range(_MAX_ITERATIONS):
        value, slope = residual(rate)
        if value == 0:
            return rate
        if value > 0:
            low = rate
        else:
            high = rate
        candidate = _CTX.subtract(rate, _CTX.divide(value, slope)) if slope else low
        if not low < candidate < high:
            candidate = _CTX.divide(_CTX.add(low, high), 2)  # bisection
        if abs(_CTX.subtract(candidate, rate)) < _TOLERANCE:
            return candidate
        rate = candidate
    return rate  # pragma: no cover - Newton/bisection converges far sooner


def periodic_irr(flows: Sequence[Decimal]) -> Decimal:
    """The rate ``r`` per period at which the cash flows' present value is zero.

    ``flows[0]`` is at t0 (negative: the money lent), ``flows[t]`` ``t`` periods later.
    Raises ``apr.no_solution`` unless money goes out at t0 and comes back after it.
    """
    values = [Decimal(f) for f in flows]
    if len(values) < 2 or values[0] >= 0 or all(f <= 0 for f in values[1:]):
        raise ValidationError(
            "the cash flows need money lent at t0 and repayments after it",
            code="apr.no_solution",
        )
    c = _CTX

    def residual(rate: Decimal) -> tuple[Decimal, Decimal]:
        # Σ CF_t v^t and its derivative −Σ t CF_t v^(t+1), with v = 1 / (1 + rate).
        v = c.divide(_ONE, c.add(_ONE, rate))
        npv, slope, discount = _ZERO, _ZERO, _ONE
        for t, flow in enumerate(values):
            npv = c.add(npv, c.multiply(flow, discount))
            discount = c.multiply(discount, v)
            slope = c.subtract(slope, c.multiply(c.multiply(t, flow), discount))
        return npv, slope

    lent = -values[0]
    guess = c.divide(c.subtract(sum(values[1:], _ZERO), lent), c.multiply(lent, len(values)))
    return _find_rate(residual, guess)


def xirr(flows: Sequence[tuple[date, Decimal]], *, days_per_year: int = 365) -> Decimal:
    """The effective annual rate R with Σ CF_i (1+R)^(−d_i / days_per_year) = 0 (XIRR).

    For irregular schedules (a broken first period, uneven dates): each flow is discounted by
    its distance in days from the first one. Same solver as :func:`periodic_irr`.
    """
    if len(flows) < 2:
        raise ValidationError("XIRR needs at least two cash flows", code="apr.no_solution")
    origin = flows[0][0]
    c = _CTX
    points = [(c.divide(Decimal((d - origin).days), days_per_year), Decimal(f)) for d, f in flows]
    if any(t < 0 for t, _ in points) or points[0][1] >= 0:
        raise ValidationError(
            "the first cash flow is the money lent; none may precede it", code="apr.no_solution"
        )

    def residual(rate: Decimal) -> tuple[Decimal, Decimal]:
        log_growth = c.ln(c.add(_ONE, rate))
        npv, slope = _ZERO, _ZERO
        for t, flow in points:
            discounted = c.multiply(flow, c.exp(c.multiply(-t, log_growth)))
            npv = c.add(npv, discounted)
            slope = c.subtract(slope, c.divide(c.multiply(t, discounted), c.add(_ONE, rate)))
        return npv, slope

    return _find_rate(residual, Decimal("0.1"))


# -- annualized rates -------------------------------------------------------------------------


def _compound(rate: Decimal, periods: Decimal) -> Decimal:
    """(1 + rate)^periods − 1, for any real number of periods."""
    c = _CTX
    if periods == periods.to_integral_value():
        return c.subtract(c.power(c.add(_ONE, rate), int(periods)), _ONE)
    return c.subtract(c.exp(c.multiply(periods, c.ln(c.add(_ONE, rate)))), _ONE)


def annualized_rate(
    principal: Decimal,
    payments: Sequence[Decimal],
    periods_per_year: Decimal | int,
    *,
    upfront_fees: Decimal = _ZERO,
    principal_in_use: Sequence[Decimal] | None = None,
) -> AnnualizedRate:
    """Annualized rates of a loan repaid in equal-length periods.

    ``payments``: everything paid in each period (principal + interest + fees).
    ``principal_in_use``: the principal the borrower holds during each period; by default the
    money received (principal − upfront fees) amortized at the IRR, period by period.
    """
    c = _CTX
    k = Decimal(periods_per_year)
    net = c.subtract(Decimal(principal), Decimal(upfront_fees))
    if net <= 0 or k <= 0:
        raise ValidationError(
            "the money lent net of upfront fees must be positive", code="apr.invalid_loan"
        )
    rate = periodic_irr([-net, *payments])
    if principal_in_use is None:
        in_use, balance = [], net
        for paid in payments:
            in_use.append(balance)
            balance = c.subtract(c.multiply(balance, c.add(_ONE, rate)), paid)
    else:
        in_use = [Decimal(b) for b in principal_in_use]
    if len(in_use) != len(payments):
        raise ValidationError(
            "one principal-in-use figure per payment", code="apr.invalid_principal_in_use"
        )
    cost = c.subtract(sum(payments, _ZERO), net)
    average = c.divide(sum(in_use, _ZERO), len(in_use))
    years = c.divide(len(payments), k)
    return AnnualizedRate(
        periodic_irr=rate,
        periods_per_year=k,
        nominal_apr=c.multiply(rate, k),
        effective_annual=_compound(rate, k),
        simple_rate=_simple(cost, average, years),
        total_cost=cost,
        average_principal_in_use=average,
        years=years,
    )


def _simple(cost: Decimal, average_in_use: Decimal, years: Decimal) -> Decimal:
    if average_in_use <= 0 or years <= 0:
        return _ZERO
    return _CTX.divide(_CTX.divide(cost, average_in_use), years)


def schedule_periods_per_year(schedule: Schedule) -> Decimal:
    """12 / every for monthly, 52 / every for weekly, 365 / every for daily installments."""
    terms = schedule.terms
    per_year = {Frequency.MONTHS: 12, Frequency.WEEKS: 52, Frequency.DAYS: 365}
    return _CTX.divide(Decimal(per_year[Frequency(terms.frequency)]), terms.every)


def schedule_annualized_rate(schedule: Schedule) -> AnnualizedRate:
    """The annualized rates of a repayment schedule.

    Regular schedules use the periodic IRR. A schedule with a broken first period (a
    ``first_repayment_date`` off the regular cycle) uses :func:`xirr` on the actual dates
    (money lent on the disbursement date); its periodic figure is then (1+R)^(1/k) − 1.
    The principal in use in each period is the scheduled outstanding principal before the
    installment, less the upfront fees (money the borrower never had), weighted by days.
    """
    c = _CTX
    terms = schedule.terms
    periods = schedule.periods
    k = schedule_periods_per_year(schedule)
    payments = [p.total for p in periods]
    upfront = schedule.upfront_fees
    in_use = [max(c.subtract(p.balance_after + p.principal, upfront), _ZERO) for p in periods]
    if _is_regular(schedule):
        return annualized_rate(
            terms.principal, payments, k, upfront_fees=upfront, principal_in_use=in_use
        )
    net = c.subtract(terms.principal, upfront)
    flows = [(terms.disbursement_date, -net)] + [(p.due_date, p.total) for p in periods]
    effective = xirr(flows)
    rate = c.subtract(c.exp(c.divide(c.ln(c.add(_ONE, effective)), k)), _ONE)
    days = [p.days for p in periods]
    total_days = sum(days)
    average = c.divide(
        sum((c.multiply(b, d) for b, d in zip(in_use, days, strict=True)), _ZERO), total_days
    )
    years = c.divide((periods[-1].due_date - terms.disbursement_date).days, _DAYS_PER_YEAR)
    cost = c.subtract(sum(payments, _ZERO), net)
    return AnnualizedRate(
        periodic_irr=rate,
        periods_per_year=k,
        nominal_apr=c.multiply(rate, k),
        effective_annual=effective,
        simple_rate=_simple(cost, average, years),
        total_cost=cost,
        average_principal_in_use=average,
        years=years,
        method="xirr",
    )


def _is_regular(schedule: Schedule) -> bool:
    terms = schedule.terms
    first = terms.first_repayment_date
    if first is None:
        return True
    anchor = terms.schedule_start_date or terms.disbursement_date
    return first == step_date(anchor, 1, terms.every, Frequency(terms.frequency))


# -- rate ceilings ----------------------------------------------------------------------------


class CeilingStatus(StrEnum):
    OK = "ok"
    ABOVE_CEILING = "above_ceiling"  # above the configured ceiling (24 % by default)
    ABOVE_LPR_CAP = "above_lpr_cap"  # above the judicial cap: a multiple (4×) of the 1-year LPR


@dataclass(frozen=True, slots=True)
class RateCeilingVerdict:
    """Whether an annualized rate stays under the configured thresholds."""

    status: CeilingStatus  # the most severe breach: ceiling, then the LPR cap
    rate: Decimal
    ceiling: Decimal
    lpr_cap: Decimal | None  # lpr × multiple, when an LPR was given
    breaches: tuple[CeilingStatus, ...]

    @property
    def ok(self) -> bool:
        return self.status == CeilingStatus.OK

    @property
    def message_zh(self) -> str:
        if self.ok:
            return "年化利率未超过设定上限"
        parts = []
        if CeilingStatus.ABOVE_CEILING in self.breaches:
            parts.append(f"超过年化利率上限 {_pct(self.ceiling)}")
        if CeilingStatus.ABOVE_LPR_CAP in self.breaches and self.lpr_cap is not None:
            parts.append(f"超过一年期 LPR 的倍数上限 {_pct(self.lpr_cap)}")
        return "；".join(parts)

    @property
    def message_en(self) -> str:
        if self.ok:
            return "the annualized rate is within the configured limits"
        parts = []
        if CeilingStatus.ABOVE_CEILING in self.breaches:
            parts.append(f"above the rate ceiling of {_pct(self.ceiling)}")
        if CeilingStatus.ABOVE_LPR_CAP in self.breaches and self.lpr_cap is not None:
            parts.append(f"above the LPR-based cap of {_pct(self.lpr_cap)}")
        return "; ".join(parts)


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)}%"


def check_rate_ceiling(
    apr: Decimal | AnnualizedRate,
    ceiling: Decimal = DEFAULT_RATE_CEILING,
    lpr: Decimal | None = None,
    *,
    lpr_multiple: Decimal = DEFAULT_LPR_MULTIPLE,
) -> RateCeilingVerdict:
    """Compare an annualized rate with the configured ceiling and, given the one-year LPR in
    force when the contract was made, with ``lpr_multiple`` × LPR (SPC 2020 Art. 25: 4×).

    An ``AnnualizedRate`` is judged by its ``nominal_apr`` (the figure disclosed under PBoC
    No. 3). A rate equal to a threshold is within it.
    """
    rate = apr.nominal_apr if isinstance(apr, AnnualizedRate) else Decimal(apr)
    if ceiling <= 0 or (lpr is not None and lpr <= 0) or lpr_multiple <= 0:
        raise ValidationError("rate thresholds must be positive", code="apr.invalid_threshold")
    lpr_cap = None if lpr is None else _CTX.multiply(lpr, lpr_multiple)
    breaches = []
    if rate > ceiling:
        breaches.append(CeilingStatus.ABOVE_CEILING)
    if lpr_cap is not None and rate > lpr_cap:
        breaches.append(CeilingStatus.ABOVE_LPR_CAP)
    status = breaches[0] if breaches else CeilingStatus.OK
    return RateCeilingVerdict(status, rate, ceiling, lpr_cap, tuple(breaches))
