"""Hash-chained, append-only audit log (R-10.2(g), R-M4.2).

Every security-relevant act (a login, a permission change, a read of personal data, a loan
decision) is written as one :class:`AuditRecord`. Each record carries the hash of the record
before it, so the log forms a chain: changing, deleting or reordering any record breaks the
chain at that point, and :func:`verify_chain` names the first record that does not fit.

A chain alone cannot notice that its *tail* was cut off (the remaining records still link up).
For that, the service stores a :class:`ChainHead` (the sequence number and hash of the newest
record) somewhere else, e.g. a separate table, a signed daily report or a write-once store;
``verify_chain(..., head=...)`` then also reports truncation.

The hash is SHA-256 or SM3 (GB/T 32905, the national standard expected by GB/T 39786). Both
give 256-bit digests, so hashes are always 64 lowercase hex characters.

This module is pure: it computes and checks hashes; storing records is an adapter's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from puhui.domain.errors import DomainError, ErrorKind, ValidationError

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditRecord",
    "ChainHead",
    "ChainProblem",
    "ChainVerdict",
    "HashAlgorithm",
    "canonical_bytes",
    "digest",
    "next_record",
    "seal",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of record 1: there is no record before it."""

_HEX = frozenset("0123456789abcdef")


class HashAlgorithm(StrEnum):
    """Hash used to seal a record; SM3 is the national standard, SHA-256 the fallback."""

    SHA256 = "sha256"
    SM3 = "sm3"


class ChainProblem(StrEnum):
    """Why a chain failed verification."""

    MODIFIED = "modified"  # a record's content no longer matches its own hash
    DELETED = "deleted"  # a record is missing (gap in seq, or a broken link)
    REORDERED = "reordered"  # records are present but out of order (or repeated)
    TRUNCATED = "truncated"  # the newest records are gone (detected via the ChainHead)


def digest(data: bytes, algorithm: HashAlgorithm) -> str:
    """Hex digest of ``data``; SM3 needs an OpenSSL build that provides it."""
    try:
        hasher = hashlib.new(algorithm.value, data)
    except ValueError as exc:
        raise DomainError(
            f"Hash algorithm {algorithm.value} is not available in this Python/OpenSSL build",
            code="audit.algorithm_unavailable",
            kind=ErrorKind.UNAVAILABLE,
            details={"algorithm": algorithm.value},
        ) from exc
    return hasher.hexdigest()


def _utc(value: datetime, code: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "Audit timestamps must be timezone-aware (UTC); a naive datetime was given",
            code=code,
        )
    return value.astimezone(UTC)


def _json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a service wants recorded: who did what to which object, and how it ended.

    ``actor`` is e.g. ``"staff:alice"``, ``"customer:12"`` or ``"system"``; ``action`` a dotted
    verb such as ``"users.create"``; ``target`` the object, e.g. ``"staff_user:3"``; ``result``
    ``"ok"``, ``"denied"`` or ``"error:<code>"``. ``details`` must be JSON-serializable (use
    strings for money and dates) and must never hold personal data in clear (R-M4.2): record
    field *names* or masked values instead. ``occurred_at`` must be timezone-aware; it is
    normalised to UTC.
    """

    actor: str
    action: str
    target: str
    result: str
    request_id: str | None
    details: Mapping[str, Any]
    occurred_at: datetime

    def __post_init__(self) -> None:
        for name in ("actor", "action", "target", "result"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValidationError(
                    f"Audit field {name!r} must be a non-empty string",
                    code="audit.field_required",
                    details={"field": name},
                )
        object.__setattr__(self, "occurred_at", _utc(self.occurred_at, "audit.naive_timestamp"))
        try:
            frozen = MappingProxyType(dict(self.details))
            _json(dict(frozen))
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                "Audit details must be a JSON-serializable mapping with string keys",
                code="audit.details_not_json",
            ) from exc
        if not all(isinstance(key, str) for key in frozen):
            raise ValidationError(
                "Audit details keys must be strings", code="audit.details_not_json"
            )
        object.__setattr__(self, "details", frozen)


@dataclass(frozen=True, slots=True)
class AuditRecord(AuditEntry):
    """An :class:`AuditEntry` sealed into the chain at position ``seq`` (1-based).

    ``prev_hash`` is the ``record_hash`` of record ``seq - 1`` (:data:`GENESIS_HASH` for
    record 1); ``record_hash`` is the hash of :func:`canonical_bytes` under ``algorithm``.
    Records loaded from storage are built directly with this constructor and checked with
    :func:`verify_chain`; the constructor itself does not reject a tampered record.
    """

    seq: int
    prev_hash: str
    record_hash: str
    algorithm: HashAlgorithm

    @property
    def entry(self) -> AuditEntry:
        """The recorded facts without the chain fields."""
        return AuditEntry(
            actor=self.actor,
            action=self.action,
            target=self.target,
            result=self.result,
            request_id=self.request_id,
            details=self.details,
            occurred_at=self.occurred_at,
        )


def canonical_bytes(seq: int, entry: AuditEntry, prev_hash: str) -> bytes:
    """The exact bytes that are hashed: sorted, compact JSON in UTF-8 of every field.

    The timestamp is ISO-8601 in UTC with microseconds (``2024-05-01T08:00:00.000000+00:00``),
    so the same record always gives the same bytes, whatever machine computes them.
    """
    payload = {
        "seq": seq,
        "prev_hash": prev_hash,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "result": entry.result,
        "request_id": entry.request_id,
        "details": dict(entry.details),
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return _json(payload).encode("utf-8")


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def seal(entry: AuditEntry, *, seq: int, prev_hash: str, algorithm: HashAlgorithm) -> AuditRecord:
    """Seal ``entry`` as record ``seq`` following the record whose hash is ``prev_hash``."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValidationError(
            "Audit sequence numbers start at 1", code="audit.bad_seq", details={"seq": seq}
        )
    if not _is_hash(prev_hash):
        raise ValidationError(
            "prev_hash must be 64 lowercase hex characters", code="audit.bad_prev_hash"
        )
    if (seq == 1) != (prev_hash == GENESIS_HASH):
        raise ValidationError("Only record 1 follows the genesis hash", code="audit.bad_prev_hash")
    record_hash = digest(canonical_bytes(seq, entry, prev_hash), algorithm)
    return AuditRecord(
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        result=entry.result,
        request_id=entry.request_id,
        details=entry.details,
        occurred_at=entry.occurred_at,
        seq=seq,
        prev_hash=prev_hash,
        record_hash=record_hash,
        algorithm=algorithm,
    )


def next_record(
    entry: AuditEntry, previous: AuditRecord | None, algorithm: HashAlgorithm
) -> AuditRecord:
    """Seal ``entry`` as the record after ``previous`` (or as record 1 of a new chain)."""
    if previous is None:
        return seal(entry, seq=1, prev_hash=GENESIS_HASH, algorithm=algorithm)
    return seal(entry, seq=previous.seq + 1, prev_hash=previous.record_hash, algorithm=algorithm)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Anchor kept apart from the log: the newest record's ``seq`` and ``record_hash``.

    ``ChainHead(0, GENESIS_HASH)`` anchors an empty log.
    """

    seq: int
    record_hash: str

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 0:
            raise ValidationError("A chain head's seq is 0 or more", code="audit.bad_head")
        if not _is_hash(self.record_hash) or (self.seq == 0) != (self.record_hash == GENESIS_HASH):
            raise ValidationError(
                "A chain head's hash must be 64 lowercase hex characters (genesis for seq 0)",
                code="audit.bad_head",
            )

    @classmethod
    def of(cls, record: AuditRecord | None) -> ChainHead:
        """Head pointing at ``record`` (or at the empty chain)."""
        if record is None:
            return cls(0, GENESIS_HASH)
        return cls(record.seq, record.record_hash)


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Outcome of :func:`verify_chain`.

    ``checked`` counts the records found intact before the first problem (all of them when
    ``ok``). ``first_bad_seq`` names the first modified, missing or misplaced record.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: ChainProblem | None = None
    message: str = field(default="audit chain intact")


def _recomputed(record: AuditRecord) -> str:
    return digest(canonical_bytes(record.seq, record, record.prev_hash), record.algorithm)


def _bad(checked: int, seq: int, problem: ChainProblem, message: str) -> ChainVerdict:
    return ChainVerdict(
        ok=False, checked=checked, first_bad_seq=seq, problem=problem, message=message
    )


def _gap_verdict(
    checked: int, missing: int, found: int, rest: Iterator[AuditRecord]
) -> ChainVerdict:
    """Records ``missing .. found-1`` are absent here: moved later (reordered) or gone."""
    for later in rest:  # O(1) memory: only compares sequence numbers
        if missing <= later.seq < found:
            return _bad(
                checked,
                missing,
                ChainProblem.REORDERED,
                f"audit records are out of order at record {missing}: record {found} "
                f"appears there and record {later.seq} comes after it",
            )
    return _bad(
        checked,
        missing,
        ChainProblem.DELETED,
        f"audit record {missing} is missing (next record present is {found})",
    )


def verify_chain(records: Iterable[AuditRecord], *, head: ChainHead | None = None) -> ChainVerdict:
    """Check that ``records`` (in storage order, from record 1) form an unbroken chain.

    Works on a one-pass iterator in constant memory, so a database cursor over millions of
    records can be streamed through it. Stops at the first problem. With ``head``, every record
    up to ``head.seq`` must be present and record ``head.seq`` must carry ``head.record_hash``;
    records appended after the head was taken are accepted.
    """
    stream = iter(records)
    checked = 0
    expected = 1
    prev_hash = GENESIS_HASH
    head_seen = head is None or head.seq == 0
    for record in stream:
        position = expected
        if _recomputed(record) != record.record_hash:
            bad = record.seq if record.seq == position else position
            return _bad(
                checked,
                bad,
                ChainProblem.MODIFIED,
                f"audit record {bad} was modified: its content does not match its hash",
            )
        if record.seq > position:
            return _gap_verdict(checked, position, record.seq, stream)
        if record.seq < position:
            return _bad(
                checked,
                record.seq,
                ChainProblem.REORDERED,
                f"audit record {record.seq} is out of order or repeated: it appears after "
                f"record {position - 1}",
            )
        if record.prev_hash != prev_hash:
            return _bad(
                checked,
                position,
                ChainProblem.DELETED,
                f"audit record {position} does not link to record {position - 1}: a record "
                "before it was removed or rewritten",
            )
        if head is not None and record.seq == head.seq:
            if record.record_hash != head.record_hash:
                return _bad(
                    checked,
                    record.seq,
                    ChainProblem.TRUNCATED,
                    f"audit record {record.seq} differs from the stored chain head: the "
                    "log was cut back and rewritten",
                )
            head_seen = True
        checked += 1
        expected += 1
        prev_hash = record.record_hash
    if not head_seen and head is not None:
        return _bad(
            checked,
            expected,
            ChainProblem.TRUNCATED,
            f"audit log is truncated: the chain head names record {head.seq} but the log ends "
            f"at record {expected - 1}; record {expected} is the first one missing",
        )
    return ChainVerdict(ok=True, checked=checked, message=f"audit chain intact ({checked} records)")
