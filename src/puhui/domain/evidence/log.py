"""Evidence events, their leaf encoding, and signed tree heads (R-9.4, R-9.5g, R-10.2g).

Every legal event of a loan — application, consent, decision, signing, sealing, disbursement,
repayment, write-off — is appended to the evidence log as one :class:`EvidenceEvent`. A leaf
holds **hashes and minimal metadata only** (R-9.4: third-party evidence is transmitted as
hashes): the subject is an opaque blind index, the document or record is represented by its
digest, never by its content. The constructor refuses values that look like a resident ID
number or a mobile number.

The leaf is the canonical JSON of the event (sorted keys, no spaces, UTF-8, ``"v": 1``);
its Merkle leaf hash is ``H(0x00 || leaf)`` (RFC 9162, :mod:`puhui.domain.evidence.merkle`).

A :class:`TreeHead` (size, root, time, hash algorithm) is signed at intervals by the log key:
like every Puhui signature, it covers the *digest* of the canonical bytes
(:meth:`TreeHead.message`), and is the shared value object
:class:`~puhui.domain.evidence.signatures.Signature`. Checking it goes through the
:class:`~puhui.domain.evidence.signatures.Verifier` port implemented by the crypto adapter
(SM2-SM3, Ed25519, ECDSA P-256), so this module stays pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from puhui.domain.audit import HashAlgorithm, digest
from puhui.domain.errors import DomainError, ErrorKind, ValidationError
from puhui.domain.evidence.merkle import DIGEST_SIZE, TreeHasher
from puhui.domain.evidence.signatures import (
    KeyInfo,
    Signature,
    Signer,
    Verifier,
    verify_signature,
)

__all__ = [
    "EventType",
    "EvidenceEvent",
    "EvidenceLeaf",
    "InvalidTreeHead",
    "SignedTreeHead",
    "TreeHead",
    "canonical_json",
    "sign_tree_head",
    "verify_tree_head",
]

LEAF_VERSION: Final = 1
TREE_HEAD_TYPE: Final = "puhui.evidence.tree_head.v1"
MAX_METADATA: Final = 16
MAX_METADATA_VALUE: Final = 128

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUBJECT = re.compile(r"(?:[a-z][a-z0-9_-]{0,15}:)?[0-9a-f]{32,128}")
_OPAQUE_HEX = re.compile(r"[0-9a-f]{32,}")
_OBJECT = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9._-]{1,96}")
_META_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_DIGIT_RUN = re.compile(r"\+?[0-9](?:[0-9 ()-]*[0-9])?[Xx]?")  # digits, maybe spaced
_MOBILE = re.compile(r"(?:\+?86)?1[3-9][0-9]{9}")
_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"  # MMDD of the birth date
_ID18 = re.compile(rf"[1-9][0-9]{{5}}(?:18|19|20)[0-9]{{2}}{_DATE}[0-9]{{3}}[0-9Xx]")
_ID15 = re.compile(rf"[1-9][0-9]{{5}}[0-9]{{2}}{_DATE}[0-9]{{3}}")  # pre-1999 cards
_SEPARATORS = str.maketrans("", "", " -()")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class EventType(StrEnum):
    """The legal events the log records (R-9.4)."""

    APPLICATION_SUBMITTED = "application_submitted"
    CONSENT_GIVEN = "consent_given"
    CONSENT_REVOKED = "consent_revoked"
    DECISION_MADE = "decision_made"
    CONTRACT_SIGNED = "contract_signed"
    CONTRACT_SEALED = "contract_sealed"
    DISBURSEMENT = "disbursement"
    REPAYMENT = "repayment"
    WRITE_OFF = "write_off"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the same value always gives the same bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _invalid(code: str, message: str, **details: Any) -> ValidationError:
    return ValidationError(message, code=code, details=details)


def _is_resident_id(run: str) -> bool:
    if _ID15.fullmatch(run):
        return True
    if not _ID18.fullmatch(run):
        return False
    total = sum(int(c) * w for c, w in zip(run[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == run[17].upper()


def _looks_personal(text: str) -> str | None:
    """``"resident_id_number"`` or ``"mobile_number"`` if ``text`` or a separate run of digits
    in it is one; lowercase hex digests are opaque and pass."""
    if _OPAQUE_HEX.fullmatch(text):
        return None
    runs = (m.group().translate(_SEPARATORS) for m in _DIGIT_RUN.finditer(text))
    for run in (text.translate(_SEPARATORS), *runs):
        if _MOBILE.fullmatch(run):
            return "mobile_number"
        if _is_resident_id(run):
            return "resident_id_number"
    return None


def _utc(value: object, code: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise _invalid(code, "Evidence instants must be timezone-aware datetimes (UTC)")
    return value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    """One legal event, as the log records it: references and digests, no personal data.

    ``subject_ref`` is the blind index (HMAC-SM3 hex, optionally prefixed ``"kind:"``) of the
    person or enterprise concerned; ``object_ref`` names the business object (``"loan:12"``,
    ``"contract:c-2024-7"``); ``payload_digest`` is the 64-hex digest of the signed document or
    record; ``metadata`` at most 16 short strings (e.g. ``{"template": "loan_contract@3"}``).
    """

    event_type: EventType
    occurred_at: datetime
    subject_ref: str
    object_ref: str
    payload_digest: str
    metadata: Mapping[str, str]

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "event_type", EventType(self.event_type))
        except ValueError:
            raise _invalid(
                "evidence.unknown_event_type",
                f"Unknown evidence event type {self.event_type!r}",
                allowed=[e.value for e in EventType],
            ) from None
        object.__setattr__(self, "occurred_at", _utc(self.occurred_at, "evidence.naive_timestamp"))
        self._check_subject()
        if not isinstance(self.object_ref, str) or not _OBJECT.fullmatch(self.object_ref):
            raise _invalid(
                "evidence.bad_object_ref",
                "object_ref must look like 'loan:12' (kind, colon, id of letters, digits, . _ -)",
            )
        if (kind := _looks_personal(self.object_ref.partition(":")[2])) is not None:
            raise _invalid(
                "evidence.personal_data_refused",
                f"object_ref looks like a {kind}: the evidence log never holds personal data",
                field="object_ref",
            )
        if not isinstance(self.payload_digest, str) or not _HEX64.fullmatch(self.payload_digest):
            raise _invalid(
                "evidence.bad_payload_digest",
                "payload_digest must be the 64 lowercase hex characters of an SM3/SHA-256 digest",
            )
        object.__setattr__(self, "metadata", self._checked_metadata())

    def _check_subject(self) -> None:
        ref = self.subject_ref
        if not isinstance(ref, str):
            raise _invalid("evidence.bad_subject_ref", "subject_ref must be a string")
        if (kind := _looks_personal(ref.partition(":")[2] or ref)) is not None:
            raise _invalid(
                "evidence.personal_data_refused",
                f"subject_ref looks like a {kind}: pass its blind index, never the number",
                field="subject_ref",
            )
        if not _SUBJECT.fullmatch(ref):
            raise _invalid(
                "evidence.bad_subject_ref",
                "subject_ref must be an opaque blind index: 32-128 lowercase hex characters, "
                "optionally prefixed 'kind:'",
            )

    def _checked_metadata(self) -> Mapping[str, str]:
        if not isinstance(self.metadata, Mapping):
            raise _invalid("evidence.bad_metadata", "metadata must be a mapping of strings")
        items = dict(self.metadata)
        if len(items) > MAX_METADATA:
            raise _invalid(
                "evidence.bad_metadata", f"metadata holds at most {MAX_METADATA} entries"
            )
        for key, value in items.items():
            if not isinstance(key, str) or not _META_KEY.fullmatch(key):
                raise _invalid(
                    "evidence.bad_metadata", f"metadata key {key!r} must be snake_case ASCII"
                )
            if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
                raise _invalid(
                    "evidence.bad_metadata",
                    f"metadata value of {key!r} must be a string of at most "
                    f"{MAX_METADATA_VALUE} characters",
                )
            if (kind := _looks_personal(value)) is not None:
                raise _invalid(
                    "evidence.personal_data_refused",
                    f"metadata {key!r} looks like a {kind}: the evidence log never holds "
                    "personal data",
                    field=f"metadata.{key}",
                )
        return MappingProxyType(items)

    def to_dict(self) -> dict[str, Any]:
        """The leaf's JSON object (also the bundle and export form)."""
        return {
            "v": LEAF_VERSION,
            "event_type": self.event_type.value,
            "occurred_at": _iso(self.occurred_at),
            "subject_ref": self.subject_ref,
            "object_ref": self.object_ref,
            "payload_digest": self.payload_digest,
            "metadata": dict(self.metadata),
        }

    def leaf_bytes(self) -> bytes:
        """The canonical leaf data: what the Merkle tree hashes (RFC 9162 ``D[i]``)."""
        return canonical_json(self.to_dict())

    def leaf_hash(self, hasher: TreeHasher) -> bytes:
        """``H(0x00 || leaf_bytes)``."""
        return hasher.hash_leaf(self.leaf_bytes())

    @classmethod
    def from_leaf_bytes(cls, data: bytes) -> EvidenceEvent:
        """Parse leaf data; refuses anything that is not exactly the canonical encoding."""
        try:
            obj = json.loads(data.decode("utf-8"))
            if not isinstance(obj, dict) or obj.get("v") != LEAF_VERSION:
                raise ValueError("not a version-1 evidence leaf")
            if set(obj) != {"v", "event_type", "occurred_at", "subject_ref", "object_ref",
                            "payload_digest", "metadata"}:  # fmt: skip
                raise ValueError("unexpected fields")
            event = cls(
                event_type=EventType(obj["event_type"]),
                occurred_at=datetime.fromisoformat(obj["occurred_at"]),
                subject_ref=obj["subject_ref"],
                object_ref=obj["object_ref"],
                payload_digest=obj["payload_digest"],
                metadata=obj["metadata"],
            )
        except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
            raise _invalid("evidence.bad_leaf", f"Not an evidence leaf: {exc}") from exc
        if event.leaf_bytes() != data:
            raise _invalid("evidence.bad_leaf", "The leaf is not in canonical form")
        return event


@dataclass(frozen=True, slots=True)
class EvidenceLeaf:
    """An event at position ``seq`` (0-based) of the log, with its Merkle leaf hash."""

    seq: int
    event: EvidenceEvent
    leaf_hash: bytes


# --- tree heads and signatures ---------------------------------------------------------------


class InvalidTreeHead(DomainError):
    """A signed tree head whose content is not what was signed."""

    code = "evidence.tree_head_invalid"
    kind = ErrorKind.INVALID


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The log's state at ``tree_size`` leaves: RFC 9162 root, when, under which hash."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    hash_alg: HashAlgorithm = HashAlgorithm.SM3

    def __post_init__(self) -> None:
        if isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int):
            raise _invalid("evidence.bad_tree_head", "tree_size must be an integer")
        if self.tree_size < 0:
            raise _invalid("evidence.bad_tree_head", "tree_size must not be negative")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != DIGEST_SIZE:
            raise _invalid("evidence.bad_tree_head", "root_hash must be 32 bytes")
        object.__setattr__(self, "timestamp", _utc(self.timestamp, "evidence.naive_timestamp"))
        try:
            object.__setattr__(self, "hash_alg", HashAlgorithm(self.hash_alg))
        except ValueError:
            raise _invalid("evidence.bad_tree_head", "hash_alg must be sm3 or sha256") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": TREE_HEAD_TYPE,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": _iso(self.timestamp),
            "hash_alg": self.hash_alg.value,
        }

    def message(self) -> bytes:
        """The canonical bytes of the tree head (canonical JSON of :meth:`to_dict`); a
        signature covers their digest (``Signature.signed_digest``)."""
        return canonical_json(self.to_dict())

    def digest(self, algorithm: HashAlgorithm) -> bytes:
        """Digest of :meth:`message` under ``algorithm``: the bytes that are signed."""
        return bytes.fromhex(digest(self.message(), HashAlgorithm(algorithm)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeHead:
        try:
            if set(data) != {"type", "tree_size", "root_hash", "timestamp", "hash_alg"}:
                raise ValueError("unexpected or missing fields")
            if data["type"] != TREE_HEAD_TYPE:
                raise ValueError(f"type must be {TREE_HEAD_TYPE}")
            head = cls(
                tree_size=data["tree_size"],
                root_hash=bytes.fromhex(data["root_hash"]),
                timestamp=datetime.fromisoformat(data["timestamp"]),
                hash_alg=HashAlgorithm(data["hash_alg"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid("evidence.bad_tree_head", f"Not a tree head: {exc}") from exc
        if head.to_dict() != dict(data):
            raise _invalid("evidence.bad_tree_head", "The tree head is not in canonical form")
        return head


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A :class:`TreeHead` and the log key's signature over its digest (R-9.4)."""

    head: TreeHead
    signature: Signature

    def to_dict(self) -> dict[str, Any]:
        return {"tree_head": self.head.to_dict(), "signature": self.signature.to_json()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        try:
            head, signature = data["tree_head"], data["signature"]
        except (KeyError, TypeError) as exc:
            raise _invalid("evidence.bad_tree_head", "Not a signed tree head") from exc
        return cls(TreeHead.from_dict(head), Signature.from_json(signature))


def sign_tree_head(head: TreeHead, signer: Signer, key_id: str) -> SignedTreeHead:
    """Sign ``head`` with the log key ``key_id`` (the signer digests :meth:`TreeHead.message`
    with the suite's digest: SM3 for SM2, SHA-256 otherwise)."""
    signed = SignedTreeHead(head, signer.sign(key_id, head.message()))
    if signed.signature.signed_message != head.digest(signed.signature.digest_alg):
        raise InvalidTreeHead(
            "The signer signed another digest than the tree head's",
            code="evidence.tree_head_digest_mismatch",
        )
    return signed


def verify_tree_head(sth: SignedTreeHead, key: KeyInfo, verifier: Verifier) -> None:
    """Check that the signature covers exactly this tree head, verifies with ``key`` and that
    ``key`` was valid at the head's timestamp.

    Raises :class:`InvalidTreeHead` (``evidence.tree_head_digest_mismatch``: the head was
    changed after signing) or a ``signature.*`` error from
    :func:`~puhui.domain.evidence.signatures.verify_signature`.
    """
    sig = sth.signature
    recomputed = sth.head.digest(sig.digest_alg)
    if recomputed != sig.signed_message:
        raise InvalidTreeHead(
            f"The tree head of size {sth.head.tree_size} differs from the one that was signed "
            "(its digest does not match the signed digest)",
            code="evidence.tree_head_digest_mismatch",
        )
    verify_signature(sig, key, verifier, digest=recomputed, signed_at=sth.head.timestamp)
