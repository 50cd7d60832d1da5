"""General-ledger primitives: transfers, balanced entries, trial balance, reconciliation
(R-10.2(e))."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.lending.ledger import (
    Account,
    Difference,
    JournalEntry,
    JournalLine,
    Posting,
    TrialBalance,
    reconcile,
)
from puhui.domain.money import JPY

A = Account
DAY = date(2024, 3, 1)


def entry(ref: str, *postings: tuple[Account, Account, str]) -> JournalEntry:
    """A journal entry written as (debit, credit, amount) transfers."""
    return JournalEntry(
        ref, "loan-1", DAY, tuple(Posting(dr, cr, Decimal(amt)) for dr, cr, amt in postings)
    )


# --- chart of accounts -------------------------------------------------------------------------


def test_every_account_has_a_unique_code_and_chinese_name() -> None:
    codes = [a.code for a in Account]
    assert len(set(codes)) == len(codes)
    assert all(a.label_zh and a.label_en for a in Account)
    assert A.PRINCIPAL_RECEIVABLE.label_zh == "贷款-本金"
    assert A.PENALTY_RECEIVABLE.label_zh == "应收罚息"
    assert A.RECOVERIES.label_zh == "核销后收回"


def test_only_the_written_off_memo_pair_is_off_balance() -> None:
    assert {a for a in Account if a.off_balance} == {
        A.WRITTEN_OFF_PRINCIPAL,
        A.OFF_BALANCE_CONTRA,
    }


# --- postings and entries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0"), "ledger.non_positive_amount"),
        (Decimal("-1.00"), "ledger.non_positive_amount"),
        (Decimal("0.001"), "ledger.not_quantized"),
        (Decimal("NaN"), "ledger.invalid_amount"),
        (1.5, "ledger.invalid_amount"),
    ],
)
def test_a_posting_moves_a_positive_whole_number_of_fen(amount: object, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        Posting(A.CLEARING, A.PRINCIPAL_RECEIVABLE, amount)  # type: ignore[arg-type]
    assert err.value.code == code


def test_a_posting_needs_two_accounts() -> None:
    with pytest.raises(ValidationError) as err:
        Posting(A.CLEARING, A.CLEARING, Decimal("1.00"))
    assert err.value.code == "ledger.same_account"


def test_a_posting_is_quantized_in_its_currency() -> None:
    assert Posting(A.CLEARING, A.FEE_INCOME, Decimal("100"), JPY).amount == 100
    with pytest.raises(ValidationError):
        Posting(A.CLEARING, A.FEE_INCOME, Decimal("100.50"), JPY)


def test_an_entry_needs_postings_in_one_currency() -> None:
    with pytest.raises(ValidationError) as err:
        JournalEntry("e", "loan-1", DAY, ())
    assert err.value.code == "ledger.empty_entry"
    mixed = (
        Posting(A.CLEARING, A.FEE_INCOME, Decimal("1.00")),
        Posting(A.CLEARING, A.FEE_INCOME, Decimal("1"), JPY),
    )
    with pytest.raises(ValidationError) as err:
        JournalEntry("e", "loan-1", DAY, mixed)
    assert err.value.code == "ledger.currency_mismatch"


def test_lines_show_a_repayment_as_an_accountant_reads_it() -> None:
    repayment = entry(
        "r1",
        (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, "4.17"),  # interest paid before accrual
        (A.CLEARING, A.PRINCIPAL_RECEIVABLE, "8194.84"),
        (A.CLEARING, A.INTEREST_RECEIVABLE, "304.17"),
    )
    assert repayment.lines() == (
        JournalLine(A.PRINCIPAL_RECEIVABLE, Decimal(0), Decimal("8194.84")),
        JournalLine(A.INTEREST_RECEIVABLE, Decimal("4.17"), Decimal("304.17")),
        JournalLine(A.INTEREST_INCOME, Decimal(0), Decimal("4.17")),
        JournalLine(A.CLEARING, Decimal("8499.01"), Decimal(0)),
    )
    lines = repayment.lines()
    assert sum(x.debit for x in lines) == sum(x.credit for x in lines) == Decimal("8503.18")


def test_a_reversal_swaps_every_posting() -> None:
    original = entry("d1", (A.PRINCIPAL_RECEIVABLE, A.CLEARING, "1000.00"))
    undo = original.reversal("d1/rev", date(2024, 3, 5))
    assert undo.postings == (Posting(A.CLEARING, A.PRINCIPAL_RECEIVABLE, Decimal("1000.00")),)
    assert undo.value_date == date(2024, 3, 5)
    assert undo.description == "reversal of d1"
    tb = TrialBalance.of([original, undo])
    assert all(row.balance == 0 for row in tb.rows)


# --- trial balance and reconciliation ------------------------------------------------------------

BOOK = [
    entry("disburse", (A.PRINCIPAL_RECEIVABLE, A.CLEARING, "100000.00")),
    entry("accrue", (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, "304.17")),
    entry(
        "repay",
        (A.CLEARING, A.PRINCIPAL_RECEIVABLE, "8194.84"),
        (A.CLEARING, A.INTEREST_RECEIVABLE, "304.17"),
    ),
]


def test_trial_balance_of_a_small_book() -> None:
    tb = TrialBalance.of(BOOK)
    assert tb.balanced
    assert tb.total_debit == tb.total_credit == Decimal("108803.18")
    assert tb.balance(A.PRINCIPAL_RECEIVABLE) == Decimal("91805.16")
    assert tb.balance(A.INTEREST_RECEIVABLE) == 0
    assert tb.balance(A.INTEREST_INCOME) == Decimal("-304.17")  # credit-normal: negative
    assert tb.balance(A.CLEARING) == Decimal("-91500.99")
    assert tb.balance(A.RECOVERIES) == 0  # never posted


def test_reconcile_lists_each_account_that_disagrees() -> None:
    tb = TrialBalance.of(BOOK)
    agree = {A.PRINCIPAL_RECEIVABLE: Decimal("91805.16"), A.INTEREST_RECEIVABLE: Decimal(0)}
    assert reconcile(agree, tb) == []
    off = {A.PRINCIPAL_RECEIVABLE: Decimal("91805.15"), A.PENALTY_RECEIVABLE: Decimal("1.00")}
    assert reconcile(off, tb) == [
        Difference(A.PRINCIPAL_RECEIVABLE, Decimal("91805.15"), Decimal("91805.16")),
        Difference(A.PENALTY_RECEIVABLE, Decimal("1.00"), Decimal(0)),
    ]
    assert [d.amount for d in reconcile(off, tb)] == [Decimal("-0.01"), Decimal("1.00")]


def test_a_trial_balance_is_in_one_currency() -> None:
    yen = JournalEntry("y", "loan-2", DAY, (Posting(A.CLEARING, A.FEE_INCOME, Decimal(5), JPY),))
    with pytest.raises(ValidationError) as err:
        TrialBalance.of([*BOOK, yen])
    assert err.value.code == "ledger.currency_mismatch"


# --- properties ----------------------------------------------------------------------------------

accounts = st.sampled_from(list(Account))
amounts = st.integers(min_value=1, max_value=10**12).map(lambda fen: Decimal(fen).scaleb(-2))
postings = st.tuples(accounts, accounts, amounts).filter(lambda p: p[0] != p[1])
entries = st.lists(postings, min_size=1, max_size=6).map(
    lambda ps: JournalEntry("e", "loan-1", DAY, tuple(Posting(*p) for p in ps))
)


@given(entries)
def test_every_entry_balances_by_construction(e: JournalEntry) -> None:
    lines = e.lines()
    assert sum(x.debit for x in lines) == sum(x.credit for x in lines)
    assert sum(x.debit for x in lines) == sum(p.amount for p in e.postings)


@given(st.lists(entries, max_size=8))
def test_any_book_has_a_balanced_trial_balance(book: list[JournalEntry]) -> None:
    tb = TrialBalance.of(book)
    assert tb.balanced
    assert sum(row.balance for row in tb.rows) == 0


@given(st.lists(entries, min_size=1, max_size=5))
def test_reversing_every_entry_nets_every_account_to_zero(book: list[JournalEntry]) -> None:
    undone = [e.reversal(f"{e.entry_ref}/rev", DAY) for e in book]
    tb = TrialBalance.of(book + undone)
    assert all(row.balance == 0 for row in tb.rows)
