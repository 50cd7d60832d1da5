"""The Merkle evidence log on a real database: SQLite and PostgreSQL (R-9.4).

The migrated template of ``conftest.py`` does not have the evidence tables yet, so each test
builds them with ``metadata.create_all`` on a fresh SQLite file, and — when
``PUHUI_TEST_POSTGRES_URL`` is set (``scripts/with-postgres.sh``) — on a fresh PostgreSQL
database created for the test.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from puhui.adapters.db import evidence_tables as et
from puhui.adapters.db.engine import make_engine, normalize_url
from puhui.adapters.db.evidence_repository import EvidenceLogRepository
from puhui.adapters.db.tables import metadata
from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import Conflict, DomainError, NotFound, ValidationError
from puhui.domain.evidence.log import EventType, EvidenceEvent, SignedTreeHead, TreeHead
from puhui.domain.evidence.merkle import (
    CompactTree,
    InvalidProof,
    TreeHasher,
    verify_consistency,
    verify_inclusion,
)
from puhui.domain.evidence.signatures import Signature, SignatureSuite

PG_URL = os.environ.get("PUHUI_TEST_POSTGRES_URL")
TABLES = [
    et.evidence_leaves,
    et.evidence_nodes,
    et.evidence_head,
    et.evidence_tree_heads,
    et.evidence_receipts,
]
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TYPES = list(EventType)


def an_event(i: int) -> EvidenceEvent:
    return EvidenceEvent(
        event_type=TYPES[i % len(TYPES)],
        occurred_at=T0 + timedelta(seconds=i),
        subject_ref=hashlib.sha256(b"customer %d" % (i % 7)).hexdigest(),
        object_ref=f"loan:{1000 + i % 13}",
        payload_digest=hashlib.new("sm3", b"record %d" % i).hexdigest(),
        metadata={"n": str(i)},
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'evidence.db'}")
        metadata.create_all(eng, tables=TABLES)
        yield eng
        eng.dispose()
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not available (run through scripts/with-postgres.sh)")
    name = f"ev_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.engine.make_url(normalize_url(PG_URL)).set(database=name)
    eng = make_engine(url.render_as_string(hide_password=False))
    metadata.create_all(eng, tables=TABLES)
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def append(engine: Engine, events: list[EvidenceEvent]) -> list[int]:
    with engine.begin() as conn:
        return EvidenceLogRepository(conn).append(events)


def reference(events: list[EvidenceEvent], h: TreeHasher | None = None) -> CompactTree:
    tree = CompactTree(h or TreeHasher())
    for event in events:
        tree.append_data(event.leaf_bytes())
    return tree


def test_appends_roots_and_proofs_match_the_rfc_tree(engine: Engine) -> None:
    events = [an_event(i) for i in range(77)]
    seqs: list[int] = []
    seqs += append(engine, events[:1])
    for i in range(1, 20):  # one event per transaction
        seqs += append(engine, [events[i]])
    seqs += append(engine, events[20:70])  # a batch
    seqs += append(engine, events[70:])
    assert seqs == list(range(77))
    tree = reference(events)
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        h = repo.hasher()
        assert repo.hash_alg is HashAlgorithm.SM3
        assert repo.size() == 77
        assert repo.root() == tree.root()
        for n in range(78):
            assert repo.root(n) == tree.root(n)
        for n in (1, 2, 3, 8, 31, 64, 77):
            for i in {0, n // 2, n - 1}:
                proof = repo.inclusion_proof(i, n)
                assert proof == tree.inclusion_proof(i, n)
                verify_inclusion(h, repo.leaf(i).event.leaf_hash(h), proof, repo.root(n))
            for m in (0, 1, n // 3, n - 1, n):
                proof = repo.consistency_proof(m, n)
                assert proof == tree.consistency_proof(m, n)
                verify_consistency(h, proof, repo.root(m), repo.root(n))
        assert repo.inclusion_proof(5) == tree.inclusion_proof(5, 77)


def test_leaves_come_back_exactly_as_appended(engine: Engine) -> None:
    events = [an_event(i) for i in range(9)]
    append(engine, events)
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        h = repo.hasher()
        for i, event in enumerate(events):
            leaf = repo.leaf(i)
            assert leaf.seq == i
            assert leaf.event == event
            assert leaf.event.leaf_bytes() == event.leaf_bytes()
            assert leaf.leaf_hash == event.leaf_hash(h)
        assert [leaf.event for leaf in repo.leaves(3, 6)] == events[3:6]
        with pytest.raises(NotFound) as err:
            repo.leaf(9)
        assert err.value.code == "evidence.leaf_not_found"


def test_a_rolled_back_append_leaves_no_trace(engine: Engine) -> None:
    append(engine, [an_event(0), an_event(1), an_event(2)])
    with engine.connect() as conn:
        conn.begin()
        assert EvidenceLogRepository(conn).append([an_event(3), an_event(4)]) == [3, 4]
        conn.rollback()
    assert append(engine, [an_event(5)]) == [3]
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        tree = reference([an_event(0), an_event(1), an_event(2), an_event(5)])
        assert repo.size() == 4 and repo.root() == tree.root()


def test_an_empty_log(engine: Engine) -> None:
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        assert repo.size() == 0
        assert repo.root() == TreeHasher().empty_root()
        assert repo.append([]) == []
        with pytest.raises(NotFound) as err:
            repo.inclusion_proof(0, 1)
        assert err.value.code == "evidence.size_beyond_log"


def test_concurrent_appenders_are_serialised(engine: Engine) -> None:
    append(engine, [an_event(0)])  # the head row exists; both writers contend for it
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for k in range(25):
                append(engine, [an_event(offset + k)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(1000 * (t + 1),)) for t in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        leaves = repo.leaves()
        assert [leaf.seq for leaf in leaves] == list(range(76))
        tree = reference([leaf.event for leaf in leaves])
        assert repo.root() == tree.root()
        nodes = conn.execute(sa.select(sa.func.count()).select_from(et.evidence_nodes))
        assert nodes.scalar_one() == 76 - (76).bit_count()


def test_the_first_append_of_two_writers_creates_one_head(engine: Engine) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            append(engine, [an_event(i)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert EvidenceLogRepository(conn).size() == 2


def _signed(head: TreeHead) -> SignedTreeHead:
    # a structurally valid signature value; cryptographic checks are the verifier's business
    digest = head.digest(HashAlgorithm.SM3)
    return SignedTreeHead(
        head,
        Signature(
            suite=SignatureSuite.SM2_SM3,
            key_id="ab" * 16,
            signature=b"\x30\x44" + b"\x01" * 68,
            signed_digest=digest.hex(),
            digest_alg=HashAlgorithm.SM3,
        ),
    )


def test_signed_tree_heads_and_notary_receipts(engine: Engine) -> None:
    append(engine, [an_event(i) for i in range(10)])
    with engine.begin() as conn:
        repo = EvidenceLogRepository(conn)
        assert repo.latest_tree_head() is None
        first = _signed(repo.head_to_sign(T0, 6))
        latest = _signed(repo.head_to_sign(T0 + timedelta(minutes=5)))
        repo.add_tree_head(first)
        repo.add_tree_head(latest)
        assert repo.tree_head(6) == first
        assert repo.tree_head(7) is None
        assert repo.latest_tree_head() == latest
        with pytest.raises(Conflict) as dup:
            repo.add_tree_head(latest)
        assert dup.value.code == "evidence.tree_head_exists"
        wrong_root = TreeHead(8, repo.root(7), T0)
        with pytest.raises(Conflict) as bad:
            repo.add_tree_head(_signed(wrong_root))
        assert bad.value.code == "evidence.tree_head_mismatch"
        with pytest.raises(NotFound):
            repo.add_tree_head(_signed(TreeHead(11, repo.root(), T0)))

        receipt = {"notary": "sandbox", "serial": "N-1", "root_hash": latest.head.root_hash.hex()}
        rid = repo.add_receipt(10, "sandbox-notary", receipt, T0 + timedelta(minutes=6))
        assert rid >= 1
        [stored] = repo.receipts(10)
        assert stored.id == rid and stored.receipt == receipt and stored.notary == "sandbox-notary"
        assert stored.received_at == T0 + timedelta(minutes=6)
        assert repo.receipts(6) == []
        with pytest.raises(NotFound) as missing:
            repo.add_receipt(9, "sandbox-notary", receipt, T0)
        assert missing.value.code == "evidence.tree_head_not_found"
    with engine.connect() as conn:  # committed and read back on a new connection
        assert EvidenceLogRepository(conn).latest_tree_head() == latest


def test_the_log_keeps_its_hash_algorithm(engine: Engine) -> None:
    with engine.begin() as conn:
        EvidenceLogRepository(conn, HashAlgorithm.SHA256).append([an_event(0), an_event(1)])
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        assert repo.hash_alg is HashAlgorithm.SHA256
        sha = TreeHasher(HashAlgorithm.SHA256)
        assert repo.root() == reference([an_event(0), an_event(1)], sha).root()
        with pytest.raises(Conflict) as err:
            EvidenceLogRepository(conn, HashAlgorithm.SM3).append([an_event(2)])
        assert err.value.code == "evidence.hash_alg_mismatch"


# --- tamper evidence ----------------------------------------------------------------------


def test_a_changed_leaf_row_no_longer_proves_inclusion(engine: Engine) -> None:
    append(engine, [an_event(i) for i in range(20)])
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        h, root = repo.hasher(), repo.root()  # as published in a signed tree head
        proof = repo.inclusion_proof(7)
    with engine.begin() as conn:
        other_doc = hashlib.new("sm3", b"another contract").hexdigest()
        conn.execute(
            sa.update(et.evidence_leaves)
            .where(et.evidence_leaves.c.seq == 7)
            .values(payload_digest=other_doc)
        )
    with engine.connect() as conn:
        leaf = EvidenceLogRepository(conn).leaf(7)
        with pytest.raises(InvalidProof):
            verify_inclusion(h, leaf.event.leaf_hash(h), proof, root)


def test_a_changed_node_row_gives_proofs_that_fail(engine: Engine) -> None:
    append(engine, [an_event(i) for i in range(16)])
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        h, root = repo.hasher(), repo.root()
        event = repo.leaf(0).event
    with engine.begin() as conn:
        c = et.evidence_nodes.c
        conn.execute(
            sa.update(et.evidence_nodes)
            .where(c.level == 2, c.node_index == 1)
            .values(hash=b"\x00" * 32)
        )
    with engine.connect() as conn:
        proof = EvidenceLogRepository(conn).inclusion_proof(0)
        with pytest.raises(InvalidProof):
            verify_inclusion(h, event.leaf_hash(h), proof, root)


def test_a_log_that_rewrites_history_fails_the_consistency_proof(engine: Engine) -> None:
    events = [an_event(i) for i in range(30)]
    append(engine, events[:21])
    with engine.connect() as conn:
        old_root = EvidenceLogRepository(conn).root()  # kept by a notary / an auditor
    # an operator with write access rebuilds the log with leaf 4 changed, and keeps appending
    forged = list(events)
    forged[4] = an_event(104)
    with engine.begin() as conn:
        for table in (et.evidence_leaves, et.evidence_nodes, et.evidence_head):
            conn.execute(sa.delete(table))
    append(engine, forged[:21])
    append(engine, forged[21:])
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        with pytest.raises(InvalidProof) as err:
            verify_consistency(repo.hasher(), repo.consistency_proof(21), old_root, repo.root())
        assert err.value.code == "evidence.consistency_proof_invalid"


def test_bad_requests_are_refused(engine: Engine) -> None:
    append(engine, [an_event(i) for i in range(5)])
    with engine.connect() as conn:
        repo = EvidenceLogRepository(conn)
        with pytest.raises(ValidationError):
            repo.inclusion_proof(5, 5)
        with pytest.raises(ValidationError):
            repo.consistency_proof(4, 3)
        for first, second in ((1, 6), (6, 6), (0, 7)):  # sizes the log never had
            with pytest.raises(NotFound) as beyond:
                repo.consistency_proof(first, second)
            assert beyond.value.code == "evidence.size_beyond_log"
        with pytest.raises(NotFound):
            repo.inclusion_proof(0, 6)
        with pytest.raises(ValidationError):
            repo.root(-1)
        with pytest.raises(ValidationError):
            repo.append(["not an event"])  # type: ignore[list-item]
        with pytest.raises(DomainError) as err:
            repo.get_nodes([(3, 0)])  # 8 leaves would be needed
        assert err.value.code == "evidence.node_missing"
