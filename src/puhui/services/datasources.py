"""Collect the external data of a credit application, lawfully and with a continuity plan
(R-6.3 registry and fallbacks, R-11.2 purpose-specific consent).

:func:`collect` walks the registered sources and, for each, records a
:class:`~puhui.domain.risk.sources.SourceOutcome`:

1. ``not_applicable`` — the source is about an enterprise and the application has none;
2. ``missing_consent`` — the source needs a consent purpose and the customer has no consent
   valid for that purpose and source *now*: the provider is **not called** and no cached copy is
   used (R-11.2: no collection or use beyond consent);
3. ``cached`` — a copy younger than the source's ``freshness`` is in the cache;
4. ``ok`` — the provider answered a payload that passed ``validate_payload``; it is cached;
5. ``timeout`` / ``unavailable`` / ``invalid_payload`` — the provider failed; nothing escapes,
   the decision applies the source's fallback and lists the missing data.

Providers, consents and the cache are ports; ``InMemory...`` classes here serve tests and demos.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from puhui.domain.errors import ValidationError
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import Consent, ConsentMissing, customer_reference
from puhui.domain.risk.sources import (
    SOURCE_REGISTRY,
    DataSourceSpec,
    Payload,
    ProviderPayloadInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    SourceOutcome,
    SourceStatus,
    subject_ids,
    validate_payload,
)

__all__ = [
    "ConsentLookup",
    "DataProvider",
    "InMemoryConsentLookup",
    "InMemorySourceCache",
    "Payload",
    "ProviderPayloadInvalid",
    "ProviderTimeout",
    "ProviderUnavailable",
    "SourceCache",
    "collect",
    "subject_key",
]

log = logging.getLogger(__name__)


class DataProvider(Protocol):
    """Fetches one source's payload about an application's subjects.

    Raises ``ProviderTimeout``, ``ProviderUnavailable`` or ``ProviderPayloadInvalid``.
    """

    def fetch(self, spec: DataSourceSpec, application: CreditApplication) -> dict[str, Any]: ...


class ConsentLookup(Protocol):
    """The consents of the person with this resident ID that are valid at ``at``."""

    def valid_consents(self, resident_id: str, at: datetime) -> Sequence[Consent]: ...


class SourceCache(Protocol):
    """Payloads by source and subject key (a hash, never a raw identifier)."""

    def get(self, source_id: str, subject_key: str) -> tuple[Payload, datetime] | None: ...

    def put(
        self, source_id: str, subject_key: str, payload: Payload, fetched_at: datetime
    ) -> None: ...


def subject_key(spec: DataSourceSpec, application: CreditApplication) -> str:
    """Cache key of the source's subjects: SHA-256 of the source id and the identifiers."""
    material = "\x00".join((spec.source_id, *subject_ids(spec, application)))
    return hashlib.sha256(material.encode()).hexdigest()


def collect(
    application: CreditApplication,
    *,
    providers: DataProvider | Mapping[str, DataProvider],
    consents: ConsentLookup,
    cache: SourceCache,
    now: datetime,
    sources: Iterable[str] | None = None,
    registry: Mapping[str, DataSourceSpec] = SOURCE_REGISTRY,
) -> dict[str, SourceOutcome]:
    """One outcome per source (all registered sources by default, in registry order).

    ``providers`` is one provider for every source or a provider per ``source_id``; ``now``
    is the aware UTC instant of the collection (consent validity, cache age, ``fetched_at``).
    """
    if now.utcoffset() is None:
        raise ValidationError("'now' must be a timezone-aware instant.", code="risk.source.naive")
    wanted = list(registry) if sources is None else list(sources)
    unknown = [s for s in wanted if s not in registry]
    if unknown:
        raise ValidationError(
            "Unknown data source.", code="risk.source.unknown", details={"sources": unknown}
        )
    valid: Sequence[Consent] | None = None
    outcomes: dict[str, SourceOutcome] = {}
    for source_id in wanted:
        spec = registry[source_id]
        if not subject_ids(spec, application):
            outcomes[source_id] = SourceOutcome(source_id, SourceStatus.NOT_APPLICABLE)
            continue
        if spec.consent_purpose is not None:
            if valid is None:
                valid = consents.valid_consents(application.applicant_resident_id, now)
            if not any(
                c.is_valid_for(spec.consent_purpose, now, source_id=source_id) for c in valid
            ):
                outcomes[source_id] = SourceOutcome(
                    source_id, SourceStatus.MISSING_CONSENT, error_code=ConsentMissing.code
                )
                continue
        outcomes[source_id] = _fetch(spec, application, providers, cache, now)
    return outcomes


def _fetch(
    spec: DataSourceSpec,
    application: CreditApplication,
    providers: DataProvider | Mapping[str, DataProvider],
    cache: SourceCache,
    now: datetime,
) -> SourceOutcome:
    source_id = spec.source_id
    key = subject_key(spec, application)
    cached = cache.get(source_id, key)
    if cached is not None:
        payload, fetched_at = cached
        if fetched_at <= now and now - fetched_at <= spec.freshness:
            return SourceOutcome(source_id, SourceStatus.CACHED, payload, fetched_at)
    provider = providers.get(source_id) if isinstance(providers, Mapping) else providers
    if provider is None:
        return SourceOutcome(
            source_id, SourceStatus.UNAVAILABLE, error_code="risk.source.no_provider"
        )
    try:
        fetched = provider.fetch(spec, application)
        validate_payload(source_id, fetched)
    except ProviderTimeout as error:
        return _failed(source_id, SourceStatus.TIMEOUT, error.code)
    except ProviderUnavailable as error:
        return _failed(source_id, SourceStatus.UNAVAILABLE, error.code)
    except ProviderPayloadInvalid as error:
        return _failed(source_id, SourceStatus.INVALID_PAYLOAD, error.code, error.details)
    except Exception:  # continuity: a provider bug must not stop the decision
        log.exception("data provider for %s failed unexpectedly", source_id)
        return _failed(source_id, SourceStatus.UNAVAILABLE, "risk.source.provider_error")
    cache.put(source_id, key, fetched, now)
    return SourceOutcome(source_id, SourceStatus.OK, fetched, now)


def _failed(
    source_id: str, status: SourceStatus, code: str, details: Mapping[str, Any] | None = None
) -> SourceOutcome:
    """The outcome of a failed source, logged with its code (the alert hook of R-6.3)."""
    where = f" at {details.get('key')}" if details and details.get("key") else ""
    log.warning("data source %s: %s%s", source_id, status.value, where, extra={"code": code})
    return SourceOutcome(source_id, status, error_code=code)


# --- in-memory adapters for tests and demos ----------------------------------------------------


class InMemorySourceCache:
    """A dict cache; a real one expires entries and stores payloads encrypted."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[Payload, datetime]] = {}

    def get(self, source_id: str, subject_key: str) -> tuple[Payload, datetime] | None:
        return self.entries.get((source_id, subject_key))

    def put(self, source_id: str, subject_key: str, payload: Payload, fetched_at: datetime) -> None:
        self.entries[(source_id, subject_key)] = (payload, fetched_at)


class InMemoryConsentLookup:
    """Consents kept in a list; customers are matched by :func:`customer_reference`."""

    def __init__(self, key: bytes, consents: Iterable[Consent] = ()) -> None:
        self.key = key
        self.consents: list[Consent] = list(consents)

    def reference(self, resident_id: str) -> str:
        return customer_reference(resident_id, key=self.key)

    def add(self, consent: Consent) -> None:
        self.consents.append(consent)

    def revoke(self, consent_id: str, at: datetime) -> None:
        self.consents = [c.revoke(at) if c.consent_id == consent_id else c for c in self.consents]

    def valid_consents(self, resident_id: str, at: datetime) -> Sequence[Consent]:
        ref = self.reference(resident_id)
        return [c for c in self.consents if c.customer_ref == ref and c.is_valid_for(c.purpose, at)]
