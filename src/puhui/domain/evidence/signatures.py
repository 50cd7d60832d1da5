"""Signature suites, signature values and signing keys (R-9.4, R-10.2(d), GB/T 39786 level 3).

R-9.4 asks for electronic signatures with a traceable signer and *no change possible after
signing*, and for a bank e-seal. This module holds the pure, storable facts about them:

* :class:`SignatureSuite` names the algorithms: ``"sm2-sm3"`` (国密: SM2 with SM3 and the
  default user id ``1234567812345678``, DER signature), ``"ed25519"`` and
  ``"ecdsa-p256-sha256"`` (DER signature). The suite is chosen by configuration.
* :class:`Signature` is what gets stored and exported. Puhui always signs a *digest* (of the
  canonical PDF, a tree head ...): the signed message is exactly the raw bytes of
  ``signed_digest``, which was computed with ``digest_alg`` (``"sm3"`` or ``"sha256"``). A
  verifier recomputes the document digest, compares it with ``signed_digest`` and checks the
  signature over those bytes with the key's public key.
* :class:`KeyInfo` is the public record of a key: suite, public key (SubjectPublicKeyInfo PEM),
  purpose (customer signing key, bank seal per branch, time-stamp authority, evidence log),
  owner as a *blind index* (never a clear ID, R-11.2), validity and status. ``key_id`` is
  derived from the public key (:func:`key_id_for`), so a changed key no longer matches its id.

Status is a small state machine: ``active`` → ``retired`` (rotated: verifies old signatures,
signs nothing new) and ``active``/``retired`` → ``revoked``. Expiry is derived from
``not_after``. Cryptography lives in adapters behind :class:`Signer` and :class:`Verifier`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError, ErrorKind, ValidationError

__all__ = [
    "DEFAULT_SM2_USER_ID",
    "KeyExpired",
    "KeyInfo",
    "KeyPurpose",
    "KeyRetired",
    "KeyRevoked",
    "KeyStatus",
    "Signature",
    "SignatureError",
    "SignatureInvalid",
    "SignatureSuite",
    "Signer",
    "UnknownKey",
    "Verifier",
    "ensure_rotatable",
    "key_id_for",
    "pem_to_der",
    "retire",
    "revoke",
    "verify_signature",
]

DEFAULT_SM2_USER_ID = b"1234567812345678"
"""GB/T 35276 default signer id, also OpenSSL's ``distid`` in the interoperable commands."""

_HEX = frozenset("0123456789abcdef")
_KEY_ID = re.compile(r"[0-9a-f]{32}")
_BLIND_INDEX = re.compile(r"[0-9a-f]{64}")
_DIGEST_SIZE = 32  # SM3 and SHA-256


class SignatureSuite(StrEnum):
    """Signature algorithm suite; 国密 SM2/SM3 is the default for GB/T 39786 level 3."""

    SM2_SM3 = "sm2-sm3"
    ED25519 = "ed25519"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"

    @property
    def default_digest_alg(self) -> HashAlgorithm:
        """Digest used for documents signed with this suite: SM3 for 国密, else SHA-256."""
        return HashAlgorithm.SM3 if self is SignatureSuite.SM2_SM3 else HashAlgorithm.SHA256


class KeyPurpose(StrEnum):
    """What a key is for: a customer's signature, a branch's e-seal, the TSA, the log."""

    CUSTOMER = "customer"
    SEAL = "seal"
    TSA = "tsa"
    LOG = "log"


class KeyStatus(StrEnum):
    """Stored status; ``expired`` is reported by :meth:`KeyInfo.status_at`, never stored."""

    ACTIVE = "active"
    RETIRED = "retired"  # replaced by rotation: verifies old signatures, cannot sign
    REVOKED = "revoked"
    EXPIRED = "expired"


# --- errors ------------------------------------------------------------------------------


class SignatureError(DomainError):
    """Base of the ``signature.*`` errors."""

    code = "signature.error"
    kind = ErrorKind.INVALID


class SignatureInvalid(SignatureError):
    """The signature does not verify (or does not belong to the document or key)."""

    code = "signature.invalid"


class KeyRevoked(SignatureError):
    code = "signature.key_revoked"
    kind = ErrorKind.CONFLICT


class KeyExpired(SignatureError):
    code = "signature.key_expired"
    kind = ErrorKind.CONFLICT


class KeyRetired(SignatureError):
    code = "signature.key_retired"
    kind = ErrorKind.CONFLICT


class UnknownKey(SignatureError):
    code = "signature.unknown_key"
    kind = ErrorKind.NOT_FOUND


def _malformed(message: str, code: str = "signature.malformed", **details: Any) -> SignatureError:
    return SignatureError(message, code=code, details=details)


# --- helpers -----------------------------------------------------------------------------


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{what} must be a timezone-aware datetime", code="signature.naive_timestamp"
        )
    return value.astimezone(UTC)


def _is_hex_digest(value: object) -> bool:
    return isinstance(value, str) and len(value) == 2 * _DIGEST_SIZE and set(value) <= _HEX


def pem_to_der(pem: str, label: str = "PUBLIC KEY") -> bytes:
    """DER bytes inside the single ``-----BEGIN <label>-----`` block of ``pem``."""
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    text = pem.strip() if isinstance(pem, str) else ""
    if not text.startswith(begin) or not text.endswith(end):
        raise _malformed(f"Not a PEM {label}", code="signature.malformed_key")
    body = "".join(text[len(begin) : -len(end)].split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(
            f"PEM {label} is not valid base64", code="signature.malformed_key"
        ) from None
    if not der:
        raise _malformed(f"PEM {label} is empty", code="signature.malformed_key")
    return der


def key_id_for(public_key_pem: str) -> str:
    """Key id: the first 128 bits (hex) of SHA-256 over the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(pem_to_der(public_key_pem)).hexdigest()[:32]


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature over the raw digest bytes ``bytes.fromhex(signed_digest)`` (R-9.4).

    JSON form: ``{"suite", "key_id", "signature": base64, "signed_digest": hex,
    "digest_alg"}``.
    """

    suite: SignatureSuite
    key_id: str
    signature: bytes
    signed_digest: str
    digest_alg: HashAlgorithm

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "suite", SignatureSuite(self.suite))
            object.__setattr__(self, "digest_alg", HashAlgorithm(self.digest_alg))
        except ValueError:
            raise _malformed(
                "Unknown signature suite or digest algorithm", code="signature.unsupported_suite"
            ) from None
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise _malformed("A key id is 32 lowercase hex characters")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise _malformed("The signature value is empty")
        if not _is_hex_digest(self.signed_digest):
            raise _malformed("signed_digest must be 64 lowercase hex characters")

    @property
    def signed_message(self) -> bytes:
        """The exact bytes the signature covers: the raw digest."""
        return bytes.fromhex(self.signed_digest)

    def to_json(self) -> dict[str, str]:
        return {
            "suite": self.suite.value,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "signed_digest": self.signed_digest,
            "digest_alg": self.digest_alg.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        """Parse the JSON form; anything missing, extra or malformed is ``signature.malformed``."""
        fields = {"suite", "key_id", "signature", "signed_digest", "digest_alg"}
        if not isinstance(data, Mapping) or set(data) != fields:
            raise _malformed(f"A signature has exactly the fields {sorted(fields)}")
        if not all(isinstance(data[name], str) for name in fields):
            raise _malformed("Signature fields are strings")
        try:
            raw = base64.b64decode(data["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise _malformed("The signature is not valid base64") from None
        return cls(
            suite=data["suite"],
            key_id=data["key_id"],
            signature=raw,
            signed_digest=data["signed_digest"],
            digest_alg=data["digest_alg"],
        )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public facts about a signing key; the private key never appears here.

    ``owner_ref`` is a blind index (64 hex, HMAC-SM3 from ``FieldCipher.blind_index``) of the
    owner, required for customer keys; ``branch`` names the authorised branch of a seal key
    (required for seals). ``created_at``/``not_after`` bound the period in which the key may
    sign. ``predecessor_id``/``successor_id`` link keys replaced by rotation.
    """

    key_id: str
    suite: SignatureSuite
    public_key_pem: str
    purpose: KeyPurpose
    owner_ref: str | None
    branch: str | None
    created_at: datetime
    not_after: datetime
    status: KeyStatus = KeyStatus.ACTIVE
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    predecessor_id: str | None = None
    successor_id: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "suite", SignatureSuite(self.suite))
            object.__setattr__(self, "purpose", KeyPurpose(self.purpose))
            object.__setattr__(self, "status", KeyStatus(self.status))
        except ValueError:
            raise _malformed("Unknown suite, purpose or status", code="signature.bad_key") from None
        if self.status is KeyStatus.EXPIRED:
            raise _malformed("'expired' is derived, not stored", code="signature.bad_key")
        if key_id_for(self.public_key_pem) != self.key_id:
            raise _malformed(
                "The key id does not match the public key", code="signature.key_mismatch"
            )
        if self.owner_ref is not None and not _BLIND_INDEX.fullmatch(str(self.owner_ref)):
            raise _malformed(
                "owner_ref must be a blind index (64 hex), never a clear identifier",
                code="signature.bad_owner_ref",
            )
        if self.purpose is KeyPurpose.CUSTOMER and self.owner_ref is None:
            raise _malformed("A customer key needs owner_ref", code="signature.bad_owner_ref")
        if self.purpose is KeyPurpose.SEAL and not (isinstance(self.branch, str) and self.branch):
            raise _malformed("A seal key needs its branch", code="signature.bad_branch")
        object.__setattr__(self, "created_at", _utc(self.created_at, "created_at"))
        object.__setattr__(self, "not_after", _utc(self.not_after, "not_after"))
        if self.not_after <= self.created_at:
            raise _malformed("not_after must follow created_at", code="signature.bad_key")
        if (self.status is KeyStatus.REVOKED) != (self.revoked_at is not None):
            raise _malformed("A revoked key, and only it, has revoked_at", code="signature.bad_key")
        if self.revoked_at is not None:
            object.__setattr__(self, "revoked_at", _utc(self.revoked_at, "revoked_at"))

    def status_at(self, at: datetime) -> KeyStatus:
        """Status at instant ``at``: revoked from ``revoked_at``, expired after ``not_after``."""
        at = _utc(at, "at")
        if self.revoked_at is not None and at >= self.revoked_at:
            return KeyStatus.REVOKED
        if at > self.not_after:
            return KeyStatus.EXPIRED
        return KeyStatus.RETIRED if self.status is KeyStatus.RETIRED else KeyStatus.ACTIVE

    def ensure_can_sign(self, at: datetime) -> None:
        """Refuse a new signature at ``at`` by a revoked, expired, retired or future key."""
        status = self.status_at(at)
        if status is KeyStatus.REVOKED or self.status is KeyStatus.REVOKED:
            raise KeyRevoked(f"Key {self.key_id} is revoked", details={"key_id": self.key_id})
        if status is KeyStatus.EXPIRED:
            raise KeyExpired(f"Key {self.key_id} has expired", details={"key_id": self.key_id})
        if status is KeyStatus.RETIRED:
            raise KeyRetired(
                f"Key {self.key_id} was replaced by rotation and can no longer sign",
                details={"key_id": self.key_id, "successor_id": self.successor_id},
            )
        if _utc(at, "at") < self.created_at:
            raise KeyExpired(f"Key {self.key_id} is not yet valid", details={"key_id": self.key_id})

    def ensure_valid_for(self, signed_at: datetime | None) -> None:
        """Refuse a signature made at ``signed_at`` (e.g. from its trusted timestamp).

        A retired key still vouches for signatures made while it was active. A revoked key
        vouches only for signatures proven (``signed_at``) to predate the revocation.
        """
        if signed_at is None:
            if self.revoked_at is not None:
                raise KeyRevoked(
                    f"Key {self.key_id} is revoked and the signing time is not proven",
                    details={"key_id": self.key_id},
                )
            return
        status = self.status_at(signed_at)
        if status is KeyStatus.REVOKED:
            raise KeyRevoked(
                f"Key {self.key_id} was revoked before this signature was made",
                details={"key_id": self.key_id},
            )
        if status is KeyStatus.EXPIRED or _utc(signed_at, "signed_at") < self.created_at:
            raise KeyExpired(
                f"Key {self.key_id} was not valid when this signature was made",
                details={"key_id": self.key_id},
            )

    def to_json(self) -> dict[str, str | None]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "key_id": self.key_id,
            "suite": self.suite.value,
            "public_key_pem": self.public_key_pem,
            "purpose": self.purpose.value,
            "owner_ref": self.owner_ref,
            "branch": self.branch,
            "created_at": iso(self.created_at),
            "not_after": iso(self.not_after),
            "status": self.status.value,
            "revoked_at": iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "predecessor_id": self.predecessor_id,
            "successor_id": self.successor_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyInfo:
        """Inverse of :meth:`to_json`; malformed input is ``signature.bad_key``."""
        try:

            def when(name: str) -> datetime | None:
                value = data.get(name)
                return None if value is None else datetime.fromisoformat(str(value))

            created_at, not_after = when("created_at"), when("not_after")
            if created_at is None or not_after is None:
                raise ValueError("dates required")
            return cls(
                key_id=str(data["key_id"]),
                suite=SignatureSuite(data["suite"]),
                public_key_pem=str(data["public_key_pem"]),
                purpose=KeyPurpose(data["purpose"]),
                owner_ref=data.get("owner_ref"),
                branch=data.get("branch"),
                created_at=created_at,
                not_after=not_after,
                status=KeyStatus(data.get("status", "active")),
                revoked_at=when("revoked_at"),
                revocation_reason=data.get("revocation_reason"),
                predecessor_id=data.get("predecessor_id"),
                successor_id=data.get("successor_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(f"Malformed key record: {exc}", code="signature.bad_key") from None


# --- transitions -------------------------------------------------------------------------


def ensure_rotatable(key: KeyInfo) -> None:
    """Only an active (possibly expired) key can be rotated."""
    if key.status is KeyStatus.REVOKED:
        raise KeyRevoked(f"Key {key.key_id} is revoked and cannot be rotated")
    if key.status is not KeyStatus.ACTIVE:
        raise KeyRetired(f"Key {key.key_id} was already rotated to {key.successor_id}")


def retire(key: KeyInfo, successor_id: str) -> KeyInfo:
    """The key after rotation to ``successor_id`` (see :func:`ensure_rotatable`)."""
    ensure_rotatable(key)
    return replace(key, status=KeyStatus.RETIRED, successor_id=successor_id)


def revoke(key: KeyInfo, at: datetime, reason: str) -> KeyInfo:
    """The key revoked from ``at`` (compromise, customer request ...); once only."""
    if key.status is KeyStatus.REVOKED:
        raise KeyRevoked(f"Key {key.key_id} is already revoked", code="signature.already_revoked")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("A revocation needs a reason", code="signature.reason_required")
    return replace(key, status=KeyStatus.REVOKED, revoked_at=at, revocation_reason=reason.strip())


# --- ports -------------------------------------------------------------------------------


class Verifier(Protocol):
    """Checks a raw signature; False on a bad signature, raises on a malformed key."""

    def verify(
        self, suite: SignatureSuite, public_key_pem: str, message: bytes, signature: bytes
    ) -> bool: ...


class Signer(Protocol):
    """Signs with a key it holds (a keystore or an HSM); refuses revoked or expired keys."""

    def sign(self, key_id: str, message: bytes) -> Signature: ...

    def sign_digest(self, key_id: str, digest: bytes, digest_alg: HashAlgorithm) -> Signature: ...


def verify_signature(
    signature: Signature,
    key: KeyInfo,
    verifier: Verifier,
    *,
    digest: bytes | None = None,
    signed_at: datetime | None = None,
) -> None:
    """Check ``signature`` completely or raise a ``signature.*`` error (R-9.4).

    The signature must name ``key`` and its suite, cover ``digest`` when given (the digest
    the caller recomputed from the document), verify cryptographically, and the key must have
    been valid at ``signed_at`` (see :meth:`KeyInfo.ensure_valid_for`).
    """
    if signature.key_id != key.key_id or signature.suite is not key.suite:
        raise SignatureInvalid(
            "The signature names another key or suite",
            code="signature.key_mismatch",
            details={"key_id": signature.key_id},
        )
    if digest is not None and digest != signature.signed_message:
        raise SignatureInvalid(
            "The document digest differs from the digest that was signed",
            code="signature.digest_mismatch",
        )
    if not verifier.verify(
        key.suite, key.public_key_pem, signature.signed_message, signature.signature
    ):
        raise SignatureInvalid(
            "The signature does not verify with the signer's public key",
            details={"key_id": key.key_id},
        )
    key.ensure_valid_for(signed_at)
