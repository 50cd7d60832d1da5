"""Risk-based pricing: annual rate = one-year LPR + spread by grade, clamped (R-9.2, R-G7).

``annual_rate = LPR_1Y + grade spread + product spread``, clamped to

* the floor ``max(LPR_1Y + floor_spread, product min_rate)`` and
* the ceiling ``min(product max_rate, product rate_ceiling, comprehensive-cost ceiling)``.

The one-year LPR is an input: :func:`price` takes the rate in force (loaded from the CFETS
monthly publication by an adapter) and falls back to the value configured in
``risk-policy.json``; it is never a constant in code (REFERENCE §1). The 24 % comprehensive-cost
ceiling is configuration too (REFERENCE §1 [U]: regulators' window guidance, not a national
rule). The rate is nominal; the comprehensive cost including fees (IRR method, PBoC [2021] No. 3)
is checked against the same ceiling by the product when terms are booked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol

from puhui.domain.errors import DomainError, ValidationError

__all__ = ["PriceResult", "PricingPolicy", "ProductTerms", "price"]


class ProductTerms(Protocol):
    """What limits and pricing read from a loan product (``LoanProduct`` satisfies it)."""

    @property
    def code(self) -> str: ...
    @property
    def min_principal(self) -> Decimal: ...
    @property
    def max_principal(self) -> Decimal: ...
    @property
    def min_rate(self) -> Decimal: ...
    @property
    def max_rate(self) -> Decimal: ...
    @property
    def rate_ceiling(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """Pricing settings from ``risk-policy.json`` (see :mod:`puhui.domain.risk.policy`)."""

    lpr_1y: Decimal  # configured default, dated; the caller may pass the rate in force
    lpr_as_of: date
    floor_spread: Decimal
    comprehensive_cost_ceiling: Decimal
    grade_spreads: Mapping[str, Decimal]
    product_spreads: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class PriceResult:
    annual_rate: Decimal
    lpr: Decimal
    lpr_as_of: date | None
    spread: Decimal  # grade spread + product spread, before clamping
    floor: Decimal
    ceiling: Decimal
    clamped: bool
    clamped_to: Literal["floor", "ceiling"] | None = None


def price(
    policy: PricingPolicy,
    grade: str,
    product: ProductTerms,
    *,
    lpr: Decimal | None = None,
    lpr_as_of: date | None = None,
) -> PriceResult:
    """The annual rate for ``grade`` on ``product`` (``lpr`` overrides the configured LPR)."""
    try:
        grade_spread = policy.grade_spreads[grade]
    except KeyError:
        raise ValidationError(
            "no spread is configured for this grade",
            code="risk.pricing.unknown_grade",
            details={"grade": grade},
        ) from None
    base = policy.lpr_1y if lpr is None else lpr
    if not isinstance(base, Decimal) or not base.is_finite() or not 0 <= base < 1:
        raise ValidationError(
            "the LPR is a decimal fraction between 0 and 1", code="risk.pricing.invalid_lpr"
        )
    as_of = policy.lpr_as_of if lpr is None else lpr_as_of  # None: date not given
    spread = grade_spread + policy.product_spreads.get(product.code, Decimal(0))
    floor = max(base + policy.floor_spread, product.min_rate)
    ceiling = min(product.max_rate, product.rate_ceiling, policy.comprehensive_cost_ceiling)
    if floor > ceiling:
        raise DomainError(
            "the rate floor is above the ceiling for this product",
            code="risk.pricing.empty_range",
            details={"product": product.code, "floor": str(floor), "ceiling": str(ceiling)},
        )
    rate = base + spread
    clamped_to: Literal["floor", "ceiling"] | None = None
    if rate < floor:
        rate, clamped_to = floor, "floor"
    elif rate > ceiling:
        rate, clamped_to = ceiling, "ceiling"
    return PriceResult(
        annual_rate=rate,
        lpr=base,
        lpr_as_of=as_of,
        spread=spread,
        floor=floor,
        ceiling=ceiling,
        clamped=clamped_to is not None,
        clamped_to=clamped_to,
    )
