"""End of day for what the int64 batch does not compute, on both databases: loans with
compound interest (复利) or per-period fees, and revolving credit lines, are closed by their
Decimal replay (``services.eod``). Their ledger equals the replayed journal after every day,
their positions follow the replay, and a date run twice posts nothing twice (R-10.2f)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from typer.testing import CliRunner

from puhui.adapters.batch.eod import run_eod
from puhui.adapters.cli.main import app as cli
from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.domain.lending.allocation import ServicingPolicy
from puhui.domain.lending.ledger import Account, TrialBalance
from puhui.services import credit_lines, servicing
from puhui.services.eod import close_by_replay
from puhui.services.platform import set_business_date

START = date(2026, 3, 1)
TERMS = {
    "principal": "12000.00",
    "annual_rate": "0.12",
    "repayments": 6,
    "disbursement_date": START.isoformat(),
    "amortization": "equal_installments",
}


def book(platform: Platform, product: str, **extra: object) -> int:
    loan_id = servicing.book_loan(platform.ctx, SYSTEM, {**TERMS, **extra}, product_code=product)
    servicing.disburse(platform.ctx, SYSTEM, loan_id)
    return loan_id


def positions(platform: Platform) -> dict[int, dict[str, object]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(sa.select(t.loan_positions)).mappings().all()
    return {int(r["loan_id"]): dict(r) for r in rows}


def postings(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(t.journal_postings)).one()[0]
        )


def assert_loan_gl_is_its_replay(platform: Platform, loan_id: int, day: date) -> None:
    with platform.ctx.uow() as uow:
        policy = platform.ctx.products[uow.loans.product_code(loan_id)].servicing
        loan = uow.loans.get(loan_id, policy=policy)
        posted = uow.loans.gl_balances(loan_id)
    truth = TrialBalance.of(loan.current_journal())
    assert {a: v for a, v in posted.items() if v} == {
        r.account: truth.balance(r.account) for r in truth.rows if truth.balance(r.account)
    }
    state = loan.state(day)
    pos = positions(platform)[loan_id]
    assert pos["as_of"] == day
    assert (pos["dpd"], pos["class_code"]) == (state.days_past_due, state.loan_class.rank)
    assert pos["penalty_receivable"] == int(state.penalty_outstanding * 100)


def test_compound_and_fee_loans_and_lines_close_by_replay(platform: Platform) -> None:
    platform.ctx.products["MICRO-COMPOUND"] = replace(
        platform.ctx.products["MICRO-BIZ"],
        code="MICRO-COMPOUND",
        servicing=ServicingPolicy(compound_overdue_interest=True),
    )
    set_business_date(platform.ctx, SYSTEM, START, allow_backwards=True)
    plain = book(platform, "MICRO-BIZ")
    compound = book(platform, "MICRO-COMPOUND")
    with_fee = book(platform, "MICRO-BIZ", fees=[{"kind": "per_period", "amount": "15.00"}])
    line_id = credit_lines.open_line(
        platform.ctx,
        SYSTEM,
        {"limit": "50000.00", "annual_rate": "0.073", "expires_on": "2027-03-01"},
    )
    credit_lines.draw(platform.ctx, SYSTEM, line_id, "20000.00")
    closing = {k: v["closing"] for k, v in positions(platform).items()}
    assert closing == {plain: "vector", compound: "replay", with_fee: "replay"}

    day = START + timedelta(days=1)
    while day <= date(2026, 6, 10):  # nobody pays: three installments fall overdue
        set_business_date(platform.ctx, SYSTEM, day)
        run_eod(platform.engine, day)
        result = close_by_replay(platform.ctx, day)
        assert result.failures == []
        assert (result.loans, result.lines) == (2, 1)
        day += timedelta(days=1)
    last = day - timedelta(days=1)
    for loan_id in (compound, with_fee):
        assert_loan_gl_is_its_replay(platform, loan_id, last)
    pos = positions(platform)
    assert pos[compound]["status"] == "overdue" and pos[compound]["dpd"] == 70  # since 2026-04-01
    # compound interest makes the penalty larger than on the plain loan with the same schedule
    assert pos[compound]["penalty_receivable"] > pos[plain]["penalty_receivable"] > 0
    with platform.ctx.uow() as uow:
        fee_gl = uow.loans.gl_balances(with_fee)
        line = uow.credit_lines.get(line_id)
        line_gl = uow.credit_lines.gl_balances(line_id)
    # three fees have fallen due (Apr, May, Jun 1) and none is paid
    assert fee_gl[Account.FEE_RECEIVABLE] == Decimal("45.00")
    truth = TrialBalance.of(line.current_journal())
    assert line_gl == {
        r.account.code: truth.balance(r.account) for r in truth.rows if truth.balance(r.account)
    }
    # the drawdown's term has run out: interest stopped at its due date, penalty runs since
    state = line.state(last)
    assert state.status == "overdue" and state.penalty_outstanding > 0
    assert line_gl["113201"] == state.interest_outstanding
    assert line_gl["113202"] == state.penalty_outstanding

    before = postings(platform)
    again = close_by_replay(platform.ctx, last)  # the same date again: nothing new
    assert (again.loans, again.lines, again.skipped_lines) == (0, 0, 1)
    assert postings(platform) == before


def test_the_cli_reports_the_replay_step(platform: Platform) -> None:
    set_business_date(platform.ctx, SYSTEM, START, allow_backwards=True)
    book(platform, "MICRO-BIZ", fees=[{"kind": "per_period", "amount": "15.00"}])
    set_business_date(platform.ctx, SYSTEM, START + timedelta(days=1))
    env = {"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"}
    day = (START + timedelta(days=1)).isoformat()
    result = CliRunner().invoke(cli, ["eod", "--date", day], env=env)
    assert result.exit_code == 0, result.output
    assert "0 loans" in result.output and "by replay: 1 loans, 0 credit lines" in result.output
