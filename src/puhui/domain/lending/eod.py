"""The end-of-day step for one loan, in integer minor units (分): accrue, age, classify.

This is the reference (scalar, exact integer) definition of what end of day does to a loan's
position. The batch adapter runs the same arithmetic over numpy int64 arrays for a whole
partition at once; ``tests/unit/test_eod_vectorized.py`` proves the two equal on random
portfolios (R-10.2f, R-9.5f, REFERENCE §7).

Rules, for the business date ``d`` being closed:

* **Interest accrual**: within a scheduled period of ``period_days`` days carrying
  ``period_interest``, interest accrued through day ``k`` (1-based) is
  ``round_half_up(period_interest * k / period_days)``; the day's accrual is the increase.
  Accrual therefore sums exactly to the scheduled interest on the due date.
* **Penalty interest (罚息)** on each overdue installment's unpaid principal ``P``, from its due
  date on: through day ``n`` (the due date is day 1) it is ``round_half_up(P * penalty_rate *
  n / 360)``, rounded once per installment, as the loan's replay computes it for an
  installment whose unpaid principal has not changed since it fell due (a partly repaid
  overdue installment may differ by at most 1 分 until its next money movement); the day's
  accrual is the increase. The day basis (360 or 365) is the product's; no compounding (复利).
  ``penalty_rate = contract rate x (1 + uplift)`` is held in parts per
  million (18 % is 180000).
* **Due date**: at the end of a due date, the unpaid principal of that installment becomes
  overdue; if its principal or interest is unpaid, the oldest unpaid due date starts
  days-past-due counting (fees are not considered by the batch; the replay counts them).
* **Days past due** = ``d - oldest_unpaid_due`` (0 when nothing is overdue); bucket and
  five-category class follow from it.

What this arithmetic leaves out — per-period or charged fees falling due and aging, and compound
interest (复利) on overdue interest — is closed by the loan's Decimal replay instead:
``closing_path`` tells which path a loan takes, and the end-of-day service runs the replay
for those loans (``services.eod``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from puhui.domain.lending.delinquency import (
    DEFAULT_BUCKETS,
    DEFAULT_CLASSIFICATION,
    BucketPolicy,
    ClassificationPolicy,
    LoanClass,
    bucket_index,
    classify,
)
from puhui.domain.lending.transactions import LoanState

PPM = 1_000_000
PENALTY_DAY_BASIS = 360


def round_half_up_div(numerator: int, denominator: int) -> int:
    """``round_half_up(numerator / denominator)`` for non-negative integers, exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class AgingPolicy:
    """Buckets and five-category classification, from ``delinquency`` (one definition)."""

    classification: ClassificationPolicy = DEFAULT_CLASSIFICATION
    buckets: BucketPolicy = DEFAULT_BUCKETS

    def classify(self, dpd: int) -> int:
        """The class rank: 1 正常, 2 关注, 3 次级, 4 可疑, 5 损失."""
        return classify(dpd, self.classification).rank

    def bucket(self, dpd: int) -> int:
        """0 for M0 (current) ... 6 for M6+."""
        return bucket_index(dpd, self.buckets)


def class_of_rank(rank: int) -> LoanClass:
    return tuple(LoanClass)[rank - 1]


@dataclass(frozen=True)
class Position:
    """One active loan's end-of-day position; money in minor units, dates as ordinals."""

    loan_id: int
    principal_outstanding: int
    overdue_principal: int
    interest_receivable: int
    penalty_receivable: int
    period_start: int  # first day of the current period (ordinal)
    period_days: int
    period_due: int  # due date of the current period (ordinal)
    period_interest: int
    period_accrued: int
    period_principal: int
    period_paid_principal: int
    period_paid_interest: int
    oldest_unpaid_due: int  # ordinal, 0 when nothing overdue
    penalty_rate_ppm: int
    penalty_day_basis: int = PENALTY_DAY_BASIS  # 360 or 365
    dpd: int = 0
    class_code: int = 1  # LoanClass rank
    bucket: int = 0


@dataclass(frozen=True)
class NextPeriod:
    """The scheduled period that follows the current one (from the installment table)."""

    start: int  # ordinal of its first accrual day (= the previous due date)
    days: int
    due: int
    interest: int
    principal: int


@dataclass(frozen=True)
class DayResult:
    position: Position
    interest_accrued: int
    penalty_accrued: int
    fell_due: bool  # an installment fell due today


def penalty_through(
    unpaid_principal: int, penalty_rate_ppm: int, days: int, basis: int = PENALTY_DAY_BASIS
) -> int:
    """Penalty on one installment's unpaid principal for ``days`` days, rounded once."""
    if days <= 0 or unpaid_principal <= 0:
        return 0
    return round_half_up_div(unpaid_principal * penalty_rate_ppm * days, basis * PPM)


@dataclass(frozen=True)
class OverdueInstallment:
    """An installment whose due date has come with principal still unpaid."""

    due: int  # ordinal
    unpaid_principal: int


def close_day(
    pos: Position,
    business_date: date,
    policy: AgingPolicy,
    next_period: NextPeriod | None = None,
    overdue: tuple[OverdueInstallment, ...] = (),
) -> DayResult:
    """Close ``business_date`` for ``pos``; pure and exact.

    ``overdue`` lists the loan's installments due on or before ``business_date`` with principal
    unpaid (including one falling due today). Order: (1) if an installment falls due today its
    unpaid principal becomes overdue and the position rolls to ``next_period``; (2) penalty for
    the day on every overdue installment; (3) the day's interest in the (possibly new) period;
    (4) days past due, bucket, class. A period's accrual days are ``[start, due)``.
    """
    d = business_date.toordinal()
    overdue_principal = pos.overdue_principal
    oldest = pos.oldest_unpaid_due
    fell_due = d == pos.period_due
    if fell_due:
        unpaid = pos.period_principal - pos.period_paid_principal
        unpaid_interest = pos.period_interest - pos.period_paid_interest
        if unpaid > 0:
            overdue_principal += unpaid
        if (unpaid > 0 or unpaid_interest > 0) and oldest == 0:
            oldest = pos.period_due
        if next_period is not None:
            pos = roll_period(pos, next_period)
    penalty = sum(
        penalty_through(
            o.unpaid_principal, pos.penalty_rate_ppm, d - o.due + 1, pos.penalty_day_basis
        )
        - penalty_through(
            o.unpaid_principal, pos.penalty_rate_ppm, d - o.due, pos.penalty_day_basis
        )
        for o in overdue
        if o.due <= d
    )
    elapsed = min(max(d - pos.period_start + 1, 0), pos.period_days)
    target = round_half_up_div(pos.period_interest * elapsed, pos.period_days)
    interest = max(target - pos.period_accrued, 0)
    dpd = d - oldest if oldest else 0
    new = replace(
        pos,
        interest_receivable=pos.interest_receivable + interest,
        penalty_receivable=pos.penalty_receivable + penalty,
        period_accrued=pos.period_accrued + interest,
        overdue_principal=overdue_principal,
        oldest_unpaid_due=oldest,
        dpd=dpd,
        class_code=policy.classify(dpd),
        bucket=policy.bucket(dpd),
    )
    return DayResult(new, interest, penalty, fell_due)


def roll_period(pos: Position, nxt: NextPeriod) -> Position:
    """Move a position to its next scheduled period after a due date."""
    return replace(
        pos,
        period_start=nxt.start,
        period_days=nxt.days,
        period_due=nxt.due,
        period_interest=nxt.interest,
        period_accrued=0,
        period_principal=nxt.principal,
        period_paid_principal=0,
        period_paid_interest=0,
    )


VECTOR = "vector"
REPLAY = "replay"


def closing_path(compound_overdue_interest: bool, state: LoanState) -> str:
    """``"vector"`` when the integer arithmetic above closes the loan exactly, else ``"replay"``:
    compound interest, or any fee on a regular installment (per-period or charged fees)."""
    if compound_overdue_interest or any(i.fee for i in state.installments if i.n > 0):
        return REPLAY
    return VECTOR
