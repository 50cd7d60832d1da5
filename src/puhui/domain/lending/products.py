"""Loan products (贷款产品): what may be booked — currency, amount and term ranges, repayment
methods, rate range, fees, servicing policy and the comprehensive-cost ceiling (R-8.4c, R-G7).

A product checks a loan's terms before booking; every limit has a stable error code. The
internet-loan rules for consumer credit (REFERENCE §2 [V]: at most 200,000 per borrower, a
bullet loan at most one year) are product settings with those defaults, not constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from puhui.domain.calendar import add_months, is_leap
from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.lending.allocation import (
    DEFAULT_ORDER,
    AllocationStrategy,
    Component,
    ServicingPolicy,
)
from puhui.domain.lending.terms import Amortization, Conventions, Frequency, LoanTerms
from puhui.domain.money import Currency


class Segment(StrEnum):
    MICRO_BUSINESS = "micro_business"  # 小微企业
    INDIVIDUAL_BUSINESS = "individual_business"  # 个体工商户
    CONSUMER = "consumer"  # 个人消费


@dataclass(frozen=True)
class LoanProduct:
    code: str
    name_zh: str
    name_en: str
    segment: Segment
    currency: Currency
    min_principal: Decimal
    max_principal: Decimal
    min_repayments: int
    max_repayments: int
    amortizations: frozenset[Amortization]
    min_rate: Decimal
    max_rate: Decimal
    frequency: Frequency = Frequency.MONTHS
    every: int = 1
    conventions: Conventions = Conventions.CN_BANK
    rate_ceiling: Decimal = Decimal("0.24")  # comprehensive cost, IRR method (REFERENCE §1 [U])
    max_bullet_days: int | None = None  # consumer bullet loans: at most one year
    servicing: ServicingPolicy = field(default_factory=ServicingPolicy)

    def __post_init__(self) -> None:
        if not (0 < self.min_principal <= self.max_principal):
            raise ValidationError("principal range is empty", code="product.invalid_range")
        if not (1 <= self.min_repayments <= self.max_repayments):
            raise ValidationError("term range is empty", code="product.invalid_range")
        if not (0 <= self.min_rate <= self.max_rate) or not self.amortizations:
            raise ValidationError("rate range or methods invalid", code="product.invalid_range")

    def check(self, terms: LoanTerms) -> None:
        """Refuse terms outside the product (nothing is booked)."""

        def bad(message: str, code: str, **details: Any) -> ValidationError:
            return ValidationError(
                message, code=f"product.{code}", details={"product": self.code, **details}
            )

        if terms.currency != self.currency:
            raise bad(f"{self.code} lends in {self.currency.code}", "currency")
        if not self.min_principal <= terms.principal <= self.max_principal:
            raise bad(
                f"the amount must be between {self.min_principal} and {self.max_principal}",
                "amount_out_of_range",
                min=str(self.min_principal),
                max=str(self.max_principal),
            )
        if not self.min_repayments <= terms.repayments <= self.max_repayments:
            raise bad(
                f"the number of installments must be between {self.min_repayments} and "
                f"{self.max_repayments}",
                "term_out_of_range",
            )
        if terms.amortization not in self.amortizations:
            allowed = ", ".join(sorted(a.value for a in self.amortizations))
            raise bad(f"{self.code} repays by: {allowed}", "amortization_not_offered")
        if not self.min_rate <= terms.annual_rate <= self.max_rate:
            raise bad(
                f"the rate must be between {self.min_rate} and {self.max_rate}", "rate_out_of_range"
            )
        if (terms.frequency, terms.every, terms.conventions) != (
            self.frequency,
            self.every,
            self.conventions,
        ):
            raise bad(
                "frequency, period length or conventions differ from the product",
                "schedule_mismatch",
            )
        if self.max_bullet_days is not None and terms.amortization == Amortization.BULLET:
            units = terms.repayments * terms.every
            start = terms.schedule_start_date or terms.disbursement_date
            if terms.frequency == Frequency.MONTHS:
                end = add_months(start, units)
            else:
                end = start + timedelta(
                    days=units * (7 if terms.frequency == Frequency.WEEKS else 1)
                )
            if (end - terms.disbursement_date).days > self.max_bullet_days + (
                1 if is_leap(end.year) else 0
            ):
                raise bad(
                    f"a bullet loan of {self.code} lasts at most {self.max_bullet_days} days",
                    "bullet_too_long",
                )


def product_from_mapping(data: Mapping[str, Any]) -> LoanProduct:
    """Build a product from its catalogue entry (see ``products.json``)."""
    try:
        servicing = data.get("servicing", {})
        return LoanProduct(
            code=str(data["code"]),
            name_zh=str(data["name_zh"]),
            name_en=str(data["name_en"]),
            segment=Segment(data["segment"]),
            currency=Currency.of(str(data.get("currency", "CNY"))),
            min_principal=Decimal(str(data["min_principal"])),
            max_principal=Decimal(str(data["max_principal"])),
            min_repayments=int(data["min_repayments"]),
            max_repayments=int(data["max_repayments"]),
            amortizations=frozenset(Amortization(a) for a in data["amortizations"]),
            min_rate=Decimal(str(data["min_rate"])),
            max_rate=Decimal(str(data["max_rate"])),
            frequency=Frequency(data.get("frequency", "months")),
            every=int(data.get("every", 1)),
            conventions=Conventions(data.get("conventions", "cn_bank")),
            rate_ceiling=Decimal(str(data.get("rate_ceiling", "0.24"))),
            max_bullet_days=data.get("max_bullet_days"),
            servicing=ServicingPolicy(
                penalty_uplift=Decimal(str(servicing.get("penalty_uplift", "0.5"))),
                penalty_day_basis=int(servicing.get("penalty_day_basis", 360)),
                compound_overdue_interest=bool(servicing.get("compound_overdue_interest", False)),
                allocation_order=tuple(
                    Component(c) for c in servicing.get("allocation_order", DEFAULT_ORDER)
                ),
                allocation_strategy=AllocationStrategy(
                    servicing.get("allocation_strategy", "installment_first")
                ),
                repay_ahead=bool(servicing.get("repay_ahead", True)),
            ),
        )
    except DomainError as err:
        raise ValidationError(
            f"invalid product definition: {err.message}", code="product.invalid_definition"
        ) from None
    except (KeyError, ValueError, TypeError, ArithmeticError) as err:
        raise ValidationError(
            f"invalid product definition: {err}", code="product.invalid_definition"
        ) from None
