"""Deterministic synthetic portfolios for benchmarks and tests (clearly synthetic data).

``seed_portfolio`` books ``n`` monthly equal-principal loans straight into the servicing tables
in bulk: loans, their installments and their positions, spread over due days and with a share
already overdue, as of the day before ``business_date``.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from puhui.adapters.batch.vectorized import COLUMNS
from puhui.domain.calendar import add_months


def _insert(
    conn: Any, dialect: str, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    cur = conn.cursor()
    if dialect == "sqlite":
        marks = ", ".join("?" * len(cols))
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
    else:
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            buf = io.StringIO()
            for row in rows:
                buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            copy.write(buf.getvalue())
    cur.close()


def seed_portfolio(
    engine: Engine,
    n: int,
    business_date: date,
    *,
    seed: int = 7,
    overdue_share: float = 0.05,
    chunk: int = 50_000,
    first_id: int = 1,
) -> None:
    rng = np.random.default_rng(seed)
    created = datetime.now(UTC).isoformat()
    as_of = date.fromordinal(business_date.toordinal() - 1)
    terms = json.dumps({"synthetic": True, "amortization": "equal_principal", "repayments": 12})
    for offset in range(0, n, chunk):
        m = min(chunk, n - offset)
        ids = np.arange(first_id + offset, first_id + offset + m, dtype=np.int64)
        principal = rng.integers(1_000, 500_000, m, dtype=np.int64) * 100  # 1,000 - 500,000 元
        rate_bp = rng.integers(360, 1800, m)  # 3.60 % - 18.00 %
        elapsed = rng.integers(0, 11, m)  # whole periods already paid
        due_day = rng.integers(1, 29, m)
        overdue = rng.random(m) < overdue_share
        loans: list[tuple[Any, ...]] = []
        installments: list[tuple[Any, ...]] = []
        positions: list[tuple[Any, ...]] = []
        for i in range(m):
            loan_id = int(ids[i])
            p = int(principal[i])
            rate = int(rate_bp[i])
            first_due = date(business_date.year, business_date.month, int(due_day[i]))
            first_due = add_months(first_due, -int(elapsed[i]))
            start = add_months(first_due, -1)
            dues = [add_months(first_due, k) for k in range(12)]
            base = p // 12
            balance = p
            sched: list[list[Any]] = []
            prev = start
            for k, due in enumerate(dues):
                part = base if k < 11 else p - base * 11
                days = (due - prev).days
                interest = (balance * rate * days * 2 + 360 * 10_000) // (2 * 360 * 10_000)
                sched.append(
                    [
                        loan_id,
                        k + 1,
                        prev.isoformat(),
                        due.isoformat(),
                        days,
                        part,
                        interest,
                        0,
                        0,
                        0,
                    ]
                )
                balance -= part
                prev = due
            # current period: the first installment whose due date is on or after business_date
            cur = next(
                (k for k, row in enumerate(sched) if date.fromisoformat(row[3]) >= business_date),
                11,
            )
            for row in sched[:cur]:  # earlier installments were paid on time ...
                row[8], row[9] = row[5], row[6]
            overdue_p = 0
            oldest = 0
            if overdue[i] and cur > 0:  # ... except, for some loans, the last one
                overdue_p = sched[cur - 1][5]
                sched[cur - 1][8] = sched[cur - 1][9] = 0
                oldest = date.fromisoformat(sched[cur - 1][3]).toordinal()
            paid_principal = sum(row[8] for row in sched)
            row = sched[cur]
            frm, due = date.fromisoformat(row[2]), date.fromisoformat(row[3])
            elapsed_days = max(0, min(row[4], business_date.toordinal() - frm.toordinal()))
            accrued = (row[6] * elapsed_days * 2 + row[4]) // (2 * row[4])
            dpd = business_date.toordinal() - 1 - oldest if oldest else 0
            status = "overdue" if oldest else "active"
            loans.append(
                (
                    loan_id,
                    "SYN-EP12",
                    "CNY",
                    p,
                    f"{rate / 10_000:.4f}",
                    terms,
                    status,
                    start.isoformat(),
                    dues[-1].isoformat(),
                    created,
                )
            )
            installments.extend(tuple(r) for r in sched)
            positions.append(
                (
                    loan_id,
                    status,
                    as_of.isoformat(),
                    cur + 1,
                    p - paid_principal,
                    overdue_p,
                    accrued,
                    0,
                    frm.toordinal(),
                    row[4],
                    due.toordinal(),
                    row[6],
                    accrued,
                    row[5],
                    0,
                    0,
                    oldest,
                    rate * 150,
                    360,
                    dpd,
                    2 if oldest else 1,
                    1 if oldest else 0,
                )
            )
        with engine.begin() as sa_conn:
            raw = sa_conn.connection.dbapi_connection
            dialect = sa_conn.dialect.name
            _insert(
                raw,
                dialect,
                "loans",
                (
                    "id",
                    "product_code",
                    "currency",
                    "principal_minor",
                    "annual_rate",
                    "terms",
                    "status",
                    "disbursed_on",
                    "maturity_date",
                    "created_at",
                ),
                loans,
            )
            _insert(
                raw,
                dialect,
                "loan_installments",
                (
                    "loan_id",
                    "n",
                    "from_date",
                    "due_date",
                    "days",
                    "principal_minor",
                    "interest_minor",
                    "fee_minor",
                    "paid_principal_minor",
                    "paid_interest_minor",
                ),
                installments,
            )
            _insert(
                raw,
                dialect,
                "loan_positions",
                ("loan_id", "status", "as_of", "period_n", *COLUMNS[1:]),
                positions,
            )
