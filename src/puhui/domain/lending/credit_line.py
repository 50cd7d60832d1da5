"""Revolving credit line (随借随还): drawdown and repayment within an approved limit (R-10.3);
the limit is the one the credit decision granted (R-9.3 limits).

A :class:`CreditLine` is its terms and immutable transactions; nothing else is stored.
``state(as_of)`` replays the live transactions in (value date, id) order; an accrual run closes
its day (it sorts after that day's movements, and no movement may be dated on or before it). A
command returns the new line, the transactions it created or changed and balanced journal
entries. A reversal replays every later transaction; one whose booking changes gets a new
version ("swap the old entry, post the new one"), so the GL equals ``current_journal()``.

**Accrual rule** — exact in between, rounded once per line when read:

* Day ``d`` ends with each drawdown ``k``'s unpaid principal ``P_k(d)`` (after the movements
  dated ``d``). Drawn on ``v_k``, it is due on ``due_k = v_k + term_days_per_drawdown``. On days
  ``d < due_k`` its principal bears contract interest; from ``due_k`` on it bears penalty interest
  (罚息) at ``annual_rate x (1 + penalty_uplift)`` *instead* (the 罚息 rate is the contract rate
  raised by the uplift, not an extra charge on top of it). Nothing is compounded.
* ``I(n) = Σ_{d<=n} Σ_{k: d<due_k} P_k(d)`` and ``Q(n) = Σ_{d<=n} Σ_{k: d>=due_k} P_k(d)`` are
  exact principal-days. Interest accrued through day ``n`` is
  ``quantize(I(n) x annual_rate / days_in_year)``, penalty
  ``quantize(Q(n) x annual_rate x (1 + penalty_uplift) / days_in_year)``: one HALF_UP rounding of
  a quotient taken to 60 digits, when read. Splitting the days into accrual runs never changes a
  total, and rounded totals never decrease. Drawn on day 0, repaid on day 10: days 0..9 bear
  interest (算头不算尾). Unpaid = accrued - paid.
* **Drawdown fee** (手续费, optional): ``quantize(amount x drawdown_fee_rate) + drawdown_fee`` per
  drawdown, recognised on the drawdown (fee receivable / fee income) and collected by
  repayments in the order penalty → fee → interest → principal. It bears no interest.
* Paid on ``due_k + j``: ``j`` days of penalty. Days past due at the end of day ``n`` is
  ``max(n - due_k)`` over drawdowns with principal unpaid and ``due_k <= n``. Penalty and interest
  are paid before principal, so once the principal is repaid nothing else is owed.

**Journal** (the loan scheme of ``transactions.postings_of``):

================  ==========================================================================
DRAWDOWN          Dr principal receivable / Cr clearing; a drawdown fee: Dr fee receivable /
                  Cr fee income
INTEREST_ACCRUAL  Dr interest (penalty) receivable / Cr interest (penalty) income: accrued to
                  date and not yet recognised
REPAYMENT         first recognise what is paid but not yet accrued (Dr receivable / Cr income),
                  then Dr clearing / Cr principal, interest, penalty and fee receivable
================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from puhui.domain.errors import Conflict, DomainError, NotFound, ValidationError
from puhui.domain.lending import delinquency as dq
from puhui.domain.lending.allocation import DEFAULT_ORDER, EXACT, allocate
from puhui.domain.lending.ledger import Account, JournalEntry, Posting
from puhui.domain.lending.terms import MAX_RATE
from puhui.domain.lending.transactions import ZERO, Allocation
from puhui.domain.money import CNY, Currency, quantize

__all__ = [
    "CreditLine",
    "CreditLineTerms",
    "DrawdownState",
    "LineChange",
    "LineState",
    "LineStatus",
    "LineTransaction",
    "LineTransactionType",
]

DAY: Final = timedelta(days=1)
NIL: Final = Decimal(0)
MAX_DRAWDOWN_FEE_RATE: Final = Decimal("0.1")


def _invalid(message: str, code: str, **details: object) -> ValidationError:
    return ValidationError(message, code=f"credit_line.{code}", details=dict(details))


def _conflict(message: str, code: str, **details: object) -> Conflict:
    return Conflict(message, code=f"credit_line.{code}", details=dict(details))


def _is_amount(value: object, cur: Currency) -> bool:
    """A positive finite Decimal in whole minor units (分)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    return value > 0 and quantize(value, cur) == value


def _is_decimal(value: object, low: Decimal, high: Decimal | None = None) -> bool:
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    return low <= value and (high is None or value <= high)


@dataclass(frozen=True)
class CreditLineTerms:
    """The approved revolving limit (授信额度, R-9.3) and how drawdowns are priced and repaid
    (R-10.3). ``annual_rate`` is a fraction (0.073 = 7.3 %); each drawdown is due
    ``term_days_per_drawdown`` days after it is drawn; none is allowed after ``expires_on``."""

    limit: Decimal
    annual_rate: Decimal
    opened_on: date
    expires_on: date
    days_in_year: int = 360
    min_drawdown: Decimal = Decimal("100.00")
    term_days_per_drawdown: int = 90
    penalty_uplift: Decimal = Decimal("0.5")
    drawdown_fee_rate: Decimal = NIL  # a fraction of each drawdown (0.005 = 0.5 %)
    drawdown_fee: Decimal = NIL  # a flat amount per drawdown
    currency: Currency = CNY

    def __post_init__(self) -> None:
        if not isinstance(self.currency, Currency):
            raise _invalid("currency is a Currency such as CNY", "invalid_currency")
        term, cur, limit = self.term_days_per_drawdown, self.currency, self.limit
        dated = isinstance(self.opened_on, date) and isinstance(self.expires_on, date)
        limit_ok = _is_amount(limit, cur)
        min_ok = limit_ok and _is_amount(self.min_drawdown, cur) and self.min_drawdown <= limit
        for ok, rule, code in (
            (limit_ok, "limit is a positive amount in 分", "invalid_limit"),
            (_is_decimal(self.annual_rate, NIL, MAX_RATE), "annual_rate is 0-10", "invalid_rate"),
            (dated and self.expires_on > self.opened_on, "expiry after opening", "invalid_dates"),
            (self.days_in_year in (360, 365), "days_in_year is 360 or 365", "invalid_day_basis"),
            (min_ok, "min_drawdown is within the limit", "invalid_min_drawdown"),
            (type(term) is int and term >= 1, "term_days_per_drawdown >= 1", "invalid_term_days"),
            (_is_decimal(self.penalty_uplift, NIL), "penalty_uplift >= 0", "invalid_uplift"),
            (
                _is_decimal(self.drawdown_fee_rate, NIL, MAX_DRAWDOWN_FEE_RATE),
                "drawdown_fee_rate is 0-0.1",
                "invalid_drawdown_fee",
            ),
            (
                self.drawdown_fee == 0 or _is_amount(self.drawdown_fee, cur),
                "drawdown_fee is zero or an amount in 分",
                "invalid_drawdown_fee",
            ),
        ):
            if not ok:
                raise _invalid(rule, code)

    def fee_on(self, amount: Decimal) -> Decimal:
        """The fee charged on a drawdown of ``amount``."""
        rated = quantize(EXACT.multiply(amount, self.drawdown_fee_rate), self.currency)
        return rated + self.drawdown_fee

    @property
    def penalty_rate(self) -> Decimal:
        """The annual 罚息 rate: contract rate x (1 + uplift)."""
        return EXACT.multiply(self.annual_rate, EXACT.add(1, self.penalty_uplift))


class LineStatus(StrEnum):
    """Derived from the replayed position in one place (``_Replay.snapshot``), never set:
    OVERDUE while days past due > 0, else CLOSED once expired with nothing owed, else ACTIVE."""

    ACTIVE = "active"
    OVERDUE = "overdue"  # some drawdown's principal is unpaid after its due date
    CLOSED = "closed"  # expired and nothing owed


class LineTransactionType(StrEnum):
    DRAWDOWN = "drawdown"
    REPAYMENT = "repayment"
    INTEREST_ACCRUAL = "interest_accrual"  # interest and penalty recognised through its date


T = LineTransactionType


@dataclass(frozen=True)
class LineTransaction:
    """One money movement of a line; immutable (a correction reverses it).

    ``allocation``: a drawdown's principal; a repayment's penalty, interest, principal; an
    accrual's newly recognised interest and penalty (derived on replay, like its ``amount``).
    ``recognised``: income a repayment recognises because it was paid before it was accrued.
    ``settles``: the principal a repayment paid per drawdown id, oldest first (FIFO).
    ``version`` grows each time a replay changes the booking.
    """

    id: int
    type: LineTransactionType
    value_date: date
    amount: Decimal
    allocation: Allocation = ZERO
    reversed: bool = False
    recognised: Allocation = ZERO
    settles: tuple[tuple[int, Decimal], ...] = ()
    version: int = 1

    @property
    def is_accrual(self) -> bool:
        return self.type is T.INTEREST_ACCRUAL

    def same_booking(self, other: LineTransaction) -> bool:
        """Whether the two post the same journal entry."""
        mine = (self.amount, self.allocation, self.recognised)
        return mine == (other.amount, other.allocation, other.recognised)

    def journal(self, line_ref: str, cur: Currency) -> JournalEntry | None:
        """The balanced entry this posts (table in the module docstring); None if it moves
        no money."""
        a, r, acc = self.allocation, self.recognised, Account
        recognise = [
            (acc.INTEREST_RECEIVABLE, acc.INTEREST_INCOME, r.interest),
            (acc.PENALTY_RECEIVABLE, acc.PENALTY_INCOME, r.penalty),
        ]
        moves = {
            T.DRAWDOWN: [
                (acc.PRINCIPAL_RECEIVABLE, acc.CLEARING, a.principal),
                (acc.FEE_RECEIVABLE, acc.FEE_INCOME, a.fee),
            ],
            T.INTEREST_ACCRUAL: [
                (acc.INTEREST_RECEIVABLE, acc.INTEREST_INCOME, a.interest),
                (acc.PENALTY_RECEIVABLE, acc.PENALTY_INCOME, a.penalty),
            ],
            T.REPAYMENT: [
                *recognise,
                (acc.CLEARING, acc.PRINCIPAL_RECEIVABLE, a.principal),
                (acc.CLEARING, acc.INTEREST_RECEIVABLE, a.interest),
                (acc.CLEARING, acc.PENALTY_RECEIVABLE, a.penalty),
                (acc.CLEARING, acc.FEE_RECEIVABLE, a.fee),
            ],
        }[self.type]
        postings = tuple(Posting(dr, cr, amount, cur) for dr, cr, amount in moves if amount > 0)
        ref, what = f"{line_ref}/t{self.id}v{self.version}", f"{self.type} #{self.id}"
        return JournalEntry(ref, line_ref, self.value_date, postings, what) if postings else None


@dataclass(frozen=True)
class DrawdownState:
    """One drawdown at the end of the as-of date."""

    id: int
    drawn_on: date
    due_on: date
    amount: Decimal
    principal_repaid: Decimal
    days_past_due: int

    @property
    def principal_outstanding(self) -> Decimal:
        return self.amount - self.principal_repaid


@dataclass(frozen=True)
class LineState:
    """A line's position at the end of ``as_of``, derived by replay (R-10.3, R-9.3).

    ``available = limit - principal_outstanding``. ``interest_accrued`` and ``penalty_accrued``
    run since opening (rounded once); ``*_outstanding`` are those minus what was paid.
    ``subledger`` holds the debit-normal balances ``ledger.reconcile`` checks against the GL
    (receivables: recognised and not yet paid).
    """

    as_of: date
    status: LineStatus
    limit: Decimal
    principal_outstanding: Decimal
    available: Decimal
    interest_outstanding: Decimal
    penalty_outstanding: Decimal
    fee_outstanding: Decimal
    interest_accrued: Decimal
    penalty_accrued: Decimal
    drawn: Decimal
    repaid: Allocation
    days_past_due: int
    bucket: dq.DelinquencyBucket
    line_class: dq.LoanClass
    drawdowns: tuple[DrawdownState, ...]
    subledger_balances: tuple[tuple[Account, Decimal], ...]

    @property
    def total_owed(self) -> Decimal:
        return (
            self.principal_outstanding
            + self.interest_outstanding
            + self.penalty_outstanding
            + self.fee_outstanding
        )

    def subledger(self) -> dict[Account, Decimal]:
        return dict(self.subledger_balances)


def _days(first: date, last: date) -> int:
    """How many days ``[first, last]`` holds (0 when empty)."""
    return max((last - first).days + 1, 0)


@dataclass
class _Draw:
    id: int
    drawn_on: date
    due_on: date
    amount: Decimal
    repaid: Decimal = NIL

    @property
    def unpaid(self) -> Decimal:
        return self.amount - self.repaid

    def days_past_due(self, day: date) -> int:
        return (day - self.due_on).days if self.unpaid > 0 and self.due_on <= day else 0


class _Replay:
    """Working state while transactions are replayed; never leaves this module."""

    def __init__(self, terms: CreditLineTerms) -> None:
        self.terms, self.draws = terms, list[_Draw]()
        self.through = terms.opened_on - DAY  # principal-days counted through the end of this day
        self.interest_days = self.penalty_days = self.drawn = NIL  # I(n), Q(n): exact sums
        self.fees = NIL  # drawdown fees charged (recognised when charged)
        self.paid = self.rec = ZERO  # paid by the customer; recognised in the GL

    def close_through(self, day: date) -> None:
        """End the days after ``through`` up to ``day`` (no movement falls among them)."""
        first = self.through + DAY
        for d in self.draws if day >= first else ():
            normal, late = _days(first, min(day, d.due_on - DAY)), _days(max(first, d.due_on), day)
            self.interest_days = EXACT.add(self.interest_days, EXACT.multiply(d.unpaid, normal))
            self.penalty_days = EXACT.add(self.penalty_days, EXACT.multiply(d.unpaid, late))
        self.through = max(self.through, day)

    def owed(self) -> Allocation:
        """Principal unpaid; interest and penalty accrued (each rounded once) minus paid."""
        t = self.terms

        def read(principal_days: Decimal, rate: Decimal, paid: Decimal) -> Decimal:
            accrued = EXACT.divide(EXACT.multiply(principal_days, rate), t.days_in_year)
            return quantize(accrued, t.currency) - paid

        return Allocation(
            principal=sum((d.unpaid for d in self.draws), NIL),
            interest=read(self.interest_days, t.annual_rate, self.paid.interest),
            penalty=read(self.penalty_days, t.penalty_rate, self.paid.penalty),
            fee=self.fees - self.paid.fee,
        )

    def days_past_due(self, day: date) -> int:
        return max((d.days_past_due(day) for d in self.draws), default=0)

    def catch_up(self, target: Allocation) -> Allocation:
        """Recognise interest and penalty up to ``target``; returns what is newly recognised."""
        gap = Allocation(
            interest=max(target.interest - self.rec.interest, NIL),
            penalty=max(target.penalty - self.rec.penalty, NIL),
        )
        self.rec += gap
        return gap

    def apply(self, txn: LineTransaction) -> LineTransaction:
        self.close_through(txn.value_date if txn.is_accrual else txn.value_date - DAY)
        if txn.type is T.DRAWDOWN:
            return self._drawdown(txn)
        if txn.type is T.REPAYMENT:
            return self._repayment(txn)
        got = self.catch_up(self.owed() + self.paid)  # accrued to date
        return replace(txn, amount=got.total, allocation=got)

    def _drawdown(self, txn: LineTransaction) -> LineTransaction:
        t, on, amount = self.terms, txn.value_date, txn.amount
        available = t.limit - self.owed().principal
        if on > t.expires_on:
            raise _conflict("the line has expired", "expired", expires_on=str(t.expires_on))
        if amount < t.min_drawdown:
            raise _invalid("below the minimum drawdown", "below_minimum", min=str(t.min_drawdown))
        if (dpd := self.days_past_due(on)) > 0:
            raise _conflict("a drawdown is overdue", "overdue_blocked", days_past_due=dpd)
        if amount > available:
            raise _conflict("over the available limit", "over_limit", available=str(available))
        self.draws.append(_Draw(txn.id, on, on + timedelta(t.term_days_per_drawdown), amount))
        self.drawn += amount
        fee = t.fee_on(amount)
        self.fees += fee
        return replace(txn, allocation=Allocation(principal=amount, fee=fee))

    def _repayment(self, txn: LineTransaction) -> LineTransaction:
        owed = self.owed()
        if txn.amount > owed.total:
            raise _invalid("more than is owed", "overpayment", owed=str(owed.total))
        ((_, part),), _ = allocate(txn.amount, [(0, owed)], DEFAULT_ORDER)  # penalty first
        left, settles = part.principal, list[tuple[int, Decimal]]()
        for d in self.draws:  # FIFO: the oldest drawdown first
            if (take := min(left, d.unpaid)) > 0:
                d.repaid, left = d.repaid + take, left - take
                settles.append((d.id, take))
        self.paid += part
        recognised = self.catch_up(self.paid)
        return replace(txn, allocation=part, recognised=recognised, settles=tuple(settles))

    def snapshot(self, as_of: date, line: CreditLine) -> LineState:
        """The position, and the status: the one place it is decided."""
        t, owed, dpd, held = (
            self.terms,
            self.owed(),
            self.days_past_due(as_of),
            self.rec - self.paid,
        )
        status = LineStatus.OVERDUE if dpd > 0 else LineStatus.ACTIVE
        if status is LineStatus.ACTIVE and as_of > t.expires_on and owed.total == 0:
            status = LineStatus.CLOSED
        return LineState(
            as_of=as_of,
            status=status,
            limit=t.limit,
            principal_outstanding=owed.principal,
            available=max(t.limit - owed.principal, NIL),
            interest_outstanding=owed.interest,
            penalty_outstanding=owed.penalty,
            fee_outstanding=owed.fee,
            interest_accrued=owed.interest + self.paid.interest,
            penalty_accrued=owed.penalty + self.paid.penalty,
            drawn=self.drawn,
            repaid=self.paid,
            days_past_due=dpd,
            bucket=dq.bucket_of(dpd, line.buckets),
            line_class=dq.classify(dpd, line.classification),
            drawdowns=tuple(
                DrawdownState(
                    d.id, d.drawn_on, d.due_on, d.amount, d.repaid, d.days_past_due(as_of)
                )
                for d in self.draws
            ),
            subledger_balances=(
                (Account.PRINCIPAL_RECEIVABLE, owed.principal),
                (Account.INTEREST_RECEIVABLE, held.interest),
                (Account.PENALTY_RECEIVABLE, held.penalty),
                (Account.FEE_RECEIVABLE, owed.fee),
                (Account.CLEARING, self.paid.total - self.drawn),
            ),
        )


def _order(txn: LineTransaction) -> tuple[date, int, int]:
    return (txn.value_date, 1 if txn.is_accrual else 0, txn.id)


@dataclass(frozen=True)
class LineChange:
    """What a command did: the new line, the transactions it created or changed, and the
    journal entries to post (new postings, reversals and re-postings)."""

    line: CreditLine
    transactions: tuple[LineTransaction, ...]
    journal: tuple[JournalEntry, ...]


@dataclass(frozen=True)
class CreditLine:
    """A revolving credit line (随借随还, R-10.3): terms and transactions; figures by replay."""

    id: int
    terms: CreditLineTerms
    transactions: tuple[LineTransaction, ...] = ()
    classification: dq.ClassificationPolicy = dq.DEFAULT_CLASSIFICATION
    buckets: dq.BucketPolicy = dq.DEFAULT_BUCKETS

    @property
    def ref(self) -> str:
        return f"credit-line-{self.id}"

    # -- queries ----------------------------------------------------------------------------------
    def state(self, as_of: date) -> LineState:
        """The position at the end of ``as_of``; transactions dated later are ignored."""
        replay = self._replay(self.transactions, until=(as_of, 2, 0))[0]
        replay.close_through(as_of)
        return replay.snapshot(as_of, self)

    def owed(self, on: date) -> Allocation:
        """The most a repayment on ``on`` may pay: penalty and interest accrued through the day
        before, and all principal drawn (including drawdowns made earlier on ``on``)."""
        replay = self._replay(self.transactions, until=(on, 1, 0))[0]
        replay.close_through(on - DAY)
        return replay.owed()

    def current_journal(self) -> tuple[JournalEntry, ...]:
        """The entries of the live transactions' current versions: the GL net of corrections."""
        entries = (t.journal(self.ref, self.terms.currency) for t in self._live())
        return tuple(e for e in entries if e is not None)

    # -- commands ---------------------------------------------------------------------------------
    def draw(self, amount: Decimal, on: date) -> LineChange:
        """Draw within the available limit (R-10.3, R-9.3); refused below the minimum, over the
        limit, after expiry, while a drawdown is overdue, or out of date order."""
        return self._record(T.DRAWDOWN, on, self._amount(amount))

    def repay(self, amount: Decimal, on: date) -> LineChange:
        """Repay at most ``owed(on)``: penalty, interest, then principal, oldest drawdown first."""
        return self._record(T.REPAYMENT, on, self._amount(amount))

    def accrue(self, through: date) -> LineChange:
        """Recognise interest and penalty accrued through the end of ``through`` (later money
        movements must be dated after it); a run through a date already run adds nothing."""
        if any(t.is_accrual and t.value_date >= through for t in self._live()):
            return LineChange(self, (), ())
        return self._record(T.INTEREST_ACCRUAL, through, NIL)

    def reverse(self, transaction_id: int, on: date) -> LineChange:
        """Reverse a drawdown or repayment on ``on`` and replay every later transaction; refused
        (``credit_line.replay_conflict``) when one no longer fits, e.g. a later drawdown would
        exceed the limit."""
        txn = next((t for t in self.transactions if t.id == transaction_id), None)
        if txn is None:
            raise NotFound("no such transaction", code="credit_line.transaction_not_found")
        if txn.reversed:
            raise _conflict("the transaction is already reversed", "already_reversed")
        if txn.is_accrual:
            raise _conflict("an accrual run cannot be reversed", "not_reversible")
        if on < txn.value_date:
            raise _invalid("a reversal cannot predate its transaction", "reversal_before_txn")
        txns = [replace(t, reversed=True) if t.id == txn.id else t for t in self.transactions]
        return self._commit(txns, None, on)

    # -- machinery --------------------------------------------------------------------------------
    def _live(self) -> list[LineTransaction]:
        return [t for t in self.transactions if not t.reversed]

    def _amount(self, amount: Decimal) -> Decimal:
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise _invalid("an amount is a finite Decimal, never a float", "invalid_amount")
        if amount <= 0:
            raise _invalid("the amount must be positive", "non_positive_amount")
        if quantize(amount, self.terms.currency) != amount:
            raise _invalid("the amount has a fraction of the smallest unit", "invalid_amount")
        return amount

    def _record(self, kind: LineTransactionType, on: date, amount: Decimal) -> LineChange:
        """Append a transaction: dated on or after the line opens and the last live transaction,
        and (a money movement) after the last accrual run."""
        live = self._live()
        last = max((t.value_date for t in live), default=self.terms.opened_on)
        closed = max((t.value_date for t in live if t.is_accrual), default=None)
        if on < max(last, self.terms.opened_on) or (
            kind is not T.INTEREST_ACCRUAL and closed is not None and on <= closed
        ):
            raise _invalid("transactions are recorded in date order", "date_out_of_order")
        txn = LineTransaction(
            max((t.id for t in self.transactions), default=0) + 1, kind, on, amount
        )
        return self._commit([*self.transactions, txn], txn.id, on)

    def _replay(
        self,
        txns: Sequence[LineTransaction],
        until: tuple[date, int, int] | None = None,
        primary: int | None = None,
    ) -> tuple[_Replay, dict[int, LineTransaction]]:
        """Replay ``txns``; only the ``primary`` (new) one may be refused with its own code."""
        replay, done = _Replay(self.terms), {}
        for txn in sorted(txns, key=_order):
            if until is not None and _order(txn) >= until:
                break
            try:
                done[txn.id] = txn if txn.reversed else replay.apply(txn)
            except DomainError as err:
                if txn.id == primary:
                    raise
                raise _conflict(
                    "a later transaction no longer fits; reverse it first",
                    "replay_conflict",
                    transaction_id=txn.id,
                    cause=err.code,
                ) from err
        return replay, done

    def _commit(self, txns: list[LineTransaction], new: int | None, on: date) -> LineChange:
        """Replay ``txns`` and post what changed: a new transaction its entry at its value date;
        one just reversed its entry swapped on ``on``; one whose booking changed the next version
        (old entry swapped, new one posted, on ``max(value date, on)``)."""
        done = self._replay(txns, primary=new)[1]
        cur, before = self.terms.currency, {t.id: t for t in self.transactions}
        kept, changed, journal = [], [], []
        for now in (done[t.id] for t in sorted(txns, key=lambda t: t.id)):
            old = before.get(now.id)
            entries = [(now, now.value_date, False)]  # (version, posted on, swapped)
            if old is not None and now == old:
                kept.append(old)
                continue
            if old is not None and now.reversed:
                entries = [(old, on, True)]
            elif old is not None and old.same_booking(now):
                entries = []
            elif old is not None:
                now = replace(now, version=old.version + 1)
                entries = [
                    (old, max(old.value_date, on), True),
                    (now, max(old.value_date, on), False),
                ]
            for version, when, swapped in entries:
                if (entry := version.journal(self.ref, cur)) is not None:
                    rev = entry.reversal(f"{entry.entry_ref}/rev", when)
                    journal.append(rev if swapped else replace(entry, value_date=when))
            kept.append(now)
            changed.append(now)
        return LineChange(replace(self, transactions=tuple(kept)), tuple(changed), tuple(journal))
