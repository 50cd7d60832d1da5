"""End of day by replay: what one loan costs when the vectorized batch cannot close it.

Reproduce: ``.venv/bin/python benchmarks/eod_replay.py [--loans 50] [--days 30]``. Books
``--loans`` loans with compound interest (复利) on a fresh SQLite file, then closes ``--days``
business days with ``services.eod.close_by_replay`` (one unit of work per loan: accrue, post,
true up, rewrite the position) and prints the time per loan and day.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    os.environ["PUHUI_ENVIRONMENT"] = "test"
    url = f"sqlite:///{tempfile.mkdtemp()}/eod-replay.db"
    os.environ["PUHUI_DATABASE_URL"] = url

    from puhui.adapters.db.migrate import upgrade
    from puhui.bootstrap import build_platform
    from puhui.domain.identity import SYSTEM
    from puhui.domain.lending.allocation import ServicingPolicy
    from puhui.services import servicing
    from puhui.services.eod import close_by_replay
    from puhui.services.platform import set_business_date
    from puhui.settings import Settings

    upgrade(url)
    platform = build_platform(Settings())
    ctx = platform.ctx
    ctx.products["MICRO-COMPOUND"] = replace(
        ctx.products["MICRO-BIZ"],
        code="MICRO-COMPOUND",
        servicing=ServicingPolicy(compound_overdue_interest=True),
    )
    start = date(2026, 3, 1)
    set_business_date(ctx, SYSTEM, start, allow_backwards=True)
    terms = {
        "principal": "12000.00",
        "annual_rate": "0.12",
        "repayments": 6,
        "disbursement_date": start.isoformat(),
        "amortization": "equal_installments",
    }
    for _ in range(args.loans):
        loan_id = servicing.book_loan(ctx, SYSTEM, terms, product_code="MICRO-COMPOUND")
        servicing.disburse(ctx, SYSTEM, loan_id)
    per_loan = []
    for k in range(1, args.days + 1):
        day = start + timedelta(days=k)
        set_business_date(ctx, SYSTEM, day)
        started = time.perf_counter()
        result = close_by_replay(ctx, day)
        per_loan.append((time.perf_counter() - started) / result.loans)
    per_loan.sort()
    median = per_loan[len(per_loan) // 2]
    print(
        f"end of day by replay, SQLite, {args.loans} compound-interest loans x {args.days} days: "
        f"per loan and day median {median * 1000:.1f} ms "
        f"(min {per_loan[0] * 1000:.1f}, max {per_loan[-1] * 1000:.1f})"
    )


if __name__ == "__main__":
    main()
