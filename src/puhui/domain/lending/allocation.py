"""Servicing policy, daily accrual arithmetic and repayment allocation (R-10.2(f), R-10.3).

Day conventions (one rule each, used by every command and by ``state``):

* **Contract interest** of a period ``[from_date, due_date)`` accrues day by day over its actual
  calendar days (算头不算尾): accrued through the end of day ``d`` is
  ``quantize(interest x elapsed / days)`` with ``elapsed = d - from_date + 1`` capped at ``days``,
  so accrual reaches the scheduled interest exactly on the last day before the due date.
* **Penalty interest (罚息)** accrues on each day ``t >= due_date`` at whose end the installment's
  principal (and, with compounding, its interest: 复利) is still unpaid, at
  ``rate x (1 + uplift) / day_basis`` per day. Paid ``k`` days after the due date → ``k`` days of
  penalty; paid on the due date → none. The sum is kept exact and rounded once per installment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation
from enum import StrEnum
from typing import Final

from puhui.domain.errors import ValidationError
from puhui.domain.lending.delinquency import (
    DEFAULT_BUCKETS,
    DEFAULT_CLASSIFICATION,
    BucketPolicy,
    ClassificationPolicy,
)
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import Amortization, FeeKind, Schedule
from puhui.domain.lending.transactions import (
    ZERO,
    Allocation,
    InstallmentState,
    PrepaymentMode,
)
from puhui.domain.money import Currency, quantize

__all__ = [
    "AllocationStrategy",
    "Component",
    "Row",
    "ServicingPolicy",
    "accrue_penalty",
    "accrued_interest",
    "allocate",
    "arrears",
    "carried",
    "days_past_due",
    "payoff",
    "penalty_days",
    "reschedule",
]

EXACT: Final = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero])


class Component(StrEnum):
    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class AllocationStrategy(StrEnum):
    """``INSTALLMENT_FIRST``: settle the oldest installment in component order, then the next.
    ``COMPONENT_FIRST``: the first component across all installments (oldest first), then the
    next component."""

    INSTALLMENT_FIRST = "installment_first"
    COMPONENT_FIRST = "component_first"


DEFAULT_ORDER = (Component.PENALTY, Component.FEE, Component.INTEREST, Component.PRINCIPAL)


@dataclass(frozen=True)
class ServicingPolicy:
    """How a loan is serviced; every number is configuration with a documented default.

    ``penalty_uplift``: 罚息 rate = contract rate x (1 + uplift), default +50 %.
    ``compound_overdue_interest``: 复利 — overdue interest also bears the penalty rate.
    ``repay_ahead``: the next installment may be paid before its due date (in full).
    ``closing_tolerance``: a residual at most this large after a repayment is waived and the
    loan closes (default 0: nothing is waived).
    """

    penalty_uplift: Decimal = Decimal("0.5")
    penalty_day_basis: int = 360
    compound_overdue_interest: bool = False
    allocation_order: tuple[Component, ...] = DEFAULT_ORDER
    allocation_strategy: AllocationStrategy = AllocationStrategy.INSTALLMENT_FIRST
    repay_ahead: bool = True
    closing_tolerance: Decimal = Decimal(0)
    classification: ClassificationPolicy = field(default=DEFAULT_CLASSIFICATION)
    buckets: BucketPolicy = field(default=DEFAULT_BUCKETS)

    def __post_init__(self) -> None:
        def bad(message: str, what: str) -> ValidationError:
            return ValidationError(message, code=f"servicing.invalid_{what}")

        if not isinstance(self.penalty_uplift, Decimal) or not self.penalty_uplift.is_finite():
            raise bad("penalty_uplift is a Decimal such as 0.5", "penalty_uplift")
        if self.penalty_uplift < 0:
            raise bad("penalty_uplift cannot be negative", "penalty_uplift")
        if self.penalty_day_basis not in (360, 365):
            raise bad("penalty_day_basis is 360 or 365", "penalty_day_basis")
        if sorted(self.allocation_order) != sorted(Component):
            raise bad("allocation_order lists each component exactly once", "allocation_order")
        if not isinstance(self.closing_tolerance, Decimal) or self.closing_tolerance < 0:
            raise bad("closing_tolerance is a Decimal >= 0", "closing_tolerance")

    def penalty_rate(self, annual_rate: Decimal) -> Decimal:
        """The annual 罚息 rate: contract rate x (1 + uplift)."""
        return EXACT.multiply(annual_rate, 1 + self.penalty_uplift)


def accrued_interest(
    interest: Decimal, from_date: date, due_date: date, through: date, currency: Currency
) -> Decimal:
    """Contract interest of ``[from_date, due_date)`` accrued through the end of ``through``."""
    days = (due_date - from_date).days
    if days <= 0:
        return interest
    elapsed = min(max((through - from_date).days + 1, 0), days)
    return quantize(EXACT.divide(EXACT.multiply(interest, elapsed), Decimal(days)), currency)


def penalty_days(due_date: date, first: date, last: date) -> int:
    """Days ``t`` in ``[first, last]`` with ``t >= due_date``: the penalty days of the window."""
    start = max(first, due_date)
    return max((last - start).days + 1, 0)


def _get(due: Allocation, component: Component) -> Decimal:
    value: Decimal = getattr(due, component.value)
    return value


def allocate(
    amount: Decimal,
    dues: Sequence[tuple[int, Allocation]],
    order: Sequence[Component] = DEFAULT_ORDER,
    strategy: AllocationStrategy = AllocationStrategy.INSTALLMENT_FIRST,
) -> tuple[tuple[tuple[int, Allocation], ...], Decimal]:
    """Split ``amount`` over ``dues`` (installment number, amounts due; oldest first).

    Returns what each installment receives and the part of ``amount`` left over. No component
    of an installment ever receives more than is due on it.
    """
    if amount < 0:
        raise ValidationError("cannot allocate a negative amount", code="loan.non_positive_amount")
    paid: dict[int, dict[Component, Decimal]] = {
        n: dict.fromkeys(Component, Decimal(0)) for n, _ in dues
    }
    left = amount
    if strategy is AllocationStrategy.INSTALLMENT_FIRST:
        steps = [(n, due, c) for n, due in dues for c in order]
    else:
        steps = [(n, due, c) for c in order for n, due in dues]
    for n, due, component in steps:
        take = min(left, max(_get(due, component), Decimal(0)))
        paid[n][component] += take
        left -= take
    result = tuple(
        (
            n,
            Allocation(
                principal=paid[n][Component.PRINCIPAL],
                interest=paid[n][Component.INTEREST],
                penalty=paid[n][Component.PENALTY],
                fee=paid[n][Component.FEE],
            ),
        )
        for n, _ in dues
    )
    return result, left


_NIL = Decimal(0)
_DAY = timedelta(days=1)


@dataclass
class Row:
    """One installment while transactions are replayed: contract, payments and what the GL
    has recognised. Mutable and internal to servicing; ``state`` freezes it."""

    n: int
    from_date: date
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal  # scheduled fees plus fees charged to this installment
    currency: Currency
    charged: Decimal = _NIL  # fees charged ad hoc (recognised when charged)
    paid: Allocation = ZERO
    rec: Allocation = ZERO  # income recognised in the GL (interest, penalty, fee)
    penalty_rate: Decimal = _NIL  # annual 罚息 rate
    day_basis: int = 360
    overdue_days: Decimal = _NIL  # sum of overdue amount x days: exact
    penalty_forgiven: Decimal = _NIL

    @classmethod
    def from_schedule(
        cls, schedule: Schedule, penalty_rate: Decimal, day_basis: int, first_n: int = 1
    ) -> list[Row]:
        cur, rate = schedule.terms.currency, penalty_rate
        rows = [
            cls(n, p.from_date, p.due_date, p.principal, p.interest, p.fees, cur)
            for n, p in enumerate(schedule.periods, start=first_n)
        ]
        if schedule.upfront_fees > 0:
            day = schedule.terms.disbursement_date
            rows.insert(0, cls(0, day, day, _NIL, _NIL, schedule.upfront_fees, cur))
        for row in rows:
            row.penalty_rate, row.day_basis = rate, day_basis
        return rows

    @property
    def penalty(self) -> Decimal:
        """Penalty to date, rounded once: overdue amount-days x rate / day basis."""
        exact = EXACT.divide(EXACT.multiply(self.overdue_days, self.penalty_rate), self.day_basis)
        return quantize(exact, self.currency) - self.penalty_forgiven

    @property
    def contract(self) -> Allocation:
        return Allocation(self.principal, self.interest, self.penalty, self.fee)

    def unpaid(self) -> Allocation:
        return self.contract - self.paid

    @property
    def owes(self) -> bool:
        return self.unpaid().total > 0

    @property
    def owes_contract(self) -> bool:
        """Principal, interest or fees unpaid: what makes an installment past due."""
        u = self.unpaid()
        return u.principal + u.interest + u.fee > 0

    def carried(self) -> Allocation:
        """What the GL carries for this installment: unpaid principal, recognised unpaid income."""
        return Allocation(
            self.principal - self.paid.principal,
            self.rec.interest - self.paid.interest,
            self.rec.penalty - self.paid.penalty,
            self.rec.fee - self.paid.fee,
        )

    def settlement(self, on: date) -> Allocation:
        """What settling this not-yet-due installment on ``on`` costs: its principal, interest
        accrued to date (the days before ``on``) and fees already charged to it."""
        to_date = accrued_interest(
            self.interest, self.from_date, self.due_date, on - _DAY, self.currency
        )
        return Allocation(
            principal=self.principal - self.paid.principal,
            interest=max(to_date - self.paid.interest, _NIL),
            fee=max(self.charged - self.paid.fee, _NIL),
        )

    def _catch_up(self, target: Allocation) -> Allocation:
        gap = Allocation(
            interest=max(target.interest - self.rec.interest, _NIL),
            penalty=max(target.penalty - self.rec.penalty, _NIL),
            fee=max(target.fee - self.rec.fee, _NIL),
        )
        self.rec += gap
        return gap

    def pay(self, part: Allocation) -> Allocation:
        """Apply a payment; returns the income it recognises (paid before it was accrued)."""
        self.paid += part
        return self._catch_up(self.paid)

    def recognise_contract(self, through: date) -> Allocation:
        """Accrue contract interest through the end of ``through``; scheduled fees on due."""
        interest = accrued_interest(
            self.interest, self.from_date, self.due_date, through, self.currency
        )
        fee = self.fee if self.due_date <= through else self.charged
        return self._catch_up(Allocation(interest=interest, fee=fee))

    def recognise_penalty(self) -> Allocation:
        return self._catch_up(Allocation(penalty=self.penalty))

    def charge(self, amount: Decimal) -> None:
        self.fee += amount
        self.charged += amount
        self.rec += Allocation(fee=amount)

    def settle_early(self, on: date, part: Allocation) -> None:
        """A prepayment on ``on`` settles this not-yet-due installment with ``part``: interest
        to date instead of the period's, uncharged scheduled fees dropped."""
        self.due_date = on
        self.principal = self.paid.principal + part.principal
        self.interest = self.paid.interest + part.interest
        self.fee = self.paid.fee + part.fee
        self.charged = min(self.charged, self.fee)

    def waive_rest(self) -> Allocation:
        """Forgive everything unpaid; returns what the GL must take off its books."""
        gone = self.carried()
        self.principal, self.interest, self.fee = (
            self.paid.principal,
            self.paid.interest,
            self.paid.fee,
        )
        self.penalty_forgiven += self.penalty - self.paid.penalty
        self.charged = min(self.charged, self.paid.fee)
        self.rec = Allocation(interest=self.paid.interest, penalty=self.paid.penalty, fee=self.fee)
        return gone

    def state(self, as_of: date) -> InstallmentState:
        return InstallmentState(
            n=self.n,
            from_date=self.from_date,
            due_date=self.due_date,
            principal=self.principal,
            interest=self.interest,
            fee=self.fee,
            penalty=self.penalty,
            paid=self.paid,
            accrued_interest=accrued_interest(
                self.interest, self.from_date, self.due_date, as_of, self.currency
            ),
        )


# -- what a set of installments owes ------------------------------------------------------------


def accrue_penalty(rows: Sequence[Row], first: date, last: date, compound: bool) -> None:
    """Count the overdue amount-days of days ``first..last`` (balances constant over them)."""
    for row in rows:
        days = penalty_days(row.due_date, first, last)
        base = row.principal - row.paid.principal
        if compound:
            base += row.interest - row.paid.interest
        if days and base > 0:
            row.overdue_days = EXACT.add(row.overdue_days, EXACT.multiply(base, days))


def days_past_due(rows: Sequence[Row], day: date) -> int:
    """Days since the oldest due installment with principal, interest or fees unpaid."""
    for row in rows:
        if row.due_date <= day and row.owes_contract:
            return (day - row.due_date).days
    return 0


def arrears(rows: Sequence[Row], on: date) -> list[tuple[int, Allocation]]:
    """What is unpaid on installments due on or before ``on``, oldest first."""
    return [(r.n, r.unpaid()) for r in rows if r.due_date <= on and r.owes]


def payoff(rows: Sequence[Row], on: date) -> Allocation:
    """Everything a full settlement on ``on`` pays (R-10.3)."""
    owed = sum((a for _, a in arrears(rows, on)), ZERO)
    return sum((r.settlement(on) for r in rows if r.due_date > on), owed)


def carried(rows: Sequence[Row]) -> Allocation:
    """What the GL carries: unpaid principal and recognised-but-unpaid income."""
    return sum((r.carried() for r in rows), ZERO)


# -- re-scheduling ----------------------------------------------------------------------------


def _level(schedule: Schedule) -> Decimal:
    """The regular installment: the largest one after the (possibly broken) first."""
    return max(p.total for p in (schedule.periods[1:] or schedule.periods))


def reschedule(
    original: Schedule,
    current: Row,
    next_due: date,
    later: Sequence[Row],
    principal: Decimal,
    on: date,
    mode: PrepaymentMode,
) -> list[Row]:
    """Installments for ``principal`` left after a partial prepayment on ``on`` (R-10.3).

    The first new installment falls on ``next_due`` (the settled installment's due date, a
    broken period from ``on``); frequency, rate and conventions stay; grace is not repeated and
    per-period fees are recomputed on the new principal. ``REDUCE_INSTALLMENT`` keeps the number
    of installments left; ``REDUCE_TERM`` takes the fewest whose regular installment does not
    exceed the next one scheduled before (not offered for interest-only and bullet loans).
    """
    terms = original.terms

    def build(count: int) -> Schedule:
        return generate_schedule(
            replace(
                terms,
                principal=principal,
                repayments=count,
                disbursement_date=on,
                schedule_start_date=None,
                first_repayment_date=next_due,
                grace_principal_periods=0,
                grace_interest_periods=0,
                fees=tuple(f for f in terms.fees if f.kind is FeeKind.PER_PERIOD),
            )
        )

    most = 1 + len(later)
    count = most
    if mode is PrepaymentMode.REDUCE_TERM:
        if terms.amortization in (Amortization.INTEREST_ONLY, Amortization.BULLET):
            raise ValidationError(
                "reduce-term prepayment needs an amortizing loan; reduce the installment",
                code="loan.reduce_term_unsupported",
            )
        if later:
            before = max(r.principal + r.interest + r.fee for r in later)
            low, high = 1, most
            while low < high:  # the installment shrinks as the count grows
                mid = (low + high) // 2
                if _level(build(mid)) <= before:
                    high = mid
                else:
                    low = mid + 1
            count = low
    rows = build(count)
    return Row.from_schedule(rows, current.penalty_rate, current.day_basis, current.n + 1)
