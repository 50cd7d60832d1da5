"""General-ledger primitives for loan accounting (R-10.2(e) booking and accounting, R-A5.3).

Double entry is written as **transfers**: a :class:`Posting` moves one positive amount from a
credited account to a debited one, so every :class:`JournalEntry` (a tuple of postings) is
balanced by construction. ``JournalEntry.lines()`` shows the same entry the way an accountant
reads it (per account: debit, credit), and checks again that the two sides agree.

Balances are debit-normal: ``balance = debit - credit``. Receivables show a positive balance,
income and recoveries a negative one. The off-balance pair (已核销贷款 and its contra) keeps the
"write off the books, keep the case open" memo (账销案存, REFERENCE §7 [P]) in double entry too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from puhui.domain.errors import ValidationError
from puhui.domain.money import CNY, Currency, quantize

__all__ = [
    "Account",
    "Difference",
    "JournalEntry",
    "JournalLine",
    "Posting",
    "TrialBalance",
    "TrialBalanceRow",
    "reconcile",
]


class Account(StrEnum):
    """The loan chart of accounts. Codes follow the 企业会计准则 chart (banks' subset)."""

    PRINCIPAL_RECEIVABLE = "principal_receivable"
    INTEREST_RECEIVABLE = "interest_receivable"
    PENALTY_RECEIVABLE = "penalty_receivable"
    FEE_RECEIVABLE = "fee_receivable"
    INTEREST_INCOME = "interest_income"
    PENALTY_INCOME = "penalty_income"
    FEE_INCOME = "fee_income"
    SUSPENSE = "suspense"
    CLEARING = "clearing"
    WRITE_OFF_EXPENSE = "write_off_expense"
    RECOVERIES = "recoveries"
    WRITTEN_OFF_PRINCIPAL = "written_off_principal"  # off-balance memo
    OFF_BALANCE_CONTRA = "off_balance_contra"  # off-balance memo's other side

    @property
    def code(self) -> str:
        return _CHART[self][0]

    @property
    def label_zh(self) -> str:
        return _CHART[self][1]

    @property
    def label_en(self) -> str:
        return _CHART[self][2]

    @property
    def off_balance(self) -> bool:
        return self in (Account.WRITTEN_OFF_PRINCIPAL, Account.OFF_BALANCE_CONTRA)


_CHART: Mapping[Account, tuple[str, str, str]] = MappingProxyType(
    {
        Account.PRINCIPAL_RECEIVABLE: ("130301", "贷款-本金", "Loans: principal receivable"),
        Account.INTEREST_RECEIVABLE: ("113201", "应收利息", "Interest receivable"),
        Account.PENALTY_RECEIVABLE: ("113202", "应收罚息", "Penalty interest receivable"),
        Account.FEE_RECEIVABLE: ("122101", "应收费用", "Fees receivable"),
        Account.INTEREST_INCOME: ("601101", "利息收入-贷款利息", "Interest income"),
        Account.PENALTY_INCOME: ("601102", "利息收入-罚息", "Penalty interest income"),
        Account.FEE_INCOME: ("602101", "手续费收入", "Fee income"),
        Account.SUSPENSE: ("224101", "暂收款项(挂账)", "Suspense"),
        Account.CLEARING: ("300101", "资金清算", "Clearing"),
        Account.WRITE_OFF_EXPENSE: ("670101", "资产减值损失-贷款核销", "Loan write-off expense"),
        Account.RECOVERIES: ("630101", "核销后收回", "Recoveries after write-off"),
        Account.WRITTEN_OFF_PRINCIPAL: ("710101", "已核销贷款(表外)", "Written-off loans (memo)"),
        Account.OFF_BALANCE_CONTRA: ("710199", "表外对转科目", "Off-balance contra (memo)"),
    }
)


def _money(amount: object, currency: Currency, what: str) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(f"{what} must be a finite Decimal", code="ledger.invalid_amount")
    if quantize(amount, currency) != amount:
        raise ValidationError(
            f"{what} has a fraction of the smallest unit", code="ledger.not_quantized"
        )
    return amount


@dataclass(frozen=True)
class Posting:
    """A transfer of ``amount`` (> 0, whole minor units): debit one account, credit another."""

    debit: Account
    credit: Account
    amount: Decimal
    currency: Currency = CNY

    def __post_init__(self) -> None:
        if _money(self.amount, self.currency, "a posting amount") <= 0:
            raise ValidationError(
                "a posting amount must be positive", code="ledger.non_positive_amount"
            )
        if self.debit == self.credit:
            raise ValidationError(
                "a posting needs two different accounts", code="ledger.same_account"
            )

    def swapped(self) -> Posting:
        """The posting that undoes this one (a reversal)."""
        return Posting(self.credit, self.debit, self.amount, self.currency)


@dataclass(frozen=True)
class JournalLine:
    """One account's side of a journal entry, as an accountant reads it."""

    account: Account
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True)
class JournalEntry:
    """A balanced journal entry for one loan (R-10.2(e)); immutable once posted."""

    entry_ref: str
    loan_ref: str
    value_date: date
    postings: tuple[Posting, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.postings:
            raise ValidationError("a journal entry needs postings", code="ledger.empty_entry")
        if len({p.currency for p in self.postings}) != 1:
            raise ValidationError(
                "a journal entry is in one currency", code="ledger.currency_mismatch"
            )
        lines = self.lines()
        debits = sum((line.debit for line in lines), Decimal(0))
        credits = sum((line.credit for line in lines), Decimal(0))
        if debits != credits:  # pragma: no cover - impossible with transfers; kept as a guard
            raise ValidationError("debits and credits differ", code="ledger.unbalanced")

    @property
    def currency(self) -> Currency:
        return self.postings[0].currency

    def lines(self) -> tuple[JournalLine, ...]:
        """Per-account debit and credit totals, in chart order."""
        debit: dict[Account, Decimal] = {}
        credit: dict[Account, Decimal] = {}
        for p in self.postings:
            debit[p.debit] = debit.get(p.debit, Decimal(0)) + p.amount
            credit[p.credit] = credit.get(p.credit, Decimal(0)) + p.amount
        return tuple(
            JournalLine(a, debit.get(a, Decimal(0)), credit.get(a, Decimal(0)))
            for a in Account
            if a in debit or a in credit
        )

    def reversal(self, entry_ref: str, value_date: date, description: str = "") -> JournalEntry:
        """The entry that undoes this one: the same postings with debit and credit swapped."""
        return JournalEntry(
            entry_ref,
            self.loan_ref,
            value_date,
            tuple(p.swapped() for p in self.postings),
            description or f"reversal of {self.entry_ref}",
        )


@dataclass(frozen=True)
class TrialBalanceRow:
    account: Account
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit minus credit."""
        return self.debit - self.credit


@dataclass(frozen=True)
class TrialBalance:
    """Per-account debit and credit totals over a set of journal entries."""

    rows: tuple[TrialBalanceRow, ...]
    _by_account: Mapping[Account, TrialBalanceRow] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_account", {r.account: r for r in self.rows})

    @classmethod
    def of(cls, entries: Iterable[JournalEntry]) -> TrialBalance:
        debit: dict[Account, Decimal] = {}
        credit: dict[Account, Decimal] = {}
        currencies: set[Currency] = set()
        for entry in entries:
            currencies.add(entry.currency)
            for line in entry.lines():
                debit[line.account] = debit.get(line.account, Decimal(0)) + line.debit
                credit[line.account] = credit.get(line.account, Decimal(0)) + line.credit
        if len(currencies) > 1:
            raise ValidationError(
                "a trial balance is in one currency", code="ledger.currency_mismatch"
            )
        return cls(tuple(TrialBalanceRow(a, debit[a], credit[a]) for a in Account if a in debit))

    @property
    def total_debit(self) -> Decimal:
        return sum((r.debit for r in self.rows), Decimal(0))

    @property
    def total_credit(self) -> Decimal:
        return sum((r.credit for r in self.rows), Decimal(0))

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit

    def balance(self, account: Account) -> Decimal:
        """The account's debit-minus-credit balance (zero if it was never posted)."""
        row = self._by_account.get(account)
        return row.balance if row is not None else Decimal(0)


@dataclass(frozen=True)
class Difference:
    """An account on which the sub-ledger and the general ledger disagree."""

    account: Account
    subledger: Decimal
    ledger: Decimal

    @property
    def amount(self) -> Decimal:
        """Sub-ledger minus general ledger."""
        return self.subledger - self.ledger


def reconcile(subledger: Mapping[Account, Decimal], gl: TrialBalance) -> list[Difference]:
    """Sub-ledger ↔ GL reconciliation: every account of ``subledger`` whose debit-normal balance
    differs from the trial balance's (R-10.2(e)). An empty list means they agree."""
    return [
        Difference(account, amount, gl.balance(account))
        for account, amount in subledger.items()
        if amount != gl.balance(account)
    ]
