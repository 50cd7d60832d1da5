"""Consents (授权) as use cases (R-11.2, R-11.3c): record one the customer gave through a channel,
list a customer's, revoke one. The consent centre of the portal builds on these.

A consent names the customer by the blind index of the resident id only, records the version of
the authorization text the customer read, and carries an evidence hash (SHA-256 of its canonical
content) for the evidence log. After revocation no collection for the purpose happens: the
decision engine reads only consents valid at the instant it collects.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.evidence.log import EventType
from puhui.domain.identifiers import ResidentIdNumber
from puhui.domain.identity import Permission, Principal
from puhui.domain.risk.consent import Consent, ConsentPurpose
from puhui.domain.risk.sources import SOURCE_REGISTRY
from puhui.services.audit import audited
from puhui.services.evidence import digest_of, record_event
from puhui.services.ports import ServiceContext, UnitOfWork

KNOWN = {"resident_id", "purpose", "scope", "valid_days", "text_version", "channel", "recipients"}
MAX_VALID_DAYS = 3 * 366


def sources_for(purpose: ConsentPurpose) -> frozenset[str]:
    """The registered sources that need ``purpose``: a consent's scope by default."""
    return frozenset(s.source_id for s in SOURCE_REGISTRY.values() if s.consent_purpose == purpose)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, code="consent.invalid", details={"field": field})


def grant_consent(
    ctx: ServiceContext,
    actor: Principal,
    data: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Consent:
    """Record a consent given through ``channel``: ``resident_id``, ``purpose``, ``text_version``
    and optional ``scope`` (source ids), ``valid_days`` (default 365), ``recipients``."""
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}",
            code="consent.unknown_field",
            details={"fields": unknown},
        )
    resident_id = ResidentIdNumber(str(data.get("resident_id", ""))).value
    try:
        purpose = ConsentPurpose(str(data.get("purpose")))
    except ValueError:
        raise _invalid(
            "purpose", f"purpose is one of {[p.value for p in ConsentPurpose]}"
        ) from None
    allowed = sources_for(purpose)
    scope_in = data.get("scope")
    scope = (
        allowed if scope_in is None else frozenset(scope_in) if isinstance(scope_in, list) else None
    )
    if purpose is not ConsentPurpose.MARKETING and (not scope or not scope <= allowed):
        raise _invalid("scope", f"scope lists sources of this purpose: {sorted(allowed)}")
    if purpose is ConsentPurpose.MARKETING:
        scope = frozenset({"marketing"})
    days = data.get("valid_days", 365)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALID_DAYS:
        raise _invalid("valid_days", f"valid_days is 1-{MAX_VALID_DAYS}")
    channel = str(data.get("channel", "portal"))[:20]
    recipients = str(data.get("recipients", ""))[:400]

    def body(uow: UnitOfWork) -> tuple[Consent, str, dict[str, Any]]:
        actor.require(Permission.APPLICATIONS_CREATE)
        now = ctx.clock()
        assert scope is not None
        consent = Consent(
            consent_id=new_consent_id(),
            customer_ref=uow.risk.person_ref(resident_id),
            purpose=purpose,
            scope=scope,
            granted_at=now,
            expires_at=now + timedelta(days=days),
            text_version=str(data.get("text_version", "")),
        )
        evidence = evidence_hash(consent, channel, recipients)
        uow.risk.add_consent(consent, channel=channel, recipients=recipients, evidence=evidence)
        record_event(
            uow,
            EventType.CONSENT_GIVEN,
            occurred_at=now,
            subject_ref=consent.customer_ref,
            object_ref=f"consent:{consent.consent_id}",
            payload_digest=evidence,
            metadata={"purpose": purpose.value, "text_version": consent.text_version},
        )
        return (
            consent,
            f"consent:{consent.consent_id}",
            {"purpose": purpose.value, "scope": sorted(scope), "evidence_hash": evidence},
        )

    return audited(ctx, actor=actor, action="consents.grant", request_id=request_id, body=body)


def new_consent_id() -> str:
    """``cs-`` + 16 random hex characters, drawn again if they hold a run of 11 or more decimal
    digits: the id goes into the evidence log, which refuses anything that could be a mobile
    or ID number (one draw in about 250 would otherwise be refused)."""
    while True:
        token = secrets.token_hex(8)
        if not re.search(r"[0-9]{11,}", token):
            return "cs-" + token


def evidence_hash(consent: Consent, channel: str, recipients: str) -> str:
    content = {
        "consent_id": consent.consent_id,
        "customer_ref": consent.customer_ref,
        "purpose": consent.purpose.value,
        "scope": sorted(consent.scope),
        "granted_at": consent.granted_at.isoformat(),
        "expires_at": consent.expires_at.isoformat(),
        "text_version": consent.text_version,
        "channel": channel,
        "recipients": recipients,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def revoke_consent(
    ctx: ServiceContext, actor: Principal, consent_id: str, *, request_id: str | None = None
) -> Consent:
    """Revoke in one step; collection for the purpose stops at once (R-11.3c)."""

    def body(uow: UnitOfWork) -> tuple[Consent, str, dict[str, Any]]:
        actor.require(Permission.APPLICATIONS_CREATE)
        consent: Consent = uow.risk.get_consent(consent_id, for_update=True)
        if consent.revoked_at is not None:
            raise Conflict("the consent is already revoked", code="consent.already_revoked")
        now = ctx.clock()
        uow.risk.revoke_consent(consent_id, now)
        revoked = consent.revoke(now)
        record_event(
            uow,
            EventType.CONSENT_REVOKED,
            occurred_at=now,
            subject_ref=consent.customer_ref,
            object_ref=f"consent:{consent_id}",
            payload_digest=digest_of({"consent_id": consent_id, "revoked_at": now.isoformat()}),
            metadata={"purpose": consent.purpose.value},
        )
        return revoked, f"consent:{consent_id}", {"purpose": consent.purpose.value}

    return audited(ctx, actor=actor, action="consents.revoke", request_id=request_id, body=body)


def consents_of(ctx: ServiceContext, actor: Principal, resident_id: str) -> list[Consent]:
    actor.require(Permission.APPLICATIONS_CREATE)
    parsed = ResidentIdNumber(resident_id).value
    with ctx.uow() as uow:
        found: list[Consent] = uow.risk.consents_of(uow.risk.person_ref(parsed))
        return found
