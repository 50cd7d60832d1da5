"""Decision routing (决策路由): approve, decline or send to manual review (R-9.2c).

A routing rule base (``risk-policy.json`` → ``routing.rules``) lists rules, each a condition,
an outcome (``decline`` or ``review``) and a reason in Chinese and English:

=========================  ==================================================================
condition                  fires when
=========================  ==================================================================
``admission_decline``      any admission rule that fired has outcome ``decline``
``admission_review``       any admission rule that fired has outcome ``review``
``limit_zero``             the computed limit is 0
``grade_in``               the grade is one of ``grades``
``warn_count_at_least``    at least ``count`` admission rules fired with outcome ``warn``
``amount_above``           the limit is above ``thresholds[product]`` (or ``thresholds.default``)
``thin_file``              no credit record and no tax or platform data
``variables_need_review``  a variable with missing policy ``review`` could not be computed
=========================  ==================================================================

Any decline rule that fires → **decline**; else any review rule → **review**; else
**approve**. ``admission_decline`` and ``limit_zero`` must be decline rules (the policy loader
refuses a rule base without them), so an admission decline always declines. The reasons list
every rule that fired for the chosen outcome; for admission rules the reason is the rule's own
(code = ``rule_id``). Human review backs up automated approval with defined triggers (Internet
Loan Measures Arts. 21-23, REFERENCE §2).

The admission result comes from the rule set (:mod:`puhui.domain.risk.rule_set`) as objects with
``rule_id``, ``category``, ``outcome``, ``reason_zh``, ``reason_en`` (and optionally ``fired``:
rules evaluated but not fired are ignored); any object with those attributes will do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, NamedTuple, Protocol

from puhui.domain.money import Money

__all__ = [
    "CONDITIONS",
    "FiredRule",
    "Route",
    "RouteReason",
    "RoutingPolicy",
    "RoutingRule",
    "is_thin_file",
    "route",
]

CONDITIONS: Final = frozenset(
    {
        "admission_decline",
        "admission_review",
        "limit_zero",
        "grade_in",
        "warn_count_at_least",
        "amount_above",
        "thin_file",
        "variables_need_review",
    }
)
MANDATORY_DECLINES: Final = ("admission_decline", "limit_zero")
APPROVED: Final = ("ROUTE_APPROVE", "自动审批通过", "Approved automatically")


class FiredRule(Protocol):
    """An admission rule result (builder A's ``RuleResult`` has these attributes)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def reason_zh(self) -> str: ...
    @property
    def reason_en(self) -> str: ...


class RouteReason(NamedTuple):
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class RoutingRule:
    code: str
    condition: str
    outcome: Literal["decline", "review"]
    reason_zh: str
    reason_en: str
    grades: frozenset[str] = frozenset()
    count: int = 0
    thresholds: Mapping[str, Money] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    rules: tuple[RoutingRule, ...]


@dataclass(frozen=True, slots=True)
class Route:
    outcome: Literal["approve", "decline", "review"]
    reasons: tuple[RouteReason, ...]


def is_thin_file(variables: Mapping[str, object]) -> bool:
    """No credit record and no tax or platform data (R-G2/G3 alternative data absent)."""
    return (
        variables.get("has_credit_record") is not True
        and variables.get("tax_grade") is None
        and variables.get("tax_revenue_12m") is None
        and variables.get("platform_gmv_12m") is None
    )


def route(
    policy: RoutingPolicy,
    *,
    admission: Sequence[FiredRule],
    grade: str,
    limit_amount: Money,
    product_code: str,
    variables: Mapping[str, object],
    variables_need_review: bool = False,
) -> Route:
    """Apply the routing rule base to one application's results."""
    declines: list[FiredRule] = []
    reviews: list[FiredRule] = []
    warns = 0
    for result in admission:
        if getattr(result, "fired", True) is False:
            continue
        outcome = result.outcome
        if outcome == "decline":
            declines.append(result)
        elif outcome == "review":
            reviews.append(result)
        elif outcome == "warn":
            warns += 1
    found: dict[str, list[RouteReason]] = {"decline": [], "review": []}
    for rule in policy.rules:
        own = RouteReason(rule.code, rule.reason_zh, rule.reason_en)
        condition = rule.condition
        if condition == "admission_decline" or condition == "admission_review":
            hits = declines if condition == "admission_decline" else reviews
            found[rule.outcome].extend(
                RouteReason(r.rule_id, r.reason_zh, r.reason_en) for r in hits
            )
            continue
        if condition == "limit_zero":
            fires = not limit_amount.is_positive()
        elif condition == "grade_in":
            fires = grade in rule.grades
        elif condition == "warn_count_at_least":
            fires = warns >= rule.count
        elif condition == "amount_above":
            threshold = rule.thresholds.get(product_code, rule.thresholds.get("default"))
            fires = threshold is not None and limit_amount > threshold
        elif condition == "thin_file":
            fires = is_thin_file(variables)
        else:  # variables_need_review
            fires = variables_need_review
        if fires:
            found[rule.outcome].append(own)
    if found["decline"]:
        return Route("decline", tuple(found["decline"]))
    if found["review"]:
        return Route("review", tuple(found["review"]))
    return Route("approve", (RouteReason(*APPROVED),))
