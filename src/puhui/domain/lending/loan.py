"""The loan aggregate: servicing state derived by replaying transactions (R-10.2(e,f), R-10.3,
R-A5.3).

A :class:`Loan` is its contract (``LoanTerms`` + ``Schedule``), a ``ServicingPolicy`` and its
immutable transactions; nothing else is stored. ``state(as_of)`` replays the live transactions in
value-date order (a day's money movements first, its end-of-day accruals last, then by id). A
command returns a new loan, the transactions it created or changed, and balanced journal entries.
A back-dated transaction or a reversal replays everything after it; each later transaction whose
split changes gets a new version, posted as "reverse the old version, post the new one", so the GL
always equals the journals of the live versions (``Loan.current_journal``).

Choices: interest, penalty or fees paid before they were accrued are recognised by the repayment
itself (its journal first posts Dr receivable / Cr income for that part); a written-off loan stops
accruing and is classified 损失; a partial prepayment pays arrears and interest accrued to date
first and re-schedules the remaining principal with ``generate_schedule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from puhui.domain.errors import Conflict, DomainError, NotFound, ValidationError
from puhui.domain.lending import allocation as owed
from puhui.domain.lending.allocation import Component, Row, ServicingPolicy, allocate, reschedule
from puhui.domain.lending.delinquency import LoanClass, bucket_of, classify
from puhui.domain.lending.ledger import Account, JournalEntry
from puhui.domain.lending.terms import LoanTerms, Schedule
from puhui.domain.lending.transactions import (
    ZERO,
    Allocation,
    LoanEvent,
    LoanState,
    LoanStatus,
    LoanTransaction,
    PrepaymentMode,
    TransactionType,
    journal_of,
    rebook,
    transition,
)
from puhui.domain.money import quantize

__all__ = ["Loan", "LoanChange"]

DAY = timedelta(days=1)
T, S, E = TransactionType, LoanStatus, LoanEvent
_ACCRUING = (S.ACTIVE, S.OVERDUE)
_OFF_BOOKS = (S.APPROVED, S.WRITTEN_OFF, S.CHARGED_OFF)
_RECOVERY_ORDER = (Component.PRINCIPAL, Component.INTEREST, Component.PENALTY, Component.FEE)
NIL = Decimal(0)


def _invalid(message: str, code: str, **details: object) -> ValidationError:
    return ValidationError(message, code=f"loan.{code}", details=dict(details))


def _conflict(message: str, code: str, **details: object) -> Conflict:
    return Conflict(message, code=f"loan.{code}", details=dict(details))


def _order(txn: LoanTransaction) -> tuple[date, int, int]:
    return (txn.value_date, 1 if txn.is_accrual else 0, txn.id)


class _Replay:
    """Working state while transactions are replayed; never leaves this module."""

    def __init__(self, loan: Loan) -> None:
        self.loan, self.terms, self.policy = loan, loan.terms, loan.policy
        rate = loan.policy.penalty_rate(loan.terms.annual_rate)
        self.rows = Row.from_schedule(loan.schedule, rate, loan.policy.penalty_day_basis)
        self.status = S.APPROVED
        self.closed_through: date | None = None  # penalty counted through the end of this day
        self.written_off = self.recovered = self.charged_off = ZERO

    def close_through(self, day: date) -> None:
        """Let the days after ``closed_through`` up to ``day`` pass: penalty accrues (exact)."""
        if self.closed_through is None or day <= self.closed_through:
            return
        if self.status in _ACCRUING:
            compound = self.policy.compound_overdue_interest
            first = self.closed_through + DAY
            owed.accrue_penalty(self.rows, first, day, compound)
        self.closed_through = day

    def age(self, day: date) -> None:
        dpd = owed.days_past_due(self.rows, day)
        if self.status is S.ACTIVE and dpd > 0:
            self.status = transition(self.status, E.FALL_OVERDUE)
        elif self.status is S.OVERDUE and dpd == 0:
            self.status = transition(self.status, E.CURE)

    def apply(self, txn: LoanTransaction) -> LoanTransaction:
        if self.closed_through is not None:  # a day's money moves before its end-of-day accrual
            self.close_through(txn.value_date if txn.is_accrual else txn.value_date - DAY)
        done = getattr(self, f"_{txn.type.value}")(txn)  # one handler per TransactionType
        assert isinstance(done, LoanTransaction)
        if self.status in _ACCRUING:
            self.age(txn.value_date)
        return done

    def _disbursement(self, txn: LoanTransaction) -> LoanTransaction:
        if txn.value_date != self.terms.disbursement_date:
            raise _invalid(
                "a loan is disbursed on its contract's disbursement date",
                "disbursement_date_mismatch",
                expected=self.terms.disbursement_date.isoformat(),
            )
        self.status = transition(self.status, E.DISBURSE)
        self.closed_through = txn.value_date - DAY
        upfront = self.loan.schedule.upfront_fees
        for row in self.rows:
            if row.n == 0:  # upfront fees: due, and recognised, at disbursement
                row.rec = Allocation(fee=row.fee)
        part = Allocation(principal=self.terms.principal, fee=upfront)
        return replace(txn, amount=self.terms.principal, allocation=part)

    def _repayable(self) -> None:
        if self.status not in _ACCRUING:
            raise _conflict(f"a loan that is {self.status} cannot be repaid", "not_repayable")

    def _pay(self, parts: Sequence[tuple[int, Allocation]]) -> tuple[Allocation, Allocation]:
        rows = {r.n: r for r in self.rows}
        paid = recognised = ZERO
        for n, part in parts:
            recognised += rows[n].pay(part)
            paid += part
        return paid, recognised

    def _close_if_settled(self) -> Allocation:
        """Close when nothing is left, waiving a residual within the closing tolerance."""
        if sum((r.unpaid().total for r in self.rows), NIL) > self.policy.closing_tolerance:
            return ZERO
        waived = sum((r.waive_rest() for r in self.rows), ZERO)
        self.status = transition(self.status, E.REPAY_IN_FULL)
        return waived

    def dues(self, on: date) -> list[tuple[int, Allocation]]:
        """What a repayment on ``on`` may pay: arrears, and the next installment if allowed."""
        dues = owed.arrears(self.rows, on)
        ahead = next((r for r in self.rows if r.due_date > on), None)
        if self.policy.repay_ahead and ahead is not None and ahead.owes:
            dues.append((ahead.n, ahead.unpaid()))
        return dues

    def _repayment(self, txn: LoanTransaction) -> LoanTransaction:
        self._repayable()
        dues = self.dues(txn.value_date)
        due = sum((a.total for _, a in dues), NIL)
        if txn.amount > due:
            raise _invalid(
                "the repayment is more than is due; prepay instead",
                "overpayment",
                due=str(due),
            )
        policy = self.policy
        parts, _ = allocate(txn.amount, dues, policy.allocation_order, policy.allocation_strategy)
        paid, recognised = self._pay(parts)
        return replace(txn, allocation=paid, recognised=recognised, waived=self._close_if_settled())

    def _prepayment(self, txn: LoanTransaction) -> LoanTransaction:
        self._repayable()
        on, amount = txn.value_date, txn.amount
        arrears = owed.arrears(self.rows, on)
        at = next((i for i, r in enumerate(self.rows) if r.due_date > on), len(self.rows))
        current = self.rows[at] if at < len(self.rows) else None
        now = current.settlement(on) if current is not None else ZERO
        first_dues = sum((a.total for _, a in arrears), now.interest + now.fee)
        principal = sum((r.principal - r.paid.principal for r in self.rows[at:]), NIL)
        payoff = first_dues + principal
        if amount > payoff:
            raise _invalid(
                "the prepayment is more than the payoff", "overpayment", payoff=str(payoff)
            )
        if txn.mode is None and amount != payoff:
            raise _conflict("the full prepayment no longer pays the loan off", "prepayment_short")
        if amount < payoff and amount <= first_dues:
            raise _invalid(
                "a prepayment pays arrears and interest to date, then reduces principal",
                "prepayment_too_small",
                needed_more_than=str(first_dues),
            )
        paid, recognised = self._pay(arrears)
        if current is not None:
            part = Allocation(amount - first_dues, now.interest, NIL, now.fee)
            next_due, later = current.due_date, self.rows[at + 1 :]
            current.settle_early(on, part)
            recognised += current.pay(part)
            paid += part
            self.rows = self.rows[: at + 1]
            if (left := principal - part.principal) > 0:
                assert txn.mode is not None
                schedule, mode = self.loan.schedule, txn.mode
                self.rows += reschedule(schedule, current, next_due, later, left, on, mode)
        return replace(txn, allocation=paid, recognised=recognised, waived=self._close_if_settled())

    def _interest_accrual(self, txn: LoanTransaction) -> LoanTransaction:
        got = ZERO
        if self.status in _ACCRUING:
            got = sum((r.recognise_contract(txn.value_date) for r in self.rows), ZERO)
        return replace(txn, amount=got.total, allocation=got)

    def _penalty_accrual(self, txn: LoanTransaction) -> LoanTransaction:
        got = ZERO
        if self.status in _ACCRUING:
            got = sum((r.recognise_penalty() for r in self.rows), ZERO)
        return replace(txn, amount=got.total, allocation=got)

    def _fee_charge(self, txn: LoanTransaction) -> LoanTransaction:
        if self.status not in _ACCRUING:
            raise _conflict(f"no fee can be charged to a loan that is {self.status}", "not_active")
        row = next((r for r in self.rows if r.due_date >= txn.value_date), self.rows[-1])
        row.charge(txn.amount)
        return replace(txn, allocation=Allocation(fee=txn.amount))

    def _write_off(self, txn: LoanTransaction) -> LoanTransaction:
        claim, carried = owed.payoff(self.rows, txn.value_date), owed.carried(self.rows)
        self.status = transition(self.status, E.WRITE_OFF)
        self.written_off = claim
        return replace(txn, amount=claim.total, allocation=claim, waived=carried)

    def _recovery(self, txn: LoanTransaction) -> LoanTransaction:
        if self.status is not S.WRITTEN_OFF:
            raise _conflict("only a written-off loan has recoveries", "not_recoverable")
        claim = self.written_off - self.recovered
        if txn.amount > claim.total:
            raise _invalid(
                "the recovery is more than the claim", "overpayment", claim=str(claim.total)
            )
        ((_, part),), _ = allocate(txn.amount, [(0, claim)], _RECOVERY_ORDER)
        self.recovered += part
        return replace(txn, allocation=part)

    def _charge_off(self, txn: LoanTransaction) -> LoanTransaction:
        self.status = transition(self.status, E.CHARGE_OFF)
        self.charged_off = Allocation(self.written_off.principal - self.recovered.principal)
        return replace(txn, amount=self.charged_off.total, allocation=self.charged_off)

    def snapshot(self, as_of: date) -> LoanState:
        books = self.status not in _OFF_BOOKS
        rows = tuple(r.state(as_of) for r in self.rows)
        due = [i.unpaid for i in rows if i.due_date <= as_of] if books else []
        ahead = [i for i in rows if i.due_date > as_of] if books else []
        dpd = owed.days_past_due(self.rows, as_of) if self.status is not S.APPROVED else 0
        held = owed.carried(self.rows) if books else ZERO
        memo = self.written_off - self.recovered - self.charged_off
        paid = sum((i.paid for i in rows), ZERO)
        lent = NIL if self.status is S.APPROVED else self.terms.principal
        written_off = self.status in (S.WRITTEN_OFF, S.CHARGED_OFF)
        return LoanState(
            as_of=as_of,
            status=self.status,
            installments=rows,
            principal_outstanding=held.principal,
            interest_outstanding=sum((u.interest for u in due), NIL),
            interest_accrued_not_due=sum(
                (max(i.accrued_interest - i.paid.interest, NIL) for i in ahead), NIL
            ),
            penalty_outstanding=sum((i.unpaid.penalty for i in rows), NIL) if books else NIL,
            fee_outstanding=sum((u.fee for u in due), NIL),
            principal_repaid=paid.principal,
            days_past_due=dpd,
            bucket=bucket_of(dpd, self.policy.buckets),
            loan_class=LoanClass.LOSS if written_off else classify(dpd, self.policy.classification),
            written_off=self.written_off,
            recovered=self.recovered,
            subledger_balances=(
                (Account.PRINCIPAL_RECEIVABLE, held.principal),
                (Account.INTEREST_RECEIVABLE, held.interest),
                (Account.PENALTY_RECEIVABLE, held.penalty),
                (Account.FEE_RECEIVABLE, held.fee),
                (Account.CLEARING, paid.total + self.recovered.total - lent),
                (Account.WRITTEN_OFF_PRINCIPAL, memo.principal),
            ),
        )


@dataclass(frozen=True)
class LoanChange:
    """What a command did: the new loan, the transactions it created or re-versioned, and the
    journal entries to post (new postings, reversals and re-postings)."""

    loan: Loan
    transactions: tuple[LoanTransaction, ...]
    journal: tuple[JournalEntry, ...]


@dataclass(frozen=True)
class Loan:
    """A loan: contract, servicing policy and transactions; every figure is derived by replay."""

    id: int
    terms: LoanTerms
    schedule: Schedule
    policy: ServicingPolicy = ServicingPolicy()
    transactions: tuple[LoanTransaction, ...] = ()

    def __post_init__(self) -> None:
        if self.schedule.terms != self.terms:
            raise _invalid("the schedule was made from other terms", "schedule_terms_mismatch")
        if self.schedule.total_principal != self.terms.principal:
            raise _invalid("the schedule does not repay the principal", "schedule_principal")
        if len({t.id for t in self.transactions}) != len(self.transactions):
            raise _invalid("transaction ids must be unique", "duplicate_transaction")

    @property
    def ref(self) -> str:
        return f"loan-{self.id}"

    # -- queries ----------------------------------------------------------------------------------
    def state(self, as_of: date) -> LoanState:
        """The position at the end of ``as_of``; transactions dated later are ignored."""
        replay = self._replay(self.transactions, until=(as_of, 2, 0))[0]
        replay.close_through(as_of)
        if replay.status in _ACCRUING:
            replay.age(as_of)
        return replay.snapshot(as_of)

    def payoff(self, on: date) -> Decimal:
        """A full prepayment on ``on``: arrears with penalty to date, interest accrued to date,
        fees charged and all principal left (zero unless the loan is active or overdue)."""
        replay = self._replay(self.transactions, until=(on, 1, 0))[0]
        if replay.status not in _ACCRUING:
            return NIL
        replay.close_through(on - DAY)
        return owed.payoff(replay.rows, on).total

    def due(self, on: date) -> Decimal:
        """The most ``repay`` accepts on ``on`` (本期应还): arrears with penalty to date, and the
        next installment when the policy lets it be paid ahead."""
        replay = self._replay(self.transactions, until=(on, 1, 0))[0]
        if replay.status not in _ACCRUING:
            return NIL
        replay.close_through(on - DAY)
        return sum((a.total for _, a in replay.dues(on)), NIL)

    def current_journal(self) -> tuple[JournalEntry, ...]:
        """The entries of the live transactions' current versions: the GL net of corrections."""
        live = (t for t in self.transactions if not t.reversed)
        entries = (journal_of(t, self.ref, self.terms.currency) for t in live)
        return tuple(e for e in entries if e is not None)

    # -- commands ---------------------------------------------------------------------------------
    def disburse(self, on: date) -> LoanChange:
        return self._record(T.DISBURSEMENT, on, self.terms.principal)

    def accrue(self, through: date) -> LoanChange:
        """Accrue contract interest (and scheduled fees falling due) and penalty interest through
        the end of ``through``. An accrual run is recorded even when it finds nothing (its
        amounts are derived on every replay); a run through a date already run adds nothing."""
        self._check_date(through)
        live = [t for t in self.transactions if not t.reversed]
        if not any(t.type is T.DISBURSEMENT for t in live):
            raise _conflict("the loan is not disbursed", "not_disbursed")
        if any(t.is_accrual and t.value_date >= through for t in live):
            return LoanChange(self, (), ())
        i = self._next_id()
        kinds = (T.INTEREST_ACCRUAL, T.PENALTY_ACCRUAL)
        new = [LoanTransaction(i + k, kind, through, NIL) for k, kind in enumerate(kinds)]
        return self._commit([*self.transactions, *new], {i, i + 1}, through)

    def repay(self, amount: Decimal, on: date) -> LoanChange:
        """Allocate a repayment by the policy; more than is due is refused (loan.overpayment)."""
        return self._record(T.REPAYMENT, on, self._amount(amount))

    def prepay(
        self, amount: Decimal | None, on: date, mode: PrepaymentMode = PrepaymentMode.REDUCE_TERM
    ) -> LoanChange:
        """提前还款. ``None`` pays ``payoff(on)`` and closes the loan; an amount pays arrears and
        interest to date, and the rest reduces principal, then the term or the installment."""
        if amount is None:
            self._check_date(on)
            return self._record(T.PREPAYMENT, on, self.payoff(on), None)
        return self._record(T.PREPAYMENT, on, self._amount(amount), PrepaymentMode(mode))

    def charge_fee(self, amount: Decimal, on: date) -> LoanChange:
        """Charge a fee; it is collected with the installment due on or after ``on``."""
        return self._record(T.FEE_CHARGE, on, self._amount(amount))

    def write_off(self, on: date) -> LoanChange:
        """核销: the loan leaves the books; the claim is kept off-balance (账销案存)."""
        return self._record(T.WRITE_OFF, on, NIL)

    def recover(self, amount: Decimal, on: date) -> LoanChange:
        """Money recovered after write-off, up to the written-off claim."""
        return self._record(T.RECOVERY, on, self._amount(amount))

    def charge_off(self, on: date) -> LoanChange:
        """Recovery of a written-off loan ends: the off-balance memo is cleared."""
        return self._record(T.CHARGE_OFF, on, NIL)

    def reverse(self, transaction_id: int, on: date) -> LoanChange:
        """Reverse a transaction on ``on`` and replay every later one."""
        txn = next((t for t in self.transactions if t.id == transaction_id), None)
        if txn is None:
            raise NotFound("no such transaction", code="loan.transaction_not_found")
        if txn.reversed:
            raise _conflict("the transaction is already reversed", "already_reversed")
        if txn.type is T.DISBURSEMENT or txn.is_accrual:
            raise _conflict(f"a {txn.type} cannot be reversed", "not_reversible")
        if on < txn.value_date:
            raise _invalid("a reversal cannot predate its transaction", "reversal_before_txn")
        before = self._replay(self.transactions)[0].status
        txns = [replace(t, reversed=True) if t.id == txn.id else t for t in self.transactions]
        change = self._commit(txns, set(), on)
        after = change.loan._replay(change.loan.transactions)[0].status
        if before in (S.CLOSED, S.WRITTEN_OFF, S.CHARGED_OFF) and after is not before:
            transition(before, E.REOPEN)
        return change

    # -- machinery --------------------------------------------------------------------------------
    def _next_id(self) -> int:
        return max((t.id for t in self.transactions), default=0) + 1

    def _check_date(self, on: date) -> None:
        if on < self.terms.disbursement_date:
            raise _invalid("the date is before the disbursement", "date_before_disbursement")

    def _amount(self, amount: Decimal) -> Decimal:
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise _invalid("an amount is a finite Decimal, never a float", "invalid_amount")
        if amount <= 0:
            raise _invalid("the amount must be positive", "non_positive_amount")
        if (exact := quantize(amount, self.terms.currency)) != amount:
            raise _invalid("the amount has a fraction of the smallest unit", "invalid_amount")
        return exact

    def _record(
        self, kind: TransactionType, on: date, amount: Decimal, mode: PrepaymentMode | None = None
    ) -> LoanChange:
        self._check_date(on)
        txn = LoanTransaction(self._next_id(), kind, on, amount, mode=mode)
        return self._commit([*self.transactions, txn], {txn.id}, on)

    def _replay(
        self,
        txns: Sequence[LoanTransaction],
        until: tuple[date, int, int] | None = None,
        primary: frozenset[int] = frozenset(),
    ) -> tuple[_Replay, dict[int, LoanTransaction]]:
        replay, done = _Replay(self), {}
        for txn in sorted(txns, key=_order):
            if until is not None and _order(txn) >= until:
                break
            if txn.reversed:
                done[txn.id] = txn
                continue
            try:
                done[txn.id] = replay.apply(txn)
            except DomainError as err:
                if txn.id in primary:
                    raise
                raise _conflict(
                    "a later transaction no longer fits; reverse it first",
                    "replay_conflict",
                    transaction_id=txn.id,
                    cause=err.code,
                ) from err
        return replay, done

    def _commit(self, txns: list[LoanTransaction], new: set[int], on: date) -> LoanChange:
        done = self._replay(txns, primary=frozenset(new))[1]
        after = [done[t.id] for t in sorted(txns, key=lambda t: t.id)]
        before = {t.id: t for t in self.transactions}
        kept, changed, journal = rebook(before, after, self.ref, self.terms.currency, on)
        return LoanChange(replace(self, transactions=tuple(kept)), tuple(changed), tuple(journal))
