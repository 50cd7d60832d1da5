"""Data-source providers: the sandbox (deterministic, special identities) and the HTTP client
(signing, retries, circuit breaker) against ``httpx.MockTransport`` — no network (R-6.3)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from puhui.adapters.providers.datasources import (
    BreakerState,
    HttpDataProvider,
    HttpSourceEndpoint,
    SandboxDataProvider,
    http_providers_from_file,
    sandbox_resident_id,
    sandbox_uscc,
)
from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import Consent, ConsentPurpose, customer_reference
from puhui.domain.risk.sources import (
    SOURCE_REGISTRY,
    ProviderPayloadInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    SourceStatus,
    validate_payload,
)
from puhui.domain.risk.variables import compute
from puhui.services.datasources import InMemoryConsentLookup, InMemorySourceCache, collect

APPLIED = date(2026, 11, 20)
SANDBOX = SandboxDataProvider()


def an_application(
    code: int = 123,
    marker: str | None = None,
    kind: str = "micro_enterprise",
    resident_id: str | None = None,
    uscc: str | None = None,
) -> CreditApplication:
    if kind == "micro_enterprise" and uscc is None:
        uscc = sandbox_uscc(marker or "A01")  # A01: no special marker
    return CreditApplication.from_mapping(
        {
            "application_id": "A-1",
            "product_code": {"consumer": "CONSUMER", "individual_business": "INDIV-BIZ"}.get(
                kind, "MICRO-BIZ"
            ),
            "borrower_type": kind,
            "applicant_name": "张三",
            "applicant_resident_id": resident_id or sandbox_resident_id(code),
            "applicant_mobile": "13812345678",
            "enterprise_uscc": uscc,
            "requested_amount": "100000",
            "requested_term_months": 12,
            "purpose": "working_capital",
            "region_code": "110105",
            "industry_code": "F",
            "guarantee_type": "credit",
            "applied_on": APPLIED.isoformat(),
        }
    )


def sandbox_payloads(app: CreditApplication) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source_id, spec in SOURCE_REGISTRY.items():
        try:
            out[source_id] = SANDBOX.fetch(spec, app)
        except (ProviderTimeout, ProviderUnavailable, ValidationError):
            out[source_id] = None
    return out


def variables(app: CreditApplication) -> dict[str, Any]:
    return compute(app, sandbox_payloads(app), APPLIED).values


# --- sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["micro_enterprise", "individual_business", "consumer"])
def test_sandbox_payloads_are_valid_and_labelled(kind: str) -> None:
    for code in (0, 123, 900):
        app = an_application(code, kind=kind)
        for source_id, payload in sandbox_payloads(app).items():
            if payload is None:
                assert source_id in ("tax", "business_registry", "platform_receipts")
                continue
            validate_payload(source_id, payload)
            assert payload["sandbox"] is True


def test_sandbox_is_deterministic_per_identity() -> None:
    app = an_application(321)
    first = sandbox_payloads(app)
    assert json.dumps(first, sort_keys=True) == json.dumps(
        sandbox_payloads(an_application(321)), sort_keys=True
    )
    assert SandboxDataProvider().fetch(SOURCE_REGISTRY["tax"], app) == first["tax"]
    other = sandbox_payloads(an_application(322))
    assert other["credit_bureau"] != first["credit_bureau"]


def test_sandbox_does_not_fetch_what_does_not_apply() -> None:
    with pytest.raises(ValidationError) as excinfo:
        SANDBOX.fetch(SOURCE_REGISTRY["business_registry"], an_application(kind="consumer"))
    assert excinfo.value.code == "risk.source.not_applicable"


def test_sandbox_distribution_is_mostly_clean() -> None:
    rnd = random.Random(7)
    counts: Counter[str] = Counter()
    n = 600
    for i in range(n):
        born = date(1960 + rnd.randint(0, 40), rnd.randint(1, 12), rnd.randint(1, 28))
        person = make_resident_id("110105", born, rnd.randint(0, 899))
        uscc = make_uscc(f"91110105MA{rnd.randint(0, 9_999_999):07d}")
        v = variables(an_application(resident_id=person, uscc=uscc))
        counts["sanction"] += v["sanction_hit"]
        counts["dishonest"] += v["dishonest_debtor"]
        counts["overdue"] += v["current_overdue_amount"] > 0
        counts["not_verified"] += not v["identity_verified"]
        counts["bad_status"] += v["enterprise_status"] != "in_operation"
        counts["record"] += v["has_credit_record"]
        counts["clean"] += not (
            v["sanction_hit"] or v["dishonest_debtor"] or v["current_overdue_amount"] > 0
            or not v["identity_verified"] or v["enterprise_status"] != "in_operation"
            or v["gambling_txn_12m"] or v["major_admin_penalties_24m"]
        )  # fmt: skip
        assert i or v["monthly_income"] is not None
    assert counts["clean"] > 0.85 * n
    assert counts["sanction"] <= 0.02 * n and counts["dishonest"] <= 0.04 * n
    assert 0.005 * n <= counts["overdue"] <= 0.08 * n
    assert 0.7 * n <= counts["record"] <= 0.95 * n


CLEAN: dict[str, Any] = {
    "sanction_hit": False,
    "dishonest_debtor": False,
    "current_overdue_amount": 0,
    "worst_dpd_24m": 0,
    "major_admin_penalties_24m": 0,
    "gambling_txn_12m": 0,
    "identity_verified": True,
    "fraud_level": "none",
    "enquiries_3m": 0,
    "has_credit_record": True,
    "enterprise_status": "in_operation",
    "licence_valid": True,
    "open_enforcement_cases": 0,
}


def test_the_clean_identities_are_clean() -> None:
    values = variables(an_application(900, "Y00"))
    assert {k: values[k] for k in CLEAN} == CLEAN


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (901, {"sanction_hit": True}),
        (902, {"dishonest_debtor": True, "open_enforcement_cases": 1}),
        (903, {"current_overdue_amount": 8500, "worst_dpd_24m": 45}),
        (904, {"worst_dpd_24m": 120, "current_overdue_amount": 0}),
        (905, {"major_admin_penalties_24m": 1}),
        (906, {"gambling_txn_12m": 24}),
        (907, {"identity_verified": False, "fraud_level": "high"}),
        (908, {"identity_verified": False, "fraud_level": "medium"}),
        (911, {"has_credit_record": False}),
        (912, {"open_enforcement_cases": 2, "dishonest_debtor": False}),
        (913, {"fraud_level": "low", "phone_in_service_months": 2}),
        (914, {"enquiries_3m": 9}),
        (916, {"sanction_hit": False}),
        (917, {"social_security_months": 0}),
        (918, {"tax_grade": "D"}),
    ],
)
def test_special_resident_ids_force_their_condition(code: int, expected: dict[str, Any]) -> None:
    app = an_application(code, "Y00")
    values = variables(app)
    for name, value in expected.items():
        assert values[name] == value, name
    if code == 916:
        hits = SANDBOX.fetch(SOURCE_REGISTRY["sanctions"], app)["hits"]
        assert [h["match_score"] for h in hits] == ["0.85"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("Y01", {"enterprise_status": "revoked", "licence_valid": False}),
        ("Y02", {"enterprise_status": "cancelled", "licence_valid": False}),
        ("Y03", {"enterprise_status": "suspended", "licence_valid": False}),
        ("Y04", {"enterprise_status": "in_operation", "licence_valid": False}),
        ("Y05", {"dishonest_debtor": True}),
        ("Y06", {"sanction_hit": True}),
        ("Y07", {"major_admin_penalties_24m": 1}),
        ("Y08", {"tax_grade": "D"}),
        ("Y09", {"months_in_business": 3, "tax_revenue_growth": None}),
    ],
)
def test_uscc_markers_force_their_condition(marker: str, expected: dict[str, Any]) -> None:
    values = variables(an_application(900, marker))
    for name, value in expected.items():
        assert values[name] == value, name


def test_declining_revenue_marker() -> None:
    growth = variables(an_application(900, "Y10"))["tax_revenue_growth"]
    assert growth < -0.2


@pytest.mark.parametrize(
    ("code", "marker", "source_id", "error"),
    [
        (909, "Y00", "credit_bureau", ProviderTimeout),
        (915, "Y00", "credit_bureau", ProviderUnavailable),
        (900, "Y11", "business_registry", ProviderTimeout),
        (900, "Y12", "platform_receipts", ProviderUnavailable),
    ],
)
def test_special_identities_force_provider_failures(
    code: int, marker: str, source_id: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        SANDBOX.fetch(SOURCE_REGISTRY[source_id], an_application(code, marker))


def bureau_consent(app: CreditApplication, key: bytes, now: datetime) -> Consent:
    return Consent(
        consent_id="C-1",
        customer_ref=customer_reference(app.applicant_resident_id, key=key),
        purpose=ConsentPurpose.CREDIT_REPORT,
        scope=frozenset({"credit_bureau"}),
        granted_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
        text_version="1",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (910, SourceStatus.INVALID_PAYLOAD),
        (909, SourceStatus.TIMEOUT),
        (915, SourceStatus.UNAVAILABLE),
        (900, SourceStatus.OK),
    ],
)
def test_bureau_failures_reach_the_collection(code: int, status: SourceStatus) -> None:
    app = an_application(code, "Y00")
    key, now = b"0123456789abcdef", datetime(2026, 11, 20, tzinfo=UTC)
    outcomes = collect(
        app,
        providers=SANDBOX,
        consents=InMemoryConsentLookup(key, [bureau_consent(app, key, now)]),
        cache=InMemorySourceCache(),
        now=now,
        sources=["credit_bureau", "sanctions"],
    )
    assert outcomes["credit_bureau"].status is status
    assert outcomes["sanctions"].status is SourceStatus.OK


# --- HTTP ------------------------------------------------------------------------------------

SECRET = b"test-hmac-secret-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Server:
    """The provider's side: verifies the signature, then answers from a script."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.content
        timestamp = request.headers["X-Puhui-Timestamp"]
        message = "\n".join(
            ["POST", request.url.path, timestamp, hashlib.sha256(body).hexdigest()]
        ).encode()
        expected = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
        if request.headers["X-Puhui-Key-Id"] != "puhui-test" or not hmac.compare_digest(
            expected, request.headers["X-Puhui-Signature"]
        ):
            return httpx.Response(401, json={"error": "bad signature"})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, json={"error": "server"})
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return httpx.Response(200, json=answer)


def identity_payload() -> dict[str, Any]:
    return {"id_name_match": True, "phone_owner_match": True, "phone_in_service_months": 24}


def a_provider(
    server: Server, clock: Clock | None = None, secret: bytes = SECRET, **kw: Any
) -> tuple[HttpDataProvider, list[float]]:
    sleeps: list[float] = []
    endpoints = {
        sid: HttpSourceEndpoint("https://provider.test/api", f"/v1/{sid}", "puhui-test", secret)
        for sid in ("identity", "credit_bureau", "business_registry")
    }
    provider = HttpDataProvider(
        endpoints,
        transport=httpx.MockTransport(server),
        clock=clock or Clock(),
        sleep=sleeps.append,
        **kw,
    )
    return provider, sleeps


def test_signed_request_and_validated_answer() -> None:
    server = Server(identity_payload())
    clock = Clock()
    provider, sleeps = a_provider(server, clock)
    app = an_application()
    assert provider.fetch(SOURCE_REGISTRY["identity"], app) == identity_payload()
    (request,) = server.requests
    assert request.method == "POST" and str(request.url) == "https://provider.test/api/v1/identity"
    assert request.headers["X-Puhui-Timestamp"] == str(int(clock.now.timestamp()))
    body = json.loads(request.content)
    assert body["subjects"] == {
        "resident_id": app.applicant_resident_id,
        "name": "张三",
        "mobile": "13812345678",
    }
    assert body["purpose"] == "identity_verification" and sleeps == []


def test_only_needed_identifiers_are_sent() -> None:
    server = Server(identity_payload())
    provider, _ = a_provider(server)
    app = an_application()
    with pytest.raises(ProviderPayloadInvalid):  # the identity payload is not a registry one
        provider.fetch(SOURCE_REGISTRY["business_registry"], app)
    body = json.loads(server.requests[0].content)
    assert body["subjects"] == {"uscc": app.enterprise_uscc}


def test_a_wrong_secret_is_rejected_by_the_server_and_not_retried() -> None:
    server = Server(identity_payload())
    provider, sleeps = a_provider(server, secret=b"not-the-shared-secret-000000")
    with pytest.raises(ProviderUnavailable) as excinfo:
        provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert excinfo.value.details == {
        "source_id": "identity",
        "reason": "client_error",
        "status": 401,
    }
    assert len(server.requests) == 1 and sleeps == []


def test_5xx_is_retried_with_exponential_backoff() -> None:
    server = Server(503, 502, identity_payload())
    provider, sleeps = a_provider(server)
    assert provider.fetch(SOURCE_REGISTRY["identity"], an_application()) == identity_payload()
    assert len(server.requests) == 3 and sleeps == [0.2, 0.4]
    signatures = {r.headers["X-Puhui-Signature"] for r in server.requests}
    assert len(signatures) == 1  # same body and second: same signature, each one verified


def test_persistent_5xx_gives_unavailable_after_the_retries() -> None:
    server = Server(500)
    provider, sleeps = a_provider(server, max_retries=3, backoff_cap_seconds=0.5)
    with pytest.raises(ProviderUnavailable) as excinfo:
        provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert excinfo.value.details["attempts"] == 4 and excinfo.value.details["status"] == 500
    assert len(server.requests) == 4 and sleeps == [0.2, 0.4, 0.5]


def test_timeouts_are_retried_then_reported() -> None:
    server = Server(httpx.ReadTimeout("slow"))
    provider, sleeps = a_provider(server)
    with pytest.raises(ProviderTimeout) as excinfo:
        provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert excinfo.value.code == "risk.source.timeout"
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_connection_errors_are_unavailable() -> None:
    server = Server(httpx.ConnectError("refused"))
    provider, _ = a_provider(server, max_retries=0)
    with pytest.raises(ProviderUnavailable):
        provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer", [b"<html>oops</html>", {"id_name_match": "yes"}, ["not", "an", "object"]]
)
def test_malformed_answers_are_invalid_and_not_retried(answer: Any) -> None:
    server = Server(answer)
    provider, sleeps = a_provider(server)
    with pytest.raises(ProviderPayloadInvalid) as excinfo:
        provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert excinfo.value.code == "risk.source.invalid_payload"
    assert len(server.requests) == 1 and sleeps == []


def test_circuit_breaker_opens_then_half_opens() -> None:
    clock = Clock()
    server = Server(500)
    provider, _ = a_provider(
        server, clock, max_retries=0, failure_threshold=2, cool_down=timedelta(seconds=30)
    )
    spec, app = SOURCE_REGISTRY["identity"], an_application()
    breaker = provider.breakers["identity"]
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.fetch(spec, app)
    assert breaker.state is BreakerState.OPEN and len(server.requests) == 2

    with pytest.raises(ProviderUnavailable) as excinfo:  # open: the server is not called
        provider.fetch(spec, app)
    assert excinfo.value.details["reason"] == "circuit_open"
    assert len(server.requests) == 2
    assert provider.breakers["credit_bureau"].state is BreakerState.CLOSED  # per source

    clock.now += timedelta(seconds=29)
    with pytest.raises(ProviderUnavailable):
        provider.fetch(spec, app)
    assert len(server.requests) == 2

    clock.now += timedelta(seconds=1)
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(ProviderUnavailable):  # the one trial call fails: open again
        provider.fetch(spec, app)
    assert len(server.requests) == 3 and breaker.state is BreakerState.OPEN

    clock.now += timedelta(seconds=30)
    server.answers = [identity_payload()]
    assert provider.fetch(spec, app) == identity_payload()  # trial succeeds: closed
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0
    assert len(server.requests) == 4


def test_half_open_allows_a_single_trial() -> None:
    clock = Clock()
    provider, _ = a_provider(Server(500), clock, failure_threshold=1, max_retries=0)
    breaker = provider.breakers["identity"]
    breaker.record_failure()
    clock.now += timedelta(seconds=30)
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False  # nobody else while it runs
    breaker.record_success()
    assert breaker.allow() is True and breaker.state is BreakerState.CLOSED


def test_client_errors_do_not_open_the_breaker() -> None:
    server = Server(404)
    provider, _ = a_provider(server, failure_threshold=1)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            provider.fetch(SOURCE_REGISTRY["identity"], an_application())
    assert provider.breakers["identity"].state is BreakerState.CLOSED
    assert len(server.requests) == 3


def test_unconfigured_source_is_unavailable() -> None:
    provider, _ = a_provider(Server(identity_payload()))
    with pytest.raises(ProviderUnavailable) as excinfo:
        provider.fetch(SOURCE_REGISTRY["sanctions"], an_application())
    assert excinfo.value.details["reason"] == "no_endpoint"


def test_http_failures_become_outcomes_in_the_collection() -> None:
    server = Server(httpx.ReadTimeout("slow"))
    provider, _ = a_provider(server, max_retries=1)
    outcomes = collect(
        an_application(),
        providers=provider,
        consents=InMemoryConsentLookup(b"0123456789abcdef"),
        cache=InMemorySourceCache(),
        now=datetime(2026, 11, 20, tzinfo=UTC),
        sources=["business_registry", "sanctions"],
    )
    assert outcomes["business_registry"].status is SourceStatus.TIMEOUT
    assert outcomes["sanctions"].error_code == "risk.source.unavailable"
    assert len(server.requests) == 2


def test_http_providers_from_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "max_retries": 1,
        "failure_threshold": 3,
        "cool_down_seconds": 10,
        "sources": {
            "credit_bureau": {
                "base_url": "https://bureau.test",
                "path": "/v1/report",
                "key_id": "puhui-01",
                "secret_env": "PUHUI_TEST_BUREAU_SECRET",
            }
        },
    }
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("PUHUI_TEST_BUREAU_SECRET", "s" * 32)
    provider = http_providers_from_file(path)
    assert isinstance(provider, HttpDataProvider)
    endpoint = provider.endpoints["credit_bureau"]
    assert (endpoint.base_url, endpoint.key_id, endpoint.secret) == (
        "https://bureau.test",
        "puhui-01",
        b"s" * 32,
    )
    assert provider.max_retries == 1
    assert provider.breakers["credit_bureau"].cool_down == timedelta(seconds=10)
    assert "s" * 32 not in repr(endpoint)

    monkeypatch.delenv("PUHUI_TEST_BUREAU_SECRET")
    with pytest.raises(ValidationError) as excinfo:
        http_providers_from_file(path)
    assert excinfo.value.code == "risk.provider_config.invalid"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError):
        http_providers_from_file(path)
