"""The hash-chained audit log detects modification, deletion, reordering and truncation
(R-10.2(g), R-M4.2)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    ChainHead,
    ChainProblem,
    HashAlgorithm,
    canonical_bytes,
    digest,
    next_record,
    seal,
    verify_chain,
)
from puhui.domain.errors import DomainError, ValidationError

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        actor=f"staff:user{i % 3}",
        action="users.create" if i % 2 else "customers.read",
        target=f"staff_user:{i}",
        result="ok" if i % 5 else "denied",
        request_id=None if i % 4 == 0 else f"req-{i}",
        details={"fields": ["customer.phone"], "n": i, "note": "张三 masked"},
        occurred_at=T0 + timedelta(seconds=i),
    )


def chain(n: int, algorithm: HashAlgorithm = HashAlgorithm.SHA256) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    previous: AuditRecord | None = None
    for i in range(1, n + 1):
        previous = next_record(entry(i), previous, algorithm)
        records.append(previous)
    return records


# --- hashing ------------------------------------------------------------------------------


def test_sm3_known_answer_abc() -> None:
    assert (
        digest(b"abc", HashAlgorithm.SM3)
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_sha256_known_answer_abc() -> None:
    assert (
        digest(b"abc", HashAlgorithm.SHA256)
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_missing_algorithm_is_a_domain_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(name: str, data: bytes = b"") -> Any:
        raise ValueError(f"unsupported hash type {name}")

    monkeypatch.setattr(hashlib, "new", unavailable)
    with pytest.raises(DomainError) as caught:
        digest(b"abc", HashAlgorithm.SM3)
    assert caught.value.code == "audit.algorithm_unavailable"


def test_canonical_bytes_are_deterministic_json() -> None:
    e = entry(1)
    reordered = dataclasses.replace(e, details=dict(reversed(list(e.details.items()))))
    data = canonical_bytes(7, e, GENESIS_HASH)
    assert data == canonical_bytes(7, reordered, GENESIS_HASH)
    text = data.decode("utf-8")
    assert '"occurred_at":"2024-05-01T08:00:01.000000+00:00"' in text
    assert "张三" in text  # UTF-8, not \\u escapes
    assert ", " not in text and '": ' not in text
    assert text.index('"action"') < text.index('"actor"') < text.index('"details"')


def test_record_hash_is_the_hash_of_the_canonical_bytes() -> None:
    record = chain(1, HashAlgorithm.SM3)[0]
    expected = hashlib.new("sm3", canonical_bytes(1, record, GENESIS_HASH)).hexdigest()
    assert record.record_hash == expected
    assert record.prev_hash == GENESIS_HASH
    assert record.entry == entry(1)


# --- entries --------------------------------------------------------------------------------


def test_naive_timestamp_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        dataclasses.replace(entry(1), occurred_at=datetime(2024, 5, 1))  # noqa: DTZ001
    assert caught.value.code == "audit.naive_timestamp"


def test_aware_timestamp_normalised_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    e = dataclasses.replace(entry(1), occurred_at=datetime(2024, 5, 1, 16, 0, tzinfo=beijing))
    assert e.occurred_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert e.occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "details", [{"when": datetime.now(UTC)}, {"x": float("nan")}, {1: "non-string key"}]
)
def test_details_must_be_json(details: dict[Any, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        dataclasses.replace(entry(1), details=details)
    assert caught.value.code == "audit.details_not_json"


def test_details_are_frozen_copies() -> None:
    source: dict[str, Any] = {"a": 1}
    e = dataclasses.replace(entry(1), details=source)
    source["a"] = 2
    assert e.details["a"] == 1
    with pytest.raises(TypeError):
        e.details["a"] = 3  # type: ignore[index]


def test_empty_actor_refused() -> None:
    with pytest.raises(ValidationError):
        dataclasses.replace(entry(1), actor="")


def test_seal_refuses_bad_links() -> None:
    with pytest.raises(ValidationError):
        seal(entry(1), seq=0, prev_hash=GENESIS_HASH, algorithm=HashAlgorithm.SHA256)
    with pytest.raises(ValidationError):
        seal(entry(1), seq=2, prev_hash="xyz", algorithm=HashAlgorithm.SHA256)
    with pytest.raises(ValidationError):
        seal(entry(1), seq=2, prev_hash=GENESIS_HASH, algorithm=HashAlgorithm.SHA256)


def test_chain_head_validation() -> None:
    assert ChainHead.of(None) == ChainHead(0, GENESIS_HASH)
    with pytest.raises(ValidationError):
        ChainHead(-1, GENESIS_HASH)
    with pytest.raises(ValidationError):
        ChainHead(0, "a" * 64)
    with pytest.raises(ValidationError):
        ChainHead(3, "not-hex")


# --- verification: intact chains -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
def test_chain_verifies(algorithm: HashAlgorithm) -> None:
    records = chain(25, algorithm)
    assert [r.seq for r in records] == list(range(1, 26))
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(records))
    verdict = verify_chain(records, head=ChainHead.of(records[-1]))
    assert verdict.ok and verdict.checked == 25
    assert verdict.problem is None and verdict.first_bad_seq is None


def test_empty_chain_verifies() -> None:
    assert verify_chain([]).ok
    assert verify_chain([], head=ChainHead.of(None)).ok


def test_mixed_algorithms_verify() -> None:
    first = chain(3, HashAlgorithm.SHA256)
    fourth = next_record(entry(4), first[-1], HashAlgorithm.SM3)
    assert verify_chain([*first, fourth]).ok


def test_records_appended_after_the_head_are_accepted() -> None:
    records = chain(10)
    assert verify_chain(records, head=ChainHead.of(records[6])).ok


# --- verification: tampering ---------------------------------------------------------------


def _altered(record: AuditRecord, name: str, text: str) -> AuditRecord:
    value: Any = getattr(record, name)
    new: Any
    if name in ("actor", "action", "target", "result"):
        new = text if text != value else text + "x"
    elif name == "request_id":
        new = None if value is not None else text or "req"
    elif name == "details":
        new = {**value, "tampered": text}
    elif name == "occurred_at":
        new = value + timedelta(microseconds=1)
    elif name == "seq":
        new = value + 1 + len(text)
    elif name in ("prev_hash", "record_hash"):
        new = hashlib.sha256(text.encode() + value.encode()).hexdigest()
    else:  # algorithm
        new = HashAlgorithm.SM3 if value is HashAlgorithm.SHA256 else HashAlgorithm.SHA256
    return dataclasses.replace(record, **{name: new})


ALL_FIELDS = [f.name for f in dataclasses.fields(AuditRecord)]


def test_every_field_is_covered() -> None:
    assert set(ALL_FIELDS) == {
        "actor",
        "action",
        "target",
        "result",
        "request_id",
        "details",
        "occurred_at",
        "seq",
        "prev_hash",
        "record_hash",
        "algorithm",
    }


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 8),
    data=st.data(),
    name=st.sampled_from(ALL_FIELDS),
    text=st.text(min_size=1, max_size=8),
    algorithm=st.sampled_from(list(HashAlgorithm)),
)
def test_changing_any_field_is_detected(
    n: int, data: st.DataObject, name: str, text: str, algorithm: HashAlgorithm
) -> None:
    records = chain(n, algorithm)
    index = data.draw(st.integers(0, n - 1))
    records[index] = _altered(records[index], name, text)
    verdict = verify_chain(iter(records))
    assert not verdict.ok
    assert verdict.problem is ChainProblem.MODIFIED
    assert verdict.problem.value == "modified"
    assert verdict.first_bad_seq == index + 1
    assert verdict.checked == index
    assert f"record {index + 1} " in verdict.message


def test_deleting_a_middle_record_names_the_missing_seq() -> None:
    records = chain(10)
    del records[4]  # seq 5
    verdict = verify_chain(records)
    assert (verdict.ok, verdict.problem, verdict.first_bad_seq) == (False, "deleted", 5)
    assert verdict.checked == 4
    assert "record 5 is missing" in verdict.message


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 12), data=st.data())
def test_deleting_any_run_before_the_tail_is_detected(n: int, data: st.DataObject) -> None:
    records = chain(n)
    start = data.draw(st.integers(0, n - 2))
    stop = data.draw(st.integers(start + 1, n - 1))
    del records[start:stop]
    verdict = verify_chain(records)
    assert verdict.problem == ChainProblem.DELETED
    assert verdict.first_bad_seq == start + 1


def test_deletion_hidden_by_renumbering_is_detected() -> None:
    """Record 5 removed and record 6 re-sealed as 5: the link to record 4 breaks."""
    records = chain(8)
    forged = seal(
        records[5].entry, seq=5, prev_hash=records[4].record_hash, algorithm=HashAlgorithm.SHA256
    )
    verdict = verify_chain([*records[:4], forged])
    assert (verdict.problem, verdict.first_bad_seq) == ("deleted", 5)
    assert "record 5 does not link to record 4" in verdict.message


def test_deleting_the_tail_is_detected_via_the_head() -> None:
    records = chain(10)
    head = ChainHead.of(records[-1])
    assert verify_chain(records[:7]).ok  # a bare chain cannot see it...
    verdict = verify_chain(records[:7], head=head)  # ...the separately stored head can
    assert (verdict.ok, verdict.problem, verdict.first_bad_seq) == (False, "truncated", 8)
    assert "record 8 is the first one missing" in verdict.message
    assert verify_chain([], head=head).first_bad_seq == 1


def test_tail_cut_and_rewritten_is_detected_via_the_head() -> None:
    records = chain(10)
    head = ChainHead.of(records[-1])
    rewritten = records[:7]
    for i in range(8, 12):
        rewritten.append(next_record(entry(100 + i), rewritten[-1], HashAlgorithm.SHA256))
    assert verify_chain(rewritten).ok
    verdict = verify_chain(rewritten, head=head)
    assert (verdict.problem, verdict.first_bad_seq) == ("truncated", 10)


@pytest.mark.parametrize(("i", "j"), [(3, 4), (0, 1), (2, 7), (0, 9)])
def test_swapped_records_are_reordered(i: int, j: int) -> None:
    records = chain(10)
    records[i], records[j] = records[j], records[i]
    verdict = verify_chain(iter(records))
    assert (verdict.problem, verdict.first_bad_seq) == ("reordered", i + 1)
    assert f"out of order at record {i + 1}:" in verdict.message


def test_repeated_record_is_reordered() -> None:
    records = chain(6)
    verdict = verify_chain([*records[:4], records[3], *records[4:]])
    assert (verdict.problem, verdict.first_bad_seq) == ("reordered", 4)


# --- streaming -------------------------------------------------------------------------------


def _lazy_chain(n: int) -> Iterator[AuditRecord]:
    previous: AuditRecord | None = None
    for i in range(1, n + 1):
        previous = next_record(entry(i), previous, HashAlgorithm.SHA256)
        yield previous


def test_verification_streams_in_constant_memory() -> None:
    n = 4000
    tracemalloc.start()
    try:
        verdict = verify_chain(_lazy_chain(n), head=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.ok and verdict.checked == n
    # Holding 4000 records would take megabytes; streaming keeps a handful alive.
    assert peak < 200_000, peak
