"""Automatic limits: capacity, grade, mitigation, unified group cap, concentration (R-9.3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.adapters.products import load_catalogue
from puhui.domain.errors import ValidationError
from puhui.domain.money import Money
from puhui.domain.risk.limits import (
    LimitRequest,
    LimitResult,
    PortfolioExposure,
    calculate_limit,
    present_value,
    propose_recheck,
)
from puhui.domain.risk.policy import load_risk_policy

POLICY = load_risk_policy().limits
PRODUCTS = load_catalogue()
# a portfolio of 800m with 100m in the applicant's county
PORTFOLIO = PortfolioExposure(
    total=Money("800000000"), by_dimension={"region": {"450102": Money("100000000")}}
)


def a_request(**changes: object) -> LimitRequest:
    base = LimitRequest(
        product_code="MICRO-BIZ",
        guarantee_type="credit",
        region_code="450102",
        industry_code="F",
        requested_amount=Money("500000"),
        requested_term_months=12,
        grade="B",
        annual_rate=Decimal("0.043"),
        monthly_income=Money("40000"),
        bureau_monthly_debt_service=Money("10000"),
        tax_revenue_12m=Money("2400000"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def limit_of(request: LimitRequest, portfolio: PortfolioExposure = PORTFOLIO) -> LimitResult:
    return calculate_limit(POLICY, request, PRODUCTS[request.product_code], portfolio)


def amounts(result: LimitResult) -> dict[str, Money]:
    return {step.name: step.amount for step in result.workings}


def test_worked_example_debt_service_binds() -> None:
    result = limit_of(a_request())
    steps = amounts(result)
    # revenue 2,400,000 x 0.25 = 600,000
    assert steps["revenue_capacity"] == Money("600000")
    # affordable instalment 40,000 x 0.50 - 10,000 = 10,000
    assert steps["affordable_installment"] == Money("10000")
    # r = 0.043/12 = 0.0035833; (1+r)^12 = 1.0438577; annuity factor (1 - 1.0438577^-12)/r
    # = 11.7251118 → 10,000 x 11.7251118 = 117,251.11 (cut to the 分)
    assert steps["debt_service_capacity"] == Money("117251.11")
    assert steps["repayment_capacity"] == Money("117251.11")
    assert steps["risk_adjusted_capacity"] == Money("117251.11")  # x 1.0 (B) x 1.0 (credit)
    # caps: product 10m, requested 500k, group room 10m - 0, region 0.35 x 800m - 100m = 180m
    assert steps["group_exposure_cap_room"] == Money("10000000")
    assert steps["concentration_room_region"] == Money("180000000")
    assert steps["concentration_room_industry"] == Money("240000000")  # 0.30 x 800m
    assert "concentration_room_product" not in steps  # share 1.00: no cap
    assert result.amount == Money("117200")  # down to a multiple of 100
    assert result.binding_constraint == "debt_service_capacity"
    assert result.workings[-1].note == "down to a multiple of 100"


def test_worked_example_revenue_binds_with_grade_and_mortgage() -> None:
    request = a_request(
        product_code="INDIV-BIZ",
        guarantee_type="mortgage",
        grade="A",
        annual_rate=Decimal("0.038"),
        requested_term_months=24,
        requested_amount=Money("300000"),
        monthly_income=Money("50000"),
        bureau_monthly_debt_service=Money("0"),
        tax_revenue_12m=None,
        platform_gmv_12m=Money("800000"),
    )
    result = limit_of(request)
    steps = amounts(result)
    # revenue: no tax data, so platform GMV 800,000 x 0.20 = 160,000
    assert steps["revenue_capacity"] == Money("160000")
    assert result.workings[0].note == "from platform_gmv_12m"
    # DSR: 25,000 x annuity factor 23.0755 (24 months at 3.8%) = 576,888.11 > 160,000
    assert steps["debt_service_capacity"] == Money("576888.11")
    # 160,000 x 1.2 (grade A) = 192,000 x 1.5 (mortgage) = 288,000 < requested 300,000
    assert steps["grade_adjusted"] == Money("192000")
    assert steps["risk_adjusted_capacity"] == Money("288000")
    assert result.amount == Money("288000")
    assert result.binding_constraint == "revenue_capacity"


def test_consumer_cap_room_binds() -> None:
    request = a_request(
        product_code="CONSUMER",
        grade="C",
        annual_rate=Decimal("0.066"),
        requested_term_months=36,
        requested_amount=Money("100000"),
        monthly_income=Money("8000"),
        bureau_monthly_debt_service=Money("1000"),
        tax_revenue_12m=None,
        consumer_exposure=Money("150000"),
    )
    result = limit_of(request)
    steps = amounts(result)
    assert "revenue_capacity" not in steps  # consumers: no revenue capacity
    # 8,000 x 0.45 - 1,000 = 2,600; x annuity factor 32.5791 (36 at 6.6%) = 84,705.62
    assert steps["debt_service_capacity"] == Money("84705.62")
    assert steps["grade_adjusted"] == Money("67764.49")  # x 0.8 (grade C), cut to the 分
    # personal internet consumer credit: 200,000 - 150,000 already granted = 50,000
    assert steps["consumer_credit_cap_room"] == Money("50000")
    assert "group_exposure_cap_room" not in steps
    assert result.amount == Money("50000")
    assert result.binding_constraint == "consumer_credit_cap"


def test_zero_income_gives_no_limit() -> None:
    result = limit_of(a_request(product_code="CONSUMER", monthly_income=Money("0")))
    assert result.amount == Money("0")
    assert result.binding_constraint == "debt_service_capacity"


def test_no_capacity_evidence_gives_no_limit() -> None:
    result = limit_of(a_request(monthly_income=None, tax_revenue_12m=None))
    assert result.amount == Money("0")
    assert result.binding_constraint == "no_capacity_evidence"


def test_declared_revenue_is_the_last_resort() -> None:
    request = a_request(
        tax_revenue_12m=None, monthly_income=None, declared_annual_revenue=Money("1000000")
    )
    result = limit_of(request)
    assert result.amount == Money("250000")  # 1,000,000 x 0.25
    assert result.workings[0].note == "from declared_annual_revenue"


def test_group_exposure_exhausting_the_cap_gives_no_limit() -> None:
    # unified limit: enterprise + owner + spouse already hold 10,000,000 across products
    result = limit_of(a_request(group_exposure=Money("10000000")))
    assert result.amount == Money("0")
    assert result.binding_constraint == "group_exposure_cap"
    # 10,000,000 - 9,950,050 = 49,950 → 49,900
    nearly = limit_of(a_request(group_exposure=Money("9950050")))
    assert (nearly.amount, nearly.binding_constraint) == (Money("49900"), "group_exposure_cap")


def test_zero_concentration_room_gives_no_limit() -> None:
    full = PortfolioExposure(
        total=Money("800000000"), by_dimension={"industry": {"F": Money("240000000")}}
    )
    result = limit_of(a_request(), full)
    # 0.30 x 800m - 240m = 0
    assert result.amount == Money("0")
    assert result.binding_constraint == "concentration_industry"


def test_restricted_industry_and_minimum_base_for_a_new_portfolio() -> None:
    result = limit_of(a_request(industry_code="K"), PortfolioExposure.empty())
    # base = max(0, 50,000,000) = 50m; real estate (K) 0.05 x 50m = 2.5m: not binding here
    assert amounts(result)["concentration_room_industry"] == Money("2500000")
    assert amounts(result)["concentration_room_region"] == Money("17500000")  # 0.35 x 50m
    assert result.amount == Money("117200")


def test_grade_e_and_below_product_minimum() -> None:
    result = limit_of(a_request(grade="E"))
    assert (result.amount, result.binding_constraint) == (Money("0"), "grade")
    tiny = limit_of(a_request(requested_amount=Money("950")))
    # 950 → 900, below MICRO-BIZ's minimum of 1,000 → 0
    assert (tiny.amount, tiny.binding_constraint) == (Money("0"), "product_min_amount")


def test_product_mismatch_and_unconfigured_grade_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        calculate_limit(POLICY, a_request(), PRODUCTS["CONSUMER"], PORTFOLIO)
    assert info.value.code == "risk.limit.product_mismatch"
    with pytest.raises(ValidationError) as info:
        limit_of(a_request(grade="Z"))
    assert info.value.code == "risk.limit.not_configured"


def test_request_from_variables() -> None:
    variables: dict[str, object] = {
        "product_code": "MICRO-BIZ",
        "guarantee_type": "credit",
        "region_code": "450102",
        "industry_code": "F",
        "requested_amount": Decimal("500000"),
        "requested_term_months": 12,
        "monthly_income": Decimal("40000"),
        "bureau_monthly_debt_service": Decimal("10000"),
        "tax_revenue_12m": Decimal("2400000"),
        "platform_gmv_12m": None,
    }
    request = LimitRequest.from_variables(variables, grade="B", annual_rate=Decimal("0.043"))
    assert request == a_request()
    with pytest.raises(ValidationError) as info:
        LimitRequest.from_variables(
            {**variables, "product_code": None}, grade="B", annual_rate=Decimal("0.043")
        )
    assert info.value.code == "risk.limit.bad_variable"


def test_present_value() -> None:
    # 1,000 a month for 12 months at 12 %: annuity factor (1 - 1.01^-12) / 0.01 = 11.2550775
    assert present_value(Money("1000"), Decimal("0.12"), 12).quantize() == Money("11255.08")
    assert present_value(Money("1000"), Decimal("0"), 12) == Money("12000")


# --- periodic re-check -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "fresh", "utilised", "declined", "action", "proposed", "code"),
    [
        ("100000", "105000", "0", False, "keep", "100000", "RECHECK_KEEP"),  # within 10 %
        ("100000", "120000", "0", False, "increase", "120000", "RECHECK_INCREASE"),
        ("100000", "400000", "0", False, "increase", "150000", "RECHECK_INCREASE"),  # +50 % max
        ("100000", "60000", "0", False, "decrease", "60000", "RECHECK_DECREASE"),
        ("100000", "60000", "80000", False, "decrease", "60000", "RECHECK_DECREASE_FROZEN"),
        ("100000", "0", "0", False, "cancel", "0", "RECHECK_NO_LIMIT"),
        ("100000", "100000", "0", True, "cancel", "0", "RECHECK_DECLINED"),
        ("0", "50000", "0", False, "keep", "0", "RECHECK_NO_LINE"),
    ],
)
def test_recheck_proposals(
    current: str,
    fresh: str,
    utilised: str,
    declined: bool,
    action: str,
    proposed: str,
    code: str,
) -> None:
    proposal = propose_recheck(
        POLICY,
        current_limit=Money(current),
        fresh_limit=Money(fresh),
        utilised=Money(utilised),
        declined=declined,
    )
    assert (proposal.action, proposal.proposed, proposal.reason_code) == (
        action,
        Money(proposed),
        code,
    )
    assert proposal.reason_zh and proposal.reason_en


# --- properties --------------------------------------------------------------------------------

CAP_STEPS = ("product_max_amount", "requested_amount", "risk_adjusted_capacity")

money = st.decimals("0", "5000000", places=2).map(Money)
requests = st.builds(
    a_request,
    product_code=st.sampled_from(["MICRO-BIZ", "INDIV-BIZ", "CONSUMER"]),
    guarantee_type=st.sampled_from(["credit", "guarantee", "pledge", "mortgage"]),
    industry_code=st.sampled_from(["F", "K", "C"]),
    grade=st.sampled_from(["A+", "A", "B", "C", "D", "E"]),
    annual_rate=st.decimals("0", "0.24", places=4),
    requested_term_months=st.integers(1, 36),
    requested_amount=st.decimals("1", "20000000", places=2).map(Money),
    monthly_income=st.none() | money,
    bureau_monthly_debt_service=money,
    tax_revenue_12m=st.none() | st.decimals("0", "80000000", places=2).map(Money),
    group_exposure=st.decimals("0", "12000000", places=2).map(Money),
    consumer_exposure=st.decimals("0", "250000", places=2).map(Money),
)
portfolios = st.builds(
    lambda total, used: PortfolioExposure(
        total=Money(total), by_dimension={"region": {"450102": Money(used)}}
    ),
    total=st.decimals("0", "2000000000", places=2),
    used=st.decimals("0", "500000000", places=2),
)


@settings(max_examples=300, deadline=None)
@given(requests, portfolios)
def test_limit_never_exceeds_any_cap_and_is_a_multiple_of_100(
    request: LimitRequest, portfolio: PortfolioExposure
) -> None:
    result = limit_of(request, portfolio)
    amount = result.amount
    assert amount >= Money("0")
    assert amount.amount % 100 == 0
    for step in result.workings:
        if step.name in CAP_STEPS or step.name.endswith("_room"):
            assert amount <= step.amount, step.name
    assert amount <= Money("200000") or request.product_code != "CONSUMER"
    assert amount <= Money("10000000")
    if amount.is_positive():
        assert amount.amount >= PRODUCTS[request.product_code].min_principal


@settings(max_examples=300, deadline=None)
@given(requests, money, money)
def test_limit_is_monotone_in_income(request: LimitRequest, low: Money, high: Money) -> None:
    low, high = min(low, high), max(low, high)
    poorer = limit_of(replace(request, monthly_income=low))
    richer = limit_of(replace(request, monthly_income=high))
    assert poorer.amount <= richer.amount
