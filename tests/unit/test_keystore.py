"""Key service: customer keys, branch seals, rotation, revocation, encryption at rest (R-9.4)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from puhui.adapters.crypto import FieldCipher, Keyring, signing
from puhui.adapters.crypto.keystore import (
    PRIVATE_KEY_CONTEXT,
    InMemoryKeyStorage,
    KeyService,
    SoftwareKeystore,
)
from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.evidence.signatures import (
    KeyExpired,
    KeyPurpose,
    KeyRetired,
    KeyRevoked,
    KeyStatus,
    SignatureError,
    SignatureSuite,
    UnknownKey,
    verify_signature,
)

SUITES = list(SignatureSuite)
PDF = b"%PDF-1.7 canonical loan contract"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(Keyring.development())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storage() -> InMemoryKeyStorage:
    return InMemoryKeyStorage()


@pytest.fixture
def keystore(cipher: FieldCipher, storage: InMemoryKeyStorage, clock: Clock) -> SoftwareKeystore:
    return SoftwareKeystore(cipher, storage, clock=clock)


def owner(cipher: FieldCipher, id_number: str = "110101199003074514") -> str:
    return cipher.blind_index(id_number, context="customers.id_number")


def test_software_keystore_is_a_key_service(keystore: SoftwareKeystore) -> None:
    service: KeyService = keystore  # type-checked by mypy; HSM adapters implement the same
    assert service is keystore


@pytest.mark.parametrize("suite", SUITES)
def test_customer_key_signs_a_document_digest(
    keystore: SoftwareKeystore, cipher: FieldCipher, suite: SignatureSuite, clock: Clock
) -> None:
    info = keystore.create_key(KeyPurpose.CUSTOMER, suite, owner(cipher))
    assert info.status is KeyStatus.ACTIVE
    assert info.created_at == clock.now
    assert info.not_after == clock.now + timedelta(days=730)
    assert keystore.get(info.key_id) == info
    assert keystore.public_key(info.key_id) == info.public_key_pem

    signature = keystore.sign(info.key_id, PDF)
    alg = suite.default_digest_alg
    assert signature.digest_alg is alg
    assert signature.signed_digest == hashlib.new(alg.value, PDF).hexdigest()
    assert signing.verify(suite, info.public_key_pem, signature.signed_message, signature.signature)
    verify_signature(
        signature,
        info,
        signing.SuiteVerifier(),
        digest=hashlib.new(alg.value, PDF).digest(),
        signed_at=clock.now,
    )


def test_sign_digest_keeps_the_callers_algorithm(
    keystore: SoftwareKeystore, cipher: FieldCipher
) -> None:
    info = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.ED25519, owner(cipher))
    digest = hashlib.new("sm3", PDF).digest()
    signature = keystore.sign_digest(info.key_id, digest, HashAlgorithm.SM3)
    assert signature.digest_alg is HashAlgorithm.SM3
    assert signature.signed_message == digest
    with pytest.raises(ValidationError) as caught:
        keystore.sign_digest(info.key_id, digest[:31], HashAlgorithm.SM3)
    assert caught.value.code == "signature.bad_digest"


def test_private_keys_are_encrypted_at_rest(
    keystore: SoftwareKeystore, storage: InMemoryKeyStorage, cipher: FieldCipher
) -> None:
    info = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.SM2_SM3, owner(cipher))
    stored = storage.get(info.key_id)
    assert stored is not None
    assert stored.private_key_token.startswith("pv1.insecure-dev.SM4-GCM.")
    assert "PRIVATE KEY" not in stored.private_key_token
    pem = cipher.decrypt(stored.private_key_token, context=PRIVATE_KEY_CONTEXT)
    assert signing.public_key_pem(signing.private_key_from_pem(pem)) == info.public_key_pem
    with pytest.raises(DomainError) as caught:
        cipher.decrypt(stored.private_key_token, context="customers.id_number")
    assert caught.value.code == "crypto.decrypt_failed"


def test_a_fresh_keystore_signs_from_storage(
    storage: InMemoryKeyStorage, cipher: FieldCipher, clock: Clock
) -> None:
    first = SoftwareKeystore(cipher, storage, clock=clock)
    info = first.create_key(KeyPurpose.SEAL, SignatureSuite.SM2_SM3, None, branch="330100")
    second = SoftwareKeystore(cipher, storage, clock=clock, cache_size=0)  # nothing cached
    signature = second.sign(info.key_id, PDF)
    assert signing.verify(
        info.suite, info.public_key_pem, signature.signed_message, signature.signature
    )


def test_a_swapped_private_key_token_is_refused(
    storage: InMemoryKeyStorage, cipher: FieldCipher, clock: Clock
) -> None:
    keystore = SoftwareKeystore(cipher, storage, clock=clock, cache_size=0)
    a = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.ED25519, owner(cipher, "A"))
    b = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.ED25519, owner(cipher, "B"))
    stored_a, stored_b = storage.get(a.key_id), storage.get(b.key_id)
    assert stored_a is not None and stored_b is not None
    storage.update(replace(stored_b, private_key_token=stored_a.private_key_token))
    with pytest.raises(SignatureError) as caught:
        keystore.sign(b.key_id, PDF)
    assert caught.value.code == "signature.key_mismatch"


def test_seal_keys_per_branch(keystore: SoftwareKeystore) -> None:
    hz = keystore.create_key(KeyPurpose.SEAL, SignatureSuite.SM2_SM3, None, branch="330100")
    nb = keystore.create_key(KeyPurpose.SEAL, SignatureSuite.SM2_SM3, None, branch="330200")
    assert keystore.active_key(KeyPurpose.SEAL, branch="330100") == hz
    assert keystore.active_key(KeyPurpose.SEAL, branch="330200") == nb
    assert {k.key_id for k in keystore.keys(purpose=KeyPurpose.SEAL)} == {hz.key_id, nb.key_id}
    with pytest.raises(UnknownKey):
        keystore.active_key(KeyPurpose.SEAL, branch="110000")
    with pytest.raises(SignatureError) as caught:
        keystore.create_key(KeyPurpose.SEAL, SignatureSuite.SM2_SM3, None)
    assert caught.value.code == "signature.bad_branch"


def test_owner_must_be_a_blind_index(keystore: SoftwareKeystore) -> None:
    with pytest.raises(SignatureError) as caught:
        keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.ED25519, "110101199003074514")
    assert caught.value.code == "signature.bad_owner_ref"


def test_unknown_key(keystore: SoftwareKeystore) -> None:
    for call in (
        lambda: keystore.get("0" * 32),
        lambda: keystore.sign("0" * 32, PDF),
        lambda: keystore.rotate("0" * 32),
        lambda: keystore.revoke("0" * 32, datetime.now(UTC), "x"),
    ):
        with pytest.raises(UnknownKey) as caught:
            call()
        assert caught.value.code == "signature.unknown_key"


@pytest.mark.parametrize("suite", SUITES)
def test_rotation(
    keystore: SoftwareKeystore, cipher: FieldCipher, clock: Clock, suite: SignatureSuite
) -> None:
    old = keystore.create_key(KeyPurpose.CUSTOMER, suite, owner(cipher))
    before = keystore.sign(old.key_id, PDF)
    clock.advance(days=30)
    new = keystore.rotate(old.key_id)
    assert new.key_id != old.key_id
    assert (new.purpose, new.suite, new.owner_ref) == (old.purpose, old.suite, old.owner_ref)
    assert new.predecessor_id == old.key_id
    retired = keystore.get(old.key_id)
    assert retired.status is KeyStatus.RETIRED
    assert retired.successor_id == new.key_id

    with pytest.raises(KeyRetired) as caught:
        keystore.sign(old.key_id, PDF)
    assert caught.value.code == "signature.key_retired"
    # the old key still verifies what it signed while active
    verify_signature(before, retired, signing.SuiteVerifier(), signed_at=old.created_at)
    after = keystore.sign(new.key_id, PDF)
    verify_signature(after, new, signing.SuiteVerifier(), signed_at=clock.now)
    assert keystore.active_key(KeyPurpose.CUSTOMER, owner_ref=old.owner_ref) == new
    with pytest.raises(KeyRetired):
        keystore.rotate(old.key_id)


def test_revocation(keystore: SoftwareKeystore, cipher: FieldCipher, clock: Clock) -> None:
    info = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.SM2_SM3, owner(cipher))
    before = keystore.sign(info.key_id, PDF)
    signed_at = clock.now
    clock.advance(hours=2)
    revoked = keystore.revoke(info.key_id, clock.now, "phone reported stolen")
    assert revoked.status is KeyStatus.REVOKED
    assert revoked.revoked_at == clock.now
    assert keystore.get(info.key_id) == revoked

    with pytest.raises(KeyRevoked) as caught:
        keystore.sign(info.key_id, PDF)
    assert caught.value.code == "signature.key_revoked"
    with pytest.raises(KeyRevoked):
        keystore.rotate(info.key_id)
    with pytest.raises(KeyRevoked):
        keystore.revoke(info.key_id, clock.now, "again")
    # a signature whose time is proven to predate the revocation still holds
    verify_signature(before, revoked, signing.SuiteVerifier(), signed_at=signed_at)
    with pytest.raises(KeyRevoked):
        verify_signature(before, revoked, signing.SuiteVerifier(), signed_at=clock.now)
    with pytest.raises(UnknownKey):
        keystore.active_key(KeyPurpose.CUSTOMER, owner_ref=info.owner_ref)


def test_revocation_takes_effect_for_every_keystore_sharing_the_storage(
    storage: InMemoryKeyStorage, cipher: FieldCipher, clock: Clock
) -> None:
    signer = SoftwareKeystore(cipher, storage, clock=clock)
    info = signer.create_key(KeyPurpose.SEAL, SignatureSuite.SM2_SM3, None, branch="330100")
    signer.sign(info.key_id, PDF)  # private key now cached in `signer`
    SoftwareKeystore(cipher, storage, clock=clock).revoke(info.key_id, clock.now, "branch closed")
    with pytest.raises(KeyRevoked):
        signer.sign(info.key_id, PDF)


def test_expired_key_cannot_sign(
    keystore: SoftwareKeystore, cipher: FieldCipher, clock: Clock
) -> None:
    info = keystore.create_key(KeyPurpose.CUSTOMER, SignatureSuite.ED25519, owner(cipher))
    clock.advance(days=731)
    with pytest.raises(KeyExpired) as caught:
        keystore.sign(info.key_id, PDF)
    assert caught.value.code == "signature.key_expired"
    renewed = keystore.rotate(info.key_id)  # an expired key may still be rotated
    assert keystore.sign(renewed.key_id, PDF).key_id == renewed.key_id


def test_validity_is_configurable(cipher: FieldCipher, clock: Clock) -> None:
    keystore = SoftwareKeystore(
        cipher, clock=clock, validity={purpose: timedelta(days=1) for purpose in KeyPurpose}
    )
    info = keystore.create_key(KeyPurpose.LOG, SignatureSuite.ED25519, None)
    assert info.not_after - info.created_at == timedelta(days=1)


def test_storage_refuses_duplicates(
    keystore: SoftwareKeystore, storage: InMemoryKeyStorage, cipher: FieldCipher
) -> None:
    info = keystore.create_key(KeyPurpose.TSA, SignatureSuite.ECDSA_P256_SHA256, None)
    stored = storage.get(info.key_id)
    assert stored is not None
    with pytest.raises(DomainError) as caught:
        storage.put(stored)
    assert caught.value.code == "signature.duplicate_key"
