"""Hash-only notarization (R-9.4): what leaves the bank, the sandbox receipt, the HTTP adapter."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from puhui.adapters.providers.notary import (
    SANDBOX_NAME,
    HttpNotary,
    NotaryUnavailable,
    SandboxNotary,
    submission,
)
from puhui.domain.errors import ValidationError

ROOT = hashlib.sha256(b"root").hexdigest()
LEAVES = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
HEAD = {"tree_size": 3, "root_hash": ROOT, "timestamp": "2026-11-23T00:00:00+00:00"}


def test_a_submission_carries_only_hashes() -> None:
    doc = submission(HEAD, LEAVES)
    assert doc == {"tree_head": HEAD, "leaf_hashes": LEAVES}
    with pytest.raises(ValidationError) as err:
        submission(HEAD, ["张三 110105198506150021"])
    assert err.value.code == "evidence.submission_invalid"
    with pytest.raises(ValidationError):
        submission({**HEAD, "root_hash": "not-a-hash"}, LEAVES)


def test_the_sandbox_receipt_is_labelled_deterministic_and_tamper_evident() -> None:
    clock = lambda: datetime(2026, 11, 23, tzinfo=UTC)  # noqa: E731
    notary = SandboxNotary(clock)
    doc = submission(HEAD, LEAVES)
    receipt = notary.submit(doc)
    assert receipt["notary"] == SANDBOX_NAME and receipt["sandbox"] is True
    assert receipt == notary.submit(doc)
    assert receipt["root_hash"] == ROOT and receipt["tree_size"] == 3
    assert SandboxNotary.check(doc, receipt)
    assert not SandboxNotary.check(
        doc, {**receipt, "tree_size": 4, "mac": receipt["mac"][:-1] + "0"}
    )
    other = submission(HEAD, LEAVES[:2])
    assert not SandboxNotary.check(other, receipt)


def test_the_http_notary_signs_and_checks_the_receipt() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(
            200, json={"receipt_id": "R-1", "root_hash": body["tree_head"]["root_hash"]}
        )

    notary = HttpNotary(
        "https://notary.example/api/v1/evidence",
        "bank-1",
        b"s3cret",
        transport=httpx.MockTransport(handler),
    )
    receipt = notary.submit(submission(HEAD, LEAVES))
    assert receipt["receipt_id"] == "R-1"
    (request,) = seen
    digest = hashlib.sha256(request.content).hexdigest()
    message = f"POST\n/api/v1/evidence\n{request.headers['X-Puhui-Timestamp']}\n{digest}".encode()
    expected = hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()
    assert request.headers["X-Puhui-Signature"] == expected
    assert request.headers["X-Puhui-Key-Id"] == "bank-1"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(503),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"root_hash": "0" * 64}),
    ],
)
def test_the_http_notary_refuses_failures_and_wrong_receipts(response: httpx.Response) -> None:
    notary = HttpNotary(
        "https://notary.example/e", "k", b"s", transport=httpx.MockTransport(lambda r: response)
    )
    with pytest.raises(NotaryUnavailable):
        notary.submit(submission(HEAD, LEAVES))


def test_a_network_error_is_unavailable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow")

    notary = HttpNotary("https://notary.example/e", "k", b"s", transport=httpx.MockTransport(fail))
    with pytest.raises(NotaryUnavailable):
        notary.submit(submission(HEAD, LEAVES))
