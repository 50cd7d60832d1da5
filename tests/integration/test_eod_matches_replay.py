"""The vectorized end of day (numpy, int64 分) equals the Decimal replay of every loan.

Random loans are booked and disbursed through the services; business days are closed by
``run_eod``; on random days customers pay random amounts through the services. At checkpoints
each loan's batch position (interest receivable, days past due, class; penalty receivable with
the bound below) must equal ``Loan.state`` replayed in Decimal.

One known, bounded difference: when an overdue installment has been *partly* repaid, the replay
rounds its penalty once over the changing balance while the batch rounds from the new balance
on, so the two may differ by at most 1 分 per such installment — until the next money movement,
which rewrites the position from the replay and trues up the ledger."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from puhui.adapters.batch.eod import run_eod
from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.errors import DomainError
from puhui.domain.identity import SYSTEM
from puhui.domain.lending.allocation import ServicingPolicy
from puhui.services import servicing
from puhui.services.platform import set_business_date

AMORTIZATIONS = ["equal_installments", "equal_principal", "interest_only"]


def random_terms(rng: random.Random, start: date) -> dict[str, object]:
    fees = [{"kind": "upfront", "amount": "50.00"}] if rng.random() < 0.3 else []
    return {
        "fees": fees,
        "principal": f"{rng.randint(1_000, 200_000)}.{rng.randint(0, 99):02d}",
        "annual_rate": f"0.{rng.randint(300, 1800):04d}",
        "repayments": rng.choice([3, 6, 12]),
        "disbursement_date": start.isoformat(),
        "amortization": rng.choice(AMORTIZATIONS),
    }


def compare(platform: Platform, loan_ids: list[int], day: date) -> None:
    with platform.ctx.uow() as uow:
        for loan_id in loan_ids:
            policy = platform.ctx.products[uow.loans.product_code(loan_id)].servicing
            state = uow.loans.get(loan_id, policy=policy).state(day)
            pos = (
                uow.connection.execute(
                    sa.select(t.loan_positions).where(t.loan_positions.c.loan_id == loan_id)
                )
                .mappings()
                .one()
            )
            if pos["status"] not in ("active", "overdue"):
                continue
            batch = (pos["interest_receivable"], pos["dpd"], pos["class_code"])
            replay = (
                int((state.interest_outstanding + state.interest_accrued_not_due) * 100),
                state.days_past_due,
                state.loan_class.rank,
            )
            assert batch == replay, (day, loan_id, batch, replay)
            overdue = [
                i
                for i in state.installments
                if i.n and i.due_date <= day and i.unpaid.principal > 0
            ]
            partly_paid = sum(1 for i in overdue if i.paid.principal > 0)
            penalty_gap = abs(pos["penalty_receivable"] - int(state.penalty_outstanding * 100))
            assert penalty_gap <= partly_paid, (day, loan_id, penalty_gap)
            if partly_paid == 0:
                assert penalty_gap == 0, (day, loan_id, penalty_gap)


@pytest.mark.parametrize("seed", [1, 2])
def test_batch_positions_equal_the_replay(platform: Platform, seed: int) -> None:
    rng = random.Random(seed)
    # a product whose penalty runs on a 365-day basis, beside the shipped 360-day ones
    platform.ctx.products["MICRO-365"] = replace(
        platform.ctx.products["MICRO-BIZ"],
        code="MICRO-365",
        servicing=ServicingPolicy(penalty_day_basis=365),
    )
    start = date(2026, 1, 10)
    set_business_date(platform.ctx, SYSTEM, start, allow_backwards=True)
    loan_ids = []
    for _ in range(8):
        loan_id = servicing.book_loan(
            platform.ctx,
            SYSTEM,
            random_terms(rng, start),
            product_code=rng.choice(["MICRO-BIZ", "MICRO-365"]),
        )
        servicing.disburse(platform.ctx, SYSTEM, loan_id)
        loan_ids.append(loan_id)
    day = start + timedelta(days=1)
    payments = 0
    while day <= date(2026, 5, 20):
        set_business_date(platform.ctx, SYSTEM, day)
        for loan_id in loan_ids:
            if rng.random() < 0.04:  # a customer pays something today
                amount = Decimal(rng.randint(100, 300_000)) / 100
                try:
                    servicing.repay(platform.ctx, SYSTEM, loan_id, str(amount))
                    payments += 1
                except DomainError as err:
                    assert err.code in ("loan.overpayment", "loan.not_repayable")
        run_eod(platform.engine, day)
        if day.day in (1, 11, 21) or day.day == rng.randint(1, 28):
            compare(platform, loan_ids, day)
        day += timedelta(days=1)
    assert payments > 3
