"""The loan aggregate: replayed servicing state, commands and their journals (R-10.2(e,f),
R-10.3, R-A5.3, REFERENCE §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from puhui.domain.errors import Conflict, DomainError, NotFound, ValidationError
from puhui.domain.lending.allocation import (
    AllocationStrategy,
    Component,
    ServicingPolicy,
    allocate,
)
from puhui.domain.lending.delinquency import DelinquencyBucket, LoanClass
from puhui.domain.lending.ledger import Account, JournalEntry, TrialBalance, reconcile
from puhui.domain.lending.loan import Loan, LoanChange
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import Amortization, Fee, FeeKind, LoanTerms
from puhui.domain.lending.transactions import (
    Allocation,
    LoanEvent,
    LoanStatus,
    PrepaymentMode,
    TransactionType,
    transition,
)
from puhui.domain.money import CNY, quantize

A, S, T = Account, LoanStatus, TransactionType
START = date(2024, 1, 15)  # first due 2024-02-15 (31 days), then the 15th of each month
DAY = timedelta(days=1)


# --- builders in the domain's language ---------------------------------------------------------


def a_loan(
    principal: str = "100000",
    rate: str = "0.0365",
    term: int = 12,
    *,
    policy: ServicingPolicy | None = None,
    **terms: Any,
) -> Loan:
    t = LoanTerms(
        principal=Decimal(principal),
        annual_rate=Decimal(rate),
        repayments=term,
        disbursement_date=START,
        **terms,
    )
    return Loan(1, t, generate_schedule(t), policy or ServicingPolicy())


class Books:
    """A loan and every journal entry its commands posted: one loan's GL."""

    def __init__(self, loan: Loan) -> None:
        self.loan = loan
        self.journal: list[JournalEntry] = []

    def __getattr__(self, command: str) -> Callable[..., LoanChange]:
        def run(*args: Any, **kwargs: Any) -> LoanChange:
            change: LoanChange = getattr(self.loan, command)(*args, **kwargs)
            self.loan = change.loan
            self.journal.extend(change.journal)
            return change

        return run

    @property
    def gl(self) -> TrialBalance:
        return TrialBalance.of(self.journal)

    def unreconciled(self, as_of: date) -> list[Any]:
        return reconcile(self.loan.state(as_of).subledger(), self.gl)


def disbursed(loan: Loan | None = None) -> Books:
    books = Books(loan or a_loan())
    books.disburse(START)
    return books


def transfers(entry: JournalEntry) -> list[tuple[Account, Account, Decimal]]:
    return [(p.debit, p.credit, p.amount) for p in entry.postings]


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.code


# --- the status machine ----------------------------------------------------------------------

LEGAL = {
    (S.APPROVED, LoanEvent.DISBURSE): S.ACTIVE,
    (S.ACTIVE, LoanEvent.FALL_OVERDUE): S.OVERDUE,
    (S.OVERDUE, LoanEvent.CURE): S.ACTIVE,
    (S.ACTIVE, LoanEvent.REPAY_IN_FULL): S.CLOSED,
    (S.OVERDUE, LoanEvent.REPAY_IN_FULL): S.CLOSED,
    (S.ACTIVE, LoanEvent.WRITE_OFF): S.WRITTEN_OFF,
    (S.OVERDUE, LoanEvent.WRITE_OFF): S.WRITTEN_OFF,
    (S.WRITTEN_OFF, LoanEvent.CHARGE_OFF): S.CHARGED_OFF,
    (S.CLOSED, LoanEvent.REOPEN): S.ACTIVE,
    (S.WRITTEN_OFF, LoanEvent.REOPEN): S.ACTIVE,
    (S.CHARGED_OFF, LoanEvent.REOPEN): S.WRITTEN_OFF,
}


@pytest.mark.parametrize(("status", "event"), [(s, e) for s in S for e in LoanEvent])
def test_one_transition_function_refuses_every_illegal_move(
    status: LoanStatus, event: LoanEvent
) -> None:
    if (status, event) in LEGAL:
        assert transition(status, event) is LEGAL[(status, event)]
    else:
        with pytest.raises(Conflict) as err:
            transition(status, event)
        assert err.value.code == "loan.illegal_transition"


# --- the life of a loan paid on time ---------------------------------------------------------


def test_a_12_month_equal_installment_loan_paid_on_time_closes_with_zero_balances() -> None:
    books = disbursed()
    schedule = books.loan.schedule
    for period in schedule.periods:
        books.repay(period.total, period.due_date)
        books.accrue(period.due_date)  # end of day, after the day's repayments
    state = books.loan.state(schedule.maturity_date)
    assert state.status is S.CLOSED
    assert state.total_outstanding == 0 and state.interest_accrued_not_due == 0
    assert state.principal_repaid == Decimal("100000")
    assert (state.days_past_due, state.bucket, state.loan_class) == (0, "M0", LoanClass.NORMAL)
    assert all(i.settled for i in state.installments)
    gl = books.gl
    assert gl.balanced and books.unreconciled(schedule.maturity_date) == []
    assert gl.balance(A.PRINCIPAL_RECEIVABLE) == gl.balance(A.INTEREST_RECEIVABLE) == 0
    assert gl.balance(A.INTEREST_INCOME) == -schedule.total_interest == Decimal("-1988.09")
    assert gl.balance(A.CLEARING) == schedule.total_interest  # money in minus money out
    assert code_of(lambda: books.loan.repay(Decimal("1.00"), date(2025, 2, 1))) == (
        "loan.not_repayable"
    )


def test_disbursement_posts_principal_and_upfront_fees() -> None:
    books = Books(a_loan(fees=(Fee(FeeKind.UPFRONT, amount=Decimal("100")),)))
    change = books.disburse(START)
    assert transfers(change.journal[0]) == [
        (A.PRINCIPAL_RECEIVABLE, A.CLEARING, Decimal("100000")),
        (A.FEE_RECEIVABLE, A.FEE_INCOME, Decimal("100.00")),
    ]
    # the upfront fee is due at disbursement: unpaid, it is past due from the next day
    assert books.loan.state(START + DAY).days_past_due == 1
    first = books.repay(Decimal("100.00"), START + DAY).transactions[0]
    assert first.allocation == Allocation(fee=Decimal("100.00"))
    assert books.loan.state(START + DAY).days_past_due == 0


# --- accrual ---------------------------------------------------------------------------------


def test_interest_accrues_day_by_day_across_the_period_and_only_once() -> None:
    books = disbursed()
    first = books.accrue(date(2024, 1, 24))  # 10 of the period's 31 days
    assert first.transactions[0].allocation.interest == Decimal("98.12")  # 304.17 x 10 / 31
    assert transfers(first.journal[0]) == [
        (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, Decimal("98.12"))
    ]
    assert books.loan.state(date(2024, 1, 24)).interest_accrued_not_due == Decimal("98.12")
    again = books.accrue(date(2024, 1, 24))
    assert again.transactions == () and again.journal == ()  # idempotent
    books.accrue(date(2024, 2, 14))  # the last day of the period: all of it
    assert books.gl.balance(A.INTEREST_RECEIVABLE) == Decimal("304.17")
    assert books.accrue(date(2024, 2, 14)).journal == ()


def test_interest_paid_before_it_is_accrued_is_recognised_by_the_repayment() -> None:
    books = disbursed()
    change = books.repay(Decimal("8499.01"), date(2024, 2, 15))
    assert transfers(change.journal[0]) == [
        (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, Decimal("304.17")),
        (A.CLEARING, A.PRINCIPAL_RECEIVABLE, Decimal("8194.84")),
        (A.CLEARING, A.INTEREST_RECEIVABLE, Decimal("304.17")),
    ]
    accrued = books.accrue(date(2024, 2, 15)).transactions[0].allocation
    assert accrued.interest == Decimal("9.63")  # only day 1 of the next period: 279.24 / 29


# --- delinquency -----------------------------------------------------------------------------


def test_a_missed_installment_ages_daily_through_buckets_and_classes() -> None:
    books = disbursed()
    due = date(2024, 2, 15)
    seen = {k: books.loan.state(due + k * DAY) for k in (0, 1, 30, 31, 90, 91)}
    assert [(s.days_past_due, s.bucket) for s in seen.values()] == [
        (0, DelinquencyBucket.M0),
        (1, DelinquencyBucket.M1),
        (30, DelinquencyBucket.M1),
        (31, DelinquencyBucket.M2),
        (90, DelinquencyBucket.M3),
        (91, DelinquencyBucket.M4),
    ]
    assert [s.loan_class.label_zh for s in seen.values()] == [
        "正常", "关注", "关注", "关注", "关注", "次级"
    ]  # fmt: skip
    assert seen[0].status is S.ACTIVE and seen[1].status is S.OVERDUE
    assert seen[91].is_npl
    # paying what is overdue cures the loan
    cured = due + 10 * DAY
    books.repay(books.loan.due(cured) - Decimal("8499.01"), cured)  # arrears, not the next one
    after = books.loan.state(cured)
    assert (after.status, after.days_past_due, after.loan_class) == (S.ACTIVE, 0, "normal")


def test_penalty_interest_for_a_known_case() -> None:
    """10,000 bullet at 3.65 %, paid 10 days late: 10000 x 0.0365 x 1.5 / 360 x 10 = 15.2083."""
    books = disbursed(a_loan("10000", term=1, amortization=Amortization.BULLET))
    assert books.loan.schedule.periods[0].interest == Decimal("30.42")
    late = date(2024, 2, 25)
    assert books.loan.state(late - DAY).penalty_outstanding == Decimal("15.21")
    assert books.loan.payoff(late) == books.loan.due(late) == Decimal("10045.63")
    paid = books.repay(Decimal("10045.63"), late).transactions[0]
    assert paid.allocation == Allocation(Decimal("10000"), Decimal("30.42"), Decimal("15.21"))
    assert books.loan.state(late).status is S.CLOSED
    assert books.unreconciled(late) == []


@pytest.mark.parametrize(("days_late", "penalty"), [(0, "0"), (1, "1.52"), (30, "45.63")])
def test_penalty_runs_from_the_due_date_to_the_day_before_payment(
    days_late: int, penalty: str
) -> None:
    books = disbursed(a_loan("10000", term=1, amortization=Amortization.BULLET))
    on = date(2024, 2, 15) + days_late * DAY
    paid = books.repay(books.loan.due(on), on).transactions[0]
    assert paid.allocation.penalty == Decimal(penalty)


def test_compound_interest_on_overdue_interest_is_a_policy_choice() -> None:
    policy = ServicingPolicy(compound_overdue_interest=True)
    books = disbursed(a_loan("10000", term=1, amortization=Amortization.BULLET, policy=policy))
    # (10000 + 30.42) x 0.0365 x 1.5 / 360 x 10 = 15.2546
    assert books.loan.state(date(2024, 2, 24)).penalty_outstanding == Decimal("15.25")


def test_penalty_accrual_posts_to_penalty_accounts() -> None:
    books = disbursed(a_loan("10000", term=1, amortization=Amortization.BULLET))
    change = books.accrue(date(2024, 2, 24))
    assert [t.type for t in change.transactions] == [T.INTEREST_ACCRUAL, T.PENALTY_ACCRUAL]
    assert transfers(change.journal[1]) == [
        (A.PENALTY_RECEIVABLE, A.PENALTY_INCOME, Decimal("15.21"))
    ]


# --- allocation ------------------------------------------------------------------------------


def test_allocation_pays_penalty_fee_interest_principal_oldest_installment_first() -> None:
    books = disbursed()
    on = date(2024, 3, 25)  # installment 1 is 39 days late, installment 2 is 10 days late
    penalty_to_date = books.loan.state(on - DAY).installments[0].penalty
    paid = books.repay(Decimal("400.00"), on).transactions[0]
    first = books.loan.state(on).installments[0]
    assert paid.allocation.penalty == penalty_to_date  # the oldest installment's penalty first
    assert first.paid.interest == Decimal("304.17")
    assert first.paid.principal == Decimal("400.00") - penalty_to_date - Decimal("304.17")
    assert books.loan.state(on).installments[1].paid.total == 0


def test_component_first_allocation_pays_every_penalty_before_any_interest() -> None:
    policy = ServicingPolicy(allocation_strategy=AllocationStrategy.COMPONENT_FIRST)
    books = disbursed(a_loan(policy=policy))
    on = date(2024, 3, 25)
    owed_first, owed_second = books.loan.state(on - DAY).installments[:2]
    books.repay(Decimal("400.00"), on)
    first, second = books.loan.state(on).installments[:2]
    assert first.paid.penalty == owed_first.penalty > 0
    assert second.paid.penalty == owed_second.penalty > 0
    assert first.paid.principal == 0


def test_repaying_more_than_is_due_is_refused() -> None:
    books = disbursed()
    on = date(2024, 2, 15)
    assert books.loan.due(on) == Decimal("16998.02")  # today's installment and the next
    assert code_of(lambda: books.loan.repay(Decimal("16998.03"), on)) == "loan.overpayment"
    strict = disbursed(a_loan(policy=ServicingPolicy(repay_ahead=False)))
    assert strict.loan.due(on) == Decimal("8499.01")
    assert code_of(lambda: strict.loan.repay(Decimal("8499.02"), on)) == "loan.overpayment"


def test_a_residual_within_the_closing_tolerance_is_waived() -> None:
    books = disbursed(a_loan("1000", term=1, policy=ServicingPolicy(closing_tolerance=Decimal(1))))
    total = books.loan.schedule.periods[0].total
    change = books.repay(total - Decimal("0.50"), date(2024, 2, 15))
    assert change.transactions[0].waived == Allocation(principal=Decimal("0.50"))
    assert (A.WRITE_OFF_EXPENSE, A.PRINCIPAL_RECEIVABLE, Decimal("0.50")) in transfers(
        change.journal[0]
    )
    assert books.loan.state(date(2024, 2, 15)).status is S.CLOSED
    assert books.unreconciled(date(2024, 2, 15)) == []


# --- prepayment ------------------------------------------------------------------------------


def test_full_prepayment_mid_period_pays_interest_accrued_to_date() -> None:
    books = disbursed()
    on = date(2024, 1, 25)  # 10 days: 304.17 x 10 / 31 = 98.12
    assert books.loan.payoff(on) == Decimal("100098.12")
    paid = books.prepay(None, on).transactions[0]
    assert paid.allocation == Allocation(Decimal("100000"), Decimal("98.12"))
    state = books.loan.state(on)
    assert state.status is S.CLOSED and state.total_outstanding == 0
    assert state.principal_repaid == Decimal("100000")
    assert books.unreconciled(on) == []


def after_first_installment() -> Books:
    books = disbursed()
    books.repay(Decimal("8499.01"), date(2024, 2, 15))
    return books


def test_partial_prepayment_reducing_the_term_shortens_the_schedule() -> None:
    books = after_first_installment()
    on = date(2024, 3, 1)
    paid = books.prepay(Decimal("30000"), on, PrepaymentMode.REDUCE_TERM).transactions[0]
    assert paid.allocation.interest == Decimal("144.43")  # 304.17... for 15 days of the period
    state = books.loan.state(on)
    ahead = [i for i in state.installments if i.due_date > on]
    assert ahead[-1].due_date < books.loan.schedule.maturity_date
    assert len(ahead) == 8
    assert max(i.due.total for i in ahead[1:]) <= Decimal("8499.01")
    assert sum(i.principal for i in state.installments) == Decimal("100000")
    assert books.unreconciled(on) == []
    pay_to_the_end(books)


def test_partial_prepayment_reducing_the_installment_keeps_the_maturity() -> None:
    books = after_first_installment()
    on = date(2024, 3, 1)
    books.prepay(Decimal("30000"), on, PrepaymentMode.REDUCE_INSTALLMENT)
    state = books.loan.state(on)
    ahead = [i for i in state.installments if i.due_date > on]
    assert ahead[-1].due_date == books.loan.schedule.maturity_date
    assert len(ahead) == 11
    assert {i.due.total for i in ahead[1:-1]} == {Decimal("5735.08")}  # was 8499.01
    assert state.principal_outstanding == Decimal("100000") - state.principal_repaid
    pay_to_the_end(books)


def pay_to_the_end(books: Books) -> None:
    for i in books.loan.state(START).installments:
        on = max(i.due_date, START)
        if books.loan.due(on):
            books.repay(books.loan.due(on), on)
    end = books.loan.state(START).installments[-1].due_date
    state = books.loan.state(end)
    assert state.status is S.CLOSED and state.principal_repaid == Decimal("100000")
    assert books.gl.balanced and books.unreconciled(end) == []


def test_prepayment_refusals() -> None:
    books = after_first_installment()
    on = date(2024, 3, 1)
    assert code_of(lambda: books.loan.prepay(Decimal("100.00"), on)) == (
        "loan.prepayment_too_small"
    )
    too_much = books.loan.payoff(on) + Decimal("0.01")
    assert code_of(lambda: books.loan.prepay(too_much, on)) == "loan.overpayment"
    bullet = disbursed(a_loan(term=3, amortization=Amortization.INTEREST_ONLY))
    assert code_of(lambda: bullet.loan.prepay(Decimal("5000"), on)) == (
        "loan.reduce_term_unsupported"
    )
    bullet.prepay(Decimal("5000"), on, PrepaymentMode.REDUCE_INSTALLMENT)


# --- write-off and recovery ------------------------------------------------------------------


def test_write_off_then_recovery_and_charge_off_postings() -> None:
    books = disbursed(a_loan("10000", term=1, amortization=Amortization.BULLET))
    books.accrue(date(2024, 9, 1))
    accrued = books.gl
    interest, penalty = (
        accrued.balance(A.INTEREST_RECEIVABLE),
        accrued.balance(A.PENALTY_RECEIVABLE),
    )
    change = books.write_off(date(2024, 9, 2))
    assert transfers(change.journal[0]) == [
        (A.WRITE_OFF_EXPENSE, A.PRINCIPAL_RECEIVABLE, Decimal("10000")),
        (A.INTEREST_INCOME, A.INTEREST_RECEIVABLE, interest),
        (A.PENALTY_INCOME, A.PENALTY_RECEIVABLE, penalty),
        (A.WRITTEN_OFF_PRINCIPAL, A.OFF_BALANCE_CONTRA, Decimal("10000")),
    ]
    state = books.loan.state(date(2024, 9, 2))
    assert (state.status, state.loan_class, state.total_outstanding) == (
        S.WRITTEN_OFF, LoanClass.LOSS, 0
    )  # fmt: skip
    assert state.written_off.principal == Decimal("10000")
    assert code_of(lambda: books.loan.repay(Decimal("1.00"), date(2024, 9, 3))) == (
        "loan.not_repayable"
    )
    change = books.recover(Decimal("3000.00"), date(2024, 10, 1))
    assert transfers(change.journal[0]) == [
        (A.CLEARING, A.RECOVERIES, Decimal("3000.00")),
        (A.OFF_BALANCE_CONTRA, A.WRITTEN_OFF_PRINCIPAL, Decimal("3000.00")),
    ]
    assert code_of(lambda: books.loan.recover(Decimal("99999"), date(2024, 10, 2))) == (
        "loan.overpayment"
    )
    assert books.gl.balance(A.WRITTEN_OFF_PRINCIPAL) == Decimal("7000.00")
    change = books.charge_off(date(2025, 10, 1))
    assert transfers(change.journal[0]) == [
        (A.OFF_BALANCE_CONTRA, A.WRITTEN_OFF_PRINCIPAL, Decimal("7000.00"))
    ]
    assert books.loan.state(date(2025, 10, 1)).status is S.CHARGED_OFF
    assert books.gl.balanced and books.unreconciled(date(2025, 10, 1)) == []
    assert books.gl.balance(A.PRINCIPAL_RECEIVABLE) == 0


def test_recovery_needs_a_written_off_loan() -> None:
    books = disbursed()
    assert code_of(lambda: books.loan.recover(Decimal("1.00"), START)) == "loan.not_recoverable"


# --- reversal --------------------------------------------------------------------------------


def test_reversing_a_repayment_swaps_its_journal_and_replays_later_ones() -> None:
    books = disbursed()
    first = books.repay(Decimal("8499.01"), date(2024, 2, 15))
    books.repay(Decimal("8499.01"), date(2024, 3, 15))
    undo = books.reverse(first.transactions[0].id, date(2024, 3, 20))
    reversed_txn, replayed = undo.transactions
    assert reversed_txn.reversed and replayed.version == 2
    assert undo.journal[0].postings == tuple(p.swapped() for p in first.journal[0].postings)
    assert undo.journal[0].value_date == date(2024, 3, 20)
    # the March money now pays February's installment, with its penalty, first
    assert books.loan.state(date(2024, 3, 20)).installments[0].paid.penalty > 0
    assert books.gl.balanced and books.unreconciled(date(2024, 3, 20)) == []
    assert code_of(lambda: books.loan.reverse(reversed_txn.id, date(2024, 3, 21))) == (
        "loan.already_reversed"
    )


def test_reversing_the_last_repayment_reopens_a_closed_loan() -> None:
    books = disbursed(a_loan("1000", term=1))
    paid = books.repay(books.loan.due(date(2024, 2, 15)), date(2024, 2, 15))
    assert books.loan.state(date(2024, 2, 15)).status is S.CLOSED
    books.reverse(paid.transactions[0].id, date(2024, 2, 16))
    assert books.loan.state(date(2024, 2, 16)).status is S.OVERDUE


def test_what_cannot_be_reversed() -> None:
    books = disbursed()
    books.accrue(date(2024, 1, 20))
    disbursement, accrual, _ = books.loan.transactions  # interest and penalty accrual runs
    assert code_of(lambda: books.loan.reverse(disbursement.id, START)) == "loan.not_reversible"
    assert code_of(lambda: books.loan.reverse(accrual.id, START)) == "loan.not_reversible"
    with pytest.raises(NotFound):
        books.loan.reverse(99, START)
    paid = books.repay(Decimal("10.00"), date(2024, 2, 1)).transactions[0]
    assert code_of(lambda: books.loan.reverse(paid.id, date(2024, 1, 31))) == (
        "loan.reversal_before_txn"
    )


def test_a_back_dated_repayment_replays_the_later_ones() -> None:
    books = disbursed()
    books.accrue(date(2024, 3, 31))
    books.repay(Decimal("8499.01"), date(2024, 3, 31))
    change = books.repay(Decimal("8499.01"), date(2024, 2, 15))  # found later, booked now
    *replayed, new = change.transactions
    assert (new.type, new.version, new.allocation.penalty) == (T.REPAYMENT, 1, 0)
    assert {t.type for t in replayed} == {T.REPAYMENT, T.INTEREST_ACCRUAL, T.PENALTY_ACCRUAL}
    assert all(t.version >= 2 for t in replayed)
    march = next(t for t in replayed if t.type is T.REPAYMENT)
    assert march.allocation.penalty == Decimal("20.00")  # 8219.77 x 0.05475 / 360 x 16 days
    assert books.loan.state(date(2024, 3, 31)).days_past_due == 16  # installment 2, part-paid
    assert books.gl.balanced and books.unreconciled(date(2024, 3, 31)) == []


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_is_refused_with_stable_codes_and_changes_nothing() -> None:
    books = disbursed()
    loan, on = books.loan, date(2024, 2, 15)
    before = loan.state(on)
    refusals = {
        "loan.non_positive_amount": [
            lambda: loan.repay(Decimal("0"), on),
            lambda: loan.repay(Decimal("-5.00"), on),
            lambda: loan.prepay(Decimal("0"), on),
            lambda: loan.recover(Decimal("-1"), on),
            lambda: loan.charge_fee(Decimal("0"), on),
        ],
        "loan.invalid_amount": [
            lambda: loan.repay(100.0, on),  # type: ignore[arg-type]
            lambda: loan.repay(Decimal("1.001"), on),
            lambda: loan.repay(Decimal("NaN"), on),
        ],
        "loan.date_before_disbursement": [
            lambda: loan.repay(Decimal("1.00"), START - DAY),
            lambda: loan.accrue(START - DAY),
            lambda: loan.prepay(None, START - DAY),
            lambda: loan.write_off(START - DAY),
        ],
        "loan.illegal_transition": [lambda: loan.disburse(START)],
        "loan.disbursement_date_mismatch": [lambda: a_loan().disburse(START + DAY)],
        "loan.not_disbursed": [lambda: a_loan().accrue(on)],
        "loan.not_repayable": [lambda: a_loan().repay(Decimal("1.00"), on)],
    }
    for code, calls in refusals.items():
        for call in calls:
            assert code_of(call) == code
    assert books.loan is loan and loan.state(on) == before


def test_a_loan_is_built_from_a_schedule_of_its_own_terms() -> None:
    loan = a_loan()
    other = a_loan(term=6).schedule
    with pytest.raises(ValidationError) as err:
        Loan(2, loan.terms, other)
    assert err.value.code == "loan.schedule_terms_mismatch"


def test_a_fee_charged_is_collected_with_the_next_installment() -> None:
    books = disbursed()
    change = books.charge_fee(Decimal("50"), date(2024, 2, 1))
    assert transfers(change.journal[0]) == [(A.FEE_RECEIVABLE, A.FEE_INCOME, Decimal("50.00"))]
    assert books.loan.state(date(2024, 2, 1)).installments[0].fee == Decimal("50.00")
    paid = books.repay(Decimal("8549.01"), date(2024, 2, 15)).transactions[0]
    assert paid.allocation.fee == Decimal("50.00")


# --- properties ------------------------------------------------------------------------------


def test_allocation_example() -> None:
    dues = [(1, Allocation(Decimal(100), Decimal(10), Decimal(1), Decimal(2)))]
    parts, left = allocate(Decimal(5), dues)
    assert parts == ((1, Allocation(Decimal(0), Decimal(2), Decimal(1), Decimal(2))),)
    assert left == 0


cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))
components = st.builds(Allocation, cents, cents, cents, cents)


@given(
    cents,
    st.lists(components, max_size=5),
    st.permutations(list(Component)),
    st.sampled_from(list(AllocationStrategy)),
)
def test_allocation_never_pays_more_than_is_due(
    amount: Decimal,
    dues_list: list[Allocation],
    order: list[Component],
    strategy: AllocationStrategy,
) -> None:
    dues = list(enumerate(dues_list, start=1))
    parts, left = allocate(amount, dues, order, strategy)
    for (_, part), (_, due) in zip(parts, dues, strict=True):
        for name in ("principal", "interest", "penalty", "fee"):
            assert 0 <= getattr(part, name) <= getattr(due, name)
    assert sum(p.total for _, p in parts) + left == amount
    assert left == 0 or sum(p.total for _, p in parts) == sum(d.total for d in dues_list)


LOANS = st.builds(
    lambda fen, rate, term, kind: a_loan(
        str(Decimal(fen).scaleb(-2)), rate, term, amortization=kind
    ),
    st.integers(min_value=100_00, max_value=500_000_00),
    st.sampled_from(["0", "0.0365", "0.12", "0.24"]),
    st.integers(min_value=1, max_value=6),
    st.sampled_from(list(Amortization)),
)
STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50),
        st.sampled_from(["repay", "repay", "accrue", "prepay", "fee", "reverse", "write_off"]),
        st.integers(min_value=1, max_value=100),
    ),
    max_size=8,
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def share(amount: Decimal, percent: int) -> Decimal:
    return max(quantize(amount * percent / 100, CNY), Decimal("0.01"))


def step(books: Books, kind: str, on: date, percent: int) -> None:
    loan = books.loan
    if kind == "repay":
        books.repay(share(loan.due(on), percent), on)
    elif kind == "accrue":
        books.accrue(on)
    elif kind == "prepay":
        amount = None if percent > 90 else share(loan.payoff(on), percent)
        books.prepay(amount, on, PrepaymentMode.REDUCE_INSTALLMENT)
    elif kind == "fee":
        books.charge_fee(Decimal(percent), on)
    elif kind == "write_off":
        books.write_off(on)
    else:
        live = [t for t in loan.transactions if not t.reversed and t.type in REVERSIBLE]
        if live:
            books.reverse(live[percent % len(live)].id, on)


REVERSIBLE = (T.REPAYMENT, T.PREPAYMENT, T.FEE_CHARGE, T.WRITE_OFF, T.RECOVERY)


def run(books: Books, steps: list[tuple[int, str, int]]) -> date:
    """Apply random servicing; a refused command must change nothing. Returns the last day."""
    on = START
    for gap, kind, percent in steps:
        on += gap * DAY
        loan = books.loan
        try:
            step(books, kind, on, percent)
        except DomainError:
            assert books.loan is loan
    return on


@PROPERTY
@given(LOANS, STEPS)
def test_every_journal_balances_and_the_gl_reconciles_with_the_loan(
    loan: Loan, steps: list[tuple[int, str, int]]
) -> None:
    books = disbursed(loan)
    last = run(books, steps)
    for entry in books.journal:
        lines = entry.lines()
        assert sum(x.debit for x in lines) == sum(x.credit for x in lines)
    gl = books.gl
    assert gl.balanced
    assert books.unreconciled(last) == []
    net = TrialBalance.of(books.loan.current_journal())
    assert {a: gl.balance(a) for a in Account} == {a: net.balance(a) for a in Account}
    state = books.loan.state(last)
    for i in state.installments:  # nothing is ever paid beyond what is due
        for name in ("principal", "interest", "penalty", "fee"):
            assert 0 <= getattr(i.paid, name) <= getattr(i.due, name)
    assert state.principal_repaid <= loan.terms.principal
    if state.status is S.CLOSED:
        assert state.principal_repaid == loan.terms.principal
        assert state.total_outstanding == 0


@PROPERTY
@given(LOANS, STEPS, st.integers(min_value=0, max_value=100))
def test_reverse_and_replay_equals_never_happened(
    loan: Loan, steps: list[tuple[int, str, int]], pick: int
) -> None:
    steps = [(gap, "repay" if kind != "accrue" else kind, pct) for gap, kind, pct in steps]
    books = disbursed(loan)
    last = run(books, steps)
    repayments = [t for t in books.loan.transactions if t.type is T.REPAYMENT]
    if not repayments:
        return
    gone = repayments[pick % len(repayments)]
    books.reverse(gone.id, last)
    never = disbursed(loan)  # the same commands, without the reversed repayment
    for txn in sorted(books.loan.transactions, key=lambda t: t.id):
        if txn.id == gone.id or txn.type in (T.DISBURSEMENT, T.PENALTY_ACCRUAL):
            continue
        if txn.type is T.REPAYMENT:
            never.repay(txn.amount, txn.value_date)
        else:
            never.accrue(txn.value_date)
    assert books.loan.state(last) == never.loan.state(last)
    assert books.unreconciled(last) == [] and books.gl.balanced


def test_replaying_is_deterministic() -> None:
    books = disbursed()
    books.repay(Decimal("5000.00"), date(2024, 2, 20))
    again = replace(books.loan, transactions=tuple(reversed(books.loan.transactions)))
    assert again.state(date(2024, 6, 1)) == books.loan.state(date(2024, 6, 1))
