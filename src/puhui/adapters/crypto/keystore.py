"""Key service: per-customer signing keys, branch e-seals, TSA and log keys (R-9.4, R-10.2(d)).

:class:`KeyService` is the port the services use; :class:`SoftwareKeystore` implements it in
software (the default) and an HSM adapter can implement the same protocol later ("HSM-ready":
callers never see private keys, they ask the service to sign).

Private keys are stored as :class:`~puhui.adapters.crypto.fieldcrypt.FieldCipher` tokens
(SM4-GCM by default) under the context ``"keystore.private_key"``; when a key is loaded its
public half must match the stored public key, so a token swapped between rows is refused.
Storage goes through the small :class:`KeyStorage` protocol: :class:`InMemoryKeyStorage` here,
a database implementation in the persistence adapter.

Rules (domain: :mod:`puhui.domain.evidence.signatures`): a revoked, expired or rotated key
signs nothing (``signature.key_revoked``, ``signature.key_expired``,
``signature.key_retired``); after a rotation the old key keeps verifying its old signatures.
Binding a customer key to the verified identity and confirming it by one-time code happen in
the service that calls :meth:`KeyService.create_key`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from puhui.adapters.crypto import signing
from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.evidence.signatures import (
    KeyInfo,
    KeyPurpose,
    Signature,
    SignatureError,
    SignatureSuite,
    UnknownKey,
    ensure_rotatable,
    key_id_for,
    retire,
)
from puhui.domain.evidence.signatures import revoke as revoke_key

__all__ = [
    "DEFAULT_VALIDITY",
    "PRIVATE_KEY_CONTEXT",
    "InMemoryKeyStorage",
    "KeyService",
    "KeyStorage",
    "SoftwareKeystore",
    "StoredKey",
]

PRIVATE_KEY_CONTEXT = "keystore.private_key"

DEFAULT_VALIDITY: Mapping[KeyPurpose, timedelta] = {
    KeyPurpose.CUSTOMER: timedelta(days=730),
    KeyPurpose.SEAL: timedelta(days=1095),
    KeyPurpose.TSA: timedelta(days=1826),
    KeyPurpose.LOG: timedelta(days=1826),
}
"""How long a new key may sign; verification of its signatures continues afterwards."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: its public record and the encrypted PKCS#8 private key token."""

    info: KeyInfo
    private_key_token: str


class KeyStorage(Protocol):
    """Where keys live; ``put`` refuses an existing id, ``update`` replaces the record."""

    def put(self, key: StoredKey) -> None: ...

    def get(self, key_id: str) -> StoredKey | None: ...

    def list(
        self,
        *,
        purpose: KeyPurpose | None = None,
        owner_ref: str | None = None,
        branch: str | None = None,
    ) -> list[StoredKey]: ...

    def update(self, key: StoredKey) -> None: ...


class InMemoryKeyStorage:
    """:class:`KeyStorage` in a dict (tests, development, the sandbox TSA)."""

    def __init__(self) -> None:
        self._keys: dict[str, StoredKey] = {}

    def put(self, key: StoredKey) -> None:
        if key.info.key_id in self._keys:
            raise Conflict(f"Key {key.info.key_id} already exists", code="signature.duplicate_key")
        self._keys[key.info.key_id] = key

    def get(self, key_id: str) -> StoredKey | None:
        return self._keys.get(key_id)

    def list(
        self,
        *,
        purpose: KeyPurpose | None = None,
        owner_ref: str | None = None,
        branch: str | None = None,
    ) -> list[StoredKey]:
        return [
            key
            for key in self._keys.values()
            if (purpose is None or key.info.purpose is purpose)
            and (owner_ref is None or key.info.owner_ref == owner_ref)
            and (branch is None or key.info.branch == branch)
        ]

    def update(self, key: StoredKey) -> None:
        if key.info.key_id not in self._keys:
            raise UnknownKey(f"Key {key.info.key_id} does not exist")
        self._keys[key.info.key_id] = key


class KeyService(Protocol):
    """The key service port (software keystore or HSM)."""

    def create_key(
        self,
        purpose: KeyPurpose,
        suite: SignatureSuite,
        owner_ref: str | None,
        branch: str | None = None,
    ) -> KeyInfo: ...

    def sign(self, key_id: str, message: bytes) -> Signature: ...

    def sign_digest(self, key_id: str, digest: bytes, digest_alg: HashAlgorithm) -> Signature: ...

    def public_key(self, key_id: str) -> str: ...

    def rotate(self, key_id: str) -> KeyInfo: ...

    def revoke(self, key_id: str, at: datetime, reason: str) -> KeyInfo: ...

    def get(self, key_id: str) -> KeyInfo: ...


def _now() -> datetime:
    return datetime.now(UTC)


class SoftwareKeystore:
    """:class:`KeyService` with private keys encrypted at rest by a :class:`FieldCipher`.

    Decrypted private keys are kept in a small LRU cache (``cache_size``, 0 disables it); the
    key's record is read from storage on every signature, so a revocation made elsewhere takes
    effect at once.
    """

    def __init__(
        self,
        cipher: FieldCipher,
        storage: KeyStorage | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        validity: Mapping[KeyPurpose, timedelta] = DEFAULT_VALIDITY,
        cache_size: int = 256,
    ) -> None:
        self._cipher = cipher
        self._storage: KeyStorage = storage if storage is not None else InMemoryKeyStorage()
        self._clock = clock
        self._validity = dict(validity)
        self._cache: OrderedDict[str, signing.PrivateKey] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    # --- keys ------------------------------------------------------------------------

    def create_key(
        self,
        purpose: KeyPurpose,
        suite: SignatureSuite,
        owner_ref: str | None,
        branch: str | None = None,
        *,
        predecessor_id: str | None = None,
    ) -> KeyInfo:
        """Generate, encrypt and store a new key; returns its public record."""
        purpose, suite = KeyPurpose(purpose), SignatureSuite(suite)
        private_key = signing.generate_key(suite)
        public_pem = signing.public_key_pem(private_key)
        # whole seconds: a time-stamp names its second, and a key made within that second
        # must count as valid at it
        created_at = self._clock().replace(microsecond=0)
        info = KeyInfo(
            key_id=key_id_for(public_pem),
            suite=suite,
            public_key_pem=public_pem,
            purpose=purpose,
            owner_ref=owner_ref,
            branch=branch,
            created_at=created_at,
            not_after=created_at + self._validity[purpose],
            predecessor_id=predecessor_id,
        )
        token = self._cipher.encrypt(
            signing.private_key_to_pem(private_key), context=PRIVATE_KEY_CONTEXT
        )
        self._storage.put(StoredKey(info=info, private_key_token=token))
        self._remember(info.key_id, private_key)
        return info

    def get(self, key_id: str) -> KeyInfo:
        return self._stored(key_id).info

    def public_key(self, key_id: str) -> str:
        """SubjectPublicKeyInfo PEM of the key (also for retired and revoked keys)."""
        return self.get(key_id).public_key_pem

    def keys(
        self,
        *,
        purpose: KeyPurpose | None = None,
        owner_ref: str | None = None,
        branch: str | None = None,
    ) -> list[KeyInfo]:
        stored = self._storage.list(purpose=purpose, owner_ref=owner_ref, branch=branch)
        return [key.info for key in stored]

    def active_key(
        self, purpose: KeyPurpose, *, owner_ref: str | None = None, branch: str | None = None
    ) -> KeyInfo:
        """The newest key of ``purpose`` (for ``owner_ref``/``branch``) that may sign now."""
        now = self._clock()
        usable = []
        for info in self.keys(purpose=purpose, owner_ref=owner_ref, branch=branch):
            try:
                info.ensure_can_sign(now)
            except SignatureError:
                continue
            usable.append(info)
        if not usable:
            raise UnknownKey(
                f"No usable {KeyPurpose(purpose).value} key",
                details={"purpose": KeyPurpose(purpose).value, "branch": branch},
            )
        return max(usable, key=lambda info: info.created_at)

    def rotate(self, key_id: str) -> KeyInfo:
        """A new key with the same purpose, suite, owner and branch; the old one is retired."""
        old = self._stored(key_id)
        ensure_rotatable(old.info)
        new = self.create_key(
            old.info.purpose,
            old.info.suite,
            old.info.owner_ref,
            old.info.branch,
            predecessor_id=old.info.key_id,
        )
        self._storage.update(replace(old, info=retire(old.info, successor_id=new.key_id)))
        self._forget(key_id)
        return new

    def revoke(self, key_id: str, at: datetime, reason: str) -> KeyInfo:
        """Revoke from ``at``: the key signs nothing more and vouches only for earlier
        signatures whose time is proven (by a trusted timestamp)."""
        stored = self._stored(key_id)
        info = revoke_key(stored.info, at, reason)
        self._storage.update(replace(stored, info=info))
        self._forget(key_id)
        return info

    # --- signing ---------------------------------------------------------------------

    def sign(self, key_id: str, message: bytes) -> Signature:
        """Sign the suite's default digest (SM3 for SM2, else SHA-256) of ``message``."""
        stored = self._stored(key_id)
        alg = stored.info.suite.default_digest_alg
        return self._sign(stored, hashlib.new(alg.value, message).digest(), alg)

    def sign_digest(self, key_id: str, digest: bytes, digest_alg: HashAlgorithm) -> Signature:
        """Sign the raw ``digest`` bytes (32 bytes of SM3 or SHA-256) with ``key_id``."""
        return self._sign(self._stored(key_id), digest, HashAlgorithm(digest_alg))

    # --- internals -------------------------------------------------------------------

    def _sign(self, stored: StoredKey, digest: bytes, digest_alg: HashAlgorithm) -> Signature:
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise ValidationError(
                "A digest to sign is 32 bytes (SM3 or SHA-256)", code="signature.bad_digest"
            )
        stored.info.ensure_can_sign(self._clock())
        raw = signing.sign(stored.info.suite, self._private_key(stored), digest)
        return Signature(
            suite=stored.info.suite,
            key_id=stored.info.key_id,
            signature=raw,
            signed_digest=digest.hex(),
            digest_alg=digest_alg,
        )

    def _stored(self, key_id: str) -> StoredKey:
        stored = self._storage.get(key_id)
        if stored is None:
            raise UnknownKey(f"Key {key_id} is not in the key service", details={"key_id": key_id})
        return stored

    def _private_key(self, stored: StoredKey) -> signing.PrivateKey:
        key_id = stored.info.key_id
        with self._cache_lock:
            cached = self._cache.get(key_id)
            if cached is not None:
                self._cache.move_to_end(key_id)
                return cached
        pem = self._cipher.decrypt(stored.private_key_token, context=PRIVATE_KEY_CONTEXT)
        private_key = signing.private_key_from_pem(pem)
        if signing.public_key_pem(private_key).strip() != stored.info.public_key_pem.strip():
            raise SignatureError(
                f"The stored private key does not belong to key {key_id}",
                code="signature.key_mismatch",
                details={"key_id": key_id},
            )
        self._remember(key_id, private_key)
        return private_key

    def _remember(self, key_id: str, private_key: signing.PrivateKey) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[key_id] = private_key
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _forget(self, key_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(key_id, None)
