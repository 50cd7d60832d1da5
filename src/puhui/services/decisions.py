"""Credit decisions as a use case (R-9.2, R-9.3, R-6.3, R-11.2): decide an application, keep the
immutable decision record, and the manual-review queue the console works from.

``decide_application`` runs in three steps so that no database transaction is held while
providers are called:

1. *read*: refuse a duplicate, load the applicant's valid consents and the cached payloads;
2. *collect*: call the providers (``datasources.collect``; consent-gated, cache-first, every
   failure recorded as an outcome), outside any transaction;
3. *decide and write*, in one unit of work: read the group's unified exposure and the portfolio
   snapshot, ``domain.risk.decision.decide``, then store the new cache entries, the application
   (identifiers as blind indexes, snapshot encrypted), the decision record and its hash, and the
   audit record — all or nothing.

A missing consent for a purpose no decision can go without (``REQUIRED_PURPOSES``) refuses the
application with ``consent.missing`` before any provider is called; like a denied permission,
the refusal is written to the audit log and nothing else is saved. Bad or inconsistent input
changes nothing at all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from puhui.domain.errors import Conflict, DomainError, NotFound, ValidationError
from puhui.domain.evidence.log import EventType, EvidenceEvent
from puhui.domain.fraud.device import DeviceInfo
from puhui.domain.identity import Permission, Principal
from puhui.domain.money import Money
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import Consent, ConsentMissing
from puhui.domain.risk.decision import REQUIRED_PURPOSES, Decision, Strategy, decide
from puhui.domain.risk.sources import SOURCE_REGISTRY, payloads_of, subject_ids
from puhui.services import fraud
from puhui.services.audit import audited
from puhui.services.datasources import DataProvider, Payload, collect, subject_key
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext, UnitOfWork

# the product's segment and the borrower types it lends to
SEGMENT_BORROWERS = {
    "micro_business": ("micro_enterprise",),
    "individual_business": ("individual_business",),
    "consumer": ("consumer",),
}
STATUS_OF_OUTCOME = {"approve": "approved", "decline": "declined", "review": "in_review"}
log = logging.getLogger(__name__)


@dataclass
class RiskSetup:
    """The strategies and data providers of the decision engine, built once at start-up."""

    champion: Strategy
    providers: DataProvider | Mapping[str, DataProvider]
    challenger: Strategy | None = None
    challenger_share: Decimal = Decimal(0)  # of live traffic, by a hash of the application id
    lpr: Decimal | None = None  # the LPR in force; None: the policy's configured one
    portfolio_ttl: timedelta = timedelta(seconds=60)
    _portfolio: tuple[datetime, Any] | None = field(default=None, repr=False)
    _refreshing: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def portfolio(
        self,
        uow: UnitOfWork,
        now: datetime,
        *,
        refresh_with: Callable[[], UnitOfWork] | None = None,
    ) -> Any:
        """The portfolio snapshot for concentration caps, read at most once per ``portfolio_ttl``
        (caps are shares of the whole book: a minute-old snapshot is close enough, and reading
        it costs four aggregate queries over every approved application — tens of
        milliseconds for a few thousand).

        With ``refresh_with`` (a factory of read-only units of work), an expired snapshot is
        still returned while a background thread reads the new one, so no request waits for
        the aggregates; the snapshot is then at most ``portfolio_ttl`` plus one read old. The
        first snapshot, or any without ``refresh_with``, is read here with ``uow``."""
        cached = self._portfolio
        if cached is not None:
            age = now - cached[0]
            if timedelta(0) <= age < self.portfolio_ttl:
                return cached[1]
            if age >= self.portfolio_ttl and refresh_with is not None:
                if self._refreshing.acquire(blocking=False):  # one refresh at a time
                    threading.Thread(
                        target=self._refresh,
                        args=(refresh_with, now),
                        name="portfolio-snapshot",
                        daemon=True,
                    ).start()
                return cached[1]
        cached = (now, uow.risk.portfolio_exposure())  # the first, or the clock went back
        self._portfolio = cached
        return cached[1]

    def _refresh(self, reading: Callable[[], UnitOfWork], now: datetime) -> None:
        try:
            with reading() as uow:
                snapshot = uow.risk.portfolio_exposure()
            current = self._portfolio
            if current is None or current[0] <= now:  # never replace a newer snapshot
                self._portfolio = (now, snapshot)
        except Exception:  # the stale snapshot stays; the next expired read tries again
            log.warning("portfolio snapshot refresh failed", exc_info=True)
        finally:
            self._refreshing.release()

    def strategy_for(self, application_id: str) -> Strategy:
        """Champion / challenger split: a stable hash of the application id picks the arm."""
        if self.challenger is None or self.challenger_share <= 0:
            return self.champion
        digest = hashlib.sha256(application_id.encode()).digest()
        bucket = Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)
        return self.challenger if bucket < self.challenger_share else self.champion


class _Consents:
    """The consents read in step 1, as ``datasources.ConsentLookup``."""

    def __init__(self, consents: Sequence[Consent]) -> None:
        self.consents = consents

    def valid_consents(self, resident_id: str, at: datetime) -> Sequence[Consent]:
        return self.consents


class _Cache:
    """The cache entries read in step 1; new entries are kept for step 3 to store."""

    def __init__(self, entries: dict[tuple[str, str], tuple[Payload, datetime]]) -> None:
        self.entries = entries
        self.new: list[tuple[str, str, Payload, datetime]] = []

    def get(self, source_id: str, key: str) -> tuple[Payload, datetime] | None:
        return self.entries.get((source_id, key))

    def put(self, source_id: str, key: str, payload: Payload, fetched_at: datetime) -> None:
        self.new.append((source_id, key, payload, fetched_at))


def reading(ctx: ServiceContext) -> UnitOfWork:
    """A unit of work that only reads: on SQLite it takes no write lock."""
    return (ctx.read_only_uow or ctx.uow)()


def _setup(ctx: ServiceContext) -> RiskSetup:
    if ctx.risk is None:
        raise Conflict("the decision engine is not configured", code="risk.not_configured")
    setup: RiskSetup = ctx.risk
    return setup


def parse_application(
    ctx: ServiceContext, data: Mapping[str, Any]
) -> tuple[CreditApplication, Any]:
    """The application and its product, or a clear error (nothing is saved)."""
    if not isinstance(data, Mapping):
        raise ValidationError("the application is a JSON object", code="risk.application.invalid")
    application = CreditApplication.from_mapping(data)
    product = ctx.products.get(application.product_code)
    if product is None:
        raise ValidationError(
            f"unknown product {application.product_code!r}",
            code="risk.application.unknown_product",
            details={"field": "product_code", "known": sorted(ctx.products)},
        )
    if application.borrower_type.value not in SEGMENT_BORROWERS[product.segment.value]:
        raise ValidationError(
            f"product {product.code} does not lend to {application.borrower_type.value}",
            code="risk.application.inconsistent",
            details={"field": "borrower_type", "reason": "product_segment"},
        )
    if not product.min_repayments <= application.requested_term_months <= product.max_repayments:
        raise ValidationError(
            f"product {product.code} lends for {product.min_repayments}-"
            f"{product.max_repayments} months",
            code="risk.application.inconsistent",
            details={"field": "requested_term_months", "reason": "outside_product_terms"},
        )
    return application, product


def _split_device(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], DeviceInfo | None]:
    """The application without its optional ``device`` object, and the device (checked)."""
    if not isinstance(data, Mapping) or "device" not in data:
        return data, None
    device = DeviceInfo.from_mapping(data["device"])
    return {k: v for k, v in data.items() if k != "device"}, device


def decide_application(
    ctx: ServiceContext,
    actor: Principal,
    data: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Any:
    """Decide one application in seconds (far less, in fact) and store its record (R-9.2)."""
    started = time.perf_counter()
    try:
        actor.require(Permission.APPLICATIONS_CREATE)
    except DomainError as err:
        _refuse(ctx, actor, request_id, err)
    setup = _setup(ctx)
    data, device = _split_device(data)
    application, product = parse_application(ctx, data)
    strategy = setup.strategy_for(application.application_id)
    fraud_setup: fraud.FraudSetup | None = ctx.fraud
    now = ctx.clock()
    keys = [(sid, subject_key(spec, application)) for sid, spec in SOURCE_REGISTRY.items()]
    consumer = application.borrower_type.value == "consumer"
    with reading(ctx) as uow:  # 1. read (no write lock)
        existing = uow.risk.find_application(application.channel, application.application_id)
        if existing is not None:
            return _repeat(existing, application)
        as_of = business_date(uow, clock=now)
        consents = uow.risk.valid_consents(application.applicant_resident_id, now)
        cache = _Cache(uow.risk.cached(keys))
        refs = _refs(uow.risk, application)
        # the exposures as they are now, to decide before the write (checked again there)
        exposures = _exposures(uow.risk, refs, consumer)
        portfolio = setup.portfolio(uow, now, refresh_with=lambda: reading(ctx))
        if fraud_setup is not None:  # lists and velocity of the application's subjects
            subjects = fraud.subjects(uow, application, device)
            observed = fraud.observe(uow, fraud_setup, subjects, now)
    lacking = missing_required_consents(application, consents, now)
    if lacking:  # before any provider is called: nothing is collected, nothing is saved
        purposes = sorted({purpose for purpose, _ in lacking})
        _refuse(
            ctx,
            actor,
            request_id,
            ConsentMissing(
                "the applicant has not authorised " + ", ".join(purposes),
                details={"purposes": purposes, "sources": [sid for _, sid in lacking]},
            ),
        )
    if application.applied_on > as_of:
        raise ValidationError(
            "applied_on is after the business date",
            code="risk.application.inconsistent",
            details={"field": "applied_on", "reason": "in_the_future"},
        )
    outcomes = collect(  # 2. collect, outside any transaction
        application, providers=setup.providers, consents=_Consents(consents), cache=cache, now=now
    )
    canonical = application.canonical_json()
    snapshot, snapshot_hash = canonical.decode(), hashlib.sha256(canonical).hexdigest()
    assessment = None
    if fraud_setup is not None:  # the fraud level and its disposal, before the admission rules
        identity = payloads_of(outcomes).get("identity")
        signals = fraud.signals(fraud_setup, subjects, observed, identity=identity)
        assessment = fraud.assess_application(fraud_setup, signals)

    def decided(exposures: tuple[Money, Money]) -> tuple[Decision, dict[str, Any], dict[str, Any]]:
        """The decision on these exposures, and the application and decision rows to store."""
        group_exposure, consumer_exposure = exposures
        decision = decide(
            strategy,
            product,
            application,
            outcomes,
            as_of=as_of,
            group_exposure=group_exposure,
            consumer_exposure=consumer_exposure,
            portfolio=portfolio,
            lpr=setup.lpr,
            fraud=None if assessment is None else assessment.to_dict(),
        )
        application_row = _application_row(
            application, refs, STATUS_OF_OUTCOME[decision.outcome], snapshot_hash
        )
        decision_row = _decision_row(decision, int((time.perf_counter() - started) * 1e6), now)
        return decision, application_row, decision_row

    # 3a. decide on the exposures read in step 1, outside any transaction: the decision and
    # its record are most of the work of a request, and the write transaction below holds the
    # database's write lock (SQLite) for its whole length
    planned = decided(exposures)

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:  # 3b. check and write
        risk = uow.risk
        # the exposures again, now inside the writers' transaction: the decision stands only
        # if they are still the ones it was made on (an approval for the same group may have
        # been stored since step 1); otherwise decide again on the current ones
        current = _exposures(risk, refs, consumer)
        decision, application_row, decision_row = (
            planned if _same_exposures(current, exposures) else decided(current)
        )
        risk.put_cached_many(cache.new)
        application_id = risk.add_application(application_row, snapshot, now=now)
        risk.add_decision(application_id, decision_row)
        if fraud_setup is not None and assessment is not None:
            fraud.record(
                uow,
                fraud_setup,
                application_id,
                subjects,
                assessment,
                declined=decision.outcome == "decline",
                now=now,
            )
        target = f"credit_application:{application_id}"
        metadata = {"outcome": decision.outcome, "product": application.product_code}
        # evidence of the application and the decision, two leaves in one append (as
        # ``services.evidence.record_event`` builds them, one head update for both)
        uow.evidence.append(
            [
                EvidenceEvent(
                    event_type=event_type,
                    occurred_at=now,
                    subject_ref=refs["applicant_ref"],
                    object_ref=target,
                    payload_digest=digest,
                    metadata=dict(metadata),
                )
                for event_type, digest in (
                    (EventType.APPLICATION_SUBMITTED, application_row["snapshot_hash"]),
                    (EventType.DECISION_MADE, decision_row["record_hash"]),
                )
            ]
        )
        # what was written, as a read would return it (built after the commit, no round trip)
        stored = functools.partial(risk.as_stored, application_id, application_row, decision_row)
        return (
            stored,
            target,
            {
                "outcome": decision.outcome,
                "arm": decision.arm,
                "record_hash": decision_row["record_hash"],
                "product_code": application.product_code,
            },
        )

    return audited(
        ctx, actor=actor, action="applications.decide", request_id=request_id, body=body
    )()


def _exposures(risk: Any, refs: Mapping[str, str], consumer: bool) -> tuple[Money, Money]:
    """``(group exposure, consumer exposure)`` of the applicant's group, one query; the consumer
    exposure counts for consumer applications only (zero otherwise)."""
    group, personal = risk.exposures(refs.values(), refs["applicant_ref"] if consumer else None)
    return group, (personal if consumer else Money.zero())


def _same_exposures(a: tuple[Money, Money], b: tuple[Money, Money]) -> bool:
    """Equal amounts with the same digits (the record states them as text)."""
    return all(
        x.currency == y.currency and str(x.amount) == str(y.amount)
        for x, y in zip(a, b, strict=True)
    )


def missing_required_consents(
    application: CreditApplication, consents: Sequence[Consent], now: datetime
) -> list[tuple[str, str]]:
    """``(purpose, source)`` for each applicable source of a purpose no decision can go without
    (``REQUIRED_PURPOSES``) that no valid consent covers."""
    lacking: list[tuple[str, str]] = []
    for sid, spec in SOURCE_REGISTRY.items():
        purpose = spec.consent_purpose
        if purpose not in REQUIRED_PURPOSES or not subject_ids(spec, application):
            continue
        if not any(c.is_valid_for(purpose, now, source_id=sid) for c in consents):
            lacking.append((str(purpose), sid))
    return lacking


def _refuse(
    ctx: ServiceContext, actor: Principal, request_id: str | None, error: DomainError
) -> NoReturn:
    """Record a refused decision (a denied permission, a missing consent) in the audit log and
    raise the error; nothing else is written."""

    def body(uow: UnitOfWork) -> tuple[None, str, dict[str, Any]]:
        raise error

    audited(ctx, actor=actor, action="applications.decide", request_id=request_id, body=body)
    raise error  # audited re-raises; this line is for the type checker


def _repeat(existing: Any, application: CreditApplication) -> Any:
    """The same application sent again gets its stored decision (safe retries); a different
    application under a used id is refused."""
    if existing.snapshot_hash != application.snapshot_hash():
        raise Conflict(
            "this application id is already used by a different application",
            code="risk.application.duplicate",
            details={"application_id": application.application_id},
        )
    return existing


def _refs(risk: Any, application: CreditApplication) -> dict[str, str]:
    refs = {"applicant_ref": risk.person_ref(application.applicant_resident_id)}
    if application.enterprise_uscc:
        refs["enterprise_ref"] = risk.enterprise_ref(application.enterprise_uscc)
    if application.owner_spouse_resident_id:
        refs["spouse_ref"] = risk.person_ref(application.owner_spouse_resident_id)
    return refs


def _application_row(
    application: CreditApplication, refs: Mapping[str, str], status: str, snapshot_hash: str
) -> dict[str, Any]:
    return {
        "channel": application.channel,
        "application_ref": application.application_id,
        "product_code": application.product_code,
        "borrower_type": application.borrower_type.value,
        **refs,
        "region_code": application.region_code,
        "industry_code": application.industry_code,
        "guarantee_type": application.guarantee_type.value,
        "requested_amount": application.requested_amount,
        "requested_term_months": application.requested_term_months,
        "applied_on": application.applied_on,
        "snapshot_hash": snapshot_hash,
        "status": status,
    }


def _decision_row(decision: Decision, latency_us: int, now: datetime) -> dict[str, Any]:
    versions = decision.versions
    record = decision.record_json()
    return {
        "outcome": decision.outcome,
        "arm": decision.arm,
        "rule_set": versions["rule_set"],
        "scorecard": versions["scorecard"],
        "variables": versions["variables"],
        "policy": versions["policy"],
        "score": decision.score.score,
        "grade": decision.score.grade,
        "pd": str(decision.score.pd),
        "limit": decision.granted_limit.amount,
        "annual_rate": str(decision.price.annual_rate),
        "latency_us": latency_us,
        "record": record,
        "record_hash": hashlib.sha256(record.encode()).hexdigest(),
        "decided_at": now,
    }


# -- reading and the manual-review queue (R-9.2c) --------------------------------------------


def get_decision(ctx: ServiceContext, actor: Principal, application_id: int) -> Any:
    if not actor.can(Permission.APPLICATIONS_CREATE):
        actor.require(Permission.APPLICATIONS_REVIEW)
    with reading(ctx) as uow:
        return uow.risk.get(application_id)


def review_queue(ctx: ServiceContext, actor: Principal, *, limit: int = 100) -> list[Any]:
    """Applications routed to manual review, newest first."""
    actor.require(Permission.APPLICATIONS_REVIEW)
    with reading(ctx) as uow:
        items: list[Any] = uow.risk.by_status(status="in_review", limit=limit)
        return items


def review_application(
    ctx: ServiceContext,
    actor: Principal,
    application_id: int,
    outcome: str,
    reason: str,
    *,
    limit: str | None = None,
    request_id: str | None = None,
) -> Any:
    """A reviewer approves (at most the engine's limit) or declines a routed application."""
    if outcome not in ("approve", "decline"):
        raise ValidationError(
            "outcome is approve or decline",
            code="risk.review.invalid",
            details={"field": "outcome"},
        )
    reason = " ".join(str(reason).split())
    if not 4 <= len(reason) <= 400:
        raise ValidationError(
            "a review needs a reason of 4-400 characters",
            code="risk.review.invalid",
            details={"field": "reason"},
        )

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:
        actor.require(Permission.APPLICATIONS_REVIEW)
        stored = uow.risk.get(application_id, for_update=True)
        if stored.status != "in_review":
            raise Conflict(
                f"the application is {stored.status}, not in review",
                code="risk.review.not_pending",
            )
        granted = _review_limit(stored.limit, limit) if outcome == "approve" else Decimal(0)
        uow.risk.add_review(
            application_id,
            outcome=outcome,
            limit=granted,
            reviewer=actor.ref,
            reason=reason,
            now=ctx.clock(),
        )
        uow.risk.set_status(application_id, STATUS_OF_OUTCOME[outcome])
        return (
            uow.risk.get(application_id),
            f"credit_application:{application_id}",
            {"outcome": outcome, "limit": str(granted), "reason": reason},
        )

    return audited(ctx, actor=actor, action="applications.review", request_id=request_id, body=body)


def _review_limit(engine_limit: Decimal, asked: str | None) -> Decimal:
    if asked is None:
        value = engine_limit
    else:
        try:
            value = Decimal(str(asked))
        except ArithmeticError:
            value = Decimal(-1)
        if not value.is_finite():
            value = Decimal(-1)
    if not 0 < value <= engine_limit or value != value.quantize(Decimal("0.01")):
        raise ValidationError(
            f"the approved limit is above 0 and at most the engine's {engine_limit}",
            code="risk.review.invalid",
            details={"field": "limit", "max": str(engine_limit)},
        )
    return value


def find(ctx: ServiceContext, actor: Principal, channel: str, ref: str) -> Any:
    actor.require(Permission.APPLICATIONS_CREATE)
    with ctx.uow() as uow:
        found = uow.risk.find_application(channel, ref)
    if found is None:
        raise NotFound("no such credit application", code="risk.application.not_found")
    return found
