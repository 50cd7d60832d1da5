"""Engines for the embedded default (SQLite, WAL, foreign keys on) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

READ_ONLY = "puhui_read_only"  # execution option of a connection that only reads
SQLITE_BUSY_TIMEOUT = 30  # seconds a writer waits for the write lock before giving up


class _WriteGate:
    """The turn of the writers of one SQLite engine in this process.

    SQLite has one write lock per database, and a writer that finds it taken sleeps and retries
    (the busy handler backs off up to 100 ms between tries), so under concurrent writers a
    request could sleep long after the lock was freed. Writers of the same engine therefore
    queue here first, on a lock that wakes the next one the moment the previous one commits or
    rolls back; ``BEGIN IMMEDIATE`` then finds the database free (other processes, e.g. the CLI
    or a second server worker, still meet at SQLite's own lock). Read-only units of work never
    queue. A writer that waits longer than the busy timeout gets SQLite's own error."""

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout

    def acquire(self) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked")

    def try_acquire(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()


class _Checkpointer:
    """Checkpoints the write-ahead logs of this process's SQLite databases in the background.

    On its own SQLite checkpoints a WAL once it holds 1,000 pages, inside the ``COMMIT`` that
    crosses the mark: that request then waits while the pages are copied to the database file
    and synced (10-40 ms here, about one decision in 60). Instead, a daemon thread checkpoints
    each database written since its last round, a few times a second: first ``PASSIVE`` (it
    neither waits for nor blocks readers and writers) for the bulk, then once more, holding the
    engine's writers' turn, for the few pages written meanwhile (about a millisecond). The WAL
    is then fully copied with no writer in between, so the next writer starts it afresh and it
    seldom reaches SQLite's automatic mark, which stays as the backstop. The thread ends after a
    while without writes and starts again with the next one."""

    INTERVAL = 0.2  # seconds between rounds
    IDLE_ROUNDS = 50  # rounds without writes before the thread ends
    TURN_TIMEOUT = 1.0  # seconds to wait for the writers' turn (else: next round)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _WriteGate] = {}
        self._running = False

    def written(self, path: str, gate: _WriteGate) -> None:
        """A write transaction on the database at ``path`` committed."""
        with self._lock:
            self._pending[path] = gate
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    def _run(self) -> None:
        idle = 0
        while True:
            time.sleep(self.INTERVAL)
            with self._lock:
                pending, self._pending = self._pending, {}
                idle = 0 if pending else idle + 1
                if idle >= self.IDLE_ROUNDS:
                    self._running = False
                    return
            for path, gate in pending.items():
                self.checkpoint(path, gate)

    def checkpoint(self, path: str, gate: _WriteGate) -> None:
        try:  # mode=rw: never create a database that was removed meanwhile
            conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=1)
        except sqlite3.Error:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if gate.try_acquire(self.TURN_TIMEOUT):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    gate.release()
        except sqlite3.Error:
            pass  # busy or gone: the next round, or SQLite's automatic checkpoint, does it
        finally:
            conn.close()


_CHECKPOINTER = _Checkpointer()


def _gated_connection_class(gate: _WriteGate, path: str | None) -> type[sqlite3.Connection]:
    """A ``sqlite3.Connection`` that gives back the writers' turn as soon as its transaction
    ends: after ``COMMIT`` or ``ROLLBACK`` has run (also the pool's rollback on check-in), or
    when the connection closes. A committed write asks for a background checkpoint of the
    database file at ``path`` (None: in memory)."""

    class GatedConnection(sqlite3.Connection):
        _holds_turn = False

        def take_write_turn(self) -> None:
            gate.acquire()
            self._holds_turn = True

        def give_back_write_turn(self) -> None:
            if self._holds_turn:
                self._holds_turn = False
                gate.release()

        def commit(self) -> None:
            wrote = self._holds_turn
            try:
                super().commit()
            finally:
                self.give_back_write_turn()
            if wrote and path is not None:
                _CHECKPOINTER.written(path, gate)

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self.give_back_write_turn()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self.give_back_write_turn()

    return GatedConnection


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and use the psycopg 3 driver for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _begin(dbapi_conn: Any, statement: str) -> None:
    try:
        dbapi_conn.execute(statement)
    except sqlite3.Error as err:
        raise sa.exc.DBAPIError.instance(statement, None, err, sqlite3.Error) from err


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = None  # the database file (None: in memory)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            if not parsed.database.startswith("file:") and "uri" not in parsed.query:
                path = str(Path(parsed.database).resolve())
        gate = _WriteGate(SQLITE_BUSY_TIMEOUT)
        connect_args = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT,
            "factory": _gated_connection_class(gate, path),
        }
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions; BEGIN IMMEDIATE takes the write lock up front,
            # so two writers never deadlock on a read-then-write upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # a unit of work opened read-only (``READ_ONLY``) takes no write lock: readers
            # never wait for a writer in WAL mode
            # (straight on the driver's connection: SQLAlchemy does not track the BEGIN, and a
            # statement through it costs more than the BEGIN itself; errors are wrapped as
            # SQLAlchemy wraps them, e.g. ``OperationalError: database is locked``)
            dbapi_conn = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READ_ONLY, False):
                _begin(dbapi_conn, "BEGIN")
                return
            turn = getattr(dbapi_conn, "take_write_turn", None)
            if turn is not None:  # writers of this engine queue in the process (_WriteGate)
                try:
                    turn()
                except sqlite3.Error as err:
                    raise sa.exc.DBAPIError.instance(
                        "BEGIN IMMEDIATE", None, err, sqlite3.Error
                    ) from err
            try:
                _begin(dbapi_conn, "BEGIN IMMEDIATE")
            except BaseException:
                if turn is not None:
                    dbapi_conn.give_back_write_turn()
                raise

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)
