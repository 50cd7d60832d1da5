"""RFC 3161 time-stamps: requests, the sandbox TSA, verification, HTTP client (R-9.4).

Interoperability: ``openssl ts -verify`` accepts the sandbox's tokens and Puhui verifies a
token issued by ``openssl ts -reply``. Tamper: any changed byte of a token, or another digest,
gives a verdict that is not ok and says why.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from puhui.adapters.crypto.timestamp import (
    SANDBOX_POLICY_OID,
    SANDBOX_TSA_NAME,
    HttpTimeStampAuthority,
    SandboxTimeStampAuthority,
    TimeStampAuthority,
    build_request,
    token_from_response,
    verify_token,
)
from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError

DOCUMENT = b"%PDF-1.7 signed loan contract"
SHA256 = hashlib.sha256(DOCUMENT).digest()
SM3 = hashlib.new("sm3", DOCUMENT).digest()
DIGESTS = {HashAlgorithm.SHA256: SHA256, HashAlgorithm.SM3: SM3}

openssl_needed = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


@pytest.fixture(scope="module")
def tsa() -> SandboxTimeStampAuthority:
    return SandboxTimeStampAuthority()


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


# --- sandbox and verification ------------------------------------------------------------


@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_sandbox_token_verifies(tsa: SandboxTimeStampAuthority, alg: HashAlgorithm) -> None:
    authority: TimeStampAuthority = tsa
    before = datetime.now(UTC).replace(microsecond=0)
    token = authority.timestamp(DIGESTS[alg], alg)
    verdict = verify_token(token, DIGESTS[alg], alg, [tsa.certificate_pem])
    assert verdict.ok, verdict.problem
    assert verdict.problem is None and verdict.code is None
    assert before <= verdict.gen_time <= datetime.now(UTC)  # type: ignore[operator]
    assert verdict.policy == SANDBOX_POLICY_OID
    assert verdict.tsa_name == SANDBOX_TSA_NAME
    assert isinstance(verdict.serial, int) and verdict.serial > 0


def test_sandbox_is_labelled_as_untrusted(tsa: SandboxTimeStampAuthority) -> None:
    subject = tsa.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert subject == "Puhui Sandbox TSA — not a trusted authority"
    assert SANDBOX_POLICY_OID.startswith("2.25.")  # UUID arc: private, registered to nobody
    eku = tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in eku.value


def test_trusted_certs_may_be_objects_pem_or_der(tsa: SandboxTimeStampAuthority) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    token = tsa.timestamp(SHA256, HashAlgorithm.SHA256)
    for trusted in (tsa.certificate, tsa.certificate_pem, tsa.certificate_pem.decode(),
                    tsa.certificate.public_bytes(Encoding.DER)):  # fmt: skip
        assert verify_token(token, SHA256, "sha256", [trusted]).ok


def test_sandbox_identity_survives_a_restart(tsa: SandboxTimeStampAuthority) -> None:
    again = SandboxTimeStampAuthority.from_pem(tsa.private_key_pem, tsa.certificate_pem)
    token = again.timestamp(SHA256, HashAlgorithm.SHA256)
    assert verify_token(token, SHA256, "sha256", [tsa.certificate_pem]).ok


def test_serials_are_unique(tsa: SandboxTimeStampAuthority) -> None:
    tokens = [tsa.timestamp(SHA256, HashAlgorithm.SHA256) for _ in range(50)]
    serials = {verify_token(token, SHA256, "sha256", [tsa.certificate]).serial for token in tokens}
    assert len(serials) == 50


def test_another_digest_is_not_ok(tsa: SandboxTimeStampAuthority) -> None:
    token = tsa.timestamp(SHA256, HashAlgorithm.SHA256)
    other = verify_token(token, hashlib.sha256(b"other").digest(), "sha256", [tsa.certificate])
    assert not other.ok
    assert other.code == "timestamp.digest_mismatch"
    assert other.problem == "the token stamps another digest than this document's"
    assert other.gen_time is not None  # the facts are still reported
    wrong_alg = verify_token(token, SHA256, "sm3", [tsa.certificate])
    assert not wrong_alg.ok and wrong_alg.code == "timestamp.digest_mismatch"
    assert "another algorithm" in (wrong_alg.problem or "")


def test_untrusted_tsa_is_not_ok(tsa: SandboxTimeStampAuthority) -> None:
    token = tsa.timestamp(SHA256, HashAlgorithm.SHA256)
    verdict = verify_token(token, SHA256, "sha256", [SandboxTimeStampAuthority().certificate])
    assert not verdict.ok
    assert verdict.code == "timestamp.untrusted"
    assert verify_token(token, SHA256, "sha256", []).code == "timestamp.untrusted"


def test_token_without_certificate(tsa: SandboxTimeStampAuthority) -> None:
    token = tsa.issue(SHA256, HashAlgorithm.SHA256, include_certificate=False)
    assert verify_token(token, SHA256, "sha256", [tsa.certificate]).ok
    missing = verify_token(token, SHA256, "sha256", [SandboxTimeStampAuthority().certificate])
    assert missing.code == "timestamp.no_signer_certificate"


def test_gen_time_outside_the_certificate_is_not_ok() -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    tsa = SandboxTimeStampAuthority(clock=lambda: now[0])
    now[0] += timedelta(days=3651)
    verdict = verify_token(
        tsa.timestamp(SHA256, HashAlgorithm.SHA256), SHA256, "sha256", [tsa.certificate]
    )
    assert not verdict.ok
    assert verdict.code == "timestamp.certificate_expired"


def test_a_certificate_not_for_time_stamping_is_not_ok() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a TSA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(7)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    tsa = SandboxTimeStampAuthority(key, cert)
    verdict = verify_token(tsa.timestamp(SHA256, HashAlgorithm.SHA256), SHA256, "sha256", [cert])
    assert verdict.code == "timestamp.bad_certificate"
    with pytest.raises(DomainError):
        SandboxTimeStampAuthority(ec.generate_private_key(ec.SECP256R1()), cert)


def test_garbage_is_not_ok() -> None:
    for garbage in (b"", b"\x30\x00", b"not a token", b"\x30\x82\xff\xff"):
        verdict = verify_token(garbage, SHA256, "sha256", [])
        assert not verdict.ok
        assert verdict.code == "timestamp.malformed"
        assert verdict.gen_time is None


def test_any_changed_byte_of_a_token_is_not_ok(tsa: SandboxTimeStampAuthority) -> None:
    token = tsa.timestamp(SHA256, HashAlgorithm.SHA256)
    codes: Counter[str | None] = Counter()
    for index in range(len(token)):
        for delta in (1, 0x80) if index % 7 == 0 else (1,):
            changed = bytearray(token)
            changed[index] = (changed[index] + delta) % 256
            verdict = verify_token(bytes(changed), SHA256, "sha256", [tsa.certificate])
            assert not verdict.ok, (index, delta)
            assert verdict.problem and verdict.code and verdict.code.startswith("timestamp.")
            codes[verdict.code] += 1
    assert codes["timestamp.signature_invalid"] and codes["timestamp.content_modified"]
    assert not verify_token(token[:-1], SHA256, "sha256", [tsa.certificate]).ok
    assert not verify_token(token + b"\x00", SHA256, "sha256", [tsa.certificate]).ok


# --- requests and responses --------------------------------------------------------------


def test_request_fields() -> None:
    request = build_request(SM3, "sm3", nonce=42)
    parsed = tsp.TimeStampReq.load(request.der)
    assert parsed["version"].native == "v1"
    assert parsed["message_imprint"]["hash_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert parsed["message_imprint"]["hashed_message"].native == SM3
    assert parsed["nonce"].native == 42
    assert parsed["cert_req"].native is True
    assert build_request(SHA256, "sha256").nonce != build_request(SHA256, "sha256").nonce
    with pytest.raises(DomainError) as caught:
        build_request(SHA256[:20], "sha256")
    assert caught.value.code == "timestamp.bad_request"


def test_sandbox_answers_requests(tsa: SandboxTimeStampAuthority) -> None:
    request = build_request(SM3, HashAlgorithm.SM3)
    token = token_from_response(tsa.respond(request.der), request)
    assert verify_token(token, SM3, "sm3", [tsa.certificate]).ok

    unrelated = build_request(SM3, HashAlgorithm.SM3)
    with pytest.raises(DomainError) as nonce:
        token_from_response(tsa.respond(unrelated.der), request)
    assert nonce.value.code == "timestamp.bad_response"
    with pytest.raises(DomainError) as other:
        token_from_response(
            tsa.respond(build_request(SHA256, "sha256", nonce=request.nonce).der), request
        )
    assert other.value.code == "timestamp.bad_response"
    with pytest.raises(DomainError) as refused:
        token_from_response(tsa.respond(b"garbage"), request)
    assert refused.value.code == "timestamp.rejected"
    assert "bad_data_format" in refused.value.message


def test_sandbox_rejects_unknown_policy(tsa: SandboxTimeStampAuthority) -> None:
    imprint = tsp.TimeStampReq.load(build_request(SHA256, "sha256").der)["message_imprint"]
    request = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": imprint, "req_policy": "1.2.3.4", "cert_req": True}
    )
    pretend = build_request(SHA256, "sha256")
    with pytest.raises(DomainError) as caught:
        token_from_response(tsa.respond(request.dump()), pretend)
    assert caught.value.code == "timestamp.rejected"
    assert "rejection" in caught.value.message
    assert "unaccepted_policy" in caught.value.message


def http_tsa(handler: object, **kwargs: object) -> HttpTimeStampAuthority:
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return HttpTimeStampAuthority("https://tsa.example.test/tsr", client=client, **kwargs)  # type: ignore[arg-type]


def test_http_authority(tsa: SandboxTimeStampAuthority) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers={"Content-Type": "application/timestamp-reply"},
            content=tsa.respond(request.content),
        )

    token = http_tsa(handler).timestamp(SM3, HashAlgorithm.SM3)
    assert verify_token(token, SM3, "sm3", [tsa.certificate]).ok
    assert seen[0].method == "POST"
    assert seen[0].headers["content-type"] == "application/timestamp-query"
    assert tsp.TimeStampReq.load(seen[0].content)["message_imprint"]["hashed_message"].native == SM3


REPLY = {"Content-Type": "application/timestamp-reply"}


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx.Response(503), "timestamp.unavailable"),
        (httpx.Response(200, headers={"Content-Type": "text/html"}), "timestamp.bad_response"),
        (httpx.Response(200, headers=REPLY, content=b"junk"), "timestamp.bad_response"),
    ],
)
def test_http_authority_failures(response: httpx.Response, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        http_tsa(lambda request: response).timestamp(SHA256, HashAlgorithm.SHA256)
    assert caught.value.code == code


def test_http_authority_time_out() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.extensions["timeout"]["read"] == 2.5
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(DomainError) as caught:
        http_tsa(handler, timeout=2.5).timestamp(SHA256, HashAlgorithm.SHA256)
    assert caught.value.code == "timestamp.unavailable"
    assert "2.5 s" in caught.value.message


def test_http_authority_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DomainError) as caught:
        http_tsa(handler).timestamp(SHA256, HashAlgorithm.SHA256)
    assert caught.value.code == "timestamp.unavailable"


# --- OpenSSL interoperability -----------------------------------------------------------


@openssl_needed
@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_openssl_accepts_sandbox_tokens(
    tsa: SandboxTimeStampAuthority, alg: HashAlgorithm, tmp_path: Path
) -> None:
    digest = DIGESTS[alg]
    request = build_request(digest, alg)
    (tmp_path / "tsa.pem").write_bytes(tsa.certificate_pem)
    (tmp_path / "req.tsq").write_bytes(request.der)
    (tmp_path / "resp.tsr").write_bytes(tsa.respond(request.der))
    (tmp_path / "token.der").write_bytes(
        token_from_response((tmp_path / "resp.tsr").read_bytes(), request)
    )
    (tmp_path / "doc").write_bytes(DOCUMENT)
    commands = [
        ["ts", "-verify", "-digest", digest.hex(), "-in", "resp.tsr", "-CAfile", "tsa.pem"],
        ["ts", "-verify", "-queryfile", "req.tsq", "-in", "resp.tsr", "-CAfile", "tsa.pem"],
        ["ts", "-verify", "-data", "doc", "-in", "resp.tsr", "-CAfile", "tsa.pem"],
        ["ts", "-verify", "-digest", digest.hex(), "-in", "token.der", "-token_in",
         "-CAfile", "tsa.pem"],
    ]  # fmt: skip
    for command in commands:
        result = openssl(*command, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "Verification: OK" in result.stdout
    other = hashlib.sha256(b"other").hexdigest()
    assert (
        openssl(
            "ts", "-verify", "-digest", other, "-in", "resp.tsr", "-CAfile", "tsa.pem", cwd=tmp_path
        ).returncode
        != 0
    )
    text = openssl("ts", "-reply", "-in", "resp.tsr", "-text", cwd=tmp_path).stdout
    assert f"Policy OID: {SANDBOX_POLICY_OID}" in text
    assert f"Hash Algorithm: {alg.value}" in text


@openssl_needed
def test_sandbox_answers_an_openssl_query(tsa: SandboxTimeStampAuthority, tmp_path: Path) -> None:
    (tmp_path / "doc").write_bytes(DOCUMENT)
    (tmp_path / "tsa.pem").write_bytes(tsa.certificate_pem)
    assert (
        openssl(
            "ts", "-query", "-data", "doc", "-sm3", "-cert", "-out", "req.tsq", cwd=tmp_path
        ).returncode
        == 0
    )
    (tmp_path / "resp.tsr").write_bytes(tsa.respond((tmp_path / "req.tsq").read_bytes()))
    result = openssl(
        "ts",
        "-verify",
        "-queryfile",
        "req.tsq",
        "-in",
        "resp.tsr",
        "-CAfile",
        "tsa.pem",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


@openssl_needed
def test_openssl_parses_a_puhui_request(tmp_path: Path) -> None:
    (tmp_path / "req.tsq").write_bytes(build_request(SM3, "sm3", nonce=0x1234).der)
    text = openssl("ts", "-query", "-in", "req.tsq", "-text", cwd=tmp_path).stdout
    assert "Hash Algorithm: sm3" in text
    assert "Nonce: 0x1234" in text
    assert "Certificate required: yes" in text


OPENSSL_TSA_CONF = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = ./serial
crypto_device = builtin
signer_cert = ./otsa.pem
certs = ./otsa.pem
signer_key = ./otsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sm3
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@openssl_needed
@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_puhui_verifies_an_openssl_token(alg: HashAlgorithm, tmp_path: Path) -> None:
    new_tsa = openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "otsa.key", "-out", "otsa.pem", "-days", "30", "-subj", "/CN=OpenSSL test TSA",
        "-addext", "extendedKeyUsage=critical,timeStamping",
        "-addext", "keyUsage=critical,digitalSignature", cwd=tmp_path,
    )  # fmt: skip
    assert new_tsa.returncode == 0, new_tsa.stderr
    (tmp_path / "serial").write_text("01\n")
    (tmp_path / "tsa.cnf").write_text(OPENSSL_TSA_CONF)
    (tmp_path / "req.tsq").write_bytes(build_request(DIGESTS[alg], alg).der)
    reply = openssl(
        "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-token_out",
        "-out", "token.der", cwd=tmp_path,
    )  # fmt: skip
    assert reply.returncode == 0, reply.stderr
    token = (tmp_path / "token.der").read_bytes()
    trusted = (tmp_path / "otsa.pem").read_bytes()
    verdict = verify_token(token, DIGESTS[alg], alg, [trusted])
    assert verdict.ok, verdict.problem
    assert verdict.policy == "1.2.3.4.1"
    assert verdict.tsa_name == "OpenSSL test TSA"
    assert not verify_token(token, hashlib.sha256(b"x").digest(), alg, [trusted]).ok
    assert (
        verify_token(token, DIGESTS[alg], alg, [SandboxTimeStampAuthority().certificate]).code
        == "timestamp.untrusted"
    )
