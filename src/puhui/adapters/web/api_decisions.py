"""Credit decision endpoints under /api/v1: decide an application, read a decision, the manual
review queue, and consents (R-9.2, R-9.3, R-11.2). Errors are problem+json like everywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from puhui.adapters.web.deps import CtxDep, PrincipalDep, RequestIdDep
from puhui.domain.risk.consent import Consent
from puhui.services import consents, decisions

router = APIRouter(prefix="/api/v1", tags=["decisions"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReviewIn(Strict):
    outcome: StrictStr = Field(max_length=8)
    reason: StrictStr = Field(max_length=400)
    limit: StrictStr | None = Field(default=None, max_length=24, pattern=r"^\d+(\.\d+)?$")


class ConsentIn(Strict):
    resident_id: StrictStr = Field(max_length=32)
    purpose: StrictStr = Field(max_length=32)
    text_version: StrictStr = Field(max_length=32)
    scope: list[StrictStr] | None = None
    valid_days: StrictInt = 365
    channel: StrictStr = Field(default="portal", max_length=20)
    recipients: StrictStr = Field(default="", max_length=400)


class LookupIn(Strict):
    resident_id: StrictStr = Field(max_length=32)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def decision_json(stored: Any, *, full: bool = True) -> dict[str, Any]:
    """The decision as the API shows it; ``full`` adds the complete explanation."""
    out: dict[str, Any] = {
        "application_id": stored.application_id,
        "application_ref": stored.application_ref,
        "channel": stored.channel,
        "product_code": stored.product_code,
        "status": stored.status,
        "outcome": stored.outcome,
        "arm": stored.arm,
        "score": stored.score,
        "grade": stored.grade,
        "pd": stored.pd,
        "limit": _money(stored.limit),
        "annual_rate": stored.annual_rate,
        "reasons": [{"code": code, "zh": zh, "en": en} for code, zh, en in stored.record["route"]],
        "decided_at": stored.decided_at.isoformat(),
        "latency_ms": round(stored.latency_us / 1000, 3),
        "record_hash": stored.record_hash,
    }
    if stored.review is not None:
        review = stored.review
        out["review"] = {
            "outcome": review["outcome"],
            "limit": _money(review["limit"]),
            "reviewer": review["reviewer"],
            "reason": review["reason"],
            "decided_at": review["decided_at"].isoformat(),
        }
    if full:
        out["explanation"] = stored.record
    return out


def consent_json(consent: Consent) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "purpose": consent.purpose.value,
        "scope": sorted(consent.scope),
        "granted_at": consent.granted_at.isoformat(),
        "expires_at": consent.expires_at.isoformat(),
        "revoked_at": consent.revoked_at.isoformat() if consent.revoked_at else None,
        "text_version": consent.text_version,
    }


@router.post("/decisions", status_code=201)
def decide(
    body: dict[str, Any], ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    """Decide a credit application (the JSON fields of docs/credit-decisions.md)."""
    stored = decisions.decide_application(ctx, principal, body, request_id=rid)
    return decision_json(stored)


@router.get("/decisions/{application_id}")
def read_decision(application_id: int, ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    return decision_json(decisions.get_decision(ctx, principal, application_id))


@router.get("/review-queue")
def review_queue(
    ctx: CtxDep, principal: PrincipalDep, limit: int = Query(default=100, ge=1, le=500)
) -> dict[str, Any]:
    items = decisions.review_queue(ctx, principal, limit=limit)
    return {"items": [decision_json(s, full=False) for s in items]}


@router.post("/review-queue/{application_id}/decision")
def review(
    application_id: int, body: ReviewIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    stored = decisions.review_application(
        ctx, principal, application_id, body.outcome, body.reason, limit=body.limit, request_id=rid
    )
    return decision_json(stored, full=False)


@router.post("/consents", status_code=201)
def grant(
    body: ConsentIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    return consent_json(consents.grant_consent(ctx, principal, data, request_id=rid))


@router.post("/consents/{consent_id}/revocation")
def revoke(
    consent_id: str, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return consent_json(consents.revoke_consent(ctx, principal, consent_id, request_id=rid))


@router.post("/consents/lookup")
def lookup(body: LookupIn, ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    """A customer's consents (the ID number goes in the body, never in a URL)."""
    found = consents.consents_of(ctx, principal, body.resident_id)
    return {"items": [consent_json(c) for c in found]}
