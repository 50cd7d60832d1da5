"""Credit applications, decisions, reviews, consents and the source cache (R-6.3, R-9.2, R-9.3,
R-11.2).

Identifiers are stored as blind indexes only (``*_ref``: HMAC-SM3 under the platform keyring,
the same index the customer register uses for ID numbers), and the application snapshot and the
cached provider payloads are AEAD-encrypted (level-3 personal financial information, R-M4.2).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.db import tables as t
from puhui.adapters.db.journal import from_minor, to_minor
from puhui.domain.customers import CUSTOMER_ID_NUMBER
from puhui.domain.errors import Conflict, NotFound
from puhui.domain.money import CNY, Money
from puhui.domain.risk.consent import Consent
from puhui.domain.risk.limits import CONCENTRATION_DIMENSIONS, PortfolioExposure

ENTERPRISE_CONTEXT = "enterprise.uscc"
SNAPSHOT_CONTEXT = "credit_application.snapshot"
PAYLOAD_CONTEXT = "source_cache.payload"
# an application's credit counts in exposure once approved by the engine or by a reviewer
APPROVED = ("approved",)


@dataclass(frozen=True)
class StoredDecision:
    """One application and its decision as stored."""

    application_id: int
    channel: str
    application_ref: str
    product_code: str
    status: str
    outcome: str
    arm: str
    score: int | None
    grade: str | None
    pd: str | None
    limit: Decimal
    annual_rate: str | None
    latency_us: int
    record: dict[str, Any]
    record_hash: str
    decided_at: datetime
    snapshot_hash: str
    review: dict[str, Any] | None = None


# Statements of the decision path, built once: building and cache-keying an expression costs
# more than running it, so every value is a bound parameter and the statement object is reused
# (SQLAlchemy memoises its cache key and finds the compiled form in the engine's cache).
_a, _d, _r = t.credit_applications, t.credit_decisions, t.review_outcomes
_c = t.consents.c
_SELECT_VALID_CONSENTS = sa.select(t.consents).where(
    _c.subject_ref == sa.bindparam("ref"),
    _c.granted_at <= sa.bindparam("at", type_=t.UtcDateTime()),
    _c.expires_at > sa.bindparam("at", type_=t.UtcDateTime()),
    sa.or_(_c.revoked_at.is_(None), _c.revoked_at > sa.bindparam("at", type_=t.UtcDateTime())),
)
_FIND_APPLICATION = sa.select(_a.c.id).where(
    _a.c.channel == sa.bindparam("channel"), _a.c.application_ref == sa.bindparam("ref")
)
_INSERT_APPLICATION = sa.insert(_a).returning(_a.c.id)
_INSERT_DECISION = sa.insert(_d)
_INSERT_CACHE = sa.insert(t.source_cache)
_GRANTED = sa.func.coalesce(_r.c.limit_minor, _d.c.limit_minor)
_DECIDED = _a.join(_d, _d.c.application_id == _a.c.id).outerjoin(_r, _r.c.application_id == _a.c.id)
_SELECT_STORED = (
    sa.select(
        _a.c.id,
        _a.c.channel,
        _a.c.application_ref,
        _a.c.product_code,
        _a.c.status,
        _a.c.snapshot_hash,
        _d.c.outcome,
        _d.c.arm,
        _d.c.score,
        _d.c.grade,
        _d.c.pd,
        _d.c.limit_minor,
        _d.c.annual_rate,
        _d.c.latency_us,
        _d.c.record,
        _d.c.record_hash,
        _d.c.decided_at,
        _r.c.outcome.label("review_outcome"),
        _r.c.limit_minor.label("review_limit_minor"),
        _r.c.reviewer,
        _r.c.reason,
        _r.c.decided_at.label("reviewed_at"),
    )
    .join(_d, _d.c.application_id == _a.c.id)
    .outerjoin(_r, _r.c.application_id == _a.c.id)
)
_SELECT_ONE_STORED = _SELECT_STORED.where(_a.c.id == sa.bindparam("id"))
_SELECT_ONE_STORED_FOR_UPDATE = _SELECT_ONE_STORED.with_for_update(of=_a)


@functools.cache
def _group_exposure_rows(n: int) -> Any:
    """The decided applications of ``n`` group members (``:m0`` ...), as applicant, enterprise
    or spouse: each an index search. One statement per group size (one to three members), so
    the members are plain bound parameters (an expanding ``IN`` is re-rendered every time)."""
    members: list[Any] = [sa.bindparam(f"m{k}") for k in range(n)]
    return (
        sa.select(_a.c.status, _a.c.borrower_type, _a.c.applicant_ref, _GRANTED)
        .select_from(_DECIDED)
        .where(
            sa.or_(
                _a.c.applicant_ref.in_(members),
                _a.c.enterprise_ref.in_(members),
                _a.c.spouse_ref.in_(members),
            )
        )
    )


_CONSUMER_EXPOSURE_ROWS = (
    sa.select(_a.c.status, _a.c.borrower_type, _GRANTED)
    .select_from(_DECIDED)
    .where(_a.c.applicant_ref == sa.bindparam("ref"))
)


@functools.cache
def _cache_pairs(n: int) -> Any:
    """``(source_id = :s0 AND subject_key = :k0) OR ...`` for ``n`` keys: each term a
    primary-key lookup (a row-value ``IN`` made SQLite scan the whole cache)."""
    c = t.source_cache.c
    return sa.or_(
        *(
            sa.and_(c.source_id == sa.bindparam(f"s{k}"), c.subject_key == sa.bindparam(f"k{k}"))
            for k in range(n)
        )
    )


@functools.cache
def _select_cached(n: int) -> Any:
    c = t.source_cache.c
    return sa.select(c.source_id, c.subject_key, c.payload_enc, c.fetched_at).where(_cache_pairs(n))


@functools.cache
def _delete_cached(n: int) -> Any:
    return sa.delete(t.source_cache).where(_cache_pairs(n))


def _pair_params(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    params = {}
    for k, (source_id, key) in enumerate(pairs):
        params[f"s{k}"], params[f"k{k}"] = source_id, key
    return params


class RiskRepository:
    def __init__(self, conn: Connection, cipher: FieldCipher) -> None:
        self.conn = conn
        self.cipher = cipher

    # -- references ------------------------------------------------------------------------
    def person_ref(self, resident_id: str) -> str:
        return self.cipher.blind_index(resident_id, context=CUSTOMER_ID_NUMBER.name)

    def enterprise_ref(self, uscc: str) -> str:
        return self.cipher.blind_index(uscc, context=ENTERPRISE_CONTEXT)

    # -- consents (services.datasources.ConsentLookup) --------------------------------------
    def add_consent(self, consent: Consent, *, channel: str, recipients: str, evidence: str) -> int:
        row = self.conn.execute(
            sa.insert(t.consents)
            .values(
                consent_id=consent.consent_id,
                subject_ref=consent.customer_ref,
                purpose=consent.purpose.value,
                scope=",".join(sorted(consent.scope)),
                recipients=recipients,
                text_version=consent.text_version,
                channel=channel,
                granted_at=consent.granted_at,
                expires_at=consent.expires_at,
                revoked_at=consent.revoked_at,
                evidence_hash=evidence,
            )
            .returning(t.consents.c.id)
        ).one()
        return int(row[0])

    def get_consent(self, consent_id: str, *, for_update: bool = False) -> Consent:
        query = sa.select(t.consents).where(t.consents.c.consent_id == consent_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound("no such consent", code="consent.not_found")
        return _consent(row)

    def revoke_consent(self, consent_id: str, at: datetime) -> None:
        self.conn.execute(
            sa.update(t.consents)
            .where(t.consents.c.consent_id == consent_id, t.consents.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def consents_of(self, subject_ref: str) -> list[Consent]:
        rows = self.conn.execute(
            sa.select(t.consents)
            .where(t.consents.c.subject_ref == subject_ref)
            .order_by(t.consents.c.granted_at, t.consents.c.id)
        ).mappings()
        return [_consent(r) for r in rows]

    def valid_consents(self, resident_id: str, at: datetime) -> Sequence[Consent]:
        rows = self.conn.execute(
            _SELECT_VALID_CONSENTS, {"ref": self.person_ref(resident_id), "at": at}
        ).mappings()
        return [_consent(r) for r in rows]

    # -- source cache (services.datasources.SourceCache) ------------------------------------
    def cached(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Any, datetime]]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = self.conn.execute(_select_cached(len(wanted)), _pair_params(wanted))
        out = {}
        for source_id, key, token, fetched_at in rows:
            plain = self.cipher.decrypt(token, context=f"{PAYLOAD_CONTEXT}:{source_id}")
            out[(source_id, key)] = (json.loads(plain), fetched_at)
        return out

    def put_cached(self, source_id: str, key: str, payload: Any, fetched_at: datetime) -> None:
        self.put_cached_many([(source_id, key, payload, fetched_at)])

    def put_cached_many(self, entries: Sequence[tuple[str, str, Any, datetime]]) -> None:
        """Store fresh payloads (encrypted), replacing older ones: two statements in all."""
        if not entries:
            return
        rows = [
            {
                "source_id": source_id,
                "subject_key": key,
                "payload_enc": self.cipher.encrypt(
                    json.dumps(payload, sort_keys=True, ensure_ascii=False),
                    context=f"{PAYLOAD_CONTEXT}:{source_id}",
                ),
                "fetched_at": fetched_at,
            }
            for source_id, key, payload, fetched_at in entries
        ]
        pairs = [(source_id, key) for source_id, key, _, _ in entries]
        self.conn.execute(_delete_cached(len(pairs)), _pair_params(pairs))
        self.conn.execute(_INSERT_CACHE, rows)

    # -- applications and decisions ---------------------------------------------------------
    def find_application(self, channel: str, ref: str) -> StoredDecision | None:
        found = self.conn.execute(_FIND_APPLICATION, {"channel": channel, "ref": ref}).first()
        return None if found is None else self.get(int(found[0]))

    def add_application(self, values: dict[str, Any], snapshot: str, *, now: datetime) -> int:
        """Insert the application; a used ``(channel, application_ref)`` is a ``Conflict``.

        The unique constraint decides (two requests with the same id may both pass the
        duplicate check of the read step). No savepoint: the conflict ends the unit of work,
        which the caller rolls back (``services.audit.audited``), so nothing else in it needs
        to survive the failed insert."""
        token = self.cipher.encrypt(snapshot, context=SNAPSHOT_CONTEXT)
        row = dict(values)
        row["requested_amount_minor"] = to_minor(row.pop("requested_amount"))
        row["snapshot_enc"] = token
        row["created_at"] = now
        row.setdefault("enterprise_ref", None)
        row.setdefault("spouse_ref", None)
        try:
            found = self.conn.execute(_INSERT_APPLICATION, row).one()
        except sa.exc.IntegrityError:
            raise Conflict(
                "this application id is already used",
                code="risk.application.duplicate",
                details={"application_id": values.get("application_ref")},
            ) from None
        return int(found[0])

    def snapshot(self, application_id: int) -> str:
        token = self.conn.execute(
            sa.select(t.credit_applications.c.snapshot_enc).where(
                t.credit_applications.c.id == application_id
            )
        ).scalar_one()
        return self.cipher.decrypt(token, context=SNAPSHOT_CONTEXT)

    def add_decision(self, application_id: int, values: dict[str, Any]) -> None:
        row = dict(values)
        row["limit_minor"] = to_minor(row.pop("limit"))
        row["application_id"] = application_id
        self.conn.execute(_INSERT_DECISION, row)

    @staticmethod
    def as_stored(
        application_id: int, application: Mapping[str, Any], decision: Mapping[str, Any]
    ) -> StoredDecision:
        """The application and decision just written (the rows of ``add_application`` and
        ``add_decision``, not yet reviewed) as :meth:`get` would read them back, without the
        round trip: the stored values are exactly these (money in minor units, instants in
        UTC, the record as its canonical JSON)."""
        decided_at = decision["decided_at"]
        return StoredDecision(
            application_id=application_id,
            channel=application["channel"],
            application_ref=application["application_ref"],
            product_code=application["product_code"],
            status=application["status"],
            outcome=decision["outcome"],
            arm=decision["arm"],
            score=decision["score"],
            grade=decision["grade"],
            pd=decision["pd"],
            limit=from_minor(to_minor(decision["limit"])),
            annual_rate=decision["annual_rate"],
            latency_us=int(decision["latency_us"]),
            record=json.loads(decision["record"]),
            record_hash=decision["record_hash"],
            decided_at=decided_at.astimezone(UTC),
            snapshot_hash=application["snapshot_hash"],
        )

    def set_status(self, application_id: int, status: str) -> None:
        self.conn.execute(
            sa.update(t.credit_applications)
            .where(t.credit_applications.c.id == application_id)
            .values(status=status)
        )

    def add_review(
        self,
        application_id: int,
        *,
        outcome: str,
        limit: Decimal,
        reviewer: str,
        reason: str,
        now: datetime,
    ) -> None:
        self.conn.execute(
            sa.insert(t.review_outcomes).values(
                application_id=application_id,
                outcome=outcome,
                limit_minor=to_minor(limit),
                reviewer=reviewer,
                reason=reason,
                decided_at=now,
            )
        )

    def _select(self) -> sa.Select[Any]:
        return _SELECT_STORED

    def get(self, application_id: int, *, for_update: bool = False) -> StoredDecision:
        query = _SELECT_ONE_STORED_FOR_UPDATE if for_update else _SELECT_ONE_STORED
        row = self.conn.execute(query, {"id": application_id}).mappings().first()
        if row is None:
            raise NotFound("no such credit application", code="risk.application.not_found")
        return _stored(row)

    def by_status(self, *, status: str | None = None, limit: int = 100) -> list[StoredDecision]:
        query = self._select().order_by(t.credit_applications.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(t.credit_applications.c.status == status)
        return [_stored(r) for r in self.conn.execute(query).mappings()]

    def history(self, *, since: date | None = None, limit: int = 100_000) -> list[StoredDecision]:
        """Past decisions, oldest first, for simulation and back-testing."""
        query = self._select().order_by(t.credit_applications.c.id).limit(limit)
        if since is not None:
            query = query.where(t.credit_applications.c.applied_on >= since)
        return [_stored(r) for r in self.conn.execute(query).mappings()]

    # -- exposure (R-9.3) -------------------------------------------------------------------
    def _granted(self) -> Any:
        """Per approved application: the limit granted (the reviewer's when reviewed)."""
        return _GRANTED, _a, _d, _r

    # The exposure filters name only the indexed reference columns, so both databases look
    # them up by index (with the status in the filter SQLite scanned every approved row); the
    # few rows a group has are summed here.

    def group_exposure(self, refs: Iterable[str]) -> Money:
        """Credit granted to any member of the group (enterprise, owner, spouse), as applicant,
        enterprise or spouse of an approved application: unified exposure across products."""
        return self.exposures(refs)[0]

    def consumer_exposure(self, applicant_ref: str) -> Money:
        """Consumer credit granted to this person (the 200,000 CNY per-borrower cap)."""
        rows = self.conn.execute(_CONSUMER_EXPOSURE_ROWS, {"ref": applicant_ref})
        total = sum(int(g) for status, kind, g in rows if status in APPROVED and kind == "consumer")
        return Money(from_minor(total), CNY)

    def exposures(
        self, refs: Iterable[str], applicant_ref: str | None = None
    ) -> tuple[Money, Money]:
        """``(group_exposure(refs), consumer_exposure(applicant_ref))`` in one query: the
        applicant is a member of the group, so their applications are among the group's rows.
        Without ``applicant_ref`` the consumer exposure is zero."""
        members = [ref for ref in refs if ref]
        if applicant_ref is not None and applicant_ref not in members:
            raise ValueError("the applicant is a member of the group")
        group = consumer = 0
        if not members:
            return Money(from_minor(0), CNY), Money(from_minor(0), CNY)
        params = {f"m{k}": ref for k, ref in enumerate(members)}
        for status, kind, applicant, granted in self.conn.execute(
            _group_exposure_rows(len(members)), params
        ):
            if status not in APPROVED:
                continue
            group += int(granted)
            if kind == "consumer" and applicant == applicant_ref:
                consumer += int(granted)
        return Money(from_minor(group), CNY), Money(from_minor(consumer), CNY)

    def portfolio_exposure(self) -> PortfolioExposure:
        """Granted credit in total and by region, industry, product and guarantee type."""
        granted, a, d, r = self._granted()
        joined = a.join(d, d.c.application_id == a.c.id).outerjoin(r, r.c.application_id == a.c.id)
        columns = (a.c.region_code, a.c.industry_code, a.c.product_code, a.c.guarantee_type)
        total = Decimal(0)
        by_dimension: dict[str, dict[str, Money]] = {}
        for dimension, column in zip(CONCENTRATION_DIMENSIONS, columns, strict=True):
            rows = self.conn.execute(
                sa.select(column, sa.func.sum(granted))
                .select_from(joined)
                .where(a.c.status.in_(APPROVED))
                .group_by(column)
            )
            by_dimension[dimension] = {
                str(key): Money(from_minor(int(amount)), CNY) for key, amount in rows
            }
        total = sum((m.amount for m in by_dimension["product"].values()), Decimal(0))
        return PortfolioExposure(total=Money(total, CNY), by_dimension=by_dimension)


def _consent(row: Any) -> Consent:
    return Consent(
        consent_id=row["consent_id"],
        customer_ref=row["subject_ref"],
        purpose=row["purpose"],
        scope=frozenset(row["scope"].split(",")),
        granted_at=_aware(row["granted_at"]),
        expires_at=_aware(row["expires_at"]),
        text_version=row["text_version"],
        revoked_at=_aware(row["revoked_at"]) if row["revoked_at"] is not None else None,
    )


def _aware(value: datetime) -> datetime:
    return value


def _stored(row: Any) -> StoredDecision:
    review = None
    if row["review_outcome"] is not None:
        review = {
            "outcome": row["review_outcome"],
            "limit": from_minor(row["review_limit_minor"]),
            "reviewer": row["reviewer"],
            "reason": row["reason"],
            "decided_at": row["reviewed_at"],
        }
    return StoredDecision(
        application_id=int(row["id"]),
        channel=row["channel"],
        application_ref=row["application_ref"],
        product_code=row["product_code"],
        status=row["status"],
        outcome=row["outcome"],
        arm=row["arm"],
        score=row["score"],
        grade=row["grade"],
        pd=row["pd"],
        limit=from_minor(row["limit_minor"]),
        annual_rate=row["annual_rate"],
        latency_us=int(row["latency_us"]),
        record=json.loads(row["record"]),
        record_hash=row["record_hash"],
        decided_at=row["decided_at"],
        snapshot_hash=row["snapshot_hash"],
        review=review,
    )
