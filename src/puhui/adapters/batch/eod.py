"""End of day for the whole portfolio: accrue, age, classify and post, partition by partition.

* **Vectorized**: each partition's positions are read into int64 arrays, closed with
  ``vectorized.close_day`` and written back in bulk (SQLite: temporary table + ``UPDATE FROM``;
  PostgreSQL: ``COPY`` + ``UPDATE FROM``).
* **Posted**: every accrual posts a balanced journal transfer (Dr 应收利息 / Cr 利息收入;
  Dr 应收罚息 / Cr 罚息收入), one row per loan and kind, in the same transaction.
* **Idempotent and resumable**: a partition commits together with its row in ``eod_runs``;
  positions already closed for the date (``as_of >= date``) are never touched again, so a run
  killed mid-way and started again finishes the remaining partitions and posts nothing twice.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from puhui.adapters.batch.vectorized import COLUMNS, Batch, NextPeriods, OverdueRows, close_day
from puhui.adapters.db import tables as t
from puhui.domain.errors import Conflict
from puhui.domain.lending.eod import AgingPolicy
from puhui.domain.lending.ledger import Account

OPEN_STATUSES = ("active", "overdue")
# (debit, credit) account codes of the accrual transfers
INTEREST_ACCRUAL = (Account.INTEREST_RECEIVABLE.code, Account.INTEREST_INCOME.code)
PENALTY_ACCRUAL = (Account.PENALTY_RECEIVABLE.code, Account.PENALTY_INCOME.code)
UPDATED = (
    "overdue_principal",
    "interest_receivable",
    "penalty_receivable",
    "period_start",
    "period_days",
    "period_due",
    "period_interest",
    "period_accrued",
    "period_principal",
    "period_paid_principal",
    "period_paid_interest",
    "oldest_unpaid_due",
    "dpd",
    "class_code",
    "bucket",
)


@dataclass
class EodSummary:
    business_date: date
    partitions: int = 0
    partitions_run: int = 0
    partitions_skipped: int = 0
    loans: int = 0
    interest_minor: int = 0
    penalty_minor: int = 0
    seconds: float = 0.0
    by_class: dict[int, int] = field(default_factory=dict)


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def partitions(conn: Connection, size: int) -> list[tuple[int, int, int]]:
    lo, hi = conn.execute(
        sa.select(sa.func.min(t.loan_positions.c.loan_id), sa.func.max(t.loan_positions.c.loan_id))
    ).one()
    if lo is None:
        return []
    return [
        (k, lo + k * size, min(lo + (k + 1) * size - 1, hi)) for k in range((hi - lo) // size + 1)
    ]


def check_sequence(conn: Connection, business_date: date) -> None:
    """Business dates close in order: no open loan may have a gap before ``business_date``."""
    behind = conn.execute(
        sa.select(sa.func.min(t.loan_positions.c.as_of)).where(
            t.loan_positions.c.status.in_(OPEN_STATUSES)
        )
    ).scalar_one()
    if behind is not None and behind.toordinal() < business_date.toordinal() - 1:
        raise Conflict(
            f"end of day {behind.fromordinal(behind.toordinal() + 1)} has not run yet; "
            f"close business dates in order",
            code="eod.gap",
            details={"first_open_date": behind.isoformat()},
        )


def _read(conn: Connection, lo: int, hi: int, business_date: date) -> Batch:
    q = _placeholder(conn)
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM loan_positions WHERE loan_id BETWEEN {q} AND {q} "
        f"AND as_of < {q} AND status IN ('active', 'overdue') AND closing = 'vector' "
        f"ORDER BY loan_id"
    )
    cur = _raw(conn).cursor()
    cur.execute(sql, (lo, hi, business_date))
    rows = cur.fetchall()
    cur.close()
    return Batch.from_rows(rows)


def _next_periods(conn: Connection, batch: Batch, fell_due: np.ndarray) -> NextPeriods:
    nxt = NextPeriods.none(len(batch))
    idx = np.nonzero(fell_due)[0]
    if idx.size == 0:
        return nxt
    ids = batch["loan_id"][idx]
    q = _placeholder(conn)
    cur = _raw(conn).cursor()
    # the installment after the one now due: its from_date equals the current due date
    found: dict[int, tuple[int, ...]] = {}
    for chunk in np.array_split(ids, max(1, ids.size // 500)):
        marks = ", ".join([q] * len(chunk))
        cur.execute(
            f"SELECT i.loan_id, i.from_date, i.days, i.due_date, i.interest_minor, "
            f"i.principal_minor FROM loan_installments i JOIN loan_positions p "
            f"ON p.loan_id = i.loan_id AND i.n = p.period_n + 1 WHERE i.loan_id IN ({marks})",
            [int(x) for x in chunk],
        )
        for row in cur.fetchall():
            found[int(row[0])] = row[1:]
    cur.close()
    for pos, i in enumerate(idx):
        row = found.get(int(ids[pos]))
        if row is None:
            continue
        start, days, due, interest, principal = row
        start = start if isinstance(start, int) else _as_date(start).toordinal()
        due = due if isinstance(due, int) else _as_date(due).toordinal()
        nxt.has_next[i], nxt.start[i], nxt.days[i] = 1, start, days
        nxt.due[i], nxt.interest[i], nxt.principal[i] = due, interest, principal
    return nxt


def _overdue_rows(conn: Connection, batch: Batch, business_date: date) -> OverdueRows:
    """Installments due by ``business_date`` with principal unpaid, for the loans that have
    arrears or fall due today (the others have none by construction)."""
    d = business_date.toordinal()
    mask = (batch["oldest_unpaid_due"] > 0) | (batch["period_due"] == d)
    ids = batch["loan_id"][mask]
    if ids.size == 0:
        return OverdueRows.none()
    q = _placeholder(conn)
    cur = _raw(conn).cursor()
    rows: list[tuple[Any, ...]] = []
    day = business_date.isoformat() if conn.dialect.name == "sqlite" else business_date
    for chunk in np.array_split(ids, max(1, ids.size // 500)):
        marks = ", ".join([q] * len(chunk))
        cur.execute(
            f"SELECT loan_id, due_date, principal_minor - paid_principal_minor "
            f"FROM loan_installments WHERE loan_id IN ({marks}) AND due_date <= {q} "
            f"AND principal_minor > paid_principal_minor",
            [*(int(x) for x in chunk), day],
        )
        rows.extend(cur.fetchall())
    cur.close()
    if not rows:
        return OverdueRows.none()
    loan_ids = np.array([int(r[0]) for r in rows], dtype=np.int64)
    return OverdueRows(
        row=np.searchsorted(batch["loan_id"], loan_ids).astype(np.int64),
        due=np.array([_as_date(r[1]).toordinal() for r in rows], dtype=np.int64),
        unpaid_principal=np.array([int(r[2]) for r in rows], dtype=np.int64),
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _write(conn: Connection, batch: Batch, rolled: np.ndarray, business_date: date) -> None:
    cols = ("loan_id", *UPDATED)
    matrix = np.column_stack([batch[c] for c in cols]).tolist()
    raw = _raw(conn)
    cur = raw.cursor()
    sets = ", ".join(f"{c} = u.{c}" for c in UPDATED)
    if conn.dialect.name == "sqlite":
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS eod_update ("
            + ", ".join(f"{c} INTEGER" for c in cols)
            + ")"
        )
        cur.execute("DELETE FROM eod_update")
        cur.executemany(f"INSERT INTO eod_update VALUES ({', '.join('?' * len(cols))})", matrix)
        cur.execute(
            f"UPDATE loan_positions SET {sets}, as_of = ?, "
            f"status = CASE WHEN u.dpd > 0 THEN 'overdue' ELSE 'active' END "
            f"FROM eod_update u WHERE loan_positions.loan_id = u.loan_id",
            (business_date.isoformat(),),
        )
        if rolled.any():
            cur.executemany(
                "UPDATE loan_positions SET period_n = period_n + 1 WHERE loan_id = ?",
                [(int(x),) for x in batch["loan_id"][rolled]],
            )
    else:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS eod_update ("
            + ", ".join(f"{c} BIGINT" for c in cols)
            + ") ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY eod_update ({', '.join(cols)}) FROM STDIN") as copy:
            buf = io.StringIO()
            for row in matrix:
                buf.write("\t".join(map(str, row)) + "\n")
            copy.write(buf.getvalue())
        cur.execute(
            f"UPDATE loan_positions p SET {sets}, as_of = %s, "
            f"status = CASE WHEN u.dpd > 0 THEN 'overdue' ELSE 'active' END "
            f"FROM eod_update u WHERE p.loan_id = u.loan_id",
            (business_date,),
        )
        if rolled.any():
            cur.execute(
                "UPDATE loan_positions SET period_n = period_n + 1 WHERE loan_id = ANY(%s)",
                ([int(x) for x in batch["loan_id"][rolled]],),
            )
    cur.close()


def _post(
    conn: Connection, batch: Batch, interest: np.ndarray, penalty: np.ndarray, business_date: date
) -> None:
    tag = business_date.strftime("%Y%m%d")
    rows: list[tuple[Any, ...]] = []
    ids = batch["loan_id"]
    for kind, amounts, (debit, credit) in (
        ("I", interest, INTEREST_ACCRUAL),
        ("P", penalty, PENALTY_ACCRUAL),
    ):
        mask = amounts > 0
        for loan_id, amount in zip(ids[mask].tolist(), amounts[mask].tolist(), strict=True):
            rows.append(
                (
                    f"eod:{tag}:{kind}:{loan_id}",
                    loan_id,
                    business_date.isoformat(),
                    debit,
                    credit,
                    amount,
                )
            )
    if not rows:
        return
    cur = _raw(conn).cursor()
    cols = "entry_ref, loan_id, value_date, debit_account, credit_account, amount_minor"
    if conn.dialect.name == "sqlite":
        cur.executemany(f"INSERT INTO journal_postings ({cols}) VALUES (?, ?, ?, ?, ?, ?)", rows)
    else:
        with cur.copy(f"COPY journal_postings ({cols}) FROM STDIN") as copy:
            buf = io.StringIO()
            for row in rows:
                buf.write("\t".join(map(str, row)) + "\n")
            copy.write(buf.getvalue())
    cur.close()


def run_eod(
    engine: Engine,
    business_date: date,
    *,
    policy: AgingPolicy | None = None,
    partition_size: int = 100_000,
    progress: Callable[[int], None] | None = None,
    stop_after: int | None = None,
) -> EodSummary:
    """Close ``business_date`` for every open loan. ``stop_after`` ends the run after that many
    partitions (used to demonstrate that an interrupted run resumes)."""
    policy = policy or AgingPolicy()
    started = time.perf_counter()
    summary = EodSummary(business_date)
    with engine.connect() as conn:
        check_sequence(conn, business_date)
        parts = partitions(conn, partition_size)
        done = set(
            conn.execute(
                sa.select(t.eod_runs.c.partition_no).where(
                    t.eod_runs.c.business_date == business_date
                )
            ).scalars()
        )
        conn.rollback()
    summary.partitions = len(parts)
    for number, lo, hi in parts:
        if number in done:
            summary.partitions_skipped += 1
            if progress:
                progress(1)
            continue
        if stop_after is not None and summary.partitions_run >= stop_after:
            break
        with engine.begin() as conn:
            batch = _read(conn, lo, hi, business_date)
            n = len(batch)
            if n:
                fell_due = batch["period_due"] == business_date.toordinal()
                nxt = _next_periods(conn, batch, fell_due)
                overdue = _overdue_rows(conn, batch, business_date)
                interest, penalty, _ = close_day(
                    batch, business_date.toordinal(), policy, nxt, overdue
                )
                _write(conn, batch, fell_due & (nxt.has_next != 0), business_date)
                _post(conn, batch, interest, penalty, business_date)
                summary.interest_minor += int(interest.sum())
                summary.penalty_minor += int(penalty.sum())
                for code, count in zip(
                    *np.unique(batch["class_code"], return_counts=True), strict=True
                ):
                    summary.by_class[int(code)] = summary.by_class.get(int(code), 0) + int(count)
            conn.execute(
                sa.insert(t.eod_runs).values(
                    business_date=business_date,
                    partition_no=number,
                    loans=n,
                    interest_minor=int(interest.sum()) if n else 0,
                    penalty_minor=int(penalty.sum()) if n else 0,
                    finished_at=datetime.now(UTC),
                )
            )
            summary.loans += n
            summary.partitions_run += 1
        if progress:
            progress(1)
    summary.seconds = time.perf_counter() - started
    return summary
