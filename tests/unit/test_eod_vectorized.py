"""The vectorized end of day (numpy, int64 分) equals the scalar reference, loan by loan."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.adapters.batch.vectorized import COLUMNS, Batch, NextPeriods, close_day
from puhui.domain.lending import eod
from puhui.domain.lending.delinquency import BucketPolicy, ClassificationPolicy, LoanClass
from puhui.domain.lending.eod import AgingPolicy, NextPeriod, Position

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
        oldest_unpaid_due=oldest,
        penalty_rate_ppm=draw(st.integers(0, 540_000)),
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
    batch = Batch.from_rows([astuple(p) for p in loans])
    interest, penalty, fell_due = close_day(batch, day.toordinal(), policy, arrays)
    assert np.all(interest >= 0) and np.all(penalty >= 0)
    for i, pos in enumerate(loans):
        ref = eod.close_day(pos, day, policy, nexts[i])
        got = Position(*(int(batch[c][i]) for c in COLUMNS))
        assert got == ref.position
        assert (int(interest[i]), int(penalty[i]), bool(fell_due[i])) == (
            ref.interest_accrued,
            ref.penalty_accrued,
            ref.fell_due,
        )


def test_accrual_sums_exactly_to_the_period_interest() -> None:
    start = date(2026, 3, 1)
    pos = Position(
        1,
        1_000_000,
        0,
        0,
        0,
        start.toordinal(),
        31,
        start.toordinal() + 30,
        8_333,
        0,
        80_000,
        0,
        0,
        180_000,
    )
    total = 0
    for k in range(31):
        result = eod.close_day(pos, date.fromordinal(start.toordinal() + k), AgingPolicy())
        pos = result.position
        total += result.interest_accrued
    assert total == 8_333 and result.fell_due
    assert pos.overdue_principal == 80_000 and pos.dpd == 0


def test_penalty_and_aging_by_hand() -> None:
    """10,000.00 overdue at 12 % x 1.5 = 18 %: 1,000,000 分 x 0.18 / 360 = 500 分 a day."""
    due = date(2026, 1, 31).toordinal()
    pos = Position(1, 1_000_000, 1_000_000, 0, 0, due + 1, 28, due + 28, 0, 0, 0, 0, due, 180_000)
    policy = AgingPolicy()
    result = eod.close_day(pos, date.fromordinal(due + 91), policy)
    assert result.penalty_accrued == 500
    assert result.position.dpd == 91
    assert result.position.class_code == LoanClass.SUBSTANDARD.rank
    assert result.position.bucket == 4
    assert policy.classify(90) == LoanClass.SPECIAL_MENTION.rank
    assert policy.classify(271) == LoanClass.DOUBTFUL.rank
    assert policy.classify(361) == LoanClass.LOSS.rank
    assert policy.bucket(0) == 0 and policy.bucket(1) == 1 and policy.bucket(30) == 1
    assert policy.bucket(31) == 2 and policy.bucket(500) == 6
