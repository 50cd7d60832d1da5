"""The risk policy file: typed, strict, with REFERENCE §1–§2 defaults (R-9.2, R-9.3)."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from puhui.domain.errors import ValidationError
from puhui.domain.money import Money
from puhui.domain.risk.policy import (
    DEFAULT_RISK_POLICY_PATH,
    load_risk_policy,
    risk_policy_from_mapping,
)
from puhui.domain.risk.scorecard import load_scorecard

DOC: dict[str, Any] = json.loads(DEFAULT_RISK_POLICY_PATH.read_text(encoding="utf-8"))
POLICY = load_risk_policy()


def doc() -> dict[str, Any]:
    return copy.deepcopy(DOC)


def invalid(document: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        risk_policy_from_mapping(document)
    assert info.value.code == "risk.policy.invalid"
    return info.value


def test_shipped_policy_has_the_reference_defaults() -> None:
    pricing, limits = POLICY.pricing, POLICY.limits
    assert pricing.lpr_1y == Decimal("0.0310")
    assert pricing.lpr_as_of == date(2025, 5, 20)
    assert "not hard-coded" in DOC["pricing"]["lpr_1y"]["comment"]
    assert pricing.comprehensive_cost_ceiling == Decimal("0.24")
    assert limits.consumer_credit_cap.amount == Money("200000")
    assert limits.consumer_credit_cap.products == {"CONSUMER"}
    assert limits.small_micro_group_cap.amount == Money("10000000")
    assert limits.small_micro_group_cap.products == {"MICRO-BIZ", "INDIV-BIZ"}
    assert limits.rounding_step == Decimal(100)
    assert limits.grade_multipliers["A"] == Decimal("1.2")
    assert limits.grade_multipliers["E"] == Decimal(0)
    assert limits.default_max_dsr == Decimal("0.50")
    assert limits.max_dsr["CONSUMER"] == Decimal("0.45")
    assert limits.concentration["industry"].share_for("K") == Decimal("0.05")
    assert limits.concentration["industry"].share_for("C") == Decimal("0.30")
    assert len(POLICY.content_hash) == 64


def test_policy_grades_match_the_expert_scorecard() -> None:
    POLICY.check_grades(load_scorecard().master_scale.grade_names)
    with pytest.raises(ValidationError) as info:
        POLICY.check_grades(["A", "B", "C"])
    assert info.value.details["path"] == "limits.grade_multipliers"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(owner="risk"), "$"),
        (lambda d: d["limits"].update(max_limit="1"), "limits"),
        (lambda d: d["pricing"]["lpr_1y"].update(tenor="1Y"), "pricing.lpr_1y"),
        (lambda d: d["routing"]["rules"][0].update(priority=1), "routing.rules[0]"),
        (lambda d: d["limits"]["concentration"].update(branch={"default": "0.1"}), "concentration"),
        (lambda d: d["pricing"].update(floor_spread=0.001), "pricing.floor_spread"),
        (lambda d: d["pricing"]["lpr_1y"].update(as_of="20/05/2025"), "pricing.lpr_1y.as_of"),
        (lambda d: d["pricing"].update(comprehensive_cost_ceiling="1.5"), "comprehensive"),
        (lambda d: d["limits"]["grade_multipliers"].update(A="-1"), "grade_multipliers.A"),
        (lambda d: d["limits"]["guarantee_factors"].update(lien="2"), "guarantee_factors"),
        (lambda d: d["limits"]["max_debt_service_ratio"].pop("default"), "max_debt_service"),
        (lambda d: d["limits"].update(cap_at_requested_amount="yes"), "cap_at_requested"),
        (lambda d: d["limits"].update(currency="USD"), "limits.currency"),
        (
            lambda d: d["limits"]["regulatory_caps"]["personal_internet_consumer_credit"].update(
                amount="200000.001"
            ),
            "personal_internet_consumer_credit.amount",
        ),
        (lambda d: d["limits"]["regulatory_caps"].pop("inclusive_small_micro_group"), "regul"),
        (lambda d: d["limits"]["recheck"].update(tolerance="2"), "limits.recheck.tolerance"),
        (lambda d: d["routing"]["rules"][0].update(condition="moon_phase"), "condition"),
        (lambda d: d["routing"]["rules"][2].pop("grades"), "routing.rules[2]"),
        (lambda d: d["routing"]["rules"][1].update(count=2), "routing.rules[1]"),
        (lambda d: d["routing"]["rules"][5].update(count=0), "routing.rules[5].count"),
        (lambda d: d["routing"]["rules"][3].update(code="ROUTE_LIMIT_ZERO"), "routing.rules"),
        (lambda d: d["routing"]["rules"][3].update(outcome="approve"), "outcome"),
    ],
)
def test_invalid_policies_are_refused_with_the_path(mutate: Any, path: str) -> None:
    d = doc()
    mutate(d)
    assert path in invalid(d).details["path"]


@pytest.mark.parametrize("condition", ["admission_decline", "limit_zero"])
def test_the_rule_base_must_decline_on_admission_decline_and_zero_limit(condition: str) -> None:
    d = doc()
    d["routing"]["rules"] = [r for r in d["routing"]["rules"] if r["condition"] != condition]
    assert condition in invalid(d).details["reason"]
    d = doc()
    for rule in d["routing"]["rules"]:
        if rule["condition"] == condition:
            rule["outcome"] = "review"
    assert condition in invalid(d).details["reason"]


def test_comments_are_allowed_anywhere() -> None:
    d = doc()
    d["comment"] = "top"
    d["routing"]["comment"] = "rules"
    d["limits"]["grade_multipliers"]["comment"] = "by grade"
    policy = risk_policy_from_mapping(d)
    assert "comment" not in policy.limits.grade_multipliers
    assert policy.content_hash != POLICY.content_hash


def test_unreadable_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        load_risk_policy(tmp_path / "missing.json")
    assert info.value.code == "risk.policy.unreadable"
