"""Evidence events, their canonical leaves, and signed tree heads (R-9.4, R-11.2).

A leaf carries references and digests only: personal identifiers in clear are refused; the
encoding is canonical, so the same event always gives the same leaf hash; a signed tree head
detects any change to its size, root, time or hash algorithm.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import ValidationError
from puhui.domain.evidence.log import (
    EventType,
    EvidenceEvent,
    InvalidTreeHead,
    SignedTreeHead,
    TreeHead,
    sign_tree_head,
    verify_tree_head,
)
from puhui.domain.evidence.merkle import TreeHasher
from puhui.domain.evidence.signatures import (
    KeyInfo,
    KeyPurpose,
    Signature,
    SignatureError,
    SignatureSuite,
    key_id_for,
)
from puhui.domain.identifiers import make_resident_id

T0 = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
BLIND = "3f" * 32  # a blind index (HMAC-SM3 hex) of the borrower
DOC = hashlib.new("sm3", b"%PDF-1.7 contract").hexdigest()


def an_event(**changes: Any) -> EvidenceEvent:
    fields: dict[str, Any] = {
        "event_type": EventType.CONTRACT_SIGNED,
        "occurred_at": T0,
        "subject_ref": BLIND,
        "object_ref": "loan:12",
        "payload_digest": DOC,
        "metadata": {"template": "loan_contract@3", "suite": "sm2-sm3"},
    }
    fields.update(changes)
    return EvidenceEvent(**fields)


# --- leaves -----------------------------------------------------------------------------------


def test_the_leaf_is_canonical_json_of_references_and_digests() -> None:
    event = an_event()
    assert (
        event.leaf_bytes()
        == (
            '{"event_type":"contract_signed","metadata":{"suite":"sm2-sm3",'
            '"template":"loan_contract@3"},"object_ref":"loan:12",'
            '"occurred_at":"2026-11-23T08:30:00.000000+00:00",'
            f'"payload_digest":"{DOC}","subject_ref":"{BLIND}","v":1}}'
        ).encode()
    )
    sm3 = TreeHasher()
    assert event.leaf_hash(sm3) == hashlib.new("sm3", b"\x00" + event.leaf_bytes()).digest()
    assert EvidenceEvent.from_leaf_bytes(event.leaf_bytes()) == event


def test_the_same_event_gives_the_same_leaf_whatever_the_time_zone_or_key_order() -> None:
    beijing = timezone(timedelta(hours=8))
    a = an_event(occurred_at=T0.astimezone(beijing), metadata={"b": "2", "a": "1"})
    b = an_event(occurred_at=T0, metadata={"a": "1", "b": "2"})
    assert a.leaf_bytes() == b.leaf_bytes()
    assert a.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    "data",
    [
        b'{"v":1}',
        b"not json",
        b"\xff\xfe",
        b"[]",
        # not canonical: spaces / an extra field / a wrong version
        an_event().leaf_bytes().replace(b",", b", ", 1),
        an_event().leaf_bytes().replace(b'"v":1', b'"v":1,"x":"y"'),
        an_event().leaf_bytes().replace(b'"v":1', b'"v":2'),
    ],
)
def test_anything_but_a_canonical_leaf_is_refused(data: bytes) -> None:
    with pytest.raises(ValidationError) as err:
        EvidenceEvent.from_leaf_bytes(data)
    assert err.value.code == "evidence.bad_leaf"


def test_all_legal_event_types_of_the_issue_are_known() -> None:
    assert {e.value for e in EventType} == {
        "application_submitted",
        "consent_given",
        "consent_revoked",
        "decision_made",
        "contract_signed",
        "contract_sealed",
        "disbursement",
        "repayment",
        "write_off",
    }
    assert an_event(event_type="repayment").event_type is EventType.REPAYMENT
    with pytest.raises(ValidationError) as err:
        an_event(event_type="loan_sold")
    assert err.value.code == "evidence.unknown_event_type"


RESIDENT_ID = make_resident_id("110101", date(1990, 3, 7), 451)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject_ref", RESIDENT_ID),
        ("subject_ref", RESIDENT_ID.lower()),
        ("subject_ref", "13812345678"),
        ("subject_ref", "+86 138 1234 5678"),
        ("subject_ref", "customer:13812345678"),
        ("object_ref", "phone:13812345678"),
        ("object_ref", f"customer:{RESIDENT_ID}"),
        ("metadata", {"note": "call 138-1234-5678"}),
        ("metadata", {"holder": f"id {RESIDENT_ID}"}),
        ("metadata", {"mobile": "8613812345678"}),
    ],
)
def test_personal_identifiers_in_clear_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        an_event(**{field: value})
    assert err.value.code == "evidence.personal_data_refused"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"subject_ref": "customer:12"}, "evidence.bad_subject_ref"),
        ({"subject_ref": "ab" * 8}, "evidence.bad_subject_ref"),
        ({"subject_ref": "AB" * 32}, "evidence.bad_subject_ref"),
        ({"subject_ref": "张三"}, "evidence.bad_subject_ref"),
        ({"object_ref": "12"}, "evidence.bad_object_ref"),
        ({"object_ref": "loan:"}, "evidence.bad_object_ref"),
        ({"object_ref": "loan:1 2"}, "evidence.bad_object_ref"),
        ({"payload_digest": DOC.upper()}, "evidence.bad_payload_digest"),
        ({"payload_digest": DOC[:40]}, "evidence.bad_payload_digest"),
        ({"metadata": {"Bad-Key": "x"}}, "evidence.bad_metadata"),
        ({"metadata": {"k": 12}}, "evidence.bad_metadata"),
        ({"metadata": {"k": "x" * 129}}, "evidence.bad_metadata"),
        ({"metadata": {f"k{i}": "x" for i in range(17)}}, "evidence.bad_metadata"),
        ({"metadata": ["k"]}, "evidence.bad_metadata"),
        ({"occurred_at": datetime(2026, 11, 23, 8, 30)}, "evidence.naive_timestamp"),  # noqa: DTZ001
    ],
)
def test_malformed_events_are_refused_with_a_stable_code(
    changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(ValidationError) as err:
        an_event(**changes)
    assert err.value.code == code


@given(
    ref=st.binary(min_size=32, max_size=32).map(bytes.hex),
    digest=st.binary(min_size=32, max_size=32).map(bytes.hex),
    prefix=st.sampled_from(["", "bi:", "enterprise:"]),
)
def test_blind_indexes_and_digests_are_never_mistaken_for_personal_data(
    ref: str, digest: str, prefix: str
) -> None:
    event = an_event(subject_ref=prefix + ref, payload_digest=digest, metadata={"seal": digest})
    assert event.subject_ref == prefix + ref


def test_event_metadata_is_frozen() -> None:
    event = an_event()
    with pytest.raises(TypeError):
        event.metadata["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.object_ref = "loan:13"  # type: ignore[misc]


# --- tree heads -------------------------------------------------------------------------------

ROOT = hashlib.new("sm3", b"root").digest()


class Ed25519Keys:
    """A test signer and verifier with the Signer/Verifier ports' shapes (Ed25519)."""

    def __init__(self) -> None:
        self.private = ed25519.Ed25519PrivateKey.generate()
        self.pem = (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.key = KeyInfo(
            key_id=key_id_for(self.pem),
            suite=SignatureSuite.ED25519,
            public_key_pem=self.pem,
            purpose=KeyPurpose.LOG,
            owner_ref=None,
            branch=None,
            created_at=T0 - timedelta(days=1),
            not_after=T0 + timedelta(days=365),
        )

    def sign(self, key_id: str, message: bytes) -> Signature:
        return self.sign_digest(key_id, hashlib.sha256(message).digest(), HashAlgorithm.SHA256)

    def sign_digest(self, key_id: str, digest: bytes, digest_alg: HashAlgorithm) -> Signature:
        return Signature(
            suite=SignatureSuite.ED25519,
            key_id=key_id,
            signature=self.private.sign(digest),
            signed_digest=digest.hex(),
            digest_alg=digest_alg,
        )

    def verify(self, suite: SignatureSuite, pem: str, message: bytes, signature: bytes) -> bool:
        public = serialization.load_pem_public_key(pem.encode())
        assert isinstance(public, ed25519.Ed25519PublicKey) and suite is SignatureSuite.ED25519
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@pytest.fixture(scope="module")
def keys() -> Ed25519Keys:
    return Ed25519Keys()


def test_the_signed_bytes_of_a_tree_head_are_canonical() -> None:
    head = TreeHead(10_000_000, ROOT, T0)
    assert (
        head.message()
        == (
            '{"hash_alg":"sm3",'
            f'"root_hash":"{ROOT.hex()}","timestamp":"2026-11-23T08:30:00.000000+00:00",'
            '"tree_size":10000000,"type":"puhui.evidence.tree_head.v1"}'
        ).encode()
    )
    assert head.digest(HashAlgorithm.SM3) == hashlib.new("sm3", head.message()).digest()
    assert TreeHead.from_dict(head.to_dict()) == head


def test_a_signed_tree_head_verifies_and_round_trips(keys: Ed25519Keys) -> None:
    sth = sign_tree_head(TreeHead(8, ROOT, T0), keys, keys.key.key_id)
    verify_tree_head(sth, keys.key, keys)
    again = SignedTreeHead.from_dict(sth.to_dict())
    assert again == sth
    verify_tree_head(again, keys.key, keys)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 9},
        {"tree_size": 7},
        {"root_hash": bytes([ROOT[0] ^ 1]) + ROOT[1:]},
        {"root_hash": ROOT[:-1] + bytes([ROOT[-1] ^ 0x80])},
        {"timestamp": T0 + timedelta(microseconds=1)},
        {"hash_alg": HashAlgorithm.SHA256},
    ],
)
def test_any_change_to_a_signed_tree_head_is_detected(
    keys: Ed25519Keys, change: dict[str, Any]
) -> None:
    sth = sign_tree_head(TreeHead(8, ROOT, T0), keys, keys.key.key_id)
    forged = SignedTreeHead(dataclasses.replace(sth.head, **change), sth.signature)
    with pytest.raises(InvalidTreeHead) as err:
        verify_tree_head(forged, keys.key, keys)
    assert err.value.code == "evidence.tree_head_digest_mismatch"


def test_a_changed_signature_or_another_key_is_detected(keys: Ed25519Keys) -> None:
    sth = sign_tree_head(TreeHead(8, ROOT, T0), keys, keys.key.key_id)
    raw = sth.signature.signature
    for position in (0, len(raw) // 2, len(raw) - 1):
        bad = raw[:position] + bytes([raw[position] ^ 1]) + raw[position + 1 :]
        forged = SignedTreeHead(sth.head, dataclasses.replace(sth.signature, signature=bad))
        with pytest.raises(SignatureError):
            verify_tree_head(forged, keys.key, keys)
    other = Ed25519Keys()
    with pytest.raises(SignatureError):
        verify_tree_head(sth, other.key, other)
    forged_digest = dataclasses.replace(sth.signature, signed_digest="00" * 32)
    with pytest.raises(InvalidTreeHead):
        verify_tree_head(SignedTreeHead(sth.head, forged_digest), keys.key, keys)


def test_a_head_signed_after_the_key_expired_is_refused(keys: Ed25519Keys) -> None:
    late = sign_tree_head(TreeHead(8, ROOT, T0 + timedelta(days=400)), keys, keys.key.key_id)
    with pytest.raises(SignatureError) as err:
        verify_tree_head(late, keys.key, keys)
    assert err.value.code == "signature.key_expired"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"tree_head": {}, "signature": {}},
        {"tree_head": {**TreeHead(1, ROOT, T0).to_dict(), "tree_size": -1}},
    ],
)
def test_malformed_tree_heads_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SignedTreeHead.from_dict(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "other"},
        {"tree_size": True},
        {"root_hash": "abcd"},
        {"timestamp": "2026-11-23T08:30:00"},
        {"timestamp": "2026-11-23T16:30:00+08:00"},  # valid instant, not the canonical form
        {"hash_alg": "md5"},
        {"extra": 1},
    ],
)
def test_tree_heads_must_be_in_canonical_form(changes: dict[str, Any]) -> None:
    data = {**TreeHead(1, ROOT, T0).to_dict(), **changes}
    with pytest.raises(ValidationError) as err:
        TreeHead.from_dict(data)
    assert err.value.code in {"evidence.bad_tree_head", "evidence.naive_timestamp"}
