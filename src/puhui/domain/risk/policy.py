"""The risk policy: limit, pricing and routing settings, typed and validated (R-9.2, R-9.3).

Loaded from ``src/puhui/config/risk-policy.json``. Every threshold of REFERENCE §1–§2 lives
there with its documented default — the one-year LPR (an input, dated), the 24 % comprehensive
cost ceiling, the 200,000 CNY personal internet consumer credit cap, the 10,000,000 CNY
inclusive small-micro cap per borrower group — never as a constant in code.

Validation is strict: unknown keys are refused (a ``"comment"`` text is allowed in any object),
decimals are written as strings (a JSON float is refused), ratios are range-checked, and the
routing rule base must decline on an admission decline and on a zero limit. Every problem raises
``ValidationError(code="risk.policy.invalid", details={"path", "reason"})``.
:meth:`RiskPolicy.check_grades` cross-checks the grades against a scorecard's master scale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from puhui.domain.errors import ValidationError
from puhui.domain.money import CNY, Money
from puhui.domain.risk.limits import (
    CONCENTRATION_DIMENSIONS,
    ConcentrationCap,
    LimitPolicy,
    RegulatoryCap,
)
from puhui.domain.risk.pricing import PricingPolicy
from puhui.domain.risk.routing import CONDITIONS, MANDATORY_DECLINES, RoutingPolicy, RoutingRule
from puhui.domain.risk.scorecard import content_hash

__all__ = ["DEFAULT_RISK_POLICY_PATH", "RiskPolicy", "load_risk_policy", "risk_policy_from_mapping"]

DEFAULT_RISK_POLICY_PATH: Final = (
    Path(__file__).resolve().parents[2] / "config" / "risk-policy.json"
)
_ONE: Final = Decimal(1)
_HALF: Final = Decimal("0.5")
_FIVE: Final = Decimal(5)


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    id: str
    version: str
    content_hash: str
    limits: LimitPolicy
    pricing: PricingPolicy
    routing: RoutingPolicy

    def check_grades(self, grades: Iterable[str]) -> None:
        """Refuse a policy whose grades differ from the master scale's (``grades``)."""
        expected = set(grades)
        for path, names in (
            ("limits.grade_multipliers", set(self.limits.grade_multipliers)),
            ("pricing.grade_spreads", set(self.pricing.grade_spreads)),
        ):
            if names != expected:
                raise _invalid(path, f"grades {sorted(names)} differ from {sorted(expected)}")
        for rule in self.routing.rules:
            if not rule.grades <= expected:
                raise _invalid(f"routing.rules.{rule.code}", "unknown grades")


def _invalid(path: str, reason: str) -> ValidationError:
    return ValidationError(
        f"invalid risk policy: {path}: {reason}",
        code="risk.policy.invalid",
        details={"path": path, "reason": reason},
    )


def _obj(
    data: object, path: str, required: set[str], optional: Iterable[str] = ()
) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _invalid(path, "expected an object")
    unknown = sorted(set(data) - required - set(optional) - {"comment"})
    if unknown:
        raise _invalid(path, f"unknown keys {unknown}")
    missing = sorted(required - set(data))
    if missing:
        raise _invalid(path, f"missing keys {missing}")
    if "comment" in data and not isinstance(data["comment"], str):
        raise _invalid(f"{path}.comment", "a comment is a text")
    return data


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise _invalid(path, "expected a non-empty text")
    return value


def _dec(
    value: object, path: str, low: Decimal | None = None, high: Decimal | None = None
) -> Decimal:
    if isinstance(value, float):
        raise _invalid(path, "write decimals as strings, never as JSON floats")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _invalid(path, "expected a decimal string")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise _invalid(path, "not a decimal number") from None
    if not number.is_finite():
        raise _invalid(path, "not a finite number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _invalid(path, f"must be between {low} and {high}")
    return number


def _money(value: object, path: str) -> Money:
    amount = _dec(value, path, Decimal(0))
    if amount != amount.quantize(CNY.minor_unit):
        raise _invalid(path, "an amount has at most 2 decimal places")
    return Money(amount, CNY)


def _dec_map(data: object, path: str, low: Decimal, high: Decimal) -> Mapping[str, Decimal]:
    if not isinstance(data, Mapping) or not data:
        raise _invalid(path, "expected a non-empty object")
    return MappingProxyType(
        {
            _text(k, path): _dec(v, f"{path}.{k}", low, high)
            for k, v in data.items()
            if k != "comment"
        }
    )


def _codes(value: object, path: str) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise _invalid(path, "expected a non-empty list of product codes")
    return frozenset(_text(v, f"{path}[{i}]") for i, v in enumerate(value))


# --- sections ----------------------------------------------------------------------------------


def _pricing(data: object) -> PricingPolicy:
    p = _obj(
        data,
        "pricing",
        {"lpr_1y", "floor_spread", "comprehensive_cost_ceiling", "grade_spreads"},
        {"product_spreads"},
    )
    lpr = _obj(p["lpr_1y"], "pricing.lpr_1y", {"rate", "as_of"}, {"source"})
    try:
        as_of = date.fromisoformat(_text(lpr["as_of"], "pricing.lpr_1y.as_of"))
    except ValueError:
        raise _invalid("pricing.lpr_1y.as_of", "expected an ISO date YYYY-MM-DD") from None
    spreads = p.get("product_spreads", {})
    return PricingPolicy(
        lpr_1y=_dec(lpr["rate"], "pricing.lpr_1y.rate", Decimal(0), Decimal("0.5")),
        lpr_as_of=as_of,
        floor_spread=_dec(
            p["floor_spread"], "pricing.floor_spread", Decimal("-0.5"), Decimal("0.5")
        ),
        comprehensive_cost_ceiling=_dec(
            p["comprehensive_cost_ceiling"], "pricing.comprehensive_cost_ceiling", Decimal(0), _ONE
        ),
        grade_spreads=_dec_map(p["grade_spreads"], "pricing.grade_spreads", Decimal("-0.5"), _ONE),
        product_spreads=(
            _dec_map(spreads, "pricing.product_spreads", Decimal("-0.5"), _ONE)
            if spreads
            else MappingProxyType({})
        ),
    )


def _regulatory_cap(data: object, path: str) -> RegulatoryCap:
    c = _obj(data, path, {"amount", "products", "source"})
    return RegulatoryCap(
        amount=_money(c["amount"], f"{path}.amount"),
        products=_codes(c["products"], f"{path}.products"),
        source=_text(c["source"], f"{path}.source"),
    )


def _concentration(data: object) -> tuple[Mapping[str, ConcentrationCap], Money]:
    path = "limits.concentration"
    c = _obj(data, path, {"minimum_base"}, set(CONCENTRATION_DIMENSIONS))
    caps: dict[str, ConcentrationCap] = {}
    for dimension in CONCENTRATION_DIMENSIONS:
        if dimension not in c:
            continue
        d = _obj(c[dimension], f"{path}.{dimension}", {"default"}, {"overrides"})
        overrides = d.get("overrides", {})
        caps[dimension] = ConcentrationCap(
            default_share=_dec(d["default"], f"{path}.{dimension}.default", Decimal(0), _ONE),
            overrides=(
                _dec_map(overrides, f"{path}.{dimension}.overrides", Decimal(0), _ONE)
                if overrides
                else MappingProxyType({})
            ),
        )
    return MappingProxyType(caps), _money(c["minimum_base"], f"{path}.minimum_base")


def _limits(data: object) -> LimitPolicy:
    keys = {
        "rounding_step",
        "revenue_share",
        "max_debt_service_ratio",
        "grade_multipliers",
        "guarantee_factors",
        "cap_at_requested_amount",
        "regulatory_caps",
        "concentration",
        "recheck",
    }
    lim = _obj(data, "limits", keys, {"currency"})
    if lim.get("currency", "CNY") != "CNY":
        raise _invalid("limits.currency", "limits are in CNY")
    step = _dec(lim["rounding_step"], "limits.rounding_step", Decimal("0.01"))
    if step <= 0:
        raise _invalid("limits.rounding_step", "must be positive")
    dsr = dict(
        _dec_map(lim["max_debt_service_ratio"], "limits.max_debt_service_ratio", Decimal(0), _ONE)
    )
    if "default" not in dsr:
        raise _invalid("limits.max_debt_service_ratio", "a 'default' ratio is required")
    default_dsr = dsr.pop("default")
    guarantee = _dec_map(
        lim["guarantee_factors"], "limits.guarantee_factors", Decimal(0), Decimal(5)
    )
    unknown = sorted(set(guarantee) - {"credit", "guarantee", "mortgage", "pledge"})
    if unknown:
        raise _invalid("limits.guarantee_factors", f"unknown guarantee types {unknown}")
    if not isinstance(lim["cap_at_requested_amount"], bool):
        raise _invalid("limits.cap_at_requested_amount", "expected true or false")
    regulatory = _obj(
        lim["regulatory_caps"],
        "limits.regulatory_caps",
        {"personal_internet_consumer_credit", "inclusive_small_micro_group"},
    )
    recheck = _obj(lim["recheck"], "limits.recheck", {"tolerance", "max_increase"})
    concentration, minimum_base = _concentration(lim["concentration"])
    return LimitPolicy(
        rounding_step=step,
        revenue_share=_dec_map(
            lim["revenue_share"], "limits.revenue_share", Decimal(0), Decimal(5)
        ),
        default_max_dsr=default_dsr,
        max_dsr=MappingProxyType(dsr),
        grade_multipliers=_dec_map(
            lim["grade_multipliers"], "limits.grade_multipliers", Decimal(0), Decimal(5)
        ),
        guarantee_factors=guarantee,
        cap_at_requested_amount=lim["cap_at_requested_amount"],
        consumer_credit_cap=_regulatory_cap(
            regulatory["personal_internet_consumer_credit"],
            "limits.regulatory_caps.personal_internet_consumer_credit",
        ),
        small_micro_group_cap=_regulatory_cap(
            regulatory["inclusive_small_micro_group"],
            "limits.regulatory_caps.inclusive_small_micro_group",
        ),
        concentration=concentration,
        concentration_minimum_base=minimum_base,
        recheck_tolerance=_dec(recheck["tolerance"], "limits.recheck.tolerance", Decimal(0), _ONE),
        recheck_max_increase=_dec(
            recheck["max_increase"], "limits.recheck.max_increase", Decimal(0), Decimal(10)
        ),
    )


def _routing_rule(data: object, path: str) -> RoutingRule:
    r = _obj(
        data,
        path,
        {"code", "condition", "outcome", "reason_zh", "reason_en"},
        {"grades", "count", "thresholds"},
    )
    condition, outcome = r["condition"], r["outcome"]
    if condition not in CONDITIONS:
        raise _invalid(f"{path}.condition", f"expected one of {sorted(CONDITIONS)}")
    if outcome not in ("decline", "review"):
        raise _invalid(f"{path}.outcome", "expected 'decline' or 'review'")
    needs = {"grade_in": "grades", "warn_count_at_least": "count", "amount_above": "thresholds"}
    extra = {k for k in ("grades", "count", "thresholds") if k in r}
    wanted = {needs[condition]} if condition in needs else set()
    if extra != wanted:
        raise _invalid(path, f"condition {condition} takes {sorted(wanted) or 'no parameters'}")
    grades: frozenset[str] = frozenset()
    count = 0
    thresholds: Mapping[str, Money] = MappingProxyType({})
    if condition == "grade_in":
        raw = r["grades"]
        if not isinstance(raw, list) or not raw:
            raise _invalid(f"{path}.grades", "expected a non-empty list of grades")
        grades = frozenset(_text(g, f"{path}.grades") for g in raw)
    elif condition == "warn_count_at_least":
        count = r["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _invalid(f"{path}.count", "expected a whole number >= 1")
    elif condition == "amount_above":
        raw_t = r["thresholds"]
        if not isinstance(raw_t, Mapping) or not raw_t:
            raise _invalid(f"{path}.thresholds", "expected product codes (or 'default') → amount")
        thresholds = MappingProxyType(
            {_text(k, path): _money(v, f"{path}.thresholds.{k}") for k, v in raw_t.items()}
        )
    return RoutingRule(
        code=_text(r["code"], f"{path}.code"),
        condition=condition,
        outcome=outcome,
        reason_zh=_text(r["reason_zh"], f"{path}.reason_zh"),
        reason_en=_text(r["reason_en"], f"{path}.reason_en"),
        grades=grades,
        count=count,
        thresholds=thresholds,
    )


def _routing(data: object) -> RoutingPolicy:
    r = _obj(data, "routing", {"rules"})
    raw = r["rules"]
    if not isinstance(raw, list) or not raw:
        raise _invalid("routing.rules", "expected a non-empty list")
    rules = tuple(_routing_rule(x, f"routing.rules[{i}]") for i, x in enumerate(raw))
    codes = [x.code for x in rules]
    if len(set(codes)) != len(codes):
        raise _invalid("routing.rules", "rule codes must be unique")
    for condition in MANDATORY_DECLINES:
        if not any(x.condition == condition and x.outcome == "decline" for x in rules):
            raise _invalid("routing.rules", f"a {condition} rule with outcome decline is required")
    return RoutingPolicy(rules=rules)


def risk_policy_from_mapping(document: Mapping[str, Any]) -> RiskPolicy:
    """Validate a policy document (see the module docstring)."""
    doc = _obj(document, "$", {"id", "version", "pricing", "limits", "routing"}, {"description"})
    return RiskPolicy(
        id=_text(doc["id"], "id"),
        version=_text(doc["version"], "version"),
        content_hash=content_hash(doc),
        limits=_limits(doc["limits"]),
        pricing=_pricing(doc["pricing"]),
        routing=_routing(doc["routing"]),
    )


def load_risk_policy(path: str | Path = DEFAULT_RISK_POLICY_PATH) -> RiskPolicy:
    """Read and validate the risk policy file (default: the one shipped with Puhui)."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValidationError(
            f"cannot read the risk policy {source.name}: {err}",
            code="risk.policy.unreadable",
            details={"file": source.name},
        ) from None
    return risk_policy_from_mapping(document)
