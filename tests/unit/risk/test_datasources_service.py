"""Collecting the data of an application: consent first, cache, every failure recorded
(R-6.3, R-11.2)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.unit.risk.test_sources import VALID

from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import Consent, ConsentPurpose, customer_reference
from puhui.domain.risk.sources import (
    SOURCE_REGISTRY,
    DataSourceSpec,
    ProviderPayloadInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    SourceStatus,
    missing_sources,
)
from puhui.services.datasources import (
    InMemoryConsentLookup,
    InMemorySourceCache,
    collect,
    subject_key,
)

KEY = b"consent-test-key-0123456789"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PERSON = make_resident_id("110105", date(1985, 6, 15), 123)
USCC = make_uscc("91110105MA0000001")
CONSENTED = {
    ConsentPurpose.CREDIT_REPORT: {"credit_bureau"},
    ConsentPurpose.TAX_DATA: {"tax"},
    ConsentPurpose.BANK_FLOWS: {"bank_flows"},
    ConsentPurpose.PLATFORM_DATA: {"platform_receipts"},
    ConsentPurpose.SOCIAL_SECURITY: {"social_security"},
    ConsentPurpose.IDENTITY_VERIFICATION: {"identity"},
}


def an_application(kind: str = "micro_enterprise") -> CreditApplication:
    return CreditApplication.from_mapping(
        {
            "application_id": "A-1",
            "product_code": "CONSUMER" if kind == "consumer" else "MICRO-BIZ",
            "borrower_type": kind,
            "applicant_name": "张三",
            "applicant_resident_id": PERSON,
            "applicant_mobile": "13812345678",
            "enterprise_uscc": None if kind == "consumer" else USCC,
            "requested_amount": "100000",
            "requested_term_months": 12,
            "purpose": "other",
            "region_code": "110105",
            "industry_code": "F",
            "guarantee_type": "credit",
            "applied_on": "2026-11-20",
        }
    )


def consent(purpose: ConsentPurpose, **overrides: Any) -> Consent:
    fields: dict[str, Any] = {
        "consent_id": f"C-{purpose.value}",
        "customer_ref": customer_reference(PERSON, key=KEY),
        "purpose": purpose,
        "scope": frozenset(CONSENTED[purpose]),
        "granted_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=365),
        "text_version": "2026.1",
    }
    fields.update(overrides)
    return Consent(**fields)


def all_consents(**overrides: Any) -> InMemoryConsentLookup:
    return InMemoryConsentLookup(KEY, [consent(p, **overrides) for p in CONSENTED])


class RecordingProvider:
    """Answers the VALID payload of each source, or raises what it is told to; records calls."""

    def __init__(self, failures: dict[str, BaseException] | None = None) -> None:
        self.failures = failures or {}
        self.calls: list[str] = []

    def fetch(self, spec: DataSourceSpec, application: CreditApplication) -> dict[str, Any]:
        self.calls.append(spec.source_id)
        if spec.source_id in self.failures:
            raise self.failures[spec.source_id]
        return copy.deepcopy(VALID[spec.source_id])


def run(
    provider: Any,
    consents: InMemoryConsentLookup | None = None,
    cache: InMemorySourceCache | None = None,
    app: CreditApplication | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return collect(
        app or an_application(),
        providers=provider,
        consents=consents if consents is not None else all_consents(),
        cache=cache if cache is not None else InMemorySourceCache(),
        now=NOW,
        **kw,
    )


def test_everything_consented_is_fetched_and_cached() -> None:
    provider, cache = RecordingProvider(), InMemorySourceCache()
    outcomes = run(provider, cache=cache)
    assert list(outcomes) == list(SOURCE_REGISTRY)
    assert {o.status for o in outcomes.values()} == {SourceStatus.OK}
    assert provider.calls == list(SOURCE_REGISTRY)
    assert outcomes["credit_bureau"].payload == VALID["credit_bureau"]
    assert outcomes["credit_bureau"].fetched_at == NOW
    assert len(cache.entries) == 10
    assert missing_sources(outcomes) == ()


def test_no_consent_means_no_call() -> None:
    """R-11.2: without consent the provider is never called for the purpose's sources."""
    provider = RecordingProvider()
    outcomes = run(provider, consents=InMemoryConsentLookup(KEY))
    needing = {sid for sid, spec in SOURCE_REGISTRY.items() if spec.consent_purpose}
    assert needing == {
        "credit_bureau", "tax", "bank_flows", "platform_receipts", "social_security", "identity",
    }  # fmt: skip
    for source_id in needing:
        assert outcomes[source_id].status is SourceStatus.MISSING_CONSENT
        assert outcomes[source_id].error_code == "consent.missing"
        assert outcomes[source_id].payload is None
    assert set(provider.calls) == {"business_registry", "judicial", "admin_penalty", "sanctions"}
    assert not set(provider.calls) & needing


def test_consent_for_one_purpose_does_not_cover_another() -> None:
    provider = RecordingProvider()
    lookup = InMemoryConsentLookup(KEY, [consent(ConsentPurpose.CREDIT_REPORT)])
    outcomes = run(provider, consents=lookup, sources=["credit_bureau", "bank_flows"])
    assert outcomes["credit_bureau"].status is SourceStatus.OK
    assert outcomes["bank_flows"].status is SourceStatus.MISSING_CONSENT
    assert provider.calls == ["credit_bureau"]


def test_consent_scope_must_include_the_source() -> None:
    provider = RecordingProvider()
    narrow = consent(ConsentPurpose.CREDIT_REPORT, scope=frozenset({"another_bureau"}))
    outcomes = run(
        provider, consents=InMemoryConsentLookup(KEY, [narrow]), sources=["credit_bureau"]
    )
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert provider.calls == []


def test_revoked_consent_is_refused() -> None:
    provider = RecordingProvider()
    lookup = all_consents()
    lookup.revoke("C-credit_report", NOW - timedelta(minutes=1))
    outcomes = run(provider, consents=lookup, sources=["credit_bureau", "identity"])
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert outcomes["identity"].status is SourceStatus.OK
    assert provider.calls == ["identity"]


def test_expired_consent_is_refused() -> None:
    provider = RecordingProvider()
    expired = all_consents(granted_at=NOW - timedelta(days=400), expires_at=NOW)
    outcomes = run(provider, consents=expired, sources=["credit_bureau"])
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert provider.calls == []


def test_someone_elses_consent_does_not_count() -> None:
    other = make_resident_id("110105", date(1990, 1, 1), 555)
    lookup = InMemoryConsentLookup(
        KEY,
        [consent(ConsentPurpose.CREDIT_REPORT, customer_ref=customer_reference(other, key=KEY))],
    )
    provider = RecordingProvider()
    outcomes = run(provider, consents=lookup, sources=["credit_bureau"])
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert provider.calls == []


def test_a_lookup_returning_an_invalid_consent_is_rechecked() -> None:
    class CarelessLookup:
        def valid_consents(self, resident_id: str, at: datetime) -> list[Consent]:
            return [consent(ConsentPurpose.CREDIT_REPORT).revoke(NOW - timedelta(hours=1))]

    provider = RecordingProvider()
    outcomes = run(provider, consents=CarelessLookup(), sources=["credit_bureau"])  # type: ignore[arg-type]
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert provider.calls == []


def test_no_cached_copy_without_consent() -> None:
    cache = InMemorySourceCache()
    run(RecordingProvider(), cache=cache, sources=["credit_bureau"])
    provider = RecordingProvider()
    outcomes = run(
        provider, consents=InMemoryConsentLookup(KEY), cache=cache, sources=["credit_bureau"]
    )
    assert outcomes["credit_bureau"].status is SourceStatus.MISSING_CONSENT
    assert outcomes["credit_bureau"].payload is None


def test_consumer_enterprise_sources_are_not_applicable() -> None:
    provider = RecordingProvider()
    outcomes = run(provider, app=an_application("consumer"))
    for source_id in ("tax", "business_registry", "platform_receipts"):
        assert outcomes[source_id].status is SourceStatus.NOT_APPLICABLE
        assert source_id not in provider.calls
    assert outcomes["credit_bureau"].status is SourceStatus.OK
    assert missing_sources(outcomes) == ()


def test_fresh_cache_is_used_stale_cache_is_refetched() -> None:
    app = an_application()
    spec = SOURCE_REGISTRY["business_registry"]  # freshness 7 days
    cache = InMemorySourceCache()
    key = subject_key(spec, app)
    assert USCC not in key and PERSON not in key  # the cache never sees raw identifiers
    cached_payload = {**VALID["business_registry"], "name": "缓存公司"}
    cache.put("business_registry", key, cached_payload, NOW - timedelta(days=7))
    provider = RecordingProvider()
    outcome = run(provider, cache=cache, app=app, sources=["business_registry"])[
        "business_registry"
    ]
    assert outcome.status is SourceStatus.CACHED and outcome.payload == cached_payload
    assert outcome.fetched_at == NOW - timedelta(days=7)
    assert provider.calls == []

    cache.put("business_registry", key, cached_payload, NOW - timedelta(days=7, seconds=1))
    outcome = run(provider, cache=cache, app=app, sources=["business_registry"])[
        "business_registry"
    ]
    assert outcome.status is SourceStatus.OK and provider.calls == ["business_registry"]
    assert cache.get("business_registry", key) == (VALID["business_registry"], NOW)


def test_a_cached_copy_from_the_future_is_not_trusted() -> None:
    app = an_application()
    cache = InMemorySourceCache()
    key = subject_key(SOURCE_REGISTRY["judicial"], app)
    cache.put("judicial", key, VALID["judicial"], NOW + timedelta(hours=1))
    provider = RecordingProvider()
    assert run(provider, cache=cache, sources=["judicial"])["judicial"].status is SourceStatus.OK
    assert provider.calls == ["judicial"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ProviderTimeout("slow"), SourceStatus.TIMEOUT, "risk.source.timeout"),
        (ProviderUnavailable("down"), SourceStatus.UNAVAILABLE, "risk.source.unavailable"),
        (
            ProviderPayloadInvalid("bad"),
            SourceStatus.INVALID_PAYLOAD,
            "risk.source.invalid_payload",
        ),
        (RuntimeError("bug"), SourceStatus.UNAVAILABLE, "risk.source.provider_error"),
    ],
)
def test_every_failure_is_recorded_not_raised(
    error: BaseException, status: SourceStatus, code: str
) -> None:
    cache = InMemorySourceCache()
    outcomes = run(RecordingProvider({"credit_bureau": error}), cache=cache)
    outcome = outcomes["credit_bureau"]
    assert (outcome.status, outcome.error_code, outcome.payload) == (status, code, None)
    assert missing_sources(outcomes) == ("credit_bureau",)
    assert outcomes["identity"].status is SourceStatus.OK  # the others carry on
    assert len(cache.entries) == 9  # failures are not cached


def test_a_payload_failing_validation_is_recorded() -> None:
    class Sloppy(RecordingProvider):
        def fetch(self, spec: DataSourceSpec, application: CreditApplication) -> dict[str, Any]:
            payload = super().fetch(spec, application)
            payload.pop("has_record", None)
            return payload

    cache = InMemorySourceCache()
    outcome = run(Sloppy(), cache=cache, sources=["credit_bureau"])["credit_bureau"]
    assert outcome.status is SourceStatus.INVALID_PAYLOAD
    assert outcome.error_code == "risk.source.invalid_payload"
    assert cache.entries == {}


def test_providers_per_source() -> None:
    bureau, others = RecordingProvider(), RecordingProvider()
    per_source = {"credit_bureau": bureau, "sanctions": others}
    outcomes = run(per_source, sources=["credit_bureau", "sanctions", "judicial"])
    assert bureau.calls == ["credit_bureau"] and others.calls == ["sanctions"]
    assert outcomes["judicial"].status is SourceStatus.UNAVAILABLE
    assert outcomes["judicial"].error_code == "risk.source.no_provider"


def test_consents_are_looked_up_once() -> None:
    class CountingLookup(InMemoryConsentLookup):
        lookups = 0

        def valid_consents(self, resident_id: str, at: datetime) -> list[Consent]:
            type(self).lookups += 1
            return list(super().valid_consents(resident_id, at))

    run(RecordingProvider(), consents=CountingLookup(KEY, all_consents().consents))
    assert CountingLookup.lookups == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValidationError) as excinfo:
        run(RecordingProvider(), sources=["horoscope"])
    assert excinfo.value.code == "risk.source.unknown"
    with pytest.raises(ValidationError):
        collect(
            an_application(),
            providers=RecordingProvider(),
            consents=all_consents(),
            cache=InMemorySourceCache(),
            now=datetime(2026, 11, 20),  # noqa: DTZ001 - naive on purpose
        )
