"""The vectorized end of day (numpy, int64 分) equals the scalar reference, loan by loan."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.adapters.batch.vectorized import COLUMNS, Batch, NextPeriods, OverdueRows, close_day
from puhui.domain.lending import eod
from puhui.domain.lending.delinquency import BucketPolicy, ClassificationPolicy, LoanClass
from puhui.domain.lending.eod import AgingPolicy, NextPeriod, OverdueInstallment, Position

BASE = date(2026, 1, 1).toordinal()


@st.composite
def positions(draw: st.DrawFn, loan_id: int) -> Position:
    days = draw(st.integers(1, 62))
    start = BASE + draw(st.integers(-400, 30))
    principal = draw(st.integers(0, 10**10))
    period_principal = draw(st.integers(0, max(principal, 0)))
    oldest = draw(st.one_of(st.just(0), st.integers(BASE - 800, BASE - 6)))
    interest = draw(st.integers(0, 10**8))
    return Position(
        loan_id=loan_id,
        principal_outstanding=principal,
        overdue_principal=draw(st.integers(0, principal)),
        interest_receivable=draw(st.integers(0, 10**9)),
        penalty_receivable=draw(st.integers(0, 10**8)),
        period_start=start,
        period_days=days,
        period_due=start + days,
        period_interest=interest,
        period_accrued=draw(st.integers(0, interest)),
        period_principal=period_principal,
        period_paid_principal=draw(st.integers(0, period_principal)),
        period_paid_interest=draw(st.integers(0, interest)),
        oldest_unpaid_due=oldest,
        penalty_rate_ppm=draw(st.integers(0, 540_000)),
        penalty_day_basis=draw(st.sampled_from([360, 365])),
    )


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 40),
    offset=st.integers(-5, 70),
    thresholds=st.tuples(st.integers(30, 120), st.integers(121, 300), st.integers(301, 400)),
)
def test_vectorized_equals_scalar(
    data: st.DataObject, n: int, offset: int, thresholds: tuple[int, int, int]
) -> None:
    policy = AgingPolicy(ClassificationPolicy(0, *thresholds), BucketPolicy())
    loans = [data.draw(positions(i + 1)) for i in range(n)]
    day = date.fromordinal(BASE + offset)
    nexts: list[NextPeriod | None] = []
    for pos in loans:
        if data.draw(st.booleans()):
            days = data.draw(st.integers(1, 62))
            interest_ = data.draw(st.integers(0, 10**8))
            nexts.append(
                NextPeriod(
                    pos.period_due,
                    days,
                    pos.period_due + days,
                    interest_,
                    data.draw(st.integers(0, 10**9)),
                )
            )
        else:
            nexts.append(None)
    arrays = NextPeriods.none(n)
    for i, nx in enumerate(nexts):
        if nx is not None:
            arrays.has_next[i] = 1
            arrays.start[i], arrays.days[i], arrays.due[i] = nx.start, nx.days, nx.due
            arrays.interest[i], arrays.principal[i] = nx.interest, nx.principal
    overdue: list[tuple[OverdueInstallment, ...]] = []
    for _pos in loans:
        dues = data.draw(st.lists(st.integers(BASE - 800, BASE + 70), max_size=3))
        overdue.append(
            tuple(OverdueInstallment(due, data.draw(st.integers(1, 10**9))) for due in dues)
        )
    flat = [(i, o.due, o.unpaid_principal) for i, os in enumerate(overdue) for o in os]
    rows = OverdueRows(*(np.array([r[k] for r in flat], dtype=np.int64) for k in range(3)))
    batch = Batch.from_rows([astuple(p) for p in loans])
    interest, penalty, fell_due = close_day(batch, day.toordinal(), policy, arrays, rows)
    assert np.all(interest >= 0) and np.all(penalty >= 0)
    for i, pos in enumerate(loans):
        ref = eod.close_day(pos, day, policy, nexts[i], overdue[i])
        got = Position(*(int(batch[c][i]) for c in COLUMNS))
        assert got == ref.position
        assert (int(interest[i]), int(penalty[i]), bool(fell_due[i])) == (
            ref.interest_accrued,
            ref.penalty_accrued,
            ref.fell_due,
        )


def a_position(**fields: int) -> Position:
    base = dict(
        loan_id=1,
        principal_outstanding=1_000_000,
        overdue_principal=0,
        interest_receivable=0,
        penalty_receivable=0,
        period_start=0,
        period_days=31,
        period_due=31,
        period_interest=0,
        period_accrued=0,
        period_principal=0,
        period_paid_principal=0,
        period_paid_interest=0,
        oldest_unpaid_due=0,
        penalty_rate_ppm=180_000,
    )
    return Position(**{**base, **fields})


def test_accrual_sums_exactly_to_the_period_interest() -> None:
    start = date(2026, 3, 1).toordinal()
    pos = a_position(
        period_start=start, period_due=start + 31, period_interest=8_333, period_principal=80_000
    )
    total = 0
    for k in range(31):
        result = eod.close_day(pos, date.fromordinal(start + k), AgingPolicy())
        pos = result.position
        total += result.interest_accrued
        assert not result.fell_due
    assert total == 8_333 and pos.overdue_principal == 0
    # the due date: unpaid principal falls overdue, the next period starts accruing
    nxt = NextPeriod(start + 31, 30, start + 61, 7_000, 80_000)
    due_today = (OverdueInstallment(start + 31, 80_000),)
    result = eod.close_day(pos, date.fromordinal(start + 31), AgingPolicy(), nxt, due_today)
    assert result.fell_due and result.position.overdue_principal == 80_000
    assert result.position.dpd == 0
    assert result.penalty_accrued == 40  # the due date is the first penalty day: 800 x 18 % / 360
    assert result.interest_accrued == 233  # 7,000 / 30, half up
    nxt_day = eod.close_day(
        result.position, date.fromordinal(start + 32), AgingPolicy(), None, due_today
    )
    assert nxt_day.position.dpd == 1 and nxt_day.penalty_accrued == 40


def test_penalty_is_rounded_once_per_installment() -> None:
    """1,000.00 overdue at 18 %: 0.50 a day; 123.45 overdue: 0.0617... a day, so the daily
    increments are 6 or 7 分 and any run of days sums to the once-rounded total."""
    due = date(2026, 1, 31).toordinal()
    overdue = (OverdueInstallment(due, 100_000), OverdueInstallment(due + 28, 12_345))
    pos = a_position(
        overdue_principal=112_345, period_start=due + 28, period_due=due + 59, oldest_unpaid_due=due
    )
    total = 0
    for k in range(0, 60):
        result = eod.close_day(pos, date.fromordinal(due + k), AgingPolicy(), None, overdue)
        pos = result.position
        total += result.penalty_accrued
    expected = eod.penalty_through(100_000, 180_000, 60) + eod.penalty_through(12_345, 180_000, 32)
    assert total == expected == 3_000 + 198


def test_aging_by_hand() -> None:
    due = date(2026, 1, 31).toordinal()
    pos = a_position(
        overdue_principal=1_000_000,
        period_start=due + 1,
        period_days=28,
        period_due=due + 28,
        oldest_unpaid_due=due,
    )
    policy = AgingPolicy()
    result = eod.close_day(
        pos, date.fromordinal(due + 91), policy, None, (OverdueInstallment(due, 1_000_000),)
    )
    assert result.penalty_accrued == 500  # 10,000.00 x 18 % / 360
    assert result.position.dpd == 91
    assert result.position.class_code == LoanClass.SUBSTANDARD.rank
    assert result.position.bucket == 4
    assert policy.classify(90) == LoanClass.SPECIAL_MENTION.rank
    assert policy.classify(271) == LoanClass.DOUBTFUL.rank
    assert policy.classify(361) == LoanClass.LOSS.rank
    assert policy.bucket(0) == 0 and policy.bucket(1) == 1 and policy.bucket(30) == 1
    assert policy.bucket(31) == 2 and policy.bucket(500) == 6


def test_unpaid_interest_alone_starts_aging() -> None:
    """先息后本: no principal falls due, but unpaid interest makes the loan past due."""
    start = date(2026, 3, 1).toordinal()
    pos = a_position(
        period_start=start, period_due=start + 31, period_interest=8_333, period_accrued=8_333
    )
    result = eod.close_day(pos, date.fromordinal(start + 31), AgingPolicy())
    assert result.position.oldest_unpaid_due == start + 31
    assert result.position.overdue_principal == 0
    later = eod.close_day(result.position, date.fromordinal(start + 40), AgingPolicy())
    assert later.position.dpd == 9
