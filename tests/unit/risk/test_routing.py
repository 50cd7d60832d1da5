"""Routing rule base: approve, decline or manual review (R-9.2c)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.money import Money
from puhui.domain.risk.policy import load_risk_policy
from puhui.domain.risk.routing import Route, RouteReason, is_thin_file, route

POLICY = load_risk_policy().routing

THICK_FILE: dict[str, object] = {"has_credit_record": True, "tax_grade": "B"}


@dataclass(frozen=True)
class Rule:
    """Stands in for the rule set's RuleResult: any object with these attributes."""

    rule_id: str
    outcome: str
    fired: bool = True
    category: str = "behaviour"
    reason_zh: str = "原因"
    reason_en: str = "reason"


def decide(
    *rules: object,
    grade: str = "B",
    limit: str = "100000",
    product: str = "MICRO-BIZ",
    variables: Mapping[str, object] | None = None,
    needs_review: bool = False,
) -> Route:
    return route(
        POLICY,
        admission=rules,  # type: ignore[arg-type]
        grade=grade,
        limit_amount=Money(limit),
        product_code=product,
        variables=THICK_FILE if variables is None else variables,
        variables_need_review=needs_review,
    )


def codes(result: Route) -> list[str]:
    return [reason.code for reason in result.reasons]


def test_clean_application_is_approved() -> None:
    result = decide(Rule("W1", "warn"))  # one warning is not enough for review
    assert result == Route(
        "approve", (RouteReason("ROUTE_APPROVE", "自动审批通过", "Approved automatically"),)
    )


def test_admission_decline_declines_with_the_rules_own_reason() -> None:
    sanction = Rule(
        "AML-001", "decline", category="aml", reason_zh="命中制裁名单", reason_en="Sanctions hit"
    )
    result = decide(sanction, Rule("R-REVIEW", "review"), grade="A")
    assert result.outcome == "decline"
    assert result.reasons == (RouteReason("AML-001", "命中制裁名单", "Sanctions hit"),)


def test_rules_that_did_not_fire_are_ignored() -> None:
    assert decide(Rule("AML-001", "decline", fired=False)).outcome == "approve"


def test_plain_objects_without_fired_attribute_are_accepted() -> None:
    rule = SimpleNamespace(
        rule_id="LEGAL-1",
        category="legal",
        outcome="decline",
        reason_zh="失信",
        reason_en="Dishonest",
    )
    assert decide(rule).outcome == "decline"


def test_zero_limit_and_grade_e_decline() -> None:
    assert codes(decide(limit="0")) == ["ROUTE_LIMIT_ZERO"]
    assert codes(decide(grade="E", limit="0")) == ["ROUTE_LIMIT_ZERO", "ROUTE_GRADE_DECLINE"]


def test_review_triggers() -> None:
    assert codes(decide(Rule("F-7", "review"))) == ["F-7"]
    assert codes(decide(grade="D")) == ["ROUTE_GREY_GRADE"]
    assert codes(decide(Rule("W1", "warn"), Rule("W2", "warn"))) == ["ROUTE_WARNINGS"]
    assert codes(decide(needs_review=True)) == ["ROUTE_VARIABLES_REVIEW"]
    thin = {"has_credit_record": False, "tax_grade": None, "platform_gmv_12m": None}
    assert codes(decide(variables=thin)) == ["ROUTE_THIN_FILE"]


def test_amount_above_the_automatic_authority() -> None:
    # MICRO-BIZ threshold 3,000,000; CONSUMER 100,000 (the threshold itself is still automatic)
    assert decide(limit="3000000").outcome == "approve"
    assert codes(decide(limit="3000100")) == ["ROUTE_LARGE_AMOUNT"]
    assert decide(product="CONSUMER", limit="100000").outcome == "approve"
    assert codes(decide(product="CONSUMER", limit="100100")) == ["ROUTE_LARGE_AMOUNT"]


def test_every_review_reason_is_listed() -> None:
    result = decide(Rule("F-7", "review"), grade="D", needs_review=True)
    assert result.outcome == "review"
    assert codes(result) == ["F-7", "ROUTE_GREY_GRADE", "ROUTE_VARIABLES_REVIEW"]
    assert all(reason.zh and reason.en for reason in result.reasons)


def test_thin_file() -> None:
    assert is_thin_file({})
    assert is_thin_file({"has_credit_record": False})
    assert not is_thin_file({"has_credit_record": True})
    assert not is_thin_file({"platform_gmv_12m": 1})
    assert not is_thin_file({"tax_revenue_12m": 0})


rules = st.lists(
    st.builds(
        Rule,
        rule_id=st.sampled_from(["A1", "B2", "C3", "D4"]),
        outcome=st.sampled_from(["decline", "review", "warn"]),
        fired=st.booleans(),
    ),
    max_size=8,
)


@given(
    rules,
    st.sampled_from(["A+", "A", "B", "C", "D", "E"]),
    st.sampled_from(["0", "5000", "99999999"]),
    st.booleans(),
    st.booleans(),
)
def test_route_is_decline_whenever_an_admission_rule_declined(
    fired: list[Rule], grade: str, limit: str, thin: bool, needs_review: bool
) -> None:
    variables: dict[str, object] = {} if thin else THICK_FILE
    result = decide(
        *fired, grade=grade, limit=limit, variables=variables, needs_review=needs_review
    )
    declined = [r for r in fired if r.fired and r.outcome == "decline"]
    if declined:
        assert result.outcome == "decline"
        assert {r.rule_id for r in declined} <= set(codes(result))
    elif limit != "0" and grade != "E":
        assert result.outcome != "decline"
    assert result.reasons
