"""Signature suites SM2/SM3, Ed25519, ECDSA P-256 and their OpenSSL interoperability (R-9.4).

Issue 8 acceptance: an SM2/SM3 signature made by Puhui verifies with the ``openssl`` command
line and one made by ``openssl`` verifies in Puhui; the same for Ed25519 (and ECDSA P-256).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from puhui.adapters.crypto import signing
from puhui.domain.evidence.signatures import SignatureError, SignatureSuite, pem_to_der

SUITES = list(SignatureSuite)
MESSAGE = "借款合同 v3 — digest of the canonical PDF".encode()
DISTID = "distid:1234567812345678"

openssl_needed = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


def rearmor(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"


@pytest.fixture(scope="module")
def keys() -> dict[SignatureSuite, signing.PrivateKey]:
    return {suite: signing.generate_key(suite) for suite in SUITES}


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_sign_and_verify(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey]
) -> None:
    key = keys[suite]
    public = signing.public_key_pem(key)
    signature = signing.sign(suite, key, MESSAGE)
    assert signing.verify(suite, public, MESSAGE, signature)
    assert not signing.verify(suite, public, MESSAGE + b".", signature)
    assert signing.suite_of(key) is suite
    assert signing.suite_of_public_key(public) is suite


@pytest.mark.parametrize("suite", SUITES)
def test_pem_export_and_import(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey]
) -> None:
    key = keys[suite]
    pem = signing.private_key_to_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = signing.private_key_from_pem(pem)
    assert signing.public_key_pem(again) == signing.public_key_pem(key)
    assert signing.verify(
        suite, signing.public_key_pem(key), b"m", signing.sign(suite, again, b"m")
    )


def test_sm2_private_key_must_match_its_public_key(
    keys: dict[SignatureSuite, signing.PrivateKey],
) -> None:
    key = keys[SignatureSuite.SM2_SM3]
    assert isinstance(key, signing.SM2PrivateKey)
    other = signing.generate_key(SignatureSuite.SM2_SM3)
    assert isinstance(other, signing.SM2PrivateKey)
    mixed = signing.SM2PrivateKey(secret=key.secret, public=other.public)
    with pytest.raises(SignatureError) as caught:
        signing.private_key_from_pem(signing.private_key_to_pem(mixed))
    assert caught.value.code == "signature.malformed_key"


def test_sm2_key_repr_hides_the_secret(keys: dict[SignatureSuite, signing.PrivateKey]) -> None:
    key = keys[SignatureSuite.SM2_SM3]
    assert isinstance(key, signing.SM2PrivateKey)
    assert key.secret.hex() not in repr(key)


def test_a_key_of_another_suite_is_refused(keys: dict[SignatureSuite, signing.PrivateKey]) -> None:
    ed_public = signing.public_key_pem(keys[SignatureSuite.ED25519])
    with pytest.raises(SignatureError) as caught:
        signing.verify(SignatureSuite.SM2_SM3, ed_public, b"m", b"sig")
    assert caught.value.code == "signature.malformed_key"
    with pytest.raises(SignatureError):
        signing.sign(SignatureSuite.ED25519, keys[SignatureSuite.SM2_SM3], b"m")


@pytest.mark.parametrize(
    "bad",
    ["", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"],
)
def test_malformed_public_key_raises(bad: str) -> None:
    with pytest.raises(SignatureError) as caught:
        signing.verify(SignatureSuite.SM2_SM3, bad, b"m", b"sig")
    assert caught.value.code == "signature.malformed_key"


def test_unsupported_curve_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(SignatureError, match="Unsupported"):
        signing.suite_of_public_key(pem)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("bad", [b"", b"\x30\x00", b"\x00" * 64, b"\x30" * 200])
def test_garbage_signatures_verify_false(
    suite: SignatureSuite, bad: bytes, keys: dict[SignatureSuite, signing.PrivateKey]
) -> None:
    assert signing.verify(suite, signing.public_key_pem(keys[suite]), MESSAGE, bad) is False


def test_non_canonical_der_is_refused(keys: dict[SignatureSuite, signing.PrivateKey]) -> None:
    key = keys[SignatureSuite.SM2_SM3]
    public = signing.public_key_pem(key)
    signature = signing.sign(SignatureSuite.SM2_SM3, key, MESSAGE)
    r_len = signature[3]
    r = signature[4 : 4 + r_len]
    padded_r = b"\x02" + bytes([r_len + 1]) + b"\x00" + r  # superfluous leading zero
    rest = signature[4 + r_len :]
    body = padded_r + rest
    assert not signing.verify(
        SignatureSuite.SM2_SM3, public, MESSAGE, b"\x30" + bytes([len(body)]) + body
    )


# --- tamper: any single changed byte ----------------------------------------------------


def changed(data: bytes, index: int, delta: int) -> bytes:
    out = bytearray(data)
    out[index] = (out[index] + delta) % 256
    return bytes(out)


@pytest.mark.parametrize("suite", SUITES)
def test_any_changed_byte_of_message_or_signature_fails(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey]
) -> None:
    key = keys[suite]
    public = signing.public_key_pem(key)
    message = MESSAGE[:40]
    signature = signing.sign(suite, key, message)
    for delta in (1, 0x80):
        for i in range(len(message)):
            assert not signing.verify(suite, public, changed(message, i, delta), signature)
        for i in range(len(signature)):
            assert not signing.verify(suite, public, message, changed(signature, i, delta))
    assert not signing.verify(suite, public, message, signature[:-1])
    assert not signing.verify(suite, public, message, signature + b"\x00")


@pytest.mark.parametrize("suite", SUITES)
def test_any_changed_byte_of_the_public_key_fails(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey]
) -> None:
    """A changed key never verifies: False, or ``signature.malformed_key`` when the change
    leaves no valid key of the suite (off the curve, broken DER, another algorithm)."""
    key = keys[suite]
    der = pem_to_der(signing.public_key_pem(key))
    signature = signing.sign(suite, key, MESSAGE)
    outcomes: Counter[str] = Counter()
    for i in range(len(der)):
        for delta in (1, 0x80):
            try:
                ok = signing.verify(suite, rearmor(changed(der, i, delta)), MESSAGE, signature)
            except SignatureError as error:
                assert error.code == "signature.malformed_key"
                outcomes["malformed_key"] += 1
            else:
                assert ok is False, (i, delta)
                outcomes["false"] += 1
    assert sum(outcomes.values()) == 2 * len(der)


# --- OpenSSL interoperability -----------------------------------------------------------

VERIFY_COMMANDS = {
    SignatureSuite.SM2_SM3: [
        ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg",
         "-sigfile", "sig", "-digest", "sm3", "-pkeyopt", DISTID],
        ["dgst", "-sm3", "-verify", "pub.pem", "-sigopt", DISTID, "-signature", "sig", "msg"],
    ],
    SignatureSuite.ED25519: [
        ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg",
         "-sigfile", "sig"],
    ],
    SignatureSuite.ECDSA_P256_SHA256: [
        ["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"],
    ],
}  # fmt: skip

SIGN_COMMANDS = {
    SignatureSuite.SM2_SM3: ["pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "msg",
                             "-digest", "sm3", "-pkeyopt", DISTID, "-out", "sig"],
    SignatureSuite.ED25519: ["pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "msg",
                             "-out", "sig"],
    SignatureSuite.ECDSA_P256_SHA256: ["dgst", "-sha256", "-sign", "key.pem", "-out", "sig",
                                       "msg"],
}  # fmt: skip

GENPKEY = {
    SignatureSuite.SM2_SM3: ["-algorithm", "SM2"],
    SignatureSuite.ED25519: ["-algorithm", "ED25519"],
    SignatureSuite.ECDSA_P256_SHA256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
}


@openssl_needed
@pytest.mark.parametrize("suite", SUITES)
def test_puhui_signature_verifies_with_openssl(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey], tmp_path: Path
) -> None:
    key = keys[suite]
    (tmp_path / "pub.pem").write_text(signing.public_key_pem(key))
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(signing.sign(suite, key, MESSAGE))
    for command in VERIFY_COMMANDS[suite]:
        result = openssl(*command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Verified" in result.stdout or "Verified" in result.stderr
    (tmp_path / "msg").write_bytes(MESSAGE + b"!")
    for command in VERIFY_COMMANDS[suite]:
        assert openssl(*command, cwd=tmp_path).returncode != 0


@openssl_needed
@pytest.mark.parametrize("suite", SUITES)
def test_openssl_signature_verifies_in_puhui(suite: SignatureSuite, tmp_path: Path) -> None:
    assert openssl("genpkey", *GENPKEY[suite], "-out", "key.pem", cwd=tmp_path).returncode == 0
    assert (
        openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem", cwd=tmp_path).returncode
        == 0
    )
    (tmp_path / "msg").write_bytes(MESSAGE)
    result = openssl(*SIGN_COMMANDS[suite], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    public = (tmp_path / "pub.pem").read_text()
    signature = (tmp_path / "sig").read_bytes()
    assert signing.verify(suite, public, MESSAGE, signature)
    assert not signing.verify(suite, public, MESSAGE + b"!", signature)
    # OpenSSL's PKCS#8 private key loads too, and gives the same public key
    private = signing.private_key_from_pem((tmp_path / "key.pem").read_text())
    assert signing.public_key_pem(private).strip() == public.strip()


@openssl_needed
@pytest.mark.parametrize("suite", SUITES)
def test_openssl_reads_and_signs_with_a_puhui_private_key(
    suite: SignatureSuite, keys: dict[SignatureSuite, signing.PrivateKey], tmp_path: Path
) -> None:
    key = keys[suite]
    (tmp_path / "key.pem").write_text(signing.private_key_to_pem(key))
    (tmp_path / "msg").write_bytes(MESSAGE)
    derived = openssl("pkey", "-in", "key.pem", "-pubout", cwd=tmp_path)
    assert derived.returncode == 0, derived.stderr
    assert derived.stdout.strip() == signing.public_key_pem(key).strip()
    assert openssl(*SIGN_COMMANDS[suite], cwd=tmp_path).returncode == 0
    signature = (tmp_path / "sig").read_bytes()
    assert signing.verify(suite, signing.public_key_pem(key), MESSAGE, signature)
