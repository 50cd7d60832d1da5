"""Signature suites: SM2 with SM3 (gmssl_pyx), Ed25519 and ECDSA P-256/SHA-256 (cryptography).

R-9.4 electronic signatures and e-seals; GB/T 39786 level 3 expects SM2/SM3. ``cryptography``
has no SM2, so SM2 runs on the C GmSSL library through ``gmssl_pyx``; the key encodings are
the ones OpenSSL 3 reads and writes, so signatures interoperate with the ``openssl`` CLI:

* SM2 public key: SubjectPublicKeyInfo ``{id-ecPublicKey, sm2 (1.2.156.10197.1.301)}`` with an
  uncompressed point; private key: PKCS#8 around an RFC 5915 ``ECPrivateKey``;
* SM2 signature: DER ``SEQUENCE {r, s}`` over ``SM3(Z || message)``, Z computed with the user
  id ``1234567812345678`` (``openssl ... -pkeyopt distid:1234567812345678``);
* Ed25519 signs the message itself; ECDSA P-256 signs SHA-256(message), DER ``{r, s}``.

:func:`verify` returns False for any signature that does not verify (including malformed or
non-canonical DER); it raises ``signature.malformed_key`` when the public key is not a key of
the suite at all.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field
from typing import TypeAlias

import gmssl_pyx
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from puhui.domain.evidence.signatures import (
    DEFAULT_SM2_USER_ID,
    SignatureError,
    SignatureSuite,
    pem_to_der,
)

__all__ = [
    "PrivateKey",
    "SM2PrivateKey",
    "SuiteVerifier",
    "generate_key",
    "private_key_from_pem",
    "private_key_to_pem",
    "public_key_pem",
    "sign",
    "suite_of",
    "suite_of_public_key",
    "verify",
]

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_SM2_CURVE = "1.2.156.10197.1.301"
_P256_CURVE = "1.2.840.10045.3.1.7"
_ED25519 = "1.3.101.112"
_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)

# Fixed-length DER pieces (lengths never vary for 256-bit keys).
_SM2_ALG = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_SM2_SPKI_PREFIX = bytes.fromhex("3059") + _SM2_ALG + bytes.fromhex("034200")
_SM2_PKCS8_PREFIX = bytes.fromhex("3081870201") + b"\x00" + _SM2_ALG + bytes.fromhex("046d")


def _malformed_key(message: str) -> SignatureError:
    return SignatureError(message, code="signature.malformed_key")


@dataclass(frozen=True, slots=True)
class SM2PrivateKey:
    """An SM2 key pair as raw bytes: 32-byte scalar, 64-byte public point ``x || y``."""

    secret: bytes = field(repr=False)
    public: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32 or len(self.public) != 64:
            raise _malformed_key("An SM2 key is a 32-byte scalar and a 64-byte point")


PrivateKey: TypeAlias = SM2PrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
_PublicKey: TypeAlias = bytes | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def _to_pem(der: bytes, label: str) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _strict_der_sig(signature: bytes) -> bool:
    """True when ``signature`` is a canonical DER ``SEQUENCE {r, s}`` with 0 < r, s < n."""
    if len(signature) < 8 or signature[0] != 0x30 or signature[1] != len(signature) - 2:
        return False
    pos, values = 2, []
    for _ in range(2):
        if pos + 2 > len(signature) or signature[pos] != 0x02:
            return False
        length = signature[pos + 1]
        body = signature[pos + 2 : pos + 2 + length]
        if length == 0 or len(body) != length or body[0] & 0x80:
            return False
        if length > 1 and body[0] == 0 and not body[1] & 0x80:
            return False  # non-minimal encoding
        values.append(int.from_bytes(body, "big"))
        pos += 2 + length
    return pos == len(signature) and all(0 < value < _SM2_N for value in values)


def suite_of(private_key: PrivateKey) -> SignatureSuite:
    """Suite of a private key object."""
    if isinstance(private_key, SM2PrivateKey):
        return SignatureSuite.SM2_SM3
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return SignatureSuite.ED25519
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
        private_key.curve, ec.SECP256R1
    ):
        return SignatureSuite.ECDSA_P256_SHA256
    raise _malformed_key(f"Unsupported private key type {type(private_key).__name__}")


def generate_key(suite: SignatureSuite | str) -> PrivateKey:
    """A fresh private key of ``suite``."""
    suite = SignatureSuite(suite)
    if suite is SignatureSuite.SM2_SM3:
        public, secret = gmssl_pyx.sm2_key_generate()
        return SM2PrivateKey(secret=secret, public=public)
    if suite is SignatureSuite.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def sign(suite: SignatureSuite | str, private_key: PrivateKey, message: bytes) -> bytes:
    """Raw signature of ``message`` (DER for SM2 and ECDSA, 64 bytes for Ed25519)."""
    suite = SignatureSuite(suite)
    if suite_of(private_key) is not suite:
        raise _malformed_key(f"The private key is not a {suite.value} key")
    if isinstance(private_key, SM2PrivateKey):
        return bytes(
            gmssl_pyx.sm2_sign(private_key.secret, private_key.public, message, DEFAULT_SM2_USER_ID)
        )
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    return private_key.sign(message, ec.ECDSA(hashes.SHA256()))


def public_key_pem(private_key: PrivateKey) -> str:
    """SubjectPublicKeyInfo PEM of the key's public half."""
    if isinstance(private_key, SM2PrivateKey):
        return _to_pem(_SM2_SPKI_PREFIX + b"\x04" + private_key.public, "PUBLIC KEY")
    suite_of(private_key)
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def private_key_to_pem(private_key: PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM (``openssl pkey`` reads it); encrypt it before storing."""
    if isinstance(private_key, SM2PrivateKey):
        ec_private_key = (
            bytes.fromhex("306b0201010420")
            + private_key.secret
            + bytes.fromhex("a14403420004")
            + private_key.public
        )
        return _to_pem(_SM2_PKCS8_PREFIX + ec_private_key, "PRIVATE KEY")
    suite_of(private_key)
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _sm2_point(point: bytes) -> bytes:
    try:
        return bytes(gmssl_pyx.normalize_sm2_public_key(point))
    except gmssl_pyx.InvalidValueError:
        raise _malformed_key("The SM2 public key is not a point on the curve") from None


def private_key_from_pem(pem: str) -> PrivateKey:
    """Load a PKCS#8 PEM private key of any supported suite (SM2 as written by OpenSSL 3)."""
    der = pem_to_der(pem, "PRIVATE KEY")
    try:
        info = asn1_keys.PrivateKeyInfo.load(der, strict=True)
        algorithm = info["private_key_algorithm"]
        if algorithm["algorithm"].dotted == _EC_PUBLIC_KEY and (
            algorithm["parameters"].chosen.dotted == _SM2_CURVE
        ):
            inner = info["private_key"].parsed
            secret = inner["private_key"].contents.rjust(32, b"\x00")
            point = inner["public_key"].native
            if point is None:
                raise _malformed_key("The SM2 private key carries no public key")
            sm2 = SM2PrivateKey(secret=secret, public=_sm2_point(point))
            probe = gmssl_pyx.sm2_sign(sm2.secret, sm2.public, b"probe", DEFAULT_SM2_USER_ID)
            if not gmssl_pyx.sm2_verify(sm2.public, b"probe", probe, DEFAULT_SM2_USER_ID):
                raise _malformed_key("The SM2 private key does not match its public key")
            return sm2
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, gmssl_pyx.GmsslInnerError):
        raise _malformed_key("The private key is not valid PKCS#8") from None
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError):
        raise _malformed_key("The private key cannot be read") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise _malformed_key("Unsupported private key type")
    suite_of(key)
    return key


@functools.lru_cache(maxsize=4096)
def _load_public(pem: str) -> tuple[SignatureSuite, _PublicKey]:
    der = pem_to_der(pem, "PUBLIC KEY")
    try:
        info = asn1_keys.PublicKeyInfo.load(der, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
        curve = None
        if oid == _EC_PUBLIC_KEY:
            curve = info["algorithm"]["parameters"].chosen.dotted
        if curve == _SM2_CURVE:
            point = _sm2_point(info["public_key"].native)
            if der != _SM2_SPKI_PREFIX + b"\x04" + point:
                raise _malformed_key("The SM2 public key is not in canonical DER (uncompressed)")
            return SignatureSuite.SM2_SM3, point
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _malformed_key("The public key is not a valid SubjectPublicKeyInfo") from None
    if oid not in (_ED25519, _EC_PUBLIC_KEY) or (oid == _EC_PUBLIC_KEY and curve != _P256_CURVE):
        raise _malformed_key(f"Unsupported public key algorithm {oid} {curve or ''}".strip())
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise _malformed_key("The public key cannot be read") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_bytes(serialization.Encoding.DER, spki) != der:
        raise _malformed_key("The public key is not in canonical DER (uncompressed point)")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return SignatureSuite.ED25519, key
    if isinstance(key, ec.EllipticCurvePublicKey):
        return SignatureSuite.ECDSA_P256_SHA256, key
    raise _malformed_key("Unsupported public key type")  # pragma: no cover


def suite_of_public_key(public_pem: str) -> SignatureSuite:
    """Suite of a SubjectPublicKeyInfo PEM; ``signature.malformed_key`` when unsupported."""
    return _load_public(public_pem)[0]


def verify(suite: SignatureSuite | str, public_pem: str, message: bytes, signature: bytes) -> bool:
    """True only when ``signature`` is a valid ``suite`` signature of ``message``.

    A wrong, truncated or non-canonical signature gives False; a public key that is not a
    ``suite`` key raises ``signature.malformed_key``.
    """
    suite = SignatureSuite(suite)
    key_suite, key = _load_public(public_pem)
    if key_suite is not suite:
        raise _malformed_key(f"The public key is a {key_suite.value} key, not {suite.value}")
    if not isinstance(signature, bytes) or not isinstance(message, bytes):
        return False
    if isinstance(key, bytes):
        if not _strict_der_sig(signature):
            return False
        try:
            return bool(gmssl_pyx.sm2_verify(key, message, signature, DEFAULT_SM2_USER_ID))
        except gmssl_pyx.GmsslInnerError:
            return False
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


class SuiteVerifier:
    """:class:`puhui.domain.evidence.signatures.Verifier` backed by :func:`verify`."""

    def verify(
        self, suite: SignatureSuite, public_key_pem: str, message: bytes, signature: bytes
    ) -> bool:
        return verify(suite, public_key_pem, message, signature)
