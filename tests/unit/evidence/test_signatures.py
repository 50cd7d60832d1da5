"""Signature values, key records and their state machine (R-9.4, R-10.2(d)).

Pure domain tests: the cryptography is replaced by a recording verifier; real suites are
tested in tests/unit/test_signing.py.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import ErrorKind, ValidationError
from puhui.domain.evidence.signatures import (
    KeyExpired,
    KeyInfo,
    KeyPurpose,
    KeyRetired,
    KeyRevoked,
    KeyStatus,
    Signature,
    SignatureError,
    SignatureInvalid,
    SignatureSuite,
    key_id_for,
    pem_to_der,
    retire,
    revoke,
    verify_signature,
)

ED_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA023ca68X5sQgTfukQvZsYOG2NQyX8xc+8/HQxdv/Mnw=
-----END PUBLIC KEY-----
"""
SM2_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEwMzLwZ72uqwy2puBd9bOTg5MzPSf
3cIwttcL4ig4PVHEpzt3vyaCPZX4pMBf0FEc4ugD6OKX/p6KSiZ9K+8DeA==
-----END PUBLIC KEY-----
"""
OWNER = hashlib.sha256(b"blind index of a customer").hexdigest()  # stands for HMAC-SM3 hex
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DIGEST = hashlib.sha256(b"canonical contract PDF").digest()


def a_key(**changes: object) -> KeyInfo:
    key = KeyInfo(
        key_id=key_id_for(ED_PEM),
        suite=SignatureSuite.ED25519,
        public_key_pem=ED_PEM,
        purpose=KeyPurpose.CUSTOMER,
        owner_ref=OWNER,
        branch=None,
        created_at=T0,
        not_after=T0 + timedelta(days=730),
    )
    return replace(key, **changes) if changes else key  # type: ignore[arg-type]


def a_signature(**changes: object) -> Signature:
    values: dict[str, object] = {
        "suite": SignatureSuite.ED25519,
        "key_id": key_id_for(ED_PEM),
        "signature": b"\x01" * 64,
        "signed_digest": DIGEST.hex(),
        "digest_alg": HashAlgorithm.SHA256,
    }
    values.update(changes)
    return Signature(**values)  # type: ignore[arg-type]


class RecordingVerifier:
    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.calls: list[tuple[SignatureSuite, str, bytes, bytes]] = []

    def verify(
        self, suite: SignatureSuite, public_key_pem: str, message: bytes, signature: bytes
    ) -> bool:
        self.calls.append((suite, public_key_pem, message, signature))
        return self.answer


# --- suites and values -------------------------------------------------------------------


def test_suites_and_their_default_digests() -> None:
    assert [s.value for s in SignatureSuite] == ["sm2-sm3", "ed25519", "ecdsa-p256-sha256"]
    assert SignatureSuite.SM2_SM3.default_digest_alg is HashAlgorithm.SM3
    assert SignatureSuite.ED25519.default_digest_alg is HashAlgorithm.SHA256
    assert SignatureSuite.ECDSA_P256_SHA256.default_digest_alg is HashAlgorithm.SHA256


def test_signature_json_form_uses_base64_and_hex() -> None:
    signature = a_signature(signature=b"\x30\x45" + b"\xab" * 10)
    data = signature.to_json()
    assert data == {
        "suite": "ed25519",
        "key_id": key_id_for(ED_PEM),
        "signature": base64.b64encode(b"\x30\x45" + b"\xab" * 10).decode(),
        "signed_digest": DIGEST.hex(),
        "digest_alg": "sha256",
    }
    assert Signature.from_json(data) == signature
    assert signature.signed_message == DIGEST


@given(
    suite=st.sampled_from(list(SignatureSuite)),
    raw=st.binary(min_size=1, max_size=128),
    digest=st.binary(min_size=32, max_size=32),
    alg=st.sampled_from(list(HashAlgorithm)),
)
def test_signature_json_round_trip(
    suite: SignatureSuite, raw: bytes, digest: bytes, alg: HashAlgorithm
) -> None:
    signature = Signature(suite, "0" * 32, raw, digest.hex(), alg)
    assert Signature.from_json(signature.to_json()) == signature


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "not base64!"},
        {"signed_digest": "AB" * 32},  # upper case
        {"signed_digest": "ab" * 31},
        {"suite": "rsa"},
        {"digest_alg": "md5"},
        {"key_id": "customer-42"},
        {"extra": "field"},
        {"signature": ""},
    ],
)
def test_malformed_signature_json_is_refused(change: dict[str, str]) -> None:
    data = {**a_signature().to_json(), **change}
    with pytest.raises(SignatureError) as caught:
        Signature.from_json(data)
    assert caught.value.code.startswith("signature.")


def test_missing_field_is_refused() -> None:
    data = a_signature().to_json()
    del data["digest_alg"]
    with pytest.raises(SignatureError, match="exactly the fields"):
        Signature.from_json(data)


# --- key records -------------------------------------------------------------------------


def test_key_id_is_derived_from_the_public_key() -> None:
    assert key_id_for(ED_PEM) == hashlib.sha256(pem_to_der(ED_PEM)).hexdigest()[:32]
    assert key_id_for(ED_PEM) != key_id_for(SM2_PEM)
    with pytest.raises(SignatureError) as caught:
        a_key(key_id=key_id_for(SM2_PEM))
    assert caught.value.code == "signature.key_mismatch"


def test_pem_must_be_a_public_key_block() -> None:
    for bad in ["", "hello", ED_PEM.replace("PUBLIC", "PRIVATE"), ED_PEM.replace("MCow", "M!ow")]:
        with pytest.raises(SignatureError) as caught:
            key_id_for(bad)
        assert caught.value.code == "signature.malformed_key"


def test_owner_is_a_blind_index_never_a_clear_id() -> None:
    with pytest.raises(SignatureError) as caught:
        a_key(owner_ref="110101199003074514")  # an ID number in clear
    assert caught.value.code == "signature.bad_owner_ref"
    with pytest.raises(SignatureError):
        a_key(owner_ref=None)  # a customer key needs its owner


def test_seal_key_needs_its_branch() -> None:
    with pytest.raises(SignatureError) as caught:
        a_key(purpose=KeyPurpose.SEAL, owner_ref=None)
    assert caught.value.code == "signature.bad_branch"
    seal = a_key(purpose=KeyPurpose.SEAL, owner_ref=None, branch="330100-hangzhou")
    assert seal.branch == "330100-hangzhou"


def test_key_dates_are_aware_and_ordered() -> None:
    with pytest.raises(ValidationError):
        a_key(created_at=datetime(2025, 3, 1, 9, 0))  # noqa: DTZ001
    with pytest.raises(SignatureError):
        a_key(not_after=T0)
    shanghai = timezone(timedelta(hours=8))
    assert a_key(created_at=T0.astimezone(shanghai)).created_at.tzinfo is UTC


def test_key_json_round_trip() -> None:
    key = revoke(a_key(), T0 + timedelta(days=3), "lost phone")
    assert KeyInfo.from_json(key.to_json()) == key
    with pytest.raises(SignatureError) as caught:
        KeyInfo.from_json({**key.to_json(), "created_at": None})
    assert caught.value.code == "signature.bad_key"


def test_expired_is_derived_not_stored() -> None:
    with pytest.raises(SignatureError):
        a_key(status=KeyStatus.EXPIRED)
    key = a_key()
    assert key.status_at(T0 + timedelta(days=1)) is KeyStatus.ACTIVE
    assert key.status_at(T0 + timedelta(days=731)) is KeyStatus.EXPIRED


# --- state machine -----------------------------------------------------------------------


def test_an_active_key_signs_until_it_expires() -> None:
    key = a_key()
    key.ensure_can_sign(T0 + timedelta(days=1))
    with pytest.raises(KeyExpired) as caught:
        key.ensure_can_sign(T0 + timedelta(days=731))
    assert caught.value.code == "signature.key_expired"
    assert caught.value.kind is ErrorKind.CONFLICT
    with pytest.raises(KeyExpired):
        key.ensure_can_sign(T0 - timedelta(seconds=1))  # not yet valid


def test_rotation_retires_the_key_once() -> None:
    retired = retire(a_key(), successor_id="f" * 32)
    assert retired.status is KeyStatus.RETIRED
    assert retired.successor_id == "f" * 32
    with pytest.raises(KeyRetired) as caught:
        retired.ensure_can_sign(T0 + timedelta(days=1))
    assert caught.value.code == "signature.key_retired"
    with pytest.raises(KeyRetired):
        retire(retired, successor_id="e" * 32)
    retired.ensure_valid_for(T0 + timedelta(days=1))  # old signatures still count


def test_revocation_refuses_signing_and_later_signatures() -> None:
    at = T0 + timedelta(days=10)
    revoked = revoke(a_key(), at, "  compromised device ")
    assert revoked.status is KeyStatus.REVOKED
    assert revoked.revocation_reason == "compromised device"
    with pytest.raises(KeyRevoked) as caught:
        revoked.ensure_can_sign(at - timedelta(days=1))  # stored status wins for new signatures
    assert caught.value.code == "signature.key_revoked"
    revoked.ensure_valid_for(at - timedelta(seconds=1))  # proven earlier: still valid
    with pytest.raises(KeyRevoked):
        revoked.ensure_valid_for(at)
    with pytest.raises(KeyRevoked):
        revoked.ensure_valid_for(None)  # signing time not proven
    with pytest.raises(KeyRevoked) as again:
        revoke(revoked, at, "twice")
    assert again.value.code == "signature.already_revoked"
    with pytest.raises(KeyRevoked):
        retire(revoked, successor_id="f" * 32)
    with pytest.raises(ValidationError):
        revoke(a_key(), at, " ")


def test_a_retired_key_can_still_be_revoked() -> None:
    key = revoke(retire(a_key(), "f" * 32), T0 + timedelta(days=5), "compromise found later")
    assert key.status is KeyStatus.REVOKED
    assert key.successor_id == "f" * 32


# --- verify_signature --------------------------------------------------------------------


def test_verify_signature_checks_digest_key_and_time() -> None:
    key, signature = a_key(), a_signature()
    verifier = RecordingVerifier()
    verify_signature(signature, key, verifier, digest=DIGEST, signed_at=T0 + timedelta(days=1))
    assert verifier.calls == [(SignatureSuite.ED25519, ED_PEM, DIGEST, b"\x01" * 64)]

    with pytest.raises(SignatureInvalid) as wrong_doc:
        verify_signature(signature, key, verifier, digest=hashlib.sha256(b"other").digest())
    assert wrong_doc.value.code == "signature.digest_mismatch"

    with pytest.raises(SignatureInvalid) as bad:
        verify_signature(signature, key, RecordingVerifier(answer=False))
    assert bad.value.code == "signature.invalid"

    with pytest.raises(SignatureInvalid) as other_key:
        verify_signature(a_signature(key_id="0" * 32), key, verifier)
    assert other_key.value.code == "signature.key_mismatch"

    with pytest.raises(SignatureInvalid):
        verify_signature(a_signature(suite=SignatureSuite.SM2_SM3), key, verifier)

    with pytest.raises(KeyExpired):
        verify_signature(signature, key, verifier, signed_at=T0 + timedelta(days=800))
