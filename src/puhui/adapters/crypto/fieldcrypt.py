"""Encryption at rest of level-3+ personal fields, and blind indexes (R-11.2, R-6.6, R-M4.2).

Each sensitive column (ID number, phone, bank card ...) is stored as a text *token*::

    pv1.<key_id>.<alg>.<base64url(nonce || ciphertext || tag)>

* ``pv1``     token format version;
* ``key_id``  which data key of the :class:`Keyring` sealed it, so old keys keep decrypting
  after a rotation;
* ``alg``     ``SM4-GCM`` (default; GB/T 39786 expects the national SM4 cipher) or
  ``AES-256-GCM``;
* the payload is a fresh random 12-byte nonce, the ciphertext and the 16-byte GCM tag,
  base64url without padding. Tokens are plain ASCII.

The token header and a *context* naming the column (``"customers.id_number"``) are bound in as
associated data: a token copied to another column or row type, or edited in any way, fails to
decrypt with ``crypto.decrypt_failed``.

Equality search on encrypted columns uses a *blind index*: HMAC-SM3 under a separate index key
over the context and the normalised value, stored next to the token (R-11.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from enum import StrEnum

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from puhui.domain.errors import DomainError, ErrorKind, ValidationError

__all__ = ["FORMAT_VERSION", "FieldAlgorithm", "FieldCipher", "Keyring"]

FORMAT_VERSION = "pv1"
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MIN_INDEX_KEY = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class FieldAlgorithm(StrEnum):
    """AEAD cipher used for new tokens."""

    SM4_GCM = "SM4-GCM"
    AES_256_GCM = "AES-256-GCM"

    @property
    def key_size(self) -> int:
        """Key length in bytes: 16 for SM4, 32 for AES-256."""
        return 16 if self is FieldAlgorithm.SM4_GCM else 32


def _bad_keyring(message: str) -> ValidationError:
    return ValidationError(message, code="crypto.bad_keyring")


def _decrypt_failed(reason: str) -> DomainError:
    return DomainError(
        f"Encrypted value cannot be decrypted: {reason}",
        code="crypto.decrypt_failed",
        kind=ErrorKind.INVALID,
    )


def _unavailable(what: str) -> DomainError:
    return DomainError(
        f"{what} is not available in this OpenSSL build",
        code="crypto.algorithm_unavailable",
        kind=ErrorKind.UNAVAILABLE,
    )


def _algorithm(value: FieldAlgorithm | str) -> FieldAlgorithm:
    try:
        return FieldAlgorithm(value)
    except ValueError:
        raise _bad_keyring(f"Unknown field encryption algorithm {value!r}") from None


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _bad_keyring(f"{what} is not valid base64") from None


class Keyring:
    """Named data keys, the active one, the algorithm for new tokens and the index key.

    Keys are 16 bytes for SM4-GCM and 32 bytes for AES-256-GCM; inactive keys may be of either
    kind (useful while migrating from one algorithm to the other). The index key (16+ bytes)
    is separate from the data keys. Key material never appears in ``repr`` or error messages.
    """

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active_key_id: str,
        *,
        algorithm: FieldAlgorithm | str = FieldAlgorithm.SM4_GCM,
        index_key: bytes,
        development: bool = False,
    ) -> None:
        self._algorithm = _algorithm(algorithm)
        self._keys = {key_id: bytes(key) for key_id, key in keys.items()}
        for key_id, key in self._keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise _bad_keyring(f"Key id {key_id!r} must be 1-32 of A-Z a-z 0-9 _ -")
            if len(key) not in (16, 32):
                raise _bad_keyring(f"Key {key_id} must be 16 (SM4) or 32 (AES-256) bytes long")
        if active_key_id not in self._keys:
            raise _bad_keyring(f"Active key {active_key_id!r} is not in the keyring")
        if len(self._keys[active_key_id]) != self._algorithm.key_size:
            raise _bad_keyring(
                f"Active key {active_key_id} must be {self._algorithm.key_size} bytes for "
                f"{self._algorithm.value}"
            )
        if len(index_key) < _MIN_INDEX_KEY:
            raise _bad_keyring(f"The index key must be at least {_MIN_INDEX_KEY} bytes long")
        if any(hmac.compare_digest(index_key, key) for key in self._keys.values()):
            raise _bad_keyring("The index key must differ from every data key")
        self._active = active_key_id
        self._index_key = bytes(index_key)
        self._development = development

    @classmethod
    def from_spec(
        cls,
        spec: str,
        *,
        algorithm: FieldAlgorithm | str = FieldAlgorithm.SM4_GCM,
        index_key_b64: str,
    ) -> Keyring:
        """Build from configuration text ``"k1:<base64>,k2:<base64>;active=k2"``.

        Comma-separated ``<key_id>:<standard base64 key>`` pairs, then ``;active=<key_id>``
        naming the key for new tokens (optional when there is only one key). Spaces around
        items are ignored. ``index_key_b64`` is the standard-base64 blind-index key.
        """
        keys_part, _, options = spec.partition(";")
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in keys_part.split(","))):
            key_id, colon, encoded = item.partition(":")
            key_id = key_id.strip()
            if not colon:
                raise _bad_keyring("Each key must be written <key_id>:<base64>")
            if key_id in keys:
                raise _bad_keyring(f"Key id {key_id!r} appears twice")
            keys[key_id] = _b64decode(encoded, f"Key {key_id!r}")
        if not keys:
            raise _bad_keyring("The key specification holds no key")
        active: str | None = None
        for option in filter(None, (part.strip() for part in options.split(";"))):
            name, _, value = option.partition("=")
            if name.strip() != "active":
                raise _bad_keyring(f"Unknown key specification option {name.strip()!r}")
            active = value.strip()
        if active is None:
            if len(keys) != 1:
                raise _bad_keyring("Name the active key with ';active=<key_id>'")
            active = next(iter(keys))
        index_key = _b64decode(index_key_b64, "The index key")
        return cls(keys, active, algorithm=algorithm, index_key=index_key)

    @classmethod
    def generate(
        cls, algorithm: FieldAlgorithm | str = FieldAlgorithm.SM4_GCM, *, key_id: str = "k1"
    ) -> Keyring:
        """A fresh random keyring for a new installation (store it with :meth:`to_spec`)."""
        alg = _algorithm(algorithm)
        return cls(
            {key_id: secrets.token_bytes(alg.key_size)},
            key_id,
            algorithm=alg,
            index_key=secrets.token_bytes(32),
        )

    @classmethod
    def development(cls) -> Keyring:
        """FIXED, publicly known keys for development and tests: UNSAFE FOR PRODUCTION.

        ``is_development`` is true so the application can refuse to start with it in
        production.
        """
        key = hashlib.sha256(b"puhui INSECURE development data key").digest()[:16]
        index_key = hashlib.sha256(b"puhui INSECURE development index key").digest()
        return cls(
            {"insecure-dev": key},
            "insecure-dev",
            algorithm=FieldAlgorithm.SM4_GCM,
            index_key=index_key,
            development=True,
        )

    def with_key(self, key_id: str, key: bytes, *, activate: bool = True) -> Keyring:
        """A copy with ``key`` added (and made active for new tokens): key rotation."""
        if key_id in self._keys:
            raise _bad_keyring(f"Key id {key_id!r} is already in the keyring")
        keys = {**self._keys, key_id: key}
        return Keyring(
            keys,
            key_id if activate else self._active,
            algorithm=self._algorithm,
            index_key=self._index_key,
            development=self._development,
        )

    @property
    def algorithm(self) -> FieldAlgorithm:
        return self._algorithm

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def is_development(self) -> bool:
        return self._development

    def key(self, key_id: str) -> bytes:
        """The data key named ``key_id``; ``crypto.unknown_key`` when absent."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise DomainError(
                f"Encryption key {key_id!r} is not in the keyring",
                code="crypto.unknown_key",
                kind=ErrorKind.UNAVAILABLE,
                details={"key_id": key_id},
            ) from None

    @property
    def index_key(self) -> bytes:
        return self._index_key

    def to_spec(self) -> str:
        """Secret configuration text for :meth:`from_spec` (the index key goes separately)."""
        keys = ",".join(
            f"{key_id}:{base64.b64encode(key).decode('ascii')}"
            for key_id, key in self._keys.items()
        )
        return f"{keys};active={self._active}"

    @property
    def index_key_b64(self) -> str:
        return base64.b64encode(self._index_key).decode("ascii")

    def __repr__(self) -> str:
        return (
            f"Keyring(key_ids={list(self._keys)!r}, active={self._active!r}, "
            f"algorithm={self._algorithm.value!r}, development={self._development!r})"
        )


def _seal(alg: FieldAlgorithm, key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    if alg is FieldAlgorithm.AES_256_GCM:
        return AESGCM(key).encrypt(nonce, data, aad)
    try:
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    except UnsupportedAlgorithm:
        raise _unavailable("SM4-GCM") from None
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(data) + encryptor.finalize()
    return ciphertext + encryptor.tag


def _open(alg: FieldAlgorithm, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if alg is FieldAlgorithm.AES_256_GCM:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    ciphertext, tag = sealed[:-_TAG_SIZE], sealed[-_TAG_SIZE:]
    try:
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    except UnsupportedAlgorithm:
        raise _unavailable("SM4-GCM") from None
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(ciphertext) + decryptor.finalize()


def _check_context(context: str) -> bytes:
    if not context or "\x00" in context:
        raise ValidationError(
            "Field encryption needs a context naming the column (no NUL)",
            code="crypto.context_required",
        )
    return context.encode("utf-8")


def _aad(key_id: str, alg: FieldAlgorithm, context: str) -> bytes:
    return f"{FORMAT_VERSION}.{key_id}.{alg.value}|".encode("ascii") + _check_context(context)


def _parse(token: str) -> tuple[str, FieldAlgorithm, bytes]:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != FORMAT_VERSION:
        raise _decrypt_failed("not a pv1 token")
    _, key_id, alg_name, payload = parts
    if not _KEY_ID.fullmatch(key_id):
        raise _decrypt_failed("malformed key id")
    try:
        alg = FieldAlgorithm(alg_name)
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (ValueError, binascii.Error):
        raise _decrypt_failed("malformed token") from None
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    if canonical != payload or len(raw) < _NONCE_SIZE + _TAG_SIZE:
        raise _decrypt_failed("malformed payload")
    return key_id, alg, raw


class FieldCipher:
    """Encrypts, decrypts, rotates and blind-indexes field values with one :class:`Keyring`."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Token for ``plaintext`` under the active key, bound to ``context``."""
        alg, key_id = self._keyring.algorithm, self._keyring.active_key_id
        aad = _aad(key_id, alg, context)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        sealed = _seal(alg, self._keyring.key(key_id), nonce, plaintext.encode("utf-8"), aad)
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{FORMAT_VERSION}.{key_id}.{alg.value}.{payload}"

    def decrypt(self, token: str, *, context: str) -> str:
        """Plaintext of ``token``, using the key it names; any tampering or a wrong context
        raises ``crypto.decrypt_failed``, a key no longer held ``crypto.unknown_key``."""
        key_id, alg, raw = _parse(token)
        aad = _aad(key_id, alg, context)
        key = self._keyring.key(key_id)
        if len(key) != alg.key_size:
            raise _decrypt_failed("key does not fit the token's algorithm")
        try:
            data = _open(alg, key, raw[:_NONCE_SIZE], raw[_NONCE_SIZE:], aad)
            return data.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise _decrypt_failed("authentication failed (tampered or wrong context)") from None

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` was sealed with another key or algorithm than the active one."""
        key_id, alg, _ = _parse(token)
        return key_id != self._keyring.active_key_id or alg is not self._keyring.algorithm

    def reencrypt(self, token: str, *, context: str) -> str:
        """``token`` re-sealed under the active key (unchanged if already current)."""
        plaintext = self.decrypt(token, context=context)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, context=context)

    def blind_index(self, value: str, *, context: str) -> str:
        """HMAC-SM3 (hex) of ``context`` and the normalised ``value`` for equality lookup.

        Normalisation: Unicode NFKC (full-width digits become ASCII), surrounding spaces
        removed, upper case. Equal inputs give equal indexes; contexts never collide.
        """
        normalised = unicodedata.normalize("NFKC", value).strip().upper()
        message = _check_context(context) + b"\x00" + normalised.encode("utf-8")
        try:
            return hmac.new(self._keyring.index_key, message, "sm3").hexdigest()
        except ValueError:
            raise _unavailable("SM3") from None
