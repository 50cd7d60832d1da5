"""Automatic credit limits (授信额度), the unified group limit and concentration caps (R-9.3).

:func:`calculate_limit` works in named steps, every one kept in ``LimitResult.workings``:

1. **Repayment capacity** — the smaller of
   * *revenue capacity* (businesses): annual revenue (``tax_revenue_12m``, else
     ``platform_gmv_12m``, else the declared annual revenue) x the product's revenue share;
   * *debt-service capacity*: the affordable instalment
     ``monthly_income x max DSR - bureau_monthly_debt_service`` (at least 0), turned into the
     present value of ``requested_term_months`` equal instalments at the priced rate / 12.
   With neither (no revenue and no income evidence) the capacity is 0.
2. **Risk adjustment** — x the grade multiplier (A 1.2 ... E 0), x the mitigation factor of the
   guarantee type (credit 1.0; guarantee, pledge, mortgage raise it).
3. **Caps** — the product's maximum; the requested amount (if configured); the regulatory caps
   as *remaining room*: personal internet consumer credit <= 200,000 per borrower minus the
   borrower's consumer credit already granted, inclusive small-micro <= 10,000,000 per borrower
   **group** minus ``group_exposure`` (enterprise + owner + owner's spouse, all products: the
   unified limit); the concentration room by region, industry, product and guarantee type.
4. The smallest value binds; the limit is rounded *down* to a multiple of the rounding step
   (100 CNY); a limit under the product's minimum amount is 0.

Concentration room for a key with cap share ``s`` is ``s x base - current exposure`` (at least
0) where ``base = max(portfolio total, minimum base)``: measured against the portfolio before the
new line, which is stricter than ``(E + L) / (T + L) <= s``; the minimum base lets a new
portfolio grant its first loans; a share of 1 means no cap. All amounts are ``Money`` (CNY),
ratios ``Decimal``; every cap, share and factor is configuration (``risk-policy.json``), with
REFERENCE §2's figures as defaults.

:func:`propose_recheck` is the periodic re-check: current line vs a freshly computed limit →
increase / decrease / cancel / keep, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, Overflow
from types import MappingProxyType
from typing import Final, Literal

from puhui.domain.errors import ValidationError
from puhui.domain.money import CNY, Money, RoundingMode
from puhui.domain.risk.pricing import ProductTerms

__all__ = [
    "CONCENTRATION_DIMENSIONS",
    "ConcentrationCap",
    "LimitPolicy",
    "LimitProposal",
    "LimitRequest",
    "LimitResult",
    "LimitStep",
    "PortfolioExposure",
    "RegulatoryCap",
    "calculate_limit",
    "present_value",
    "propose_recheck",
]

CONCENTRATION_DIMENSIONS: Final = ("region", "industry", "product", "guarantee_type")
_CTX: Final = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
_CUT: Final = Context(prec=34, rounding=ROUND_DOWN, traps=[InvalidOperation, Overflow])
_ZERO: Final = Money.zero(CNY)
_NIL: Final = Decimal("0.00")
_UNIT: Final = Decimal(1)
_TWELVE: Final = Decimal(12)
_CENT: Final = CNY.minor_unit


def _money(value: Decimal) -> Money:
    return Money(value, CNY)


# --- policy ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegulatoryCap:
    """A per-borrower (or per-group) cap applying to some products, with its legal source."""

    amount: Money
    products: frozenset[str]
    source: str


@dataclass(frozen=True, slots=True)
class ConcentrationCap:
    """Maximum share of the portfolio for one key of a dimension (``default`` or override)."""

    default_share: Decimal
    overrides: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def share_for(self, key: str) -> Decimal:
        return self.overrides.get(key, self.default_share)


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    rounding_step: Decimal
    revenue_share: Mapping[str, Decimal]  # by product code; absent: no revenue capacity
    default_max_dsr: Decimal
    max_dsr: Mapping[str, Decimal]  # by product code
    grade_multipliers: Mapping[str, Decimal]
    guarantee_factors: Mapping[str, Decimal]
    cap_at_requested_amount: bool
    consumer_credit_cap: RegulatoryCap  # personal internet consumer credit, per borrower
    small_micro_group_cap: RegulatoryCap  # inclusive small-micro, per borrower group
    concentration: Mapping[str, ConcentrationCap]  # by dimension
    concentration_minimum_base: Money
    recheck_tolerance: Decimal  # keep while the fresh limit is within +/- this share
    recheck_max_increase: Decimal  # one re-check raises a line by at most this share


# --- inputs and results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortfolioExposure:
    """Snapshot of committed exposure: the total and per key of each concentration dimension."""

    total: Money
    by_dimension: Mapping[str, Mapping[str, Money]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def exposure(self, dimension: str, key: str) -> Money:
        return self.by_dimension.get(dimension, {}).get(key, _ZERO)

    @classmethod
    def empty(cls) -> PortfolioExposure:
        return cls(total=_ZERO)


@dataclass(frozen=True, slots=True)
class LimitRequest:
    """What the limit depends on: the application, its variables, its grade and price."""

    product_code: str
    guarantee_type: str
    region_code: str
    industry_code: str
    requested_amount: Money
    requested_term_months: int
    grade: str
    annual_rate: Decimal
    monthly_income: Money | None = None
    bureau_monthly_debt_service: Money = _ZERO
    tax_revenue_12m: Money | None = None
    platform_gmv_12m: Money | None = None
    declared_annual_revenue: Money | None = None
    group_exposure: Money = _ZERO  # unified: enterprise + owner + spouse, all products
    consumer_exposure: Money = _ZERO  # the borrower's personal consumer credit already granted

    @classmethod
    def from_variables(
        cls,
        variables: Mapping[str, object],
        *,
        grade: str,
        annual_rate: Decimal,
        declared_annual_revenue: Decimal | None = None,
        group_exposure: Money = _ZERO,
        consumer_exposure: Money = _ZERO,
    ) -> LimitRequest:
        """Build from a computed variable set (names of the variable catalogue)."""

        def amount(name: str) -> Money | None:
            value = variables.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, Decimal | int):
                raise ValidationError(
                    f"variable {name} is not an amount",
                    code="risk.limit.bad_variable",
                    details={"variable": name},
                )
            return _money(Decimal(value))

        def text(name: str) -> str:
            value = variables.get(name)
            if not isinstance(value, str):
                raise ValidationError(
                    f"variable {name} is missing",
                    code="risk.limit.bad_variable",
                    details={"variable": name},
                )
            return value

        requested, term = amount("requested_amount"), variables.get("requested_term_months")
        if requested is None or isinstance(term, bool) or not isinstance(term, int):
            raise ValidationError(
                "the requested amount and term are needed",
                code="risk.limit.bad_variable",
                details={"variable": "requested_amount/requested_term_months"},
            )
        return cls(
            product_code=text("product_code"),
            guarantee_type=text("guarantee_type"),
            region_code=text("region_code"),
            industry_code=text("industry_code"),
            requested_amount=requested,
            requested_term_months=term,
            grade=grade,
            annual_rate=annual_rate,
            monthly_income=amount("monthly_income"),
            bureau_monthly_debt_service=amount("bureau_monthly_debt_service") or _ZERO,
            tax_revenue_12m=amount("tax_revenue_12m"),
            platform_gmv_12m=amount("platform_gmv_12m"),
            declared_annual_revenue=(
                None if declared_annual_revenue is None else _money(declared_annual_revenue)
            ),
            group_exposure=group_exposure,
            consumer_exposure=consumer_exposure,
        )


@dataclass(frozen=True, slots=True)
class LimitStep:
    """One named step of the workings: its value (CNY, to the 分) and how it was obtained.

    ``value`` is the exact CNY decimal and ``detail`` the operands of the step; :attr:`amount`
    (``Money``) and :attr:`note` (text) are built on access, which keeps a limit cheap.
    """

    name: str
    value: Decimal
    detail: tuple[object, ...] = ()

    @property
    def amount(self) -> Money:
        return Money(self.value, CNY)

    @property
    def note(self) -> str:
        return " ".join(str(part) for part in self.detail)


@dataclass(frozen=True, slots=True)
class LimitResult:
    amount: Money
    workings: tuple[LimitStep, ...]
    binding_constraint: str

    def step(self, name: str) -> LimitStep | None:
        return next((s for s in self.workings if s.name == name), None)


# --- calculation -------------------------------------------------------------------------------


def present_value(installment: Money, annual_rate: Decimal, months: int) -> Money:
    """Present value of ``months`` equal monthly instalments at ``annual_rate / 12``."""
    return Money(_pv(installment.amount, annual_rate, months), installment.currency)


def _pv(installment: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    if months <= 0:
        return _NIL
    r = _CTX.divide(annual_rate, _TWELVE)
    if r.is_zero():
        return _CTX.multiply(installment, Decimal(months))
    discount = _CTX.power(_CTX.add(_UNIT, r), -months)
    return _CTX.multiply(installment, _CTX.divide(_CTX.subtract(_UNIT, discount), r))


def _lookup(table: Mapping[str, Decimal], key: str, what: str) -> Decimal:
    try:
        return table[key]
    except KeyError:
        raise ValidationError(
            f"no {what} is configured for {key!r}",
            code="risk.limit.not_configured",
            details={"setting": what, "key": key},
        ) from None


def _annual_revenue(request: LimitRequest) -> tuple[Money | None, str]:
    for source, value in (
        ("tax_revenue_12m", request.tax_revenue_12m),
        ("platform_gmv_12m", request.platform_gmv_12m),
        ("declared_annual_revenue", request.declared_annual_revenue),
    ):
        if value is not None:
            return value, source
    return None, ""


def calculate_limit(
    policy: LimitPolicy,
    request: LimitRequest,
    product: ProductTerms,
    portfolio: PortfolioExposure,
) -> LimitResult:
    """The credit limit with its workings and binding constraint (R-9.3).

    Arithmetic is done on ``Decimal`` CNY amounts (a 34-digit context); each step is cut
    *down* to the 分 and recorded (``LimitStep.value``; ``.amount`` gives it as ``Money``).
    """
    if request.product_code != product.code:
        raise ValidationError(
            "the request is for another product",
            code="risk.limit.product_mismatch",
            details={"request": request.product_code, "product": product.code},
        )
    steps: list[LimitStep] = []
    mul, sub = _CTX.multiply, _CTX.subtract

    def add(name: str, amount: Decimal, *detail: object) -> Decimal:
        exact = _CUT.quantize(amount, _CENT) if amount > 0 else _NIL
        steps.append(LimitStep(name, exact, detail))
        return exact

    # 1. repayment capacity
    capacities: list[tuple[str, Decimal]] = []
    if request.product_code in policy.revenue_share:
        revenue, source = _annual_revenue(request)
        if revenue is not None:
            ratio = policy.revenue_share[request.product_code]
            annual = add("annual_revenue", revenue.amount, "from", source)
            by_revenue = add("revenue_capacity", mul(annual, ratio), "x", ratio)
            capacities.append(("revenue_capacity", by_revenue))
    if request.monthly_income is not None:
        dsr = policy.max_dsr.get(request.product_code, policy.default_max_dsr)
        income = max(request.monthly_income.amount, _NIL)
        debt = request.bureau_monthly_debt_service.amount
        affordable = add(
            "affordable_installment", sub(mul(income, dsr), debt), income, "x", dsr, "-", debt
        )
        term, rate = request.requested_term_months, request.annual_rate
        by_dsr = add(
            "debt_service_capacity",
            _pv(affordable, rate, term),
            term,
            "instalments at",
            rate,
            "/ 12",
        )
        capacities.append(("debt_service_capacity", by_dsr))
    if capacities:
        source_name, capacity = min(capacities, key=lambda c: c[1])
    else:
        source_name, capacity = "no_capacity_evidence", _NIL
    capacity = add("repayment_capacity", capacity, "binding:", source_name)

    # 2. risk adjustment
    multiplier = _lookup(policy.grade_multipliers, request.grade, "grade multiplier")
    graded = add(
        "grade_adjusted", mul(capacity, multiplier), "x", multiplier, "grade", request.grade
    )
    factor = _lookup(policy.guarantee_factors, request.guarantee_type, "guarantee factor")
    adjusted = add(
        "risk_adjusted_capacity", mul(graded, factor), "x", factor, request.guarantee_type
    )
    candidates = [("grade" if multiplier == 0 else source_name, adjusted)]

    # 3. caps
    candidates.append(("product_max_amount", add("product_max_amount", product.max_principal)))
    if policy.cap_at_requested_amount:
        requested = add("requested_amount", request.requested_amount.amount)
        candidates.append(("requested_amount", requested))
    for name, cap, used in (
        ("consumer_credit_cap", policy.consumer_credit_cap, request.consumer_exposure),
        ("group_exposure_cap", policy.small_micro_group_cap, request.group_exposure),
    ):
        if request.product_code in cap.products:
            candidates.append(
                (
                    name,
                    add(
                        f"{name}_room",
                        sub(cap.amount.amount, used.amount),
                        cap.amount.amount,
                        "-",
                        used.amount,
                    ),
                )
            )
    base = max(portfolio.total.amount, policy.concentration_minimum_base.amount)
    r = request
    keys = (r.region_code, r.industry_code, r.product_code, r.guarantee_type)
    for dimension, key in zip(CONCENTRATION_DIMENSIONS, keys, strict=True):
        conc = policy.concentration.get(dimension)
        if conc is None:
            continue
        cap_share = conc.share_for(key)
        if cap_share >= 1:  # a share of 100 % is no cap
            continue
        used_amount = portfolio.exposure(dimension, key).amount
        room = add(
            f"concentration_room_{dimension}",
            sub(mul(base, cap_share), used_amount),
            *(cap_share, "x", base, "-", used_amount, dimension, key),
        )
        candidates.append((f"concentration_{dimension}", room))

    # 4. binding constraint and rounding
    binding, lowest = min(candidates, key=lambda c: c[1])
    add("limit_before_rounding", lowest, "binding:", binding)
    step = policy.rounding_step
    limit = mul(_CTX.divide_int(lowest, step), step)
    if limit > 0 and limit < product.min_principal:
        binding, limit = "product_min_amount", _NIL
    amount = add("limit", limit, "down to a multiple of", step)
    return LimitResult(Money(amount, CNY), tuple(steps), binding)


# --- periodic re-check -------------------------------------------------------------------------


RECHECK_REASONS: Final = MappingProxyType(
    {
        "RECHECK_DECLINED": ("复核决策为拒绝，取消未用额度", "Re-check declined: cancel the line"),
        "RECHECK_NO_LIMIT": ("复核额度为零，取消额度", "Re-check gives no limit: cancel"),
        "RECHECK_NO_LINE": ("无有效额度，需重新申请", "No current line: apply again"),
        "RECHECK_DECREASE": ("复核额度下降，调减额度", "Re-check limit is lower: decrease"),
        "RECHECK_DECREASE_FROZEN": (
            "复核额度低于已用金额，调减并暂停用款",
            "Re-check limit below the drawn amount: decrease and freeze drawing",
        ),
        "RECHECK_INCREASE": ("复核额度上升，调增额度", "Re-check limit is higher: increase"),
        "RECHECK_KEEP": ("复核额度变化不大，维持额度", "Re-check limit is close: keep"),
    }
)


@dataclass(frozen=True, slots=True)
class LimitProposal:
    action: Literal["increase", "decrease", "cancel", "keep"]
    current: Money
    proposed: Money
    reason_code: str

    @property
    def reason_zh(self) -> str:
        return RECHECK_REASONS[self.reason_code][0]

    @property
    def reason_en(self) -> str:
        return RECHECK_REASONS[self.reason_code][1]


def propose_recheck(
    policy: LimitPolicy,
    *,
    current_limit: Money,
    fresh_limit: Money,
    utilised: Money = _ZERO,
    declined: bool = False,
) -> LimitProposal:
    """Compare a line with a fresh limit (R-9.3 periodic re-check) and propose an action.

    ``declined``: the fresh decision routed to decline (e.g. a new court enforcement) — the
    undrawn part is cancelled whatever the limit. Within ``recheck_tolerance`` the line is
    kept; an increase is capped at ``recheck_max_increase`` of the current line per re-check.
    A decrease below the drawn amount freezes further drawing until repayments bring the
    balance under the new line. A line at zero is never raised here: that takes a new
    application.
    """
    current, step = current_limit, policy.rounding_step
    if declined or not fresh_limit.is_positive():
        code = "RECHECK_DECLINED" if declined else "RECHECK_NO_LIMIT"
        return LimitProposal("cancel", current, _ZERO, code)
    if not current.is_positive():
        return LimitProposal("keep", current, current, "RECHECK_NO_LINE")
    if fresh_limit < current * (1 - policy.recheck_tolerance):
        proposed = fresh_limit.quantize(RoundingMode.DOWN, step=step)
        code = "RECHECK_DECREASE_FROZEN" if utilised > proposed else "RECHECK_DECREASE"
        return LimitProposal("decrease", current, proposed, code)
    if fresh_limit > current * (1 + policy.recheck_tolerance):
        ceiling = current * (1 + policy.recheck_max_increase)
        proposed = min(fresh_limit, ceiling).quantize(RoundingMode.DOWN, step=step)
        return LimitProposal("increase", current, proposed, "RECHECK_INCREASE")
    return LimitProposal("keep", current, current, "RECHECK_KEEP")
