"""Credit applications, decisions, reviews, consents and the source cache (R-6.3, R-9.2, R-9.3,
R-11.2).

Identifiers are stored as blind indexes only (``*_ref``: HMAC-SM3 under the platform keyring,
the same index the customer register uses for ID numbers), and the application snapshot and the
cached provider payloads are AEAD-encrypted (level-3 personal financial information, R-M4.2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
        c = t.consents.c
        rows = self.conn.execute(
            sa.select(t.consents).where(
                c.subject_ref == self.person_ref(resident_id),
                c.granted_at <= at,
                c.expires_at > at,
                sa.or_(c.revoked_at.is_(None), c.revoked_at > at),
            )
        ).mappings()
        return [_consent(r) for r in rows]

    # -- source cache (services.datasources.SourceCache) ------------------------------------
    def cached(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Any, datetime]]:
        wanted = list(keys)
        if not wanted:
            return {}
        c = t.source_cache.c
        rows = self.conn.execute(
            sa.select(c.source_id, c.subject_key, c.payload_enc, c.fetched_at).where(
                _key_pairs(wanted)
            )
        )
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
        self.conn.execute(
            sa.delete(t.source_cache).where(
                _key_pairs([(source_id, key) for source_id, key, _, _ in entries])
            )
        )
        self.conn.execute(sa.insert(t.source_cache), rows)

    # -- applications and decisions ---------------------------------------------------------
    def find_application(self, channel: str, ref: str) -> StoredDecision | None:
        a = t.credit_applications.c
        found = self.conn.execute(
            sa.select(a.id).where(a.channel == channel, a.application_ref == ref)
        ).first()
        return None if found is None else self.get(int(found[0]))

    def add_application(self, values: dict[str, Any], snapshot: str, *, now: datetime) -> int:
        token = self.cipher.encrypt(snapshot, context=SNAPSHOT_CONTEXT)
        amount = values.pop("requested_amount")
        insert = (
            sa.insert(t.credit_applications)
            .values(
                **values,
                requested_amount_minor=to_minor(amount),
                snapshot_enc=token,
                created_at=now,
            )
            .returning(t.credit_applications.c.id)
        )
        try:
            with self.conn.begin_nested():
                row = self.conn.execute(insert).one()
        except sa.exc.IntegrityError:
            raise Conflict(
                "this application id is already used",
                code="risk.application.duplicate",
                details={"application_id": values.get("application_ref")},
            ) from None
        return int(row[0])

    def snapshot(self, application_id: int) -> str:
        token = self.conn.execute(
            sa.select(t.credit_applications.c.snapshot_enc).where(
                t.credit_applications.c.id == application_id
            )
        ).scalar_one()
        return self.cipher.decrypt(token, context=SNAPSHOT_CONTEXT)

    def add_decision(self, application_id: int, values: dict[str, Any]) -> None:
        limit = values.pop("limit")
        self.conn.execute(
            sa.insert(t.credit_decisions).values(
                application_id=application_id, limit_minor=to_minor(limit), **values
            )
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
        a, d, r = t.credit_applications, t.credit_decisions, t.review_outcomes
        return (
            sa.select(
                a.c.id,
                a.c.channel,
                a.c.application_ref,
                a.c.product_code,
                a.c.status,
                a.c.snapshot_hash,
                d.c.outcome,
                d.c.arm,
                d.c.score,
                d.c.grade,
                d.c.pd,
                d.c.limit_minor,
                d.c.annual_rate,
                d.c.latency_us,
                d.c.record,
                d.c.record_hash,
                d.c.decided_at,
                r.c.outcome.label("review_outcome"),
                r.c.limit_minor.label("review_limit_minor"),
                r.c.reviewer,
                r.c.reason,
                r.c.decided_at.label("reviewed_at"),
            )
            .join(d, d.c.application_id == a.c.id)
            .outerjoin(r, r.c.application_id == a.c.id)
        )

    def get(self, application_id: int, *, for_update: bool = False) -> StoredDecision:
        query = self._select().where(t.credit_applications.c.id == application_id)
        if for_update:
            query = query.with_for_update(of=t.credit_applications)
        row = self.conn.execute(query).mappings().first()
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
        a, d, r = t.credit_applications, t.credit_decisions, t.review_outcomes
        return sa.func.coalesce(r.c.limit_minor, d.c.limit_minor), a, d, r

    def _granted_to(self, where: Any) -> list[tuple[str, str, int]]:
        """``(status, borrower_type, granted minor units)`` of the applications ``where``
        selects. The filter names only the indexed reference columns, so both databases look
        them up by index (with the status in the filter SQLite scanned every approved row);
        the few rows a person has are summed here."""
        granted, a, d, r = self._granted()
        query = (
            sa.select(a.c.status, a.c.borrower_type, granted)
            .select_from(
                a.join(d, d.c.application_id == a.c.id).outerjoin(r, r.c.application_id == a.c.id)
            )
            .where(where)
        )
        return [(s, b, int(g)) for s, b, g in self.conn.execute(query)]

    def group_exposure(self, refs: Iterable[str]) -> Money:
        """Credit granted to any member of the group (enterprise, owner, spouse), as applicant,
        enterprise or spouse of an approved application: unified exposure across products."""
        members = [ref for ref in refs if ref]
        a = t.credit_applications.c
        rows = self._granted_to(
            sa.or_(
                a.applicant_ref.in_(members),
                a.enterprise_ref.in_(members),
                a.spouse_ref.in_(members),
            )
        )
        total = sum(g for status, _, g in rows if status in APPROVED)
        return Money(from_minor(total), CNY)

    def consumer_exposure(self, applicant_ref: str) -> Money:
        """Consumer credit granted to this person (the 200,000 CNY per-borrower cap)."""
        rows = self._granted_to(t.credit_applications.c.applicant_ref == applicant_ref)
        total = sum(g for status, kind, g in rows if status in APPROVED and kind == "consumer")
        return Money(from_minor(total), CNY)

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


def _key_pairs(pairs: Sequence[tuple[str, str]]) -> Any:
    """``(source_id = ? AND subject_key = ?) OR ...``: each term a primary-key lookup (a
    row-value ``IN`` made SQLite scan the whole cache)."""
    c = t.source_cache.c
    return sa.or_(*(sa.and_(c.source_id == s, c.subject_key == k) for s, k in pairs))


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
