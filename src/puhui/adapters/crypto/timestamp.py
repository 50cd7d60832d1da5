"""Trusted time-stamps (RFC 3161) for signatures and evidence (R-9.4 "trusted timestamp").

* :func:`build_request` makes a ``TimeStampReq`` (SHA-256 or SM3 message imprint, random
  nonce, ``certReq``); :func:`token_from_response` checks a ``TimeStampResp`` against it.
* :func:`verify_token` checks a ``TimeStampToken`` (CMS SignedData around a ``TSTInfo``):
  imprint, content digest, ESS signing-certificate attribute, CMS signature, and a chain from
  the signer certificate (timeStamping usage, valid at ``genTime``) to a trusted certificate.
  It never raises on bad input: the :class:`TimestampVerdict` says what does not hold.
  Not checked: certificate revocation (CRL/OCSP); SM2-signed tokens are reported unsupported.
* :class:`HttpTimeStampAuthority` asks a real TSA over HTTP (``application/timestamp-query``).
* :class:`SandboxTimeStampAuthority` issues **real RFC 3161 tokens from a sandbox that nobody
  trusts**: its own ECDSA P-256 key, a self-signed certificate named "Puhui Sandbox TSA — not a
  trusted authority", and a policy under the UUID arc 2.25 (no registration needed). It is for
  development and tests; ``openssl ts -verify`` accepts its tokens given its certificate.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Self

import httpx
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError, ErrorKind

__all__ = [
    "SANDBOX_POLICY_OID",
    "SANDBOX_TSA_NAME",
    "HttpTimeStampAuthority",
    "SandboxTimeStampAuthority",
    "TimeStampAuthority",
    "TimestampRequest",
    "TimestampVerdict",
    "build_request",
    "token_from_response",
    "verify_token",
]

SANDBOX_TSA_NAME = "Puhui Sandbox TSA — not a trusted authority"
SANDBOX_POLICY_OID = "2.25.5970672555269389881414050348319768391"
"""UUID-based OID (ITU-T X.667 arc 2.25): private to Puhui, meaningful to nobody else."""

_DIGEST_OIDS = {
    HashAlgorithm.SHA256: "2.16.840.1.101.3.4.2.1",
    HashAlgorithm.SM3: "1.2.156.10197.1.401",
}
_OID_DIGESTS = {oid: alg for alg, oid in _DIGEST_OIDS.items()}
_CMS_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _error(message: str, code: str, kind: ErrorKind = ErrorKind.UNAVAILABLE) -> DomainError:
    return DomainError(message, code=code, kind=kind)


def _digest_alg(alg: HashAlgorithm | str, digest: bytes) -> HashAlgorithm:
    try:
        alg = HashAlgorithm(alg)
    except ValueError:
        raise _error(
            f"Unsupported digest algorithm {alg!r}", "timestamp.bad_request", ErrorKind.INVALID
        ) from None
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise _error(
            "A digest to time-stamp is 32 bytes", "timestamp.bad_request", ErrorKind.INVALID
        )
    return alg


def _imprint(digest: bytes, alg: HashAlgorithm) -> tsp.MessageImprint:
    return tsp.MessageImprint(
        {"hash_algorithm": {"algorithm": _DIGEST_OIDS[alg]}, "hashed_message": digest}
    )


class _TimeStampResp(tsp.TimeStampResp):  # type: ignore[misc]
    """RFC 3161 ``TimeStampResp``: asn1crypto wrongly requires the token, which is OPTIONAL."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


# --- requests and responses --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimestampRequest:
    """A DER ``TimeStampReq`` and what it asked for."""

    der: bytes
    digest: bytes
    alg: HashAlgorithm
    nonce: int
    cert_req: bool = True


def build_request(
    digest: bytes, alg: HashAlgorithm | str, *, nonce: int | None = None, cert_req: bool = True
) -> TimestampRequest:
    """A ``TimeStampReq`` v1 for ``digest`` with a random 64-bit nonce (unless given)."""
    alg = _digest_alg(alg, digest)
    nonce = secrets.randbits(63) | 1 if nonce is None else nonce
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": _imprint(digest, alg),
            "nonce": nonce,
            "cert_req": cert_req,
        }
    )
    return TimestampRequest(
        der=request.dump(), digest=digest, alg=alg, nonce=nonce, cert_req=cert_req
    )


def _bad_response(message: str) -> DomainError:
    return _error(f"Time-stamp response refused: {message}", "timestamp.bad_response")


def token_from_response(response: bytes, request: TimestampRequest) -> bytes:
    """The token in a ``TimeStampResp`` after checking status, imprint and nonce."""
    try:
        parsed = _TimeStampResp.load(response, strict=True)
        status = parsed["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = parsed["status"]["status_string"].native or []
            fail = parsed["status"]["fail_info"].native or set()
            raise _error(
                f"The TSA refused the request ({status}: {'; '.join(text)} {sorted(fail)})",
                "timestamp.rejected",
            )
        token = bytes(parsed["time_stamp_token"].dump())  # as received, before any parsing
        info = _tst_info(cms.ContentInfo.load(token, strict=True))
    except DomainError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _bad_response("not a valid TimeStampResp") from None
    if info["message_imprint"]["hashed_message"].native != request.digest or (
        info["message_imprint"]["hash_algorithm"]["algorithm"].dotted != _DIGEST_OIDS[request.alg]
    ):
        raise _bad_response("the token covers another digest")
    if info["nonce"].native != request.nonce:
        raise _bad_response("the nonce does not match the request")
    return token


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    if token["content_type"].native != "signed_data":
        raise ValueError("not CMS SignedData")
    encap = token["content"]["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise ValueError("not a TSTInfo")
    return tsp.TSTInfo.load(encap["content"].contents, strict=True)


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimestampVerdict:
    """Outcome of :func:`verify_token`; ``problem`` says in plain words what does not hold."""

    ok: bool
    gen_time: datetime | None = None
    serial: int | None = None
    policy: str | None = None
    tsa_name: str | None = None
    problem: str | None = None
    code: str | None = None


class _Refused(Exception):
    def __init__(self, code: str, problem: str) -> None:
        super().__init__(problem)
        self.code, self.problem = code, problem


def _certificates(values: Iterable[x509.Certificate | bytes | str]) -> list[x509.Certificate]:
    certs = []
    for value in values:
        data = value.encode("ascii") if isinstance(value, str) else value
        if isinstance(data, x509.Certificate):
            certs.append(data)
        elif data.lstrip().startswith(b"-----"):
            certs.append(x509.load_pem_x509_certificate(data))
        else:
            certs.append(x509.load_der_x509_certificate(data))
    return certs


def _check_signature(signer: x509.Certificate, signer_info: cms.SignerInfo, data: bytes) -> None:
    key, algorithm = signer.public_key(), signer_info["signature_algorithm"]
    hash_name, algo = signer_info["digest_algorithm"]["algorithm"].native, algorithm.signature_algo
    try:
        signed_hash = algorithm.hash_algo
    except ValueError:  # plain "ecdsa" / "rsassa_pkcs1v15" identifiers name no hash
        signed_hash = hash_name
    if signed_hash != hash_name:
        raise _Refused("timestamp.malformed", "the signature and digest algorithms disagree")
    chosen = _CMS_HASHES[hash_name]()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and algo == "ecdsa":
            key.verify(signer_info["signature"].native, data, ec.ECDSA(chosen))
        elif isinstance(key, rsa.RSAPublicKey) and algo == "rsassa_pkcs1v15":
            key.verify(signer_info["signature"].native, data, padding.PKCS1v15(), chosen)
        else:
            raise _Refused("timestamp.unsupported", f"signature algorithm {algo} is not supported")
    except InvalidSignature:
        raise _Refused(
            "timestamp.signature_invalid", "the TSA's signature does not verify"
        ) from None


def _chain(
    signer: x509.Certificate,
    pool: list[x509.Certificate],
    trusted: list[x509.Certificate],
    at: datetime,
) -> list[x509.Certificate]:
    """Path from ``signer`` to a trusted certificate, each valid at ``at``."""
    path = [signer]
    while len(path) <= 6:
        current = path[-1]
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            raise _Refused(
                "timestamp.certificate_expired",
                "a TSA certificate was not valid at the stamped time",
            )
        if current in trusted:
            return path
        for issuer in (c for c in trusted + pool if c.subject == current.issuer and c not in path):
            try:
                current.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            path.append(issuer)
            break
        else:
            break
    raise _Refused(
        "timestamp.untrusted", "the TSA certificate does not chain to a trusted certificate"
    )


def _find_signer(sid: cms.SignerIdentifier, pool: list[x509.Certificate]) -> x509.Certificate:
    for cert in pool:
        if sid.name == "issuer_and_serial_number":
            if (cert.serial_number, cert.issuer.public_bytes()) == (
                sid.chosen["serial_number"].native,
                sid.chosen["issuer"].dump(),
            ):
                return cert
        elif any(
            isinstance(ext.value, x509.SubjectKeyIdentifier)
            and ext.value.digest == sid.chosen.native
            for ext in cert.extensions
        ):
            return cert
    raise _Refused(
        "timestamp.no_signer_certificate",
        "the TSA's certificate is neither in the token nor trusted",
    )


def _signed_attrs(signer_info: cms.SignerInfo, content: bytes, signer: x509.Certificate) -> bytes:
    """Check content type, message digest and ESS certificate id; the bytes that were signed."""
    attrs = signer_info["signed_attrs"]
    signed = bytes(attrs.dump())  # the received bytes, before any access re-encodes them
    values = {attr["type"].native: attr["values"] for attr in attrs or []}
    hash_name = signer_info["digest_algorithm"]["algorithm"].native
    if hash_name not in _CMS_HASHES:
        raise _Refused("timestamp.unsupported", f"digest algorithm {hash_name} is not supported")
    if len(values) != len(attrs or []) or "content_type" not in values:
        raise _Refused("timestamp.malformed", "the signed attributes are incomplete or repeated")
    if [v.native for v in values["content_type"]] != ["tst_info"]:
        raise _Refused("timestamp.malformed", "the signed content is not a TSTInfo")
    if [v.native for v in values.get("message_digest", [])] != [
        hashlib.new(hash_name, content).digest()
    ]:
        raise _Refused(
            "timestamp.content_modified", "the time-stamp content does not match its signed digest"
        )
    cert_der = signer.public_bytes(serialization.Encoding.DER)
    if "signing_certificate_v2" in values:
        ess = values["signing_certificate_v2"][0]["certs"][0]
        expected = hashlib.new(ess["hash_algorithm"]["algorithm"].native, cert_der).digest()
    elif "signing_certificate" in values:
        ess = values["signing_certificate"][0]["certs"][0]
        expected = hashlib.sha1(cert_der, usedforsecurity=False).digest()
    else:
        raise _Refused(
            "timestamp.malformed", "the token does not name its signing certificate (ESS)"
        )
    if ess["cert_hash"].native != expected:
        raise _Refused("timestamp.wrong_certificate", "the token names another signing certificate")
    return b"\x31" + signed[1:]  # signed as a SET OF, stored as [0] IMPLICIT


def _verify(
    content_info: cms.ContentInfo,
    digest: bytes,
    alg: HashAlgorithm,
    trusted: list[x509.Certificate],
    info: tsp.TSTInfo,
) -> None:
    signed = content_info["content"]
    imprint = info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].dotted != _DIGEST_OIDS[alg]:
        raise _Refused(
            "timestamp.digest_mismatch",
            f"the token stamps a digest made with another algorithm than {alg.value}",
        )
    if imprint["hashed_message"].native != digest:
        raise _Refused(
            "timestamp.digest_mismatch", "the token stamps another digest than this document's"
        )
    signer_infos = list(signed["signer_infos"])
    if signed["version"].native != "v3" or info["version"].native != "v1" or len(signer_infos) != 1:
        raise _Refused("timestamp.malformed", "not an RFC 3161 token (versions or signer count)")
    signer_info = signer_infos[0]
    by_key_id = signer_info["sid"].name == "subject_key_identifier"
    digest_algs = [a["algorithm"].native for a in signed["digest_algorithms"]]
    identifiers = [
        *signed["digest_algorithms"],
        signer_info["digest_algorithm"],
        signer_info["signature_algorithm"],
        imprint["hash_algorithm"],
    ]
    if (
        signer_info["version"].native != ("v3" if by_key_id else "v1")
        or signer_info["digest_algorithm"]["algorithm"].native not in digest_algs
        or not all(a["parameters"].dump() in (b"", b"\x05\x00") for a in identifiers)
        or not _parses(signed["crls"], signer_info["unsigned_attrs"])
    ):
        raise _Refused("timestamp.malformed", "the signer information is inconsistent")
    pool = _certificates(
        c.chosen.dump() for c in signed["certificates"] or [] if c.name == "certificate"
    )
    if len(pool) != len(signed["certificates"] or []):
        raise _Refused("timestamp.malformed", "the token carries an unsupported certificate type")
    signer = _find_signer(signer_info["sid"], pool or trusted)
    _check_signature(
        signer,
        signer_info,
        _signed_attrs(signer_info, signed["encap_content_info"]["content"].contents, signer),
    )
    usage = [e.value for e in signer.extensions if isinstance(e.value, x509.ExtendedKeyUsage)]
    if not usage or ExtendedKeyUsageOID.TIME_STAMPING not in usage[0]:
        raise _Refused(
            "timestamp.bad_certificate", "the signer certificate is not for time-stamping"
        )
    path = _chain(signer, pool, trusted, info["gen_time"].native)
    if any(cert not in path and cert not in trusted for cert in pool):
        raise _Refused(
            "timestamp.malformed", "the token carries a certificate that belongs to no chain"
        )


def _parses(*unsigned: core.Asn1Value) -> bool:
    """Parse parts no check reads, so that a changed byte there cannot pass unseen."""
    try:
        for value in unsigned:
            _ = value.native
    except (ValueError, TypeError):
        return False
    return True


def verify_token(
    token: bytes,
    digest: bytes,
    alg: HashAlgorithm | str,
    trusted_certs: Iterable[x509.Certificate | bytes | str],
) -> TimestampVerdict:
    """Check that ``token`` time-stamps ``digest`` (``alg``) and comes from a trusted TSA.

    ``trusted_certs`` are certificates (objects, PEM or DER) of TSAs or of their CAs. Never
    raises on bad input: the verdict's ``problem`` and ``code`` say what does not hold. The
    facts (``gen_time``, ``serial`` ...) are reported when readable, even when not ok: they
    are then only what the token claims.
    """
    try:
        content_info = cms.ContentInfo.load(token, strict=True)
        info = _tst_info(content_info)
        facts = TimestampVerdict(
            ok=False,
            gen_time=info["gen_time"].native,
            serial=info["serial_number"].native,
            policy=info["policy"].dotted,
            tsa_name=_general_name(info["tsa"]),
        )
    except Exception:  # hostile input may break the parser in any way
        return TimestampVerdict(
            ok=False,
            problem="the token is not a readable RFC 3161 time-stamp",
            code="timestamp.malformed",
        )
    try:
        alg = HashAlgorithm(alg)
        trusted = _certificates(trusted_certs)
    except Exception:
        return replace(
            facts,
            problem="unsupported digest algorithm or unreadable trusted certificate",
            code="timestamp.unsupported",
        )
    try:
        _verify(content_info, digest, alg, trusted, info)
    except _Refused as refused:
        return replace(facts, problem=refused.problem, code=refused.code)
    except Exception as exc:  # any parser failure on hostile input is a malformed token
        return replace(
            facts,
            problem=f"the token is malformed ({type(exc).__name__})",
            code="timestamp.malformed",
        )
    return replace(facts, ok=True)


def _general_name(name: asn1_x509.GeneralName | core.Void) -> str | None:
    if isinstance(name, core.Void):
        return None
    if name.name == "directory_name":
        common = name.chosen.native.get("common_name")
        return str(common) if common else str(name.chosen.human_friendly)
    return str(name.native)


# --- authorities -------------------------------------------------------------------------


class TimeStampAuthority(Protocol):
    """Issues an RFC 3161 ``TimeStampToken`` (DER ``ContentInfo``) for a digest."""

    def timestamp(self, digest: bytes, alg: HashAlgorithm) -> bytes: ...


class HttpTimeStampAuthority:
    """A real TSA reached by HTTP POST of a ``TimeStampReq`` (RFC 3161 §3.4)."""

    def __init__(
        self, url: str, *, client: httpx.Client | None = None, timeout: float = 10.0
    ) -> None:
        self._url = url
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._timeout = timeout

    def close(self) -> None:
        """Close the HTTP client if this authority created it."""
        if self._owns_client:
            self._client.close()

    def timestamp(self, digest: bytes, alg: HashAlgorithm) -> bytes:
        request = build_request(digest, alg)
        try:
            response = self._client.post(
                self._url,
                content=request.der,
                headers={
                    "Content-Type": "application/timestamp-query",
                    "Accept": "application/timestamp-reply",
                },
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise _error(
                f"The time-stamp authority did not answer within {self._timeout} s",
                "timestamp.unavailable",
            ) from None
        except httpx.HTTPError as exc:
            raise _error(
                f"The time-stamp authority cannot be reached ({type(exc).__name__})",
                "timestamp.unavailable",
            ) from None
        if response.status_code != 200:
            raise _error(
                f"The time-stamp authority answered HTTP {response.status_code}",
                "timestamp.unavailable",
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/timestamp-reply":
            raise _bad_response(f"unexpected content type {content_type or 'none'!r}")
        return token_from_response(response.content, request)


def _now() -> datetime:
    return datetime.now(UTC)


def _der(tag: int, *parts: bytes) -> bytes:
    """One DER TLV around the concatenated ``parts``."""
    body = b"".join(parts)
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_OID_SIGNED_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_OID_TST_INFO = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
_OID_MESSAGE_DIGEST = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_SHA256_ALG = _der(0x30, core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump(), b"\x05\x00")
_ECDSA_SHA256_ALG = _der(0x30, core.ObjectIdentifier("1.2.840.10045.4.3.2").dump())
_ACCURACY_ONE_SECOND = _der(0x30, b"\x02\x01\x01")


def _self_signed(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, SANDBOX_TSA_NAME),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "Puhui sandbox - development and tests only"
            ),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


class SandboxTimeStampAuthority:
    """A local RFC 3161 TSA for development and tests — **not a trusted authority**.

    Tokens are genuine (CMS SignedData, ECDSA P-256/SHA-256, ESS signing-certificate-v2) and
    verify with :func:`verify_token` or ``openssl ts -verify`` when :attr:`certificate_pem` is
    the trusted certificate, but they prove nothing to a third party.
    """

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        certificate: x509.Certificate | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        policy: str = SANDBOX_POLICY_OID,
    ) -> None:
        self._key = (
            private_key if private_key is not None else ec.generate_private_key(ec.SECP256R1())
        )
        self._clock = clock
        self._cert = certificate if certificate is not None else _self_signed(self._key, clock())
        own = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if (
            self._cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            != own
        ):
            raise _error(
                "The sandbox TSA certificate is not for its key",
                "timestamp.bad_certificate",
                ErrorKind.INVALID,
            )
        self._cert_der = self._cert.public_bytes(serialization.Encoding.DER)
        self._policy = core.ObjectIdentifier(policy).dump()
        # Fixed DER pieces of every token, encoded once (asn1crypto is slow to re-encode).
        cert = asn1_x509.Certificate.load(self._cert_der)
        self._tsa_name = _der(
            0xA0, asn1_x509.GeneralName(name="directory_name", value=cert.subject).dump()
        )
        self._sid = cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
        ess = {
            "cert_hash": hashlib.sha256(self._cert_der).digest(),
            "issuer_serial": {
                "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                "serial_number": cert.serial_number,
            },
        }
        self._fixed_attrs = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump(),
            cms.CMSAttribute(
                {"type": "signing_certificate_v2", "values": [{"certs": [ess]}]}
            ).dump(),
        ]

    @classmethod
    def from_pem(cls, private_key_pem: bytes, certificate_pem: bytes, **options: Any) -> Self:
        """The same sandbox identity again (e.g. after a restart), so old tokens still verify."""
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise _error("The sandbox TSA key must be ECDSA", "timestamp.bad_certificate")
        return cls(key, x509.load_pem_x509_certificate(certificate_pem), **options)

    @property
    def private_key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM of the sandbox key (a sandbox secret, not a real one)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    @property
    def certificate_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def timestamp(self, digest: bytes, alg: HashAlgorithm) -> bytes:
        return self.issue(digest, alg)

    def issue(
        self,
        digest: bytes,
        alg: HashAlgorithm | str,
        *,
        nonce: int | None = None,
        include_certificate: bool = True,
    ) -> bytes:
        """A DER ``TimeStampToken`` for ``digest`` at the clock's current second."""
        alg = _digest_alg(alg, digest)
        gen_time = self._clock().astimezone(UTC).replace(microsecond=0)
        tst = _der(
            0x30,
            b"\x02\x01\x01",  # version v1
            self._policy,
            _imprint(digest, alg).dump(),
            core.Integer(secrets.randbits(120)).dump(),
            core.GeneralizedTime(gen_time).dump(),
            _ACCURACY_ONE_SECOND,
            b"" if nonce is None else core.Integer(nonce).dump(),
            self._tsa_name,
        )
        message_digest = _der(0x30, _OID_MESSAGE_DIGEST, _der(0x31, _der(0x04, _sha256(tst))))
        attrs = b"".join(sorted([*self._fixed_attrs, message_digest]))  # DER SET OF order
        signature = self._key.sign(_der(0x31, attrs), ec.ECDSA(hashes.SHA256()))
        signer_info = _der(
            0x30,
            b"\x02\x01\x01",  # version 1: signer named by issuer and serial number
            self._sid,
            _SHA256_ALG,
            _der(0xA0, attrs),
            _ECDSA_SHA256_ALG,
            _der(0x04, signature),
        )
        signed_data = _der(
            0x30,
            b"\x02\x01\x03",  # version 3: encapsulated content is not id-data
            _der(0x31, _SHA256_ALG),
            _der(0x30, _OID_TST_INFO, _der(0xA0, _der(0x04, tst))),
            _der(0xA0, self._cert_der) if include_certificate else b"",
            _der(0x31, signer_info),
        )
        return _der(0x30, _OID_SIGNED_DATA, _der(0xA0, signed_data))

    def respond(self, request_der: bytes) -> bytes:
        """A DER ``TimeStampResp`` to a DER ``TimeStampReq`` (granted, or a rejection)."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            imprint = request["message_imprint"]
            oid = imprint["hash_algorithm"]["algorithm"].dotted
            digest = imprint["hashed_message"].native
            nonce = request["nonce"].native
            cert_req = bool(request["cert_req"].native)
            policy = request["req_policy"].native
            extensions = request["extensions"].native
        except (ValueError, TypeError, KeyError, AttributeError):
            return _rejection("bad_data_format", "not a TimeStampReq")
        if oid not in _OID_DIGESTS or not isinstance(digest, bytes) or len(digest) != 32:
            return _rejection("bad_alg", "only SHA-256 and SM3 imprints are accepted")
        if policy is not None and request["req_policy"].dump() != self._policy:
            return _rejection("unaccepted_policy", "only the sandbox policy is offered")
        if extensions:
            return _rejection("unaccepted_extensions", "no extensions are supported")
        token = self.issue(digest, _OID_DIGESTS[oid], nonce=nonce, include_certificate=cert_req)
        response = _TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": cms.ContentInfo.load(token)}
        )
        return bytes(response.dump())


def _rejection(failure: str, text: str) -> bytes:
    fail_info = tsp.PKIFailureInfo({failure})
    status = {"status": "rejection", "status_string": [text], "fail_info": fail_info}
    return bytes(_TimeStampResp({"status": status}).dump())
