"""Periodic limit re-check (R-9.3: limits are reviewed, not granted forever): for every approved
application, collect the applicant's data again (consent-gated and cache-first, exactly as a
decision does), decide afresh with the champion strategy without storing a new decision, and
propose *increase*, *decrease*, *cancel* or *keep* (``limits.propose_recheck``).

Nothing is changed: the proposals are a work list for the risk team (and the console), and the
run is audited with its counts. A customer who has revoked the credit-report consent cannot be
re-checked; the proposal says so (``RECHECK_NO_CONSENT``) and keeps the line as it is.
Drawn amounts are not linked to applications yet, so ``utilised`` is taken as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from puhui.domain.identity import Permission, Principal
from puhui.domain.money import Money
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.decision import decide
from puhui.domain.risk.limits import propose_recheck
from puhui.domain.risk.sources import SOURCE_REGISTRY
from puhui.services.audit import record
from puhui.services.datasources import collect, subject_key
from puhui.services.decisions import (
    _Cache,
    _Consents,
    _refs,
    _setup,
    missing_required_consents,
)
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext


@dataclass(frozen=True)
class RecheckProposal:
    application_id: int
    application_ref: str
    product_code: str
    action: str  # increase | decrease | cancel | keep
    current: Decimal
    proposed: Decimal
    reason_code: str
    reason_zh: str
    reason_en: str
    fresh_outcome: str | None  # the fresh decision's route, None when not re-checked


def recheck_limits(ctx: ServiceContext, actor: Principal, *, limit: int = 10_000) -> list[Any]:
    """Propose an action for every approved application's limit (nothing is changed)."""
    actor.require(Permission.RULES_MANAGE)
    setup = _setup(ctx)
    now = ctx.clock()
    with ctx.uow() as uow:
        as_of = business_date(uow, clock=now)
        approved = uow.risk.by_status(status="approved", limit=limit)
        snapshots = {s.application_id: uow.risk.snapshot(s.application_id) for s in approved}
    proposals: list[RecheckProposal] = []
    for stored in approved:
        application = CreditApplication.from_mapping(json.loads(snapshots[stored.application_id]))
        granted = stored.review["limit"] if stored.review else stored.limit
        current = Money(granted)
        keys = [(sid, subject_key(spec, application)) for sid, spec in SOURCE_REGISTRY.items()]
        with ctx.uow() as uow:
            consents = uow.risk.valid_consents(application.applicant_resident_id, now)
            cache = _Cache(uow.risk.cached(keys))
        if missing_required_consents(application, consents, now):
            proposals.append(
                RecheckProposal(
                    stored.application_id,
                    stored.application_ref,
                    stored.product_code,
                    "keep",
                    current.amount,
                    current.amount,
                    "RECHECK_NO_CONSENT",
                    "客户已撤回必要授权，无法复核额度，维持现状并人工跟进",
                    "a required consent was revoked: cannot re-check; kept, follow up",
                    None,
                )
            )
            continue
        outcomes = collect(
            application,
            providers=setup.providers,
            consents=_Consents(consents),
            cache=cache,
            now=now,
        )
        with ctx.uow() as uow:
            uow.risk.put_cached_many(cache.new)
            refs = _refs(uow.risk, application)
            others = uow.risk.group_exposure(refs.values()) - current
            fresh = decide(
                setup.champion,
                ctx.products[application.product_code],
                application,
                outcomes,
                as_of=as_of,
                group_exposure=max(others, Money.zero()),
                consumer_exposure=Money.zero(),
                portfolio=setup.portfolio(uow, now),
                lpr=setup.lpr,
            )
            uow.commit()
        proposal = propose_recheck(
            setup.champion.policy.limits,
            current_limit=current,
            fresh_limit=fresh.limit.amount,
            declined=fresh.outcome == "decline",
        )
        proposals.append(
            RecheckProposal(
                stored.application_id,
                stored.application_ref,
                stored.product_code,
                proposal.action,
                proposal.current.amount,
                proposal.proposed.amount,
                proposal.reason_code,
                proposal.reason_zh,
                proposal.reason_en,
                fresh.outcome,
            )
        )
    with ctx.uow() as uow:
        counts: dict[str, int] = {}
        for p in proposals:
            counts[p.action] = counts.get(p.action, 0) + 1
        record(
            ctx,
            uow,
            actor=actor,
            action="limits.recheck",
            target=f"business_date:{as_of}",
            details={"applications": len(proposals), "proposals": counts},
        )
        uow.commit()
    return proposals
