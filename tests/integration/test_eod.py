"""End of day on a persisted portfolio: vectorized, posted, idempotent, resumable (R-10.2f)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from puhui.adapters.batch.eod import run_eod
from puhui.adapters.batch.seed import seed_portfolio
from puhui.adapters.cli.main import app as cli
from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.errors import Conflict

D = date(2026, 11, 23)


def snapshot(platform: Platform) -> tuple[list[tuple], int, int]:
    with platform.engine.connect() as conn:
        positions = conn.execute(
            sa.select(t.loan_positions).order_by(t.loan_positions.c.loan_id)
        ).all()
        postings = conn.execute(
            sa.select(sa.func.count()).select_from(t.journal_postings)
        ).scalar_one()
        amount = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(t.journal_postings.c.amount_minor), 0))
        ).scalar_one()
    return [tuple(r) for r in positions], postings, amount


def test_eod_accrues_posts_and_is_idempotent(platform: Platform) -> None:
    seed_portfolio(platform.engine, 600, D, overdue_share=0.2)
    before, _, _ = snapshot(platform)
    summary = run_eod(platform.engine, D, partition_size=200)
    assert summary.partitions == 3 and summary.loans == 600
    assert summary.interest_minor > 0 and summary.penalty_minor > 0
    after, postings, amount = snapshot(platform)
    assert amount == summary.interest_minor + summary.penalty_minor
    # sub-ledger movement equals GL movement, per account
    delta_interest = sum(a[6] - b[6] for a, b in zip(after, before, strict=True))
    delta_penalty = sum(a[7] - b[7] for a, b in zip(after, before, strict=True))
    with platform.engine.connect() as conn:
        gl = dict(
            conn.execute(
                sa.select(
                    t.journal_postings.c.debit_account,
                    sa.func.sum(t.journal_postings.c.amount_minor),
                ).group_by(t.journal_postings.c.debit_account)
            ).all()
        )
    assert gl == {"113201": delta_interest, "113202": delta_penalty}
    again = run_eod(platform.engine, D, partition_size=200)
    assert again.partitions_run == 0 and again.partitions_skipped == 3
    assert snapshot(platform) == (after, postings, amount)


def test_interrupted_run_resumes_without_double_posting(platform: Platform, tmp_path) -> None:
    seed_portfolio(platform.engine, 600, D, overdue_share=0.2)
    first = run_eod(platform.engine, D, partition_size=200, stop_after=1)
    assert first.partitions_run == 1
    rest = run_eod(platform.engine, D, partition_size=200)
    assert rest.partitions_skipped == 1 and rest.partitions_run == 2
    _, postings, amount = snapshot(platform)
    assert (
        amount
        == first.interest_minor + first.penalty_minor + rest.interest_minor + rest.penalty_minor
    )
    with platform.engine.connect() as conn:
        refs = conn.execute(sa.select(t.journal_postings.c.entry_ref)).scalars().all()
    assert len(refs) == len(set(refs)) == postings


def test_dates_close_in_order(platform: Platform) -> None:
    seed_portfolio(platform.engine, 50, D)
    with pytest.raises(Conflict) as err:
        run_eod(platform.engine, date(2026, 11, 25))
    assert err.value.code == "eod.gap"
    run_eod(platform.engine, D)
    run_eod(platform.engine, date(2026, 11, 24))


def test_eod_cli_with_progress(platform: Platform) -> None:
    seed_portfolio(platform.engine, 120, D)
    env = {"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"}
    result = CliRunner().invoke(
        cli, ["eod", "--date", D.isoformat(), "--partition-size", "50"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "120 loans" in result.output and "3 partitions" in result.output
    bad = CliRunner().invoke(cli, ["eod", "--date", "2026-13-01"], env=env)
    assert bad.exit_code == 2 and "eod.invalid_date" in bad.output


def test_trial_balance_and_portfolio_cli(platform: Platform) -> None:
    seed_portfolio(platform.engine, 200, D, overdue_share=0.3)
    run_eod(platform.engine, D)
    env = {"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"}
    tb = CliRunner().invoke(cli, ["ledger", "trial-balance"], env=env)
    assert tb.exit_code == 0 and "balanced" in tb.output and "应收利息" in tb.output
    pf = CliRunner().invoke(cli, ["ledger", "portfolio"], env=env)
    assert pf.exit_code == 0 and "正常" in pf.output and "关注" in pf.output
