"""The credit decision (R-9.2, R-9.3, R-6.5): variables → admission rules → scorecard → price →
limit → route, in one pure function, with its complete explanation.

``decide`` takes what collection gave (one ``SourceOutcome`` per source) and the exposure
snapshots the caller read, and returns a :class:`Decision`: every rule evaluated and whether it
fired, the score with its points and reason codes, the price with its floor and ceiling, the
limit with its workings and binding constraint, the route with its reasons, the data used and
missing, and the versions and hashes of every artifact. ``Decision.record()`` is the immutable
decision record (canonical JSON) and ``record_hash`` its SHA-256.

A source that failed technically (time-out, outage, malformed payload) applies its documented
fallback (``sources.SourceFallback``): ``decline_safe`` declines, ``review`` sends an approval to
manual review; either way the record names the missing sources. A source the customer has not
authorised is simply missing data: the sources a decision cannot go without are checked before
(``REQUIRED_PURPOSES``), by the caller, so that nothing is saved when consent is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

from puhui.domain.money import Money
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.consent import ConsentPurpose
from puhui.domain.risk.limits import LimitRequest, LimitResult, PortfolioExposure, calculate_limit
from puhui.domain.risk.policy import RiskPolicy
from puhui.domain.risk.pricing import PriceResult, ProductTerms, price
from puhui.domain.risk.routing import APPROVED, Route, RouteReason, route
from puhui.domain.risk.rule_set import RuleSet, RuleSetResult, evaluate
from puhui.domain.risk.scorecard import Scorecard, ScoreResult
from puhui.domain.risk.sources import (
    SOURCE_REGISTRY,
    SourceFallback,
    SourceOutcome,
    SourceStatus,
    payloads_of,
)
from puhui.domain.risk.variables import FRAUD_PAYLOAD, VariableCatalogue, VariableSet

__all__ = [
    "REQUIRED_PURPOSES",
    "Decision",
    "Strategy",
    "artifact_ref",
    "decide",
    "decide_on_variables",
    "variables_from_record",
]

# Without these a decision cannot be made at all: the credit report (征信) and the identity
# check. The caller refuses the application (consent.missing) before anything is saved.
REQUIRED_PURPOSES: Final = (ConsentPurpose.CREDIT_REPORT, ConsentPurpose.IDENTITY_VERIFICATION)
APPROVED_REASON: Final = APPROVED[0]  # the routing reason of an automatic approval
TECHNICAL_FAILURES: Final = (
    SourceStatus.TIMEOUT,
    SourceStatus.UNAVAILABLE,
    SourceStatus.INVALID_PAYLOAD,
)


def artifact_ref(kind_id: str, version: str, content_hash: str) -> str:
    """``id@version#hash12``: how a decision names the artifact it used."""
    return f"{kind_id}@{version}#{content_hash[:12]}"


@dataclass(frozen=True)
class Strategy:
    """The artifacts one arm decides with (champion, or a challenger on a share of traffic)."""

    arm: Literal["champion", "challenger"]
    rule_set: RuleSet
    scorecard: Scorecard
    policy: RiskPolicy
    catalogue: VariableCatalogue

    @property
    def versions(self) -> dict[str, str]:
        card = self.scorecard
        return {
            "rule_set": artifact_ref(
                self.rule_set.id, self.rule_set.version, self.rule_set.content_hash
            ),
            "scorecard": artifact_ref(card.id, card.version, card.content_hash),
            "variables": artifact_ref(
                "catalogue", self.catalogue.version, self.catalogue.content_hash
            ),
            "policy": artifact_ref(self.policy.id, self.policy.version, self.policy.content_hash),
        }


@dataclass(frozen=True)
class Decision:
    """Everything one decision computed; ``record()`` is what is stored, immutably."""

    application: CreditApplication
    arm: str
    versions: Mapping[str, str]
    as_of: date
    sources: Mapping[str, SourceOutcome]
    variables: VariableSet
    rules: RuleSetResult
    score: ScoreResult
    price: PriceResult
    limit: LimitResult
    route: Route
    group_exposure: Money
    consumer_exposure: Money
    fraud: Mapping[str, Any] | None = None  # the fraud assessment (domain.fraud), when made

    @property
    def outcome(self) -> str:
        return self.route.outcome

    @property
    def granted_limit(self) -> Money:
        """The limit offered: zero unless approved (a review decides its own)."""
        return (
            self.limit.amount
            if self.outcome != "decline"
            else Money.zero(self.limit.amount.currency)
        )

    def record(self) -> dict[str, Any]:
        """The decision record: inputs hash, versions, every rule, score, limit, price, route."""
        s, p, lim = self.score, self.price, self.limit
        return {
            "application": {
                "application_id": self.application.application_id,
                "product_code": self.application.product_code,
                "snapshot_hash": self.application.snapshot_hash(),
            },
            "arm": self.arm,
            "as_of": self.as_of.isoformat(),
            "versions": dict(self.versions),
            "outcome": self.outcome,
            "route": [list(r) for r in self.route.reasons],
            "sources": {
                sid: {
                    "status": o.status.value,
                    "fetched_at": o.fetched_at.isoformat() if o.fetched_at else None,
                    "error": o.error_code,
                    "sandbox": bool(o.payload and o.payload.get("sandbox")),
                }
                for sid, o in self.sources.items()
            },
            "variables": self.variables.to_mapping(),
            "rules": [
                {
                    "rule_id": r.rule_id,
                    "category": r.category,
                    "outcome": r.outcome,
                    "fired": r.fired,
                    "reason_zh": r.reason_zh,
                    "reason_en": r.reason_en,
                }
                for r in self.rules.rules
            ],
            "score": {
                "score": s.score,
                "grade": s.grade,
                "pd": str(s.pd),
                "grade_pd": str(s.grade_pd),
                "points": [
                    {
                        "variable": c.variable,
                        "bin": c.bin_label,
                        "points": c.points,
                        "max_points": c.max_points,
                        "missing": c.missing,
                    }
                    for c in s.points
                ],
                "reasons": [
                    {"code": r.code, "zh": r.zh, "en": r.en, "points_lost": r.points_lost}
                    for r in s.reasons
                ],
            },
            "price": {
                "annual_rate": str(p.annual_rate),
                "lpr": str(p.lpr),
                "spread": str(p.spread),
                "floor": str(p.floor),
                "ceiling": str(p.ceiling),
                "clamped_to": p.clamped_to,
            },
            "limit": {
                "amount": str(lim.amount.amount),
                "binding_constraint": lim.binding_constraint,
                "group_exposure": str(self.group_exposure.amount),
                "consumer_exposure": str(self.consumer_exposure.amount),
                "workings": [
                    {"step": w.name, "value": str(w.value), "note": w.note} for w in lim.workings
                ],
            },
            **({} if self.fraud is None else {"fraud": dict(self.fraud)}),
        }

    def record_json(self) -> str:
        return canonical_json(self.record())

    def record_hash(self) -> str:
        return hashlib.sha256(self.record_json().encode()).hexdigest()


def canonical_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fallback(outcomes: Mapping[str, SourceOutcome]) -> tuple[SourceFallback | None, list[str]]:
    failed = [sid for sid, o in outcomes.items() if o.status in TECHNICAL_FAILURES]
    fallbacks = {SOURCE_REGISTRY[sid].fallback for sid in failed}
    if SourceFallback.DECLINE_SAFE in fallbacks:
        return SourceFallback.DECLINE_SAFE, failed
    return (SourceFallback.REVIEW if failed else None), failed


def _with_fallback(
    routed: Route, outcomes: Mapping[str, SourceOutcome], rules: RuleSetResult
) -> Route:
    """Apply the fallback of failed sources. ``review``: an application that only the missing
    data would turn down (a score or limit computed without it) goes to a person; a decline by
    an admission rule on the data that did arrive stands."""
    fallback, failed = _fallback(outcomes)
    if fallback is None:
        return routed
    names = ", ".join(failed)
    reasons = tuple(r for r in routed.reasons if r.code != APPROVED_REASON)
    if fallback is SourceFallback.DECLINE_SAFE:
        reason = RouteReason(
            "source_unavailable_decline",
            f"必要数据源不可用（{names}），为稳妥起见拒绝，客户可稍后重新申请",
            f"required data unavailable ({names}); declined to be safe, the applicant may re-apply",
        )
        return Route("decline", (*reasons, reason))
    if any(r.outcome == "decline" for r in rules.fired):
        reason = RouteReason(
            "source_unavailable",
            f"数据源不可用（{names}）",
            f"data source unavailable ({names})",
        )
        return Route("decline", (*reasons, reason))
    reason = RouteReason(
        "source_unavailable_review",
        f"数据源不可用（{names}），转人工审核",
        f"data source unavailable ({names}); routed to manual review",
    )
    return Route("review", (*reasons, reason))


def decide(
    strategy: Strategy,
    product: ProductTerms,
    application: CreditApplication,
    outcomes: Mapping[str, SourceOutcome],
    *,
    as_of: date,
    group_exposure: Money,
    consumer_exposure: Money,
    portfolio: PortfolioExposure,
    lpr: Decimal | None = None,
    fraud: Mapping[str, Any] | None = None,
) -> Decision:
    """Decide one application; pure, so the same inputs give the same record (back-testing).

    ``fraud`` is the application's fraud assessment (``FraudAssessment.to_dict()``): its level
    is the ``fraud_level`` variable the admission rules read, and it is kept in the record."""
    payloads = payloads_of(outcomes)
    if fraud is not None:
        payloads = {**payloads, FRAUD_PAYLOAD: fraud}
    variables = strategy.catalogue.compute(application, payloads, as_of)
    decision = decide_on_variables(
        strategy,
        product,
        application,
        variables,
        outcomes,
        as_of=as_of,
        group_exposure=group_exposure,
        consumer_exposure=consumer_exposure,
        portfolio=portfolio,
        lpr=lpr,
    )
    return decision if fraud is None else replace(decision, fraud=fraud)


def decide_on_variables(
    strategy: Strategy,
    product: ProductTerms,
    application: CreditApplication,
    variables: VariableSet,
    outcomes: Mapping[str, SourceOutcome],
    *,
    as_of: date,
    group_exposure: Money,
    consumer_exposure: Money,
    portfolio: PortfolioExposure,
    lpr: Decimal | None = None,
) -> Decision:
    """The decision from computed variables: what simulation re-runs on stored decisions."""
    values = variables.values
    rules = evaluate(strategy.rule_set, values)
    score = strategy.scorecard.score(values)
    policy = strategy.policy
    priced = price(policy.pricing, score.grade, product, lpr=lpr)
    request = LimitRequest.from_variables(
        values,
        grade=score.grade,
        annual_rate=priced.annual_rate,
        declared_annual_revenue=application.declared_annual_revenue,
        group_exposure=group_exposure,
        consumer_exposure=consumer_exposure,
    )
    limit = calculate_limit(policy.limits, request, product, portfolio)
    routed = route(
        policy.routing,
        admission=rules.fired,
        grade=score.grade,
        limit_amount=limit.amount,
        product_code=application.product_code,
        variables=values,
        variables_need_review=variables.needs_review,
    )
    return Decision(
        application=application,
        arm=strategy.arm,
        versions=strategy.versions,
        as_of=as_of,
        sources=outcomes,
        variables=variables,
        rules=rules,
        score=score,
        price=priced,
        limit=limit,
        route=_with_fallback(routed, outcomes, rules),
        consumer_exposure=consumer_exposure,
        group_exposure=group_exposure,
    )


def variables_from_record(catalogue: VariableCatalogue, stored: Mapping[str, Any]) -> VariableSet:
    """The ``VariableSet`` a decision record stored (``record()["variables"]``), typed again by
    the catalogue's definitions: what a simulation feeds a candidate strategy."""
    values: dict[str, Any] = {}
    stored_values = stored["values"]
    for definition in catalogue.definitions:
        raw = stored_values.get(definition.name)
        if raw is None:
            values[definition.name] = None
        elif definition.type.value == "decimal":
            values[definition.name] = Decimal(str(raw))
        else:
            values[definition.name] = raw
    return VariableSet(values, tuple(stored["missing"]), bool(stored["needs_review"]))
