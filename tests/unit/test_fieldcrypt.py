"""Encryption at rest (SM4-GCM / AES-256-GCM), key rotation and blind indexes
(R-11.2, R-6.6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.adapters.crypto import FieldAlgorithm, FieldCipher, Keyring
from puhui.adapters.crypto.fieldcrypt import _open, _seal
from puhui.domain.errors import DomainError, ValidationError

K1 = bytes(range(16))
K2 = bytes(range(16, 32))
AES1 = bytes(range(32))
INDEX = bytes(range(100, 132))
CTX = "customers.id_number"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sm4_ring() -> Keyring:
    return Keyring.from_spec(f"k1:{b64(K1)}", index_key_b64=b64(INDEX))


def aes_ring() -> Keyring:
    return Keyring.from_spec(f"a1:{b64(AES1)}", algorithm="AES-256-GCM", index_key_b64=b64(INDEX))


RINGS = {"SM4-GCM": sm4_ring, "AES-256-GCM": aes_ring}


def code_of(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.code


# --- SM4 is real ----------------------------------------------------------------------------


def test_sm4_known_answer_gbt_32907() -> None:
    """GB/T 32907-2016 appendix A example 1: key = plaintext, one block, ECB."""
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = encryptor.update(key) + encryptor.finalize()
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_known_answer_rfc_8998() -> None:
    """RFC 8998 appendix A.1 SM4-GCM vector through the module's own sealing code."""
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    expected = bytes.fromhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert _seal(FieldAlgorithm.SM4_GCM, key, nonce, plaintext, aad) == expected
    assert _open(FieldAlgorithm.SM4_GCM, key, nonce, expected, aad) == plaintext


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", list(RINGS))
@settings(max_examples=60, deadline=None)
@given(plaintext=st.text(max_size=200))
def test_round_trip(alg: str, plaintext: str) -> None:
    cipher = FieldCipher(RINGS[alg]())
    token = cipher.encrypt(plaintext, context=CTX)
    assert token.isascii()
    assert cipher.decrypt(token, context=CTX) == plaintext
    if len(plaintext) >= 8:
        assert plaintext not in token.split(".")[3]


@pytest.mark.parametrize(("alg", "key_id"), [("SM4-GCM", "k1"), ("AES-256-GCM", "a1")])
def test_token_format_and_fresh_nonce(alg: str, key_id: str) -> None:
    cipher = FieldCipher(RINGS[alg]())
    first = cipher.encrypt("11010519900101002X", context=CTX)
    second = cipher.encrypt("11010519900101002X", context=CTX)
    assert re.fullmatch(rf"pv1\.{key_id}\.{re.escape(alg)}\.[A-Za-z0-9_-]+", first)
    assert first != second  # random nonce: equal values are not linkable
    assert "11010519900101002X" not in first
    payload = first.split(".")[3]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert len(raw) == 12 + 18 + 16  # nonce + ciphertext + tag
    assert b"11010519900101002X" not in raw


def test_wrong_context_fails() -> None:
    cipher = FieldCipher(sm4_ring())
    token = cipher.encrypt("13812345678", context="customers.phone")
    with pytest.raises(DomainError) as caught:
        cipher.decrypt(token, context="customers.id_number")
    assert code_of(caught) == "crypto.decrypt_failed"


def test_context_is_required() -> None:
    with pytest.raises(ValidationError):
        FieldCipher(sm4_ring()).encrypt("x", context="")


@pytest.mark.parametrize("alg", list(RINGS))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_tampering_fails(alg: str, data: st.DataObject) -> None:
    cipher = FieldCipher(RINGS[alg]())
    token = cipher.encrypt("6222021234567890", context=CTX)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AQgw09-_.xZ").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(DomainError) as caught:
        cipher.decrypt(tampered, context=CTX)
    assert code_of(caught) in {"crypto.decrypt_failed", "crypto.unknown_key"}


@pytest.mark.parametrize(
    "token", ["", "garbage", "pv1.k1.SM4-GCM.", "pv1.k1.SM4-GCM.AAAA", "pv2.k1.SM4-GCM.AAAA"]
)
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(DomainError) as caught:
        FieldCipher(sm4_ring()).decrypt(token, context=CTX)
    assert code_of(caught) == "crypto.decrypt_failed"


def test_algorithm_label_swap_fails() -> None:
    cipher = FieldCipher(sm4_ring())
    token = cipher.encrypt("x", context=CTX).replace("SM4-GCM", "AES-256-GCM")
    with pytest.raises(DomainError) as caught:
        cipher.decrypt(token, context=CTX)
    assert code_of(caught) == "crypto.decrypt_failed"


# --- rotation ---------------------------------------------------------------------------------


def test_rotation() -> None:
    old_cipher = FieldCipher(sm4_ring())
    old_token = old_cipher.encrypt("13812345678", context=CTX)

    rotated = Keyring.from_spec(f"k1:{b64(K1)},k2:{b64(K2)};active=k2", index_key_b64=b64(INDEX))
    cipher = FieldCipher(rotated)
    assert cipher.decrypt(old_token, context=CTX) == "13812345678"  # old key still decrypts
    assert cipher.needs_rotation(old_token)

    new_token = cipher.encrypt("13900001111", context=CTX)
    assert new_token.startswith("pv1.k2.SM4-GCM.")
    assert not cipher.needs_rotation(new_token)

    moved = cipher.reencrypt(old_token, context=CTX)
    assert moved.startswith("pv1.k2.")
    assert cipher.decrypt(moved, context=CTX) == "13812345678"
    assert cipher.reencrypt(moved, context=CTX) == moved  # already current

    with pytest.raises(DomainError) as caught:  # a node without k2 cannot read new tokens
        old_cipher.decrypt(new_token, context=CTX)
    assert code_of(caught) == "crypto.unknown_key"


def test_with_key_rotates_and_can_migrate_algorithm() -> None:
    ring = aes_ring()
    token = FieldCipher(ring).encrypt("secret", context=CTX)
    migrated = Keyring({"a1": AES1, "s2": K2}, "s2", algorithm="SM4-GCM", index_key=INDEX)
    cipher = FieldCipher(migrated)
    assert cipher.needs_rotation(token)
    moved = cipher.reencrypt(token, context=CTX)
    assert moved.startswith("pv1.s2.SM4-GCM.")
    assert cipher.decrypt(moved, context=CTX) == "secret"
    assert ring.with_key("a2", bytes(32)).active_key_id == "a2"
    assert ring.with_key("a2", bytes(32), activate=False).active_key_id == "a1"


# --- blind index ------------------------------------------------------------------------------


def test_blind_index() -> None:
    cipher = FieldCipher(sm4_ring())
    index = cipher.blind_index("11010519900101002x", context=CTX)
    assert re.fullmatch(r"[0-9a-f]{64}", index)
    assert index == cipher.blind_index(" 11010519900101002X ", context=CTX)
    assert index != cipher.blind_index("11010519900101002X", context="contacts.id_number")
    assert index != cipher.blind_index("110105199001010021", context=CTX)
    expected = hmac.new(INDEX, CTX.encode() + b"\x00" + b"11010519900101002X", "sm3").hexdigest()
    assert index == expected  # HMAC-SM3
    other_ring = Keyring({"k1": K1}, "k1", index_key=bytes(32))
    assert FieldCipher(other_ring).blind_index("11010519900101002X", context=CTX) != index


def test_blind_index_normalises_full_width_digits() -> None:
    cipher = FieldCipher(sm4_ring())
    assert cipher.blind_index("１３８１２３４５６７８", context="customers.phone") == (
        cipher.blind_index("13812345678", context="customers.phone")
    )


@given(value=st.text(max_size=40))
def test_blind_index_is_stable(value: str) -> None:
    a, b = FieldCipher(sm4_ring()), FieldCipher(sm4_ring())
    assert a.blind_index(value, context=CTX) == b.blind_index(value, context=CTX)


# --- keyrings ---------------------------------------------------------------------------------


def test_spec_round_trip_and_repr_hides_keys() -> None:
    ring = Keyring.from_spec(f" k1:{b64(K1)} , k2:{b64(K2)} ; active=k2 ", index_key_b64=b64(INDEX))
    assert ring.key_ids == ("k1", "k2") and ring.active_key_id == "k2"
    assert ring.algorithm is FieldAlgorithm.SM4_GCM
    again = Keyring.from_spec(ring.to_spec(), index_key_b64=ring.index_key_b64)
    assert again.to_spec() == ring.to_spec()
    assert b64(K1) not in repr(ring) and b64(INDEX) not in repr(ring)


@pytest.mark.parametrize(
    ("spec", "index"),
    [
        (f"k1:{b64(K1)},k2:{b64(K2)}", b64(INDEX)),  # two keys, none active
        (f"k1:{b64(K1)};active=k9", b64(INDEX)),
        (f"k1:{b64(K1)},k1:{b64(K2)};active=k1", b64(INDEX)),
        ("k1:not base64!", b64(INDEX)),
        (f"k1:{b64(bytes(8))}", b64(INDEX)),  # wrong size
        (f"k1:{b64(AES1)}", b64(INDEX)),  # 32 bytes for SM4
        (f"k1:{b64(K1)};colour=blue", b64(INDEX)),
        (f"bad.id:{b64(K1)}", b64(INDEX)),
        ("", b64(INDEX)),
        (f"k1:{b64(K1)}", b64(bytes(8))),  # index key too short
        (f"k1:{b64(K1)}", b64(K1)),  # index key equal to a data key
        (f"k1:{b64(K1)}", "%%%"),  # index key not base64
    ],
)
def test_bad_specs_refused(spec: str, index: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Keyring.from_spec(spec, index_key_b64=index)
    assert caught.value.code == "crypto.bad_keyring"
    assert b64(K1) not in caught.value.message


def test_unknown_algorithm_refused() -> None:
    with pytest.raises(ValidationError):
        Keyring.from_spec(f"k1:{b64(K1)}", algorithm="DES", index_key_b64=b64(INDEX))


@pytest.mark.parametrize("alg", list(FieldAlgorithm))
def test_generate(alg: FieldAlgorithm) -> None:
    ring = Keyring.generate(alg)
    assert not ring.is_development and ring.algorithm is alg
    assert len(ring.key(ring.active_key_id)) == alg.key_size
    cipher = FieldCipher(ring)
    assert cipher.decrypt(cipher.encrypt("x", context=CTX), context=CTX) == "x"
    assert Keyring.generate(alg).to_spec() != ring.to_spec()


def test_development_keyring_is_fixed_and_flagged() -> None:
    first, second = Keyring.development(), Keyring.development()
    assert first.is_development and "insecure" in first.active_key_id
    assert first.to_spec() == second.to_spec()
    token = FieldCipher(first).encrypt("x", context=CTX)
    assert FieldCipher(second).decrypt(token, context=CTX) == "x"
    assert (
        first.key(first.active_key_id)
        == hashlib.sha256(b"puhui INSECURE development data key").digest()[:16]
    )


def test_unknown_key_lookup() -> None:
    with pytest.raises(DomainError) as caught:
        sm4_ring().key("nope")
    assert code_of(caught) == "crypto.unknown_key"
