"""Loan status machine, loan transactions and the journal each one posts (R-10.2(e,f), R-A5.3).

A loan's money movements are immutable :class:`LoanTransaction` records; a correction is a
reversal, never an edit (STYLE.md "State and records"). :func:`postings_of` is the one place that
says which accounts a transaction debits and credits:

==================  ==========================================================================
DISBURSEMENT        Dr principal receivable / Cr clearing; upfront fee: Dr fee recv / Cr fee income
INTEREST_ACCRUAL    Dr interest receivable / Cr interest income; scheduled fees falling due:
                    Dr fee receivable / Cr fee income
PENALTY_ACCRUAL     Dr penalty receivable / Cr penalty income
FEE_CHARGE          Dr fee receivable / Cr fee income
REPAYMENT,          first recognise what was paid but not yet accrued (Dr X receivable /
PREPAYMENT          Cr X income), then Dr clearing / Cr each receivable by the allocation; a
                    residual waived within the closing tolerance is removed like a write-off
WRITE_OFF           Dr write-off expense / Cr principal receivable; accrued unpaid interest,
                    penalty, fees reversed (Dr income / Cr receivable);
                    memo Dr 已核销贷款 / Cr contra
RECOVERY            Dr clearing / Cr recoveries; memo Dr contra / Cr 已核销贷款 (principal part)
CHARGE_OFF          memo Dr contra / Cr 已核销贷款 (the claim left when recovery ends)
==================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from puhui.domain.errors import Conflict
from puhui.domain.lending.delinquency import DelinquencyBucket, LoanClass
from puhui.domain.lending.ledger import Account, JournalEntry, Posting
from puhui.domain.money import Currency

__all__ = [
    "ACCRUALS",
    "ZERO",
    "Allocation",
    "InstallmentState",
    "LoanEvent",
    "LoanState",
    "LoanStatus",
    "LoanTransaction",
    "PrepaymentMode",
    "TransactionType",
    "journal_of",
    "postings_of",
    "rebook",
    "transition",
]


class LoanStatus(StrEnum):
    APPROVED = "approved"
    ACTIVE = "active"
    OVERDUE = "overdue"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"  # 核销: off the books, case kept open (账销案存)
    CHARGED_OFF = "charged_off"  # recovery ended: the off-balance memo is cleared


class LoanEvent(StrEnum):
    DISBURSE = "disburse"
    FALL_OVERDUE = "fall_overdue"
    CURE = "cure"
    REPAY_IN_FULL = "repay_in_full"
    WRITE_OFF = "write_off"
    CHARGE_OFF = "charge_off"
    REOPEN = "reopen"  # a reversal undoes what closed, wrote off or charged off the loan


S, E = LoanStatus, LoanEvent
_TRANSITIONS: dict[tuple[LoanStatus, LoanEvent], LoanStatus] = {
    (S.APPROVED, E.DISBURSE): S.ACTIVE,
    (S.ACTIVE, E.FALL_OVERDUE): S.OVERDUE,
    (S.OVERDUE, E.CURE): S.ACTIVE,
    (S.ACTIVE, E.REPAY_IN_FULL): S.CLOSED,
    (S.OVERDUE, E.REPAY_IN_FULL): S.CLOSED,
    (S.ACTIVE, E.WRITE_OFF): S.WRITTEN_OFF,
    (S.OVERDUE, E.WRITE_OFF): S.WRITTEN_OFF,
    (S.WRITTEN_OFF, E.CHARGE_OFF): S.CHARGED_OFF,
    (S.CLOSED, E.REOPEN): S.ACTIVE,
    (S.WRITTEN_OFF, E.REOPEN): S.ACTIVE,
    (S.CHARGED_OFF, E.REOPEN): S.WRITTEN_OFF,
}


def transition(status: LoanStatus, event: LoanEvent) -> LoanStatus:
    """The one status machine of a loan; an illegal move raises ``loan.illegal_transition``."""
    try:
        return _TRANSITIONS[(LoanStatus(status), LoanEvent(event))]
    except KeyError:
        raise Conflict(
            f"a loan that is {status} cannot {event}",
            code="loan.illegal_transition",
            details={"status": str(status), "event": str(event)},
        ) from None


class TransactionType(StrEnum):
    DISBURSEMENT = "disbursement"
    REPAYMENT = "repayment"
    PREPAYMENT = "prepayment"
    INTEREST_ACCRUAL = "interest_accrual"
    PENALTY_ACCRUAL = "penalty_accrual"
    FEE_CHARGE = "fee_charge"
    WRITE_OFF = "write_off"
    RECOVERY = "recovery"
    CHARGE_OFF = "charge_off"


ACCRUALS = frozenset({TransactionType.INTEREST_ACCRUAL, TransactionType.PENALTY_ACCRUAL})


class PrepaymentMode(StrEnum):
    """What a partial prepayment (部分提前还款) shortens: the term or the installment."""

    REDUCE_TERM = "reduce_term"  # 缩短期限, installment kept
    REDUCE_INSTALLMENT = "reduce_installment"  # 减少月供, maturity kept


@dataclass(frozen=True)
class Allocation:
    """An amount split by component: principal, interest, penalty (罚息), fee."""

    principal: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    penalty: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty + self.fee

    def __add__(self, other: Allocation) -> Allocation:
        return Allocation(
            self.principal + other.principal,
            self.interest + other.interest,
            self.penalty + other.penalty,
            self.fee + other.fee,
        )

    def __sub__(self, other: Allocation) -> Allocation:
        return Allocation(
            self.principal - other.principal,
            self.interest - other.interest,
            self.penalty - other.penalty,
            self.fee - other.fee,
        )


ZERO = Allocation()


@dataclass(frozen=True)
class LoanTransaction:
    """One money movement of a loan; immutable (a correction reverses it).

    ``amount`` is the money received or booked; for accruals, write-off and charge-off it is
    derived when the transactions are replayed. ``recognised`` is income recognised by this
    transaction because it was paid before it was accrued; ``waived`` is what it took off the
    books (write-off, or a residual within the closing tolerance). ``version`` grows each time a
    replay changes the split, and each version posts its own journal entry.
    """

    id: int
    type: TransactionType
    value_date: date
    amount: Decimal
    allocation: Allocation = ZERO
    reversed: bool = False
    mode: PrepaymentMode | None = None
    recognised: Allocation = ZERO
    waived: Allocation = ZERO
    version: int = 1

    @property
    def is_accrual(self) -> bool:
        return self.type in ACCRUALS

    def same_booking(self, other: LoanTransaction) -> bool:
        """Whether the two would post the same journal entry."""
        return (self.amount, self.allocation, self.recognised, self.waived) == (
            other.amount,
            other.allocation,
            other.recognised,
            other.waived,
        )


A = Account
_RECEIVABLE_INCOME = (
    ("interest", A.INTEREST_RECEIVABLE, A.INTEREST_INCOME),
    ("penalty", A.PENALTY_RECEIVABLE, A.PENALTY_INCOME),
    ("fee", A.FEE_RECEIVABLE, A.FEE_INCOME),
)


def postings_of(txn: LoanTransaction, currency: Currency) -> tuple[Posting, ...]:
    """The double-entry transfers of ``txn`` (see the table in the module docstring)."""
    out: list[Posting] = []

    def post(debit: Account, credit: Account, amount: Decimal) -> None:
        if amount > 0:
            out.append(Posting(debit, credit, amount, currency))

    def recognise(parts: Allocation) -> None:
        for name, receivable, income in _RECEIVABLE_INCOME:
            post(receivable, income, getattr(parts, name))

    def take_off_books(parts: Allocation) -> None:
        post(A.WRITE_OFF_EXPENSE, A.PRINCIPAL_RECEIVABLE, parts.principal)
        for name, receivable, income in _RECEIVABLE_INCOME:
            post(income, receivable, getattr(parts, name))

    a = txn.allocation
    match txn.type:
        case TransactionType.DISBURSEMENT:
            post(A.PRINCIPAL_RECEIVABLE, A.CLEARING, a.principal)
            post(A.FEE_RECEIVABLE, A.FEE_INCOME, a.fee)
        case TransactionType.INTEREST_ACCRUAL | TransactionType.PENALTY_ACCRUAL:
            recognise(a)
        case TransactionType.FEE_CHARGE:
            post(A.FEE_RECEIVABLE, A.FEE_INCOME, a.fee)
        case TransactionType.REPAYMENT | TransactionType.PREPAYMENT:
            recognise(txn.recognised)
            post(A.CLEARING, A.PRINCIPAL_RECEIVABLE, a.principal)
            for name, receivable, _ in _RECEIVABLE_INCOME:
                post(A.CLEARING, receivable, getattr(a, name))
            take_off_books(txn.waived)
        case TransactionType.WRITE_OFF:
            take_off_books(txn.waived)
            post(A.WRITTEN_OFF_PRINCIPAL, A.OFF_BALANCE_CONTRA, a.principal)
        case TransactionType.RECOVERY:
            post(A.CLEARING, A.RECOVERIES, txn.amount)
            post(A.OFF_BALANCE_CONTRA, A.WRITTEN_OFF_PRINCIPAL, a.principal)
        case TransactionType.CHARGE_OFF:
            post(A.OFF_BALANCE_CONTRA, A.WRITTEN_OFF_PRINCIPAL, a.principal)
    return tuple(out)


def entry_ref(loan_ref: str, txn: LoanTransaction) -> str:
    return f"{loan_ref}/t{txn.id}v{txn.version}"


def journal_of(txn: LoanTransaction, loan_ref: str, currency: Currency) -> JournalEntry | None:
    """The journal entry ``txn`` posts at its value date, or None when it moves no money."""
    postings = postings_of(txn, currency)
    if not postings:
        return None
    return JournalEntry(
        entry_ref(loan_ref, txn), loan_ref, txn.value_date, postings, f"{txn.type} #{txn.id}"
    )


def rebook(
    before: Mapping[int, LoanTransaction],
    after: Sequence[LoanTransaction],
    loan_ref: str,
    currency: Currency,
    booked_on: date,
) -> tuple[list[LoanTransaction], list[LoanTransaction], list[JournalEntry]]:
    """Post what a replay changed (R-10.2(e)): ``before`` are the transactions as they were,
    ``after`` the same ones (and any new ones) as replayed, in id order.

    A new transaction posts its entry at its value date; one just reversed posts its entry
    swapped on ``booked_on``; one whose split changed gets the next version: its old entry is
    swapped and the new one posted on ``max(value date, booked_on)``. Returns (all
    transactions, those changed, journal).
    """
    kept: list[LoanTransaction] = []
    changed: list[LoanTransaction] = []
    journal: list[JournalEntry] = []

    def undo(old: LoanTransaction, when: date) -> None:
        entry = journal_of(old, loan_ref, currency)
        if entry is not None:
            journal.append(entry.reversal(f"{entry.entry_ref}/rev", when))

    def post(new: LoanTransaction, when: date) -> None:
        entry = journal_of(new, loan_ref, currency)
        if entry is not None:
            journal.append(replace(entry, value_date=when))

    for now in after:
        old = before.get(now.id)
        if old is None:
            post(now, now.value_date)
        elif now.reversed and not old.reversed:
            undo(old, booked_on)
        elif old.reversed or old.same_booking(now):
            kept.append(old)
            continue
        else:
            now = replace(now, version=old.version + 1)
            when = max(old.value_date, booked_on)
            undo(old, when)
            post(now, when)
        kept.append(now)
        changed.append(now)
    return kept, changed, journal


@dataclass(frozen=True)
class InstallmentState:
    """One installment as of a date: contractual amounts (penalty accrued so far) and payments."""

    n: int  # 0 holds the upfront fees, due at disbursement
    from_date: date
    due_date: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    penalty: Decimal
    paid: Allocation
    accrued_interest: Decimal  # contract interest accrued through the as-of date

    @property
    def due(self) -> Allocation:
        return Allocation(self.principal, self.interest, self.penalty, self.fee)

    @property
    def unpaid(self) -> Allocation:
        return self.due - self.paid

    @property
    def settled(self) -> bool:
        return self.unpaid.total == 0


@dataclass(frozen=True)
class LoanState:
    """A loan's servicing position at the end of ``as_of``, derived by replay (R-10.2(f)).

    Outstanding amounts are what the loan still carries on the books (zero once written off;
    the claim is then ``written_off - recovered``). ``interest_outstanding`` and
    ``fee_outstanding`` cover installments already due; interest of the running period is
    ``interest_accrued_not_due``. ``subledger`` holds debit-normal account balances that
    :func:`~puhui.domain.lending.ledger.reconcile` checks against the GL.
    """

    as_of: date
    status: LoanStatus
    installments: tuple[InstallmentState, ...]
    principal_outstanding: Decimal
    interest_outstanding: Decimal
    interest_accrued_not_due: Decimal
    penalty_outstanding: Decimal
    fee_outstanding: Decimal
    principal_repaid: Decimal
    days_past_due: int
    bucket: DelinquencyBucket
    loan_class: LoanClass
    written_off: Allocation
    recovered: Allocation
    subledger_balances: tuple[tuple[Account, Decimal], ...]

    @property
    def total_outstanding(self) -> Decimal:
        return (
            self.principal_outstanding
            + self.interest_outstanding
            + self.penalty_outstanding
            + self.fee_outstanding
        )

    @property
    def is_npl(self) -> bool:
        return self.loan_class.is_npl

    def subledger(self) -> dict[Account, Decimal]:
        return dict(self.subledger_balances)
