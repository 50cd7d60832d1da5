"""Revolving credit line (随借随还): drawdown and repayment within an approved limit (R-10.3) and
the limit itself (R-9.3) — replayed state, the one-rounding accrual rule, penalty and ageing,
refusals, journals and reversals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.errors import Conflict, DomainError, ErrorKind, NotFound, ValidationError
from puhui.domain.lending.credit_line import (
    CreditLine,
    CreditLineTerms,
    LineChange,
    LineState,
    LineStatus,
    LineTransactionType,
)
from puhui.domain.lending.delinquency import DelinquencyBucket, LoanClass
from puhui.domain.lending.ledger import Account, JournalEntry, TrialBalance, reconcile
from puhui.domain.lending.transactions import Allocation
from puhui.domain.money import CNY, RoundingMode, quantize

A, T, S = Account, LineTransactionType, LineStatus
OPEN = date(2024, 1, 1)


def day(n: int) -> date:
    return OPEN + timedelta(days=n)


def a_line(
    limit: str = "100000", rate: str = "0.073", *, basis: int = 365, expires: int = 365, **more: Any
) -> CreditLine:
    terms = CreditLineTerms(
        Decimal(limit), Decimal(rate), OPEN, day(expires), days_in_year=basis, **more
    )
    return CreditLine(1, terms)


class Books:
    """A line and every journal entry its commands posted: the line's GL."""

    def __init__(self, line: CreditLine) -> None:
        self.line = line
        self.journal: list[JournalEntry] = []

    def _run(self, change: LineChange) -> LineChange:
        self.line = change.line
        self.journal.extend(change.journal)
        return change

    def draw(self, amount: str | Decimal, n: int | date) -> LineChange:
        return self._run(self.line.draw(Decimal(amount), _date(n)))

    def repay(self, amount: str | Decimal, n: int | date) -> LineChange:
        return self._run(self.line.repay(Decimal(amount), _date(n)))

    def accrue(self, n: int | date) -> LineChange:
        return self._run(self.line.accrue(_date(n)))

    def reverse(self, txn_id: int, n: int | date) -> LineChange:
        return self._run(self.line.reverse(txn_id, _date(n)))

    def state(self, n: int | date) -> LineState:
        return self.line.state(_date(n))

    @property
    def gl(self) -> TrialBalance:
        return TrialBalance.of(self.journal)

    def unreconciled(self, n: int | date) -> list[Any]:
        subledger = self.state(n).subledger()
        live = TrialBalance.of(self.line.current_journal())
        return reconcile(subledger, self.gl) + reconcile(subledger, live)


def _date(n: int | date) -> date:
    return n if isinstance(n, date) else day(n)


def transfers(entry: JournalEntry) -> list[tuple[Account, Account, Decimal]]:
    return [(p.debit, p.credit, p.amount) for p in entry.postings]


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.code


D = Decimal


# --- terms -------------------------------------------------------------------------------------


def test_terms_defaults() -> None:
    t = a_line().terms
    assert (t.days_in_year, t.min_drawdown, t.term_days_per_drawdown) == (365, D("100.00"), 90)
    assert (t.penalty_uplift, t.currency, t.penalty_rate) == (D("0.5"), CNY, D("0.1095"))
    assert CreditLineTerms(D("1000"), D("0.1"), OPEN, day(1)).days_in_year == 360


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("limit", D("0"), "invalid_limit"),
        ("limit", D("100.001"), "invalid_limit"),
        ("limit", 1000.0, "invalid_limit"),
        ("annual_rate", D("-0.01"), "invalid_rate"),
        ("annual_rate", D("10.01"), "invalid_rate"),
        ("annual_rate", D("NaN"), "invalid_rate"),
        ("expires_on", OPEN, "invalid_dates"),
        ("days_in_year", 364, "invalid_day_basis"),
        ("min_drawdown", D("0"), "invalid_min_drawdown"),
        ("min_drawdown", D("100000.01"), "invalid_min_drawdown"),
        ("term_days_per_drawdown", 0, "invalid_term_days"),
        ("term_days_per_drawdown", True, "invalid_term_days"),
        ("penalty_uplift", D("-0.1"), "invalid_uplift"),
        ("drawdown_fee_rate", D("-0.001"), "invalid_drawdown_fee"),
        ("drawdown_fee_rate", D("0.11"), "invalid_drawdown_fee"),
        ("drawdown_fee", D("-1.00"), "invalid_drawdown_fee"),
        ("drawdown_fee", D("1.001"), "invalid_drawdown_fee"),
        ("currency", "CNY", "invalid_currency"),
    ],
)
def test_terms_are_validated_with_stable_codes(field: str, value: Any, code: str) -> None:
    fields: dict[str, Any] = {
        "limit": D("100000"),
        "annual_rate": D("0.073"),
        "opened_on": OPEN,
        "expires_on": day(365),
    }
    fields[field] = value
    with pytest.raises(ValidationError) as err:
        CreditLineTerms(**fields)
    assert err.value.code == f"credit_line.{code}"


# --- the hand-computed example ----------------------------------------------------------------


def test_hand_computed_example_drawdown_interest_repayment_and_journal() -> None:
    """Limit 100,000; 30,000 drawn on day 0 at 7.3 % / 365 → 30,000 x 0.073 / 365 = 6.00 a day;
    repaid after 10 days: days 0..9 bear interest, 60.00 (R-10.3)."""
    books = Books(a_line())
    drawn = books.draw("30000", 0)
    assert transfers(drawn.journal[0]) == [(A.PRINCIPAL_RECEIVABLE, A.CLEARING, D("30000"))]
    first = books.state(0)
    assert (first.principal_outstanding, first.available) == (D("30000"), D("70000"))
    assert first.interest_outstanding == D("6.00")  # the day of the drawdown bears interest
    assert (first.status, first.days_past_due, first.bucket) == (S.ACTIVE, 0, DelinquencyBucket.M0)
    assert first.line_class is LoanClass.NORMAL
    assert books.state(9).interest_outstanding == D("60.00")
    assert books.line.owed(day(10)) == Allocation(principal=D("30000"), interest=D("60.00"))

    paid = books.repay("10060.00", 10)
    (txn,) = paid.transactions
    assert txn.allocation == Allocation(principal=D("10000"), interest=D("60.00"))
    assert txn.settles == ((1, D("10000")),)
    assert transfers(paid.journal[0]) == [
        (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, D("60.00")),  # paid before it was accrued
        (A.CLEARING, A.PRINCIPAL_RECEIVABLE, D("10000.00")),
        (A.CLEARING, A.INTEREST_RECEIVABLE, D("60.00")),
    ]
    after = books.state(10)  # day 10 closes on 20,000: 4.00
    assert (after.principal_outstanding, after.available) == (D("20000"), D("80000"))
    assert after.interest_outstanding == D("4.00")
    assert books.state(19).interest_outstanding == D("40.00")

    books.repay("20040.00", 20)
    done = books.state(40)
    assert done.total_owed == 0 and done.available == D("100000")
    assert (done.interest_accrued, done.repaid.interest, done.status) == (
        D("100.00"),
        D("100.00"),
        S.ACTIVE,  # nothing owed, but the line runs until it expires
    )
    assert books.gl.balance(A.INTEREST_INCOME) == D("-100.00")
    assert books.gl.balance(A.CLEARING) == D("100.00")  # money in minus money out
    assert books.unreconciled(40) == []


def test_interest_is_rounded_once_for_the_line_not_day_by_day() -> None:
    """10,000 at 3.65 % / 360 is 1.013888... a day: 30 days are 30.42, not 30 x 1.01 = 30.30."""
    books = Books(a_line(rate="0.0365", basis=360))
    books.draw("10000", 0)
    assert [books.state(n).interest_accrued for n in (0, 1, 2, 29)] == [
        D("1.01"),
        D("2.03"),
        D("3.04"),
        D("30.42"),
    ]
    runs = [books.accrue(n).transactions[0].allocation.interest for n in (2, 5, 29)]
    assert runs == [D("3.04"), D("3.04"), D("24.34")]  # 3.04, 6.08, 30.42 cumulated
    assert books.gl.balance(A.INTEREST_INCOME) == D("-30.42")
    assert books.unreconciled(29) == []


def test_accrual_runs_recognise_what_is_accrued_once_and_close_their_day() -> None:
    books = Books(a_line())
    books.draw("30000", 0)
    run = books.accrue(4)
    assert transfers(run.journal[0]) == [(A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, D("30.00"))]
    assert books.accrue(4).transactions == () and books.accrue(2).journal == ()  # idempotent
    assert books.state(4).subledger()[A.INTEREST_RECEIVABLE] == D("30.00")
    before = books.line
    assert code_of(lambda: before.repay(D("1000"), day(4))) == "credit_line.date_out_of_order"
    later = Books(a_line())
    later.draw("1000", 5)  # an accrual run cannot close a day before the last movement
    assert code_of(lambda: later.line.accrue(day(3))) == "credit_line.date_out_of_order"
    paid = books.repay("1060.00", 10)  # recognises only the 30.00 not yet accrued
    assert transfers(paid.journal[0])[0] == (A.INTEREST_RECEIVABLE, A.INTEREST_INCOME, D("30.00"))
    assert books.unreconciled(10) == []


# --- FIFO, penalty, ageing, expiry -------------------------------------------------------------


def test_principal_is_repaid_oldest_drawdown_first() -> None:
    books = Books(a_line(rate="0.0365"))  # 0.0001 a day: 1000 → 0.10, 2000 → 0.20
    books.draw("1000", 0)
    books.draw("2000", 5)
    assert books.line.owed(day(10)).interest == D("2.00")  # 10 x 0.10 + 5 x 0.20
    (txn,) = books.repay("1502.00", 10).transactions
    assert txn.allocation == Allocation(principal=D("1500"), interest=D("2.00"))
    assert txn.settles == ((1, D("1000")), (2, D("500")))
    first, second = books.state(10).drawdowns
    assert (first.principal_outstanding, second.principal_outstanding) == (D(0), D("1500"))
    assert (first.due_on, second.due_on) == (day(90), day(95))


def test_overdue_after_term_days_penalty_days_past_due_and_five_categories() -> None:
    """10,000 at 3.6 % / 360 → 1.00 a day; due on day 90; 罚息 at 3.6 % x 1.5 → 1.50 a day."""
    books = Books(a_line(rate="0.036", basis=360))
    books.draw("10000", 0)
    s89, s90, s91 = (books.state(n) for n in (89, 90, 91))
    assert (s89.interest_outstanding, s89.penalty_outstanding, s89.status) == (
        D("90.00"),
        D(0),
        S.ACTIVE,
    )
    # unpaid at the end of its due date: the day bears penalty instead of interest, not yet late
    assert (s90.interest_outstanding, s90.penalty_outstanding, s90.days_past_due) == (
        D("90.00"),
        D("1.50"),
        0,
    )
    assert (s91.days_past_due, s91.status, s91.bucket) == (1, S.OVERDUE, DelinquencyBucket.M1)
    assert s91.line_class is LoanClass.SPECIAL_MENTION and s91.line_class.label_zh == "关注"
    assert s91.drawdowns[0].days_past_due == 1
    assert code_of(lambda: books.line.draw(D("100"), day(91))) == "credit_line.overdue_blocked"
    s180, s181 = books.state(180), books.state(181)
    assert (s180.days_past_due, s180.line_class) == (90, LoanClass.SPECIAL_MENTION)
    assert (s181.days_past_due, s181.line_class.label_zh, s181.bucket) == (91, "次级", "M4")
    assert s181.line_class.is_npl
    owed = books.line.owed(day(181))
    assert owed == Allocation(principal=D("10000"), interest=D("90.00"), penalty=D("136.50"))
    (part,) = books.repay("100.00", 181).transactions  # penalty first
    assert part.allocation == Allocation(penalty=D("100.00"))
    books.repay(str(owed.total - D("100.00")), 181)
    cured = books.state(181)
    assert (cured.days_past_due, cured.status, cured.line_class) == (0, S.ACTIVE, LoanClass.NORMAL)
    assert cured.total_owed == 0
    books.draw("100", 182)  # drawing is allowed again
    assert books.gl.balance(A.PENALTY_INCOME) == D("-136.50")
    assert books.unreconciled(182) == []


def test_repaid_on_its_due_date_a_drawdown_bears_no_penalty() -> None:
    books = Books(a_line(rate="0.036", basis=360))
    books.draw("10000", 0)
    owed = books.line.owed(day(90))
    assert owed == Allocation(principal=D("10000"), interest=D("90.00"))
    books.repay(str(owed.total), 90)
    assert books.state(200).total_owed == 0 and books.state(200).penalty_accrued == 0


def test_no_drawdown_after_expiry_and_a_line_closes_when_expired_and_nothing_is_owed() -> None:
    books = Books(a_line(expires=30))
    books.draw("1000", 30)  # on its expiry date: still allowed
    assert code_of(lambda: books.line.draw(D("1000"), day(31))) == "credit_line.expired"
    assert books.state(31).status is S.ACTIVE  # expired, still owed
    books.repay(str(books.line.owed(day(31)).total), 31)
    assert books.state(31).status is S.CLOSED
    assert books.state(30).status is S.ACTIVE  # the day it expires it is still open


# --- every refusal, and nothing changes --------------------------------------------------------


def _overdue() -> CreditLine:
    books = Books(a_line())
    books.draw("1000", 0)
    return books.line


def _conflicting() -> tuple[CreditLine, int]:
    books = Books(a_line())
    books.draw("60000", 0)
    repaid = books.repay(str(D("50000") + books.line.owed(day(5)).interest), 5)
    books.draw("80000", 6)  # fits only because of the repayment
    return books.line, repaid.transactions[0].id


def _accrued() -> CreditLine:
    books = Books(a_line())
    books.draw("1000", 0)
    books.accrue(3)
    books.reverse(1, 3)
    return books.line


def _conflicting_line() -> CreditLine:
    return _conflicting()[0]


FLOAT: Any = 100.0  # a float where money is expected


def _drawn() -> CreditLine:
    books = Books(a_line())
    books.draw("60000", 10)
    return books.line


REFUSALS: list[tuple[str, Callable[[], CreditLine], Callable[[CreditLine], object], ErrorKind]] = [
    ("below_minimum", _drawn, lambda ln: ln.draw(D("99.99"), day(11)), ErrorKind.INVALID),
    ("over_limit", _drawn, lambda ln: ln.draw(D("40000.01"), day(11)), ErrorKind.CONFLICT),
    ("expired", _drawn, lambda ln: ln.draw(D("100"), day(366)), ErrorKind.CONFLICT),
    ("overdue_blocked", _overdue, lambda ln: ln.draw(D("100"), day(91)), ErrorKind.CONFLICT),
    ("date_out_of_order", _drawn, lambda ln: ln.draw(D("100"), day(9)), ErrorKind.INVALID),
    ("date_out_of_order", _drawn, lambda ln: ln.repay(D("100"), day(9)), ErrorKind.INVALID),
    ("date_out_of_order", a_line, lambda ln: ln.draw(D("100"), day(-1)), ErrorKind.INVALID),
    ("overpayment", _drawn, lambda ln: ln.repay(D("60012.01"), day(11)), ErrorKind.INVALID),
    ("overpayment", a_line, lambda ln: ln.repay(D("0.01"), day(1)), ErrorKind.INVALID),
    ("non_positive_amount", _drawn, lambda ln: ln.repay(D("0"), day(11)), ErrorKind.INVALID),
    ("non_positive_amount", _drawn, lambda ln: ln.repay(D("-5"), day(11)), ErrorKind.INVALID),
    ("non_positive_amount", _drawn, lambda ln: ln.draw(D("0"), day(11)), ErrorKind.INVALID),
    ("invalid_amount", _drawn, lambda ln: ln.draw(D("100.005"), day(11)), ErrorKind.INVALID),
    ("invalid_amount", _drawn, lambda ln: ln.repay(FLOAT, day(11)), ErrorKind.INVALID),
    ("replay_conflict", _conflicting_line, lambda ln: ln.reverse(2, day(7)), ErrorKind.CONFLICT),
    ("already_reversed", _accrued, lambda ln: ln.reverse(1, day(4)), ErrorKind.CONFLICT),
    ("not_reversible", _accrued, lambda ln: ln.reverse(2, day(4)), ErrorKind.CONFLICT),
    ("transaction_not_found", _drawn, lambda ln: ln.reverse(9, day(11)), ErrorKind.NOT_FOUND),
    ("reversal_before_txn", _drawn, lambda ln: ln.reverse(1, day(9)), ErrorKind.INVALID),
]


@pytest.mark.parametrize(
    ("code", "build", "command", "kind"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_every_refusal_has_its_code_and_changes_nothing(
    code: str,
    build: Callable[[], CreditLine],
    command: Callable[[CreditLine], object],
    kind: ErrorKind,
) -> None:
    line = build()
    transactions, state = line.transactions, line.state(day(400))
    with pytest.raises(DomainError) as err:
        command(line)
    assert (err.value.code, err.value.kind) == (f"credit_line.{code}", kind)
    assert isinstance(err.value, ValidationError | Conflict | NotFound)
    assert line.transactions == transactions and line.state(day(400)) == state


def test_replay_conflict_names_the_later_transaction_and_its_cause() -> None:
    line, repayment = _conflicting()
    with pytest.raises(Conflict) as err:
        line.reverse(repayment, day(7))
    assert err.value.details == {"transaction_id": 3, "cause": "credit_line.over_limit"}


# --- reversal ----------------------------------------------------------------------------------


def test_reversing_a_drawdown_replays_later_transactions_under_new_versions() -> None:
    books = Books(a_line())
    books.draw("30000", 0)
    books.draw("10000", 5)
    books.accrue(7)
    books.repay("1000.00", 10)
    change = books.reverse(2, 12)
    by_id = {t.id: t for t in change.transactions}
    assert by_id[2].reversed and (by_id[3].version, by_id[4].version) == (2, 2)
    assert by_id[3].allocation.interest == D("48.00")  # days 0..7 x 6.00; was 54.00
    assert by_id[4].allocation.interest == D("60.00")  # days 0..9 x 6.00; was 70.00
    assert transfers(change.journal[0]) == [(A.CLEARING, A.PRINCIPAL_RECEIVABLE, D("10000"))]
    assert books.unreconciled(12) == []
    never = Books(a_line())
    never.draw("30000", 0)
    never.accrue(7)
    never.repay("1000.00", 10)
    assert _economics(books.state(12)) == _economics(never.state(12))
    assert books.state(12).subledger() == never.state(12).subledger()


# --- properties --------------------------------------------------------------------------------

Op = tuple[str, int, int]
RATES = ["0", "0.0365", "0.073", "0.1825", "0.2399"]

KINDS = ["draw", "draw", "repay", "repay", "repay", "accrue", "reverse"]
ops_strategy = st.lists(  # (kind, days since the previous op, amount in 分 / eighths / pick)
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 25),
        st.integers(10_000, 3_000_000) | st.integers(0, 10_000_000),
    ),
    min_size=3,
    max_size=20,
)
terms_strategy = st.builds(
    lambda rate, basis, term, expires, fee: CreditLineTerms(
        D("100000"),
        D(rate),
        OPEN,
        day(expires),
        days_in_year=basis,
        term_days_per_drawdown=term,
        drawdown_fee_rate=D(fee[0]),
        drawdown_fee=D(fee[1]),
    ),
    st.sampled_from(RATES),
    st.sampled_from([360, 365]),
    st.integers(5, 90),
    st.integers(60, 400),
    st.sampled_from([("0", "0"), ("0", "0"), ("0.005", "0"), ("0", "20.00"), ("0.0033", "1.50")]),
)


def _amount(line: CreditLine, kind: str, on: date, x: int) -> Decimal:
    if kind == "draw":
        return D(x).scaleb(-2)  # below the minimum, or over the limit, now and then
    owed, eighths = line.owed(on).total, x % 10
    if eighths == 9:
        return owed + D("0.01")  # one 分 too much: refused
    return quantize(owed * min(eighths, 8) / 8, CNY, RoundingMode.DOWN)


def run(terms: CreditLineTerms, ops: list[Op], check: bool = True) -> tuple[Books, list[Any], date]:
    """Apply ``ops`` (refusals skipped); check the invariants after every step. Returns the
    books, the commands that succeeded (kind, date, amount or id, ids created) and the last date."""
    books, on, applied = Books(CreditLine(7, terms)), OPEN, []
    for kind, gap, x in ops:
        on += timedelta(days=gap)
        before = books.line
        try:
            if kind == "accrue":
                change = books.accrue(on)
                arg: Any = None
            elif kind == "reverse":
                movable = [t.id for t in before.transactions if not t.is_accrual and not t.reversed]
                if not movable:
                    continue
                arg = movable[x % len(movable)]
                change = books.reverse(arg, on)
            else:
                arg = _amount(before, kind, on, x)
                if arg <= 0:
                    continue
                change = getattr(books, kind)(arg, on)
        except DomainError as err:
            assert books.line is before and err.code.startswith("credit_line.")
            continue
        known = {t.id for t in before.transactions}
        created = [t.id for t in change.transactions if t.id not in known]
        applied.append((kind, on, arg, created))
        if check:
            _invariants(books, on)
    return books, applied, on


def _invariants(books: Books, on: date) -> None:
    s, limit = books.state(on), books.line.terms.limit
    assert 0 <= s.available <= limit and s.available == limit - s.principal_outstanding
    assert s.principal_outstanding == sum((d.principal_outstanding for d in s.drawdowns), D(0))
    assert 0 <= s.repaid.principal <= s.drawn
    assert s.interest_outstanding >= 0 and s.penalty_outstanding >= 0 and s.fee_outstanding >= 0
    for entry in books.journal:
        assert TrialBalance.of([entry]).balanced
    assert books.unreconciled(on) == []
    cumulative, live = books.gl, TrialBalance.of(books.line.current_journal())
    assert all(cumulative.balance(a) == live.balance(a) for a in Account)
    repaid = [d.principal_repaid > 0 for d in s.drawdowns]  # FIFO: paid ones are a prefix,
    settled = [d.principal_outstanding == 0 for d in s.drawdowns]  # all but the last settled
    assert all(settled[:i] == [True] * i for i, r in enumerate(repaid) if r)


def _economics(s: LineState) -> tuple[Any, ...]:
    """Everything a line owes and how it is aged; transaction ids left out."""
    drawdowns = [(d.drawn_on, d.due_on, d.amount, d.principal_repaid) for d in s.drawdowns]
    return (
        s.status,
        (s.principal_outstanding, s.available, s.drawn, s.repaid),
        (s.interest_outstanding, s.penalty_outstanding, s.interest_accrued, s.penalty_accrued),
        s.fee_outstanding,
        (s.days_past_due, s.bucket, s.line_class),
        drawdowns,
    )


@settings(max_examples=200)
@given(terms_strategy, ops_strategy)
def test_random_sequences_keep_every_invariant(terms: CreditLineTerms, ops: list[Op]) -> None:
    """Available within [0, limit]; every journal balances; the GL (all entries, or only the
    live versions) reconciles with the sub-ledger; principal repaid <= drawn; FIFO."""
    books, _, last = run(terms, ops)
    _invariants(books, last + timedelta(days=200))


@settings(max_examples=200)
@given(terms_strategy, ops_strategy, st.integers(0, 100))
def test_reverse_and_replay_equals_never_happened(
    terms: CreditLineTerms, ops: list[Op], pick: int
) -> None:
    money = [op for op in ops if op[0] != "reverse"]
    books, applied, last = run(terms, money, check=False)
    movable = [a for a in applied if a[0] in ("draw", "repay")]
    if not movable:
        return
    target = movable[pick % len(movable)]
    never, failed = Books(CreditLine(7, terms)), False
    try:
        for step in applied:
            kind, on, arg, _ = step
            if step is target:
                continue
            if kind == "accrue":
                never.accrue(on)
            else:
                getattr(never, kind)(arg, on)
    except DomainError:
        failed = True
    try:
        books.reverse(target[3][0], last)
    except Conflict as err:
        assert err.code == "credit_line.replay_conflict" and failed
        return
    assert not failed
    for later in (last, last + timedelta(days=150)):
        assert _economics(books.state(later)) == _economics(never.state(later))
        assert books.state(later).subledger() == never.state(later).subledger()
    assert all(books.gl.balance(a) == never.gl.balance(a) for a in Account)
    assert books.unreconciled(last) == []


@settings(max_examples=200)
@given(terms_strategy, ops_strategy, st.lists(st.booleans(), min_size=20, max_size=20))
def test_interest_totals_do_not_depend_on_how_days_are_split_into_accrual_runs(
    terms: CreditLineTerms, ops: list[Op], runs: list[bool]
) -> None:
    money = [op for op in ops if op[0] in ("draw", "repay")]
    plain, _, last = run(terms, money, check=False)
    split_ops: list[Op] = []
    for (kind, gap, x), accrue_first in zip(money, runs, strict=False):
        if accrue_first and gap >= 2:  # an accrual run through the day before the movement
            split_ops += [("accrue", gap - 1, 0), (kind, 1, x)]
        else:
            split_ops.append((kind, gap, x))
    split, _, _ = run(terms, split_ops, check=False)
    end = last + timedelta(days=120)
    assert _economics(plain.state(end)) == _economics(split.state(end))
    plain.accrue(end)
    split.accrue(end)
    for account in (A.INTEREST_INCOME, A.PENALTY_INCOME, A.INTEREST_RECEIVABLE, A.CLEARING):
        assert plain.gl.balance(account) == split.gl.balance(account)


def _half_up_cents(value: Fraction) -> Decimal:
    units = value * 100
    whole, rest = divmod(units.numerator, units.denominator)
    return D(whole + (1 if 2 * rest >= units.denominator else 0)).scaleb(-2)


@settings(max_examples=200)
@given(terms_strategy, ops_strategy)
def test_accrual_equals_a_day_by_day_oracle_rounded_once(
    terms: CreditLineTerms, ops: list[Op]
) -> None:
    """Independent oracle: walk every day, sum each drawdown's principal at the end of the day
    (interest before its due date, penalty from it) exactly, and round once."""
    books, _, last = run(terms, [op for op in ops if op[0] != "accrue"], check=False)
    end = last + timedelta(days=120)
    live = [t for t in books.line.transactions if not t.reversed]
    draws = [t for t in live if t.type is T.DRAWDOWN]
    normal = late = Fraction(0)
    d = OPEN
    while d <= end:
        for draw in draws:
            if draw.value_date > d:
                continue
            paid = sum(
                (dict(t.settles).get(draw.id, D(0)) for t in live if t.value_date <= d), D(0)
            )
            unpaid = Fraction(draw.amount - paid)
            if d < draw.value_date + timedelta(days=terms.term_days_per_drawdown):
                normal += unpaid
            else:
                late += unpaid
        d += timedelta(days=1)
    rate = Fraction(terms.annual_rate)
    s = books.state(end)
    assert s.interest_accrued == _half_up_cents(normal * rate / terms.days_in_year)
    uplift = 1 + Fraction(terms.penalty_uplift)
    assert s.penalty_accrued == _half_up_cents(late * rate * uplift / terms.days_in_year)
    overdue = [
        (end - x.due_on).days for x in s.drawdowns if x.principal_outstanding and x.due_on <= end
    ]
    assert s.days_past_due == max(overdue, default=0)
    assert (s.status is S.OVERDUE) == (s.days_past_due > 0)


def test_a_drawdown_fee_is_recognised_on_drawdown_and_collected_before_interest() -> None:
    """0.5 % of 30,000 plus 2.00 flat: 152.00, Dr 应收费用 / Cr 手续费收入 on the drawdown."""
    books = Books(a_line(drawdown_fee_rate=D("0.005"), drawdown_fee=D("2.00")))
    change = books.draw("30000", 0)
    (entry,) = change.journal
    assert (Account.FEE_RECEIVABLE, Account.FEE_INCOME, D("152.00")) in transfers(entry)
    state = books.state(0)
    assert state.fee_outstanding == D("152.00") and state.available == D("70000.00")
    # ten days of 7.3 % / 365 on 30,000 = 60.00 of interest; 200.00 pays the fee, then 48.00
    books.repay("200.00", 10)
    state = books.state(10)
    assert state.fee_outstanding == 0 and state.interest_outstanding == D("18.00")
    assert state.principal_outstanding == D("30000.00")
