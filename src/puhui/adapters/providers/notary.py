"""Third-party notarization of the evidence log (R-9.4: evidence of application, signing and
disbursement is transmitted to a third party **as hashes**).

What leaves the bank is a hash-only submission: the signed tree head (size, root hash, time,
signature) and the leaf hashes added since the previous submission — never a document, a name
or an identifier. The notary answers with a receipt, which the log stores.

* ``HttpNotary`` — the real connection: POST JSON to the notary's endpoint, HMAC-SHA256 signed
  headers like the data providers (``X-Puhui-Key-Id``, ``X-Puhui-Timestamp``,
  ``X-Puhui-Signature`` over method, path, timestamp and the body's SHA-256), a time-out, and
  the receipt checked for the submitted root.
* ``SandboxNotary`` — SIMULATED, clearly labelled: no third party is involved. It checks the
  submission's shape and returns a deterministic receipt whose ``notary`` says so, with an
  HMAC over the submission under a sandbox key, so that tests can see a receipt altered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from puhui.domain.errors import DomainError, ErrorKind, ValidationError

SANDBOX_NAME = "Puhui Sandbox Notary (SIMULATED: not a real notary or evidence service)"
_SANDBOX_KEY = b"puhui-sandbox-notary-key"
_HEX64 = frozenset("0123456789abcdef")


class NotaryUnavailable(DomainError):
    code = "evidence.notary_unavailable"
    kind = ErrorKind.UNAVAILABLE


class Notary(Protocol):
    name: str

    def submit(self, submission: Mapping[str, Any]) -> dict[str, Any]:
        """Send a hash-only submission; return the notary's receipt."""
        ...


def submission(tree_head: Mapping[str, Any], leaf_hashes: Sequence[str]) -> dict[str, Any]:
    """The hash-only document sent to a notary: a signed tree head and leaf hashes (hex)."""
    for value in (tree_head.get("root_hash", ""), *leaf_hashes):
        if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX64:
            raise ValidationError(
                "a notary submission carries only hex hashes", code="evidence.submission_invalid"
            )
    return {"tree_head": dict(tree_head), "leaf_hashes": list(leaf_hashes)}


def canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SandboxNotary:
    """SIMULATED notary (see the module docstring)."""

    name = "sandbox"

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def submit(self, submission: Mapping[str, Any]) -> dict[str, Any]:
        head = submission.get("tree_head")
        if not isinstance(head, Mapping) or "root_hash" not in head or "tree_size" not in head:
            raise ValidationError(
                "no tree head in the submission", code="evidence.submission_invalid"
            )
        body = canonical(submission)
        digest = hashlib.sha256(body).hexdigest()
        return {
            "notary": SANDBOX_NAME,
            "sandbox": True,
            "receipt_id": "SBX-" + digest[:24],
            "received_at": self._clock().isoformat(),
            "tree_size": head["tree_size"],
            "root_hash": head["root_hash"],
            "submission_sha256": digest,
            "mac": hmac.new(_SANDBOX_KEY, body, hashlib.sha256).hexdigest(),
        }

    @staticmethod
    def check(submission: Mapping[str, Any], receipt: Mapping[str, Any]) -> bool:
        """Whether ``receipt`` is the sandbox's answer to ``submission`` (unaltered)."""
        body = canonical(submission)
        expected = hmac.new(_SANDBOX_KEY, body, hashlib.sha256).hexdigest()
        return (
            hmac.compare_digest(str(receipt.get("mac", "")), expected)
            and receipt.get("submission_sha256") == hashlib.sha256(body).hexdigest()
        )


class HttpNotary:
    """A notary / evidence service reached over HTTPS with HMAC-signed requests."""

    name = "http"

    def __init__(
        self,
        url: str,
        key_id: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, self.key_id, self.secret = url, key_id, secret
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def submit(self, submission: Mapping[str, Any]) -> dict[str, Any]:
        body = canonical(submission)
        stamp = str(int(time.time()))
        path = urlsplit(self.url).path or "/"
        message = b"\n".join(
            [b"POST", path.encode(), stamp.encode(), hashlib.sha256(body).hexdigest().encode()]
        )
        headers = {
            "Content-Type": "application/json",
            "X-Puhui-Key-Id": self.key_id,
            "X-Puhui-Timestamp": stamp,
            "X-Puhui-Signature": hmac.new(self.secret, message, hashlib.sha256).hexdigest(),
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise NotaryUnavailable(f"the notary did not answer: {type(err).__name__}") from None
        if response.status_code >= 400:
            raise NotaryUnavailable(f"the notary answered {response.status_code}")
        try:
            receipt = response.json()
        except ValueError:
            raise NotaryUnavailable("the notary's receipt is not JSON") from None
        head = submission["tree_head"]
        if not isinstance(receipt, dict) or receipt.get("root_hash") != head["root_hash"]:
            raise NotaryUnavailable("the notary's receipt does not name the submitted root")
        return receipt
