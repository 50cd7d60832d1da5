"""End-of-day benchmark: 1,000,000 persisted active loans, SQLite and PostgreSQL.

Reproduce (PostgreSQL comes from the same throwaway-cluster script the tests use):

    bash scripts/with-postgres.sh .venv/bin/python benchmarks/eod.py --loans 1000000

Each database gets a fresh schema, a synthetic portfolio (``puhui.adapters.batch.seed``: monthly
equal-principal loans, 12 installments each, 5 % overdue, due days spread over the month), then
``puhui eod``'s ``run_eod`` closes one business date in a **separate process** whose peak RSS is
reported. The baseline, in the same run, is a per-loan loop through SQLAlchemy (select one
position, the scalar ``close_day``, update one row, insert its postings; commit every 1,000
loans) over a 20,000-loan portfolio; the ratio compares loans per second.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import sqlalchemy as sa

from puhui.adapters.batch.eod import INTEREST_ACCRUAL, PENALTY_ACCRUAL, run_eod
from puhui.adapters.batch.seed import seed_portfolio
from puhui.adapters.db import tables as t
from puhui.adapters.db.engine import make_engine, normalize_url
from puhui.adapters.db.migrate import upgrade
from puhui.domain.lending.eod import (
    AgingPolicy,
    NextPeriod,
    OverdueInstallment,
    Position,
    close_day,
)

D = date(2026, 11, 23)
BASELINE_LOANS = 20_000


def fresh_database(kind: str, tmp: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / name}.db"
    base = os.environ["PUHUI_TEST_POSTGRES_URL"]
    admin = sa.create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return (
        sa.engine.make_url(normalize_url(base))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def per_loan_baseline(url: str) -> float:
    engine = make_engine(url)
    policy = AgingPolicy()
    p = t.loan_positions
    fields = [c.name for c in p.columns if c.name not in ("status", "as_of", "period_n")]
    start = time.perf_counter()
    with engine.connect() as conn:
        ids = conn.execute(sa.select(p.c.loan_id).order_by(p.c.loan_id)).scalars().all()
        conn.commit()
        for k, loan_id in enumerate(ids, 1):
            row = conn.execute(sa.select(p).where(p.c.loan_id == loan_id)).mappings().one()
            pos = Position(**{f: row[f] for f in fields})
            nxt = None
            if pos.period_due == D.toordinal():
                i = t.loan_installments
                n = (
                    conn.execute(
                        sa.select(i).where(i.c.loan_id == loan_id, i.c.n == row["period_n"] + 1)
                    )
                    .mappings()
                    .first()
                )
                if n is not None:
                    nxt = NextPeriod(
                        n["from_date"].toordinal(),
                        n["days"],
                        n["due_date"].toordinal(),
                        n["interest_minor"],
                        n["principal_minor"],
                    )
            overdue: tuple[OverdueInstallment, ...] = ()
            if pos.oldest_unpaid_due or pos.period_due == D.toordinal():
                i = t.loan_installments
                overdue = tuple(
                    OverdueInstallment(r.due_date.toordinal(), r.unpaid)
                    for r in conn.execute(
                        sa.select(
                            i.c.due_date,
                            (i.c.principal_minor - i.c.paid_principal_minor).label("unpaid"),
                        ).where(
                            i.c.loan_id == loan_id,
                            i.c.due_date <= D,
                            i.c.principal_minor > i.c.paid_principal_minor,
                        )
                    )
                )
            result = close_day(pos, D, policy, nxt, overdue)
            new = result.position
            conn.execute(
                sa.update(p)
                .where(p.c.loan_id == loan_id)
                .values(
                    as_of=D,
                    **{f: getattr(new, f) for f in fields if f != "loan_id"},
                    period_n=row["period_n"] + (1 if nxt else 0),
                    status="overdue" if new.dpd else "active",
                )
            )
            for kind, amount, (debit, credit) in (
                ("I", result.interest_accrued, INTEREST_ACCRUAL),
                ("P", result.penalty_accrued, PENALTY_ACCRUAL),
            ):
                if amount:
                    conn.execute(
                        sa.insert(t.journal_postings).values(
                            entry_ref=f"base:{kind}:{loan_id}",
                            loan_id=loan_id,
                            value_date=D,
                            debit_account=debit,
                            credit_account=credit,
                            amount_minor=amount,
                        )
                    )
            if k % 1000 == 0:
                conn.commit()
        conn.commit()
    seconds = time.perf_counter() - start
    engine.dispose()
    return len(ids) / seconds


def child_run(url: str) -> None:
    engine = make_engine(url)
    summary = run_eod(engine, D)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": summary.seconds,
                "loans": summary.loans,
                "partitions": summary.partitions,
                "peak_mib": peak_mib,
                "interest": summary.interest_minor,
                "penalty": summary.penalty_minor,
            }
        )
    )


def bench(kind: str, loans: int, tmp: Path) -> dict[str, object]:
    url = fresh_database(kind, tmp, "bench_eod")
    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    seed_portfolio(engine, loans, D)
    seed_seconds = time.perf_counter() - start
    engine.dispose()
    out = subprocess.run(
        [sys.executable, __file__, "--child", url], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    base_url = fresh_database(kind, tmp, "bench_base")
    upgrade(base_url)
    engine = make_engine(base_url)
    seed_portfolio(engine, BASELINE_LOANS, D)
    engine.dispose()
    baseline = per_loan_baseline(base_url)
    vector_rate = result["loans"] / result["seconds"]
    return {
        "database": kind,
        "loans": result["loans"],
        "seed_s": round(seed_seconds, 1),
        "eod_s": round(result["seconds"], 1),
        "loans_per_s": round(vector_rate),
        "peak_rss_mib": round(result["peak_mib"]),
        "baseline_loans_per_s": round(baseline),
        "speedup": round(vector_rate / baseline, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child_run(args.child)
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in kinds and not os.environ.get("PUHUI_TEST_POSTGRES_URL"):
        sys.exit("PostgreSQL: run through scripts/with-postgres.sh")
    print(f"# EOD benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.loans:,} loans")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            print(json.dumps(bench(kind, args.loans, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
