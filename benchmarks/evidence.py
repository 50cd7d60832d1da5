"""Evidence log benchmarks (R-9.4): persisted appends, inclusion and consistency proofs.

Run: ``.venv/bin/python benchmarks/evidence.py`` (about 2-3 minutes: a 10,000,000-leaf tree in
memory and in SQLite), ``--quick`` (1,000,000 leaves, under a minute), ``--database-url
postgresql://...`` to add PostgreSQL (a fresh database is created and dropped on that server;
``--pg-leaves`` sets the size of its proof store, 1,000,000 by default because loading is
slow), ``--search-indexes`` to also measure appends with indexes on ``object_ref`` and
``subject_ref``. Prints a markdown table. SHA-256 runs are the baseline of the SM3 ratios,
measured in the same run because the machine is shared and noisy.

1. Appends: events are built beforehand (their validation is measured on its own row); each
   transaction is ``engine.begin()`` + ``EvidenceLogRepository.append`` + commit, on a file
   database with the platform's engine settings (SQLite WAL, ``synchronous=NORMAL``).
2. Proofs: the perfect-subtree nodes of an ``N``-leaf tree (leaf ``i`` = its 8-byte index) are
   built level by level in bulk on all cores, loaded into the in-memory store and into the
   database tables, then proofs for random leaves are taken through the real code paths.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from puhui.adapters.db import evidence_tables as et
from puhui.adapters.db.engine import make_engine, normalize_url
from puhui.adapters.db.evidence_repository import EvidenceLogRepository
from puhui.adapters.db.tables import metadata
from puhui.domain.audit import HashAlgorithm
from puhui.domain.evidence.log import EventType, EvidenceEvent
from puhui.domain.evidence.merkle import (
    CompactTree,
    TreeHasher,
    range_peaks,
    verify_consistency,
    verify_inclusion,
)

TABLES = [et.evidence_leaves, et.evidence_nodes, et.evidence_head, et.evidence_tree_heads]
SEARCH_INDEXES = (
    "CREATE INDEX ix_bench_object ON evidence_leaves (object_ref)",
    "CREATE INDEX ix_bench_subject ON evidence_leaves (subject_ref)",
)
T0 = datetime(2026, 11, 23, tzinfo=UTC)
CHUNK = 1 << 20  # leaves per worker task: an aligned perfect subtree
Row = tuple[str, str]


# --- events -----------------------------------------------------------------------------------


def make_events(n: int, seed: int = 7) -> list[EvidenceEvent]:
    """Realistic spread: 20,000 customers (blind indexes), 30,000 loans, one digest each."""
    rnd = random.Random(seed)
    customers = [rnd.randbytes(32).hex() for _ in range(20_000)]
    types = list(EventType)
    return [
        EvidenceEvent(
            event_type=types[i % len(types)],
            occurred_at=T0 + timedelta(milliseconds=i),
            subject_ref=customers[rnd.randrange(len(customers))],
            object_ref=f"loan:{rnd.randrange(30_000)}",
            payload_digest=rnd.randbytes(32).hex(),
            metadata={"channel": "app", "amount": f"{rnd.randrange(100, 500_000)}.00"},
        )
        for i in range(n)
    ]


def bench_event_building(n: int) -> list[Row]:
    start = time.perf_counter()
    events = make_events(n, seed=1)
    built = n / (time.perf_counter() - start)
    rows = [("event construction + validation (PII checks), in memory", f"{built:,.0f} /s")]
    for alg in (HashAlgorithm.SHA256, HashAlgorithm.SM3):
        tree = CompactTree(TreeHasher(alg))
        start = time.perf_counter()
        for event in events:
            tree.append_data(event.leaf_bytes())
        rate = n / (time.perf_counter() - start)
        rows.append((f"leaf encoding + Merkle append ({alg.value}), in memory", f"{rate:,.0f} /s"))
    return rows


# --- appends ----------------------------------------------------------------------------------


def _fresh_tables(engine: Engine, search_indexes: bool) -> None:
    metadata.drop_all(engine, tables=TABLES)
    metadata.create_all(engine, tables=TABLES)
    if search_indexes:
        with engine.begin() as conn:
            for ddl in SEARCH_INDEXES:
                conn.exec_driver_sql(ddl)


def append_rate(
    engine: Engine, alg: HashAlgorithm, batch: int, events: list[EvidenceEvent], seconds: float
) -> float:
    """Appends per second, ``batch`` events per transaction, after a 2,000-event warm-up."""
    with engine.begin() as conn:
        EvidenceLogRepository(conn, alg).append(events[:2000])
    done, position = 0, 2000
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and position + batch <= len(events):
        with engine.begin() as conn:
            EvidenceLogRepository(conn, alg).append(events[position : position + batch])
        position += batch
        done += batch
    rate = done / (time.perf_counter() - start)
    with engine.connect() as conn:
        assert EvidenceLogRepository(conn).size() == position
    return rate


def bench_appends(
    name: str, engine: Engine, events: list[EvidenceEvent], seconds: float, search: bool
) -> list[Row]:
    rows: list[Row] = []
    rates: dict[tuple[HashAlgorithm, int], float] = {}
    for batch in (1, 100):
        for alg in (HashAlgorithm.SHA256, HashAlgorithm.SM3):
            _fresh_tables(engine, False)
            rates[alg, batch] = rate = append_rate(engine, alg, batch, events, seconds)
            rows.append(
                (f"{name}: persisted appends, {batch}/transaction, {alg.value}", f"{rate:,.0f} /s")
            )
        ratio = rates[HashAlgorithm.SM3, batch] / rates[HashAlgorithm.SHA256, batch]
        rows.append((f"{name}: SM3 / SHA-256 append rate, {batch}/transaction", f"{ratio:.2f}x"))
    if search:
        for batch in (1, 100):
            _fresh_tables(engine, True)
            rate = append_rate(engine, HashAlgorithm.SM3, batch, events, seconds)
            rows.append(
                (
                    f"{name}: persisted appends, {batch}/transaction, sm3, "
                    "+ indexes on object_ref and subject_ref",
                    f"{rate:,.0f} /s",
                )
            )
    _fresh_tables(engine, False)
    return rows


# --- building a big tree ----------------------------------------------------------------------


def _sm3_function() -> Callable[[bytes], bytes]:
    """The fastest SM3 at hand for the bulk build: C GmSSL if installed, else OpenSSL."""
    try:
        import gmssl_pyx

        fast: Callable[[bytes], bytes] = gmssl_pyx.sm3_hash
        if fast(b"abc") == hashlib.new("sm3", b"abc").digest():
            return fast
    except ImportError:  # pragma: no cover - optional
        pass
    return lambda data: hashlib.new("sm3", data).digest()


def _build_chunk(task: tuple[int, int]) -> list[bytes]:
    """Leaf hashes of leaves ``[start, end)`` and every perfect node inside that range."""
    start, end = task
    sm3 = _sm3_function()
    data = np.arange(start, end, dtype=">u8").tobytes()
    level = b"".join([sm3(b"\x00" + data[k : k + 8]) for k in range(0, len(data), 8)])
    levels = [level]
    while len(level) >= 64:
        level = b"".join([sm3(b"\x01" + level[k : k + 64]) for k in range(0, len(level) - 63, 64)])
        levels.append(level)
    return levels


def build_levels(n: int) -> list[bytes]:
    """Perfect-subtree hashes of an ``n``-leaf SM3 tree, level by level, on all cores."""
    tasks = [(s, min(s + CHUNK, n)) for s in range(0, n, CHUNK)]
    with get_context("fork").Pool(os.cpu_count() or 1) as pool:
        parts = pool.map(_build_chunk, tasks)
    depth = n.bit_length()
    levels = [b"".join(part[k] for part in parts if k < len(part)) for k in range(depth)]
    sm3 = _sm3_function()
    for k in range(CHUNK.bit_length() - 1, depth - 1):  # above the chunks: few nodes
        below = levels[k]
        levels[k + 1] = b"".join(
            sm3(b"\x01" + below[i : i + 64]) for i in range(0, len(below) - 63, 64)
        )
    return levels


# --- proofs -----------------------------------------------------------------------------------


def _stats(times: list[float]) -> str:
    times = sorted(times)
    p50 = statistics.median(times) * 1e6
    p99 = times[int(0.99 * (len(times) - 1))] * 1e6
    return f"{statistics.fmean(times) * 1e6:,.0f} µs mean, {p50:,.0f} / {p99:,.0f} µs p50/p99"


def bench_proofs_in_memory(tree: CompactTree, k: int) -> list[Row]:
    n, h, root = tree.size, tree.hasher, tree.root()
    rnd = random.Random(3)
    inc, ver, con = [], [], []
    for _ in range(k):
        i = rnd.randrange(n)
        start = time.perf_counter()
        proof = tree.inclusion_proof(i)
        inc.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_inclusion(h, tree.get_node(0, i), proof, root)
        ver.append(time.perf_counter() - start)
        m = rnd.randrange(1, n)
        start = time.perf_counter()
        cproof = tree.consistency_proof(m)
        con.append(time.perf_counter() - start)
        if len(con) <= 20:
            verify_consistency(h, cproof, tree.root(m), root)
    return [
        (f"inclusion proof, {n:,}-leaf log, in-memory store", _stats(inc)),
        ("inclusion proof verification (SM3, RFC 9162 §2.1.3.2)", _stats(ver)),
        (f"consistency proof, random m < {n:,}, in-memory store", _stats(con)),
    ]


def bench_proofs_in_db(name: str, engine: Engine, tree: CompactTree, k: int) -> list[Row]:
    n, h, root = tree.size, tree.hasher, tree.root()
    rnd = random.Random(5)
    inc, con, ping = [], [], []
    select_one = sa.text("SELECT 1")
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        assert repo.size() == n and repo.root() == root
        for _ in range(200):  # warm-up: statement caches, server-side prepared statements
            repo.inclusion_proof(rnd.randrange(n))
            repo.consistency_proof(rnd.randrange(1, n))
        for j in range(k):
            i = rnd.randrange(n)
            start = time.perf_counter()
            proof = repo.inclusion_proof(i)
            inc.append(time.perf_counter() - start)
            m = rnd.randrange(1, n)
            start = time.perf_counter()
            cproof = repo.consistency_proof(m)
            con.append(time.perf_counter() - start)
            start = time.perf_counter()
            conn.execute(select_one).all()
            ping.append(time.perf_counter() - start)
            if j < 50:  # the stored tree is the same tree
                assert proof == tree.inclusion_proof(i)
                verify_inclusion(h, tree.get_node(0, i), proof, root)
                verify_consistency(h, cproof, tree.root(m), root)
    return [
        (f"{name}: inclusion proof, {n:,}-leaf log, database store", _stats(inc)),
        (f"{name}: consistency proof, random m < {n:,}, database store", _stats(con)),
        (f"{name}: `SELECT 1` through SQLAlchemy (baseline, same run)", _stats(ping)),
    ]


def _leaf_rows(level0: bytes) -> Iterator[tuple[object, ...]]:
    filler = "0" * 64
    for i in range(len(level0) // 32):
        yield (i, level0[32 * i : 32 * i + 32], "repayment", "loan:1", filler, filler)


def _node_rows(levels: list[bytes]) -> Iterator[tuple[int, int, bytes]]:
    for level in range(1, len(levels)):
        data = levels[level]
        for i in range(len(data) // 32):
            yield (level, i, data[32 * i : 32 * i + 32])


def _head_values(tree: CompactTree) -> dict[str, object]:
    peaks = b"".join(tree.get_node(*node) for node in range_peaks(0, tree.size))
    return {"id": 1, "tree_size": tree.size, "root_hash": tree.root(), "peaks": peaks,
            "hash_alg": "sm3"}  # fmt: skip


_SEQUENCE = "WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < ? - 1) "


def load_sqlite(path: Path, tree: CompactTree, levels: list[bytes]) -> None:
    """Bulk-load the stored tree: each level is one blob split by SQLite itself (3x faster
    than ``executemany``), with bulk-load settings; then back to the platform's settings."""
    import sqlite3

    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine, tables=TABLES)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    filler = "0" * 64
    conn.execute(
        _SEQUENCE + "INSERT INTO evidence_leaves SELECT x, substr(?, 32 * x + 1, 32), "
        "'repayment', 'loan:1', ?, ?, '2026-11-23 00:00:00.000000', '{}' FROM i",
        (tree.size, levels[0], filler, filler),
    )
    for level in range(1, len(levels)):
        count = len(levels[level]) // 32
        if count:
            conn.execute(
                _SEQUENCE + "INSERT INTO evidence_nodes SELECT ?, x, substr(?, 32 * x + 1, 32) "
                "FROM i",
                (count, level, levels[level]),
            )
    head = _head_values(tree)
    conn.execute("INSERT INTO evidence_head VALUES (?, ?, ?, ?, ?)", tuple(head.values()))
    conn.execute("COMMIT")
    conn.close()
    os.sync()  # flush the new file now, not while proofs are being timed


def load_postgres(engine: Engine, tree: CompactTree, levels: list[bytes]) -> None:
    metadata.create_all(engine, tables=TABLES)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = "seq, leaf_hash, event_type, object_ref, subject_ref, payload_digest"
        with cursor.copy(
            f"COPY evidence_leaves ({columns}, occurred_at, metadata) FROM STDIN"
        ) as copy:
            for row in _leaf_rows(levels[0]):
                copy.write_row((*row, T0, "{}"))
        with cursor.copy("COPY evidence_nodes (level, node_index, hash) FROM STDIN") as copy:
            for row in _node_rows(levels):
                copy.write_row(row)
        conn.execute(sa.insert(et.evidence_head).values(**_head_values(tree)))
    # let the server settle: otherwise autovacuum and the checkpointer run during the timing
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE) evidence_leaves, evidence_nodes")
        with contextlib.suppress(sa.exc.DBAPIError):  # CHECKPOINT needs pg_checkpoint rights
            conn.exec_driver_sql("CHECKPOINT")


@contextmanager
def postgres_database(url: str) -> Iterator[Engine]:
    """A fresh database on the server of ``url``, dropped afterwards."""
    name = f"puhui_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = make_engine(
        sa.engine.make_url(normalize_url(url)).set(database=name).render_as_string(False)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M-leaf tree, short runs")
    parser.add_argument("--leaves", type=int, help="size of the proof benchmark tree")
    parser.add_argument("--database-url", help="PostgreSQL server to benchmark as well")
    parser.add_argument("--pg-leaves", type=int, default=1_000_000)
    parser.add_argument("--search-indexes", action="store_true")
    args = parser.parse_args()
    n = args.leaves or (1_000_000 if args.quick else 10_000_000)
    seconds = 2.0 if args.quick else 4.0
    proofs = 1_000 if args.quick else 2_000
    rows: list[Row] = []
    clock = time.perf_counter()

    rows += bench_event_building(20_000)
    events = make_events(2000 + int(seconds * 40_000))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/appends.db")
        rows += bench_appends("SQLite", engine, events, seconds, args.search_indexes)
        engine.dispose()
    if args.database_url:
        with postgres_database(args.database_url) as engine:
            rows += bench_appends("PostgreSQL", engine, events, seconds, args.search_indexes)

    start = time.perf_counter()
    levels = build_levels(n)
    tree = CompactTree.from_levels(levels, TreeHasher(HashAlgorithm.SM3))
    rows.append((f"bulk build of the {n:,}-leaf SM3 tree ({os.cpu_count()} processes)",
                 f"{time.perf_counter() - start:,.1f} s"))  # fmt: skip
    rows += bench_proofs_in_memory(tree, proofs)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        load_sqlite(Path(tmp) / "proofs.db", tree, levels)
        size_mb = (Path(tmp) / "proofs.db").stat().st_size / 1e6
        rows.append((f"SQLite: bulk load of {n:,} leaves + {n - n.bit_count():,} nodes",
                     f"{time.perf_counter() - start:,.1f} s, {size_mb:,.0f} MB"))  # fmt: skip
        engine = make_engine(f"sqlite:///{tmp}/proofs.db")
        rows += bench_proofs_in_db("SQLite", engine, tree, proofs)
        engine.dispose()
    if args.database_url:
        m = min(args.pg_leaves, n)
        small = CompactTree.from_levels([lv[: (m >> k) * 32] for k, lv in enumerate(levels)
                                         if m >> k], tree.hasher)  # fmt: skip
        with postgres_database(args.database_url) as engine:
            start = time.perf_counter()
            load_postgres(engine, small, [bytes(level) for level in small.levels])
            rows.append((f"PostgreSQL: bulk load (COPY) of {m:,} leaves",
                         f"{time.perf_counter() - start:,.1f} s"))  # fmt: skip
            rows += bench_proofs_in_db("PostgreSQL", engine, small, proofs)

    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\n(total {time.perf_counter() - clock:,.0f} s)")


if __name__ == "__main__":
    main()
