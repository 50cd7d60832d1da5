"""The fraud assessment of one application and its disposal (R-9.6(a,b), R-M6.4.5).

The signals — identity checks, list hits, velocity counts, device flags, relationship-graph
neighbourhood features — are named variables (:data:`FRAUD_VARIABLES`) evaluated by the
**same rule engine as the admission rules** (``domain.risk.rule_set``): the shipped
``config/rules/fraud-baseline.json`` is a JDM rule table of category ``fraud`` whose outcomes
mean a level: ``decline`` → high, ``review`` → medium, ``warn`` → low. The level is the highest
fired; a white-listed applicant's medium and low signals other than identity and list hits are
capped at low.

The disposal of a level is configured (``config/fraud-policy.json``): high → **block** in real
time; medium → step-up (one-time code, liveness, manual review); low → step-up (one-time code).
The level feeds the admission rule set's ``fraud_level`` variable, whose FRD rules decline,
route to review or warn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from puhui.domain.errors import ValidationError
from puhui.domain.risk.rule_set import RuleResult, RuleSet, evaluate

__all__ = [
    "FRAUD_VARIABLES",
    "Disposal",
    "DisposalPolicy",
    "FraudAssessment",
    "FraudLevel",
    "StepUp",
    "assess",
]


class FraudLevel(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Disposal(StrEnum):
    PASS = "pass"  # noqa: S105 - a disposal, not a secret
    STEP_UP = "step_up"
    BLOCK = "block"


class StepUp(StrEnum):
    OTP = "otp"  # an additional one-time code to the verified phone
    LIVENESS = "liveness"  # face and liveness check through the identity provider
    MANUAL_REVIEW = "manual_review"


_RANK: Final = {FraudLevel.NONE: 0, FraudLevel.LOW: 1, FraudLevel.MEDIUM: 2, FraudLevel.HIGH: 3}
_LEVEL_OF_OUTCOME: Final = {
    "decline": FraudLevel.HIGH,
    "review": FraudLevel.MEDIUM,
    "warn": FraudLevel.LOW,
}
# signals a white list does not soften: who the person is, and what the lists say
_HARD_PREFIXES: Final = ("AF-ID", "AF-LIST")

FRAUD_VARIABLES: Final[Mapping[str, type]] = {
    "id_name_mismatch": bool,
    "phone_owner_mismatch": bool,
    "phone_in_service_months": int,
    "black_list_hits": int,
    "grey_list_hits": int,
    "white_listed": bool,
    "device_emulator": bool,
    "device_rooted": bool,
    "apps_per_id_24h": int,
    "apps_per_phone_1h": int,
    "apps_per_device_24h": int,
    "apps_per_device_30d": int,
    "apps_per_ip_1h": int,
    "apps_per_ip_24h": int,
    "apps_per_card_30d": int,
    "apps_per_address_30d": int,
    "graph_applicants_2hop": int,
    "graph_declined_2hop": int,
    "graph_overdue_2hop": int,
    "graph_confirmed_fraud_2hop": int,
    "graph_shared_device_applicants": int,
}
"""The fraud variables and their types; a missing one is None (a rule on it does not fire)."""


@dataclass(frozen=True, slots=True)
class DisposalPolicy:
    """What each level leads to (``config/fraud-policy.json``)."""

    actions: Mapping[FraudLevel, tuple[Disposal, tuple[StepUp, ...]]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DisposalPolicy:
        try:
            actions = {
                FraudLevel(level): (
                    Disposal(spec["action"]),
                    tuple(StepUp(s) for s in spec.get("steps", ())),
                )
                for level, spec in data["levels"].items()
            }
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationError(
                f"bad fraud policy: {error}", code="fraud.policy.invalid"
            ) from None
        if set(actions) != set(FraudLevel):
            raise ValidationError(
                "the fraud policy names every level: none, low, medium, high",
                code="fraud.policy.invalid",
            )
        if actions[FraudLevel.HIGH][0] is not Disposal.BLOCK:
            raise ValidationError(
                "a high fraud level must block (R-9.6(b))", code="fraud.policy.invalid"
            )
        return cls(actions)


@dataclass(frozen=True, slots=True)
class FraudAssessment:
    level: FraudLevel
    disposal: Disposal
    steps: tuple[StepUp, ...]
    fired: tuple[RuleResult, ...]  # the fraud rules that fired
    variables: Mapping[str, object]
    rule_set: str  # id@version#hash12

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "disposal": self.disposal.value,
            "steps": [s.value for s in self.steps],
            "rules": [
                {
                    "rule_id": r.rule_id,
                    "outcome": r.outcome,
                    "reason_zh": r.reason_zh,
                    "reason_en": r.reason_en,
                }
                for r in self.fired
            ],
            "variables": {k: v for k, v in sorted(self.variables.items())},
            "rule_set": self.rule_set,
        }


def _checked(variables: Mapping[str, object]) -> dict[str, object]:
    unknown = sorted(set(variables) - set(FRAUD_VARIABLES))
    if unknown:
        raise ValidationError(
            f"unknown fraud variable(s): {', '.join(unknown)}",
            code="fraud.variables.unknown",
            details={"variables": unknown},
        )
    out: dict[str, object] = {}
    for name, kind in FRAUD_VARIABLES.items():
        value = variables.get(name)
        if value is not None and (type(value) is not kind):
            raise ValidationError(
                f"fraud variable {name} must be {kind.__name__}",
                code="fraud.variables.invalid",
                details={"variable": name},
            )
        out[name] = value
    return out


def assess(
    rule_set: RuleSet, policy: DisposalPolicy, variables: Mapping[str, object]
) -> FraudAssessment:
    """Evaluate the fraud rules on the signals; the level and what it leads to."""
    values = _checked(variables)
    result = evaluate(rule_set, values)
    level = FraudLevel.NONE
    for rule in result.fired:
        found = _LEVEL_OF_OUTCOME[rule.outcome]
        if values.get("white_listed") and not rule.rule_id.startswith(_HARD_PREFIXES):
            found = min(found, FraudLevel.LOW, key=_RANK.__getitem__)
        level = max(level, found, key=_RANK.__getitem__)
    disposal, steps = policy.actions[level]
    return FraudAssessment(
        level=level,
        disposal=disposal,
        steps=steps,
        fired=result.fired,
        variables=values,
        rule_set=f"{rule_set.id}@{rule_set.version}#{rule_set.content_hash[:12]}",
    )
