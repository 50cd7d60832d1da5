"""Interest rates: an annual rate as an exact decimal fraction, never a float.

The annual rate is the figure the customer must see first (R-11.3 key terms, R-G7 rate
disclosure); monthly and daily rates are derived from it and may be shown, never more
prominently. Derived rates are computed in a private 34-digit decimal context, so nothing here
depends on, or changes, the thread's decimal settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Final, Self

from puhui.domain.errors import ValidationError

__all__ = ["ALLOWED_DAYS_IN_YEAR", "MAX_ANNUAL_RATE", "Rate"]

MAX_ANNUAL_RATE: Final = Decimal(10)  # 1000 % a year: anything above is a typing mistake
ALLOWED_DAYS_IN_YEAR: Final = frozenset({360, 364, 365, 366})

_CONTEXT: Final = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_NUMBER_PATTERN: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _parse(value: object, what: str) -> Decimal:
    if isinstance(value, float):
        raise ValidationError(
            f"A {what} is never a float: give it as a string, an int or a Decimal.",
            code="rate.float_refused",
        )
    if isinstance(value, bool):
        raise ValidationError(f"A yes/no value is not a {what}.", code="rate.invalid")
    if isinstance(value, Decimal | int) or (
        isinstance(value, str) and _NUMBER_PATTERN.fullmatch(value)
    ):
        number = Decimal(value)
    else:
        raise ValidationError(
            f"A {what} is written with digits and an optional decimal point.", code="rate.invalid"
        )
    if not number.is_finite():
        raise ValidationError(f"A {what} must be a finite number.", code="rate.invalid")
    return number


@dataclass(frozen=True, slots=True, init=False, order=True, repr=False)
class Rate:
    """A nominal annual interest rate as a fraction: ``Rate("0.0365")`` is 3.65 % a year."""

    annual: Decimal

    def __init__(self, annual: Decimal | str | int) -> None:
        value = _parse(annual, "rate")
        if value < 0:
            raise ValidationError("An interest rate cannot be negative.", code="rate.negative")
        if value > MAX_ANNUAL_RATE:
            raise ValidationError(
                "An annual rate above 1000 % is refused as a likely mistake.",
                code="rate.out_of_range",
                details={"max_annual_rate": str(MAX_ANNUAL_RATE)},
            )
        object.__setattr__(self, "annual", value.copy_abs() if value.is_zero() else value)

    @classmethod
    def percent(cls, percent: Decimal | str | int) -> Self:
        """A rate given in percent: ``Rate.percent("3.65")`` is 0.0365."""
        return cls(_parse(percent, "percentage").scaleb(-2))

    def as_percent(self) -> Decimal:
        """The annual rate in percent (exact): 0.0365 → 3.65."""
        return self.annual.scaleb(2)

    def monthly(self) -> Decimal:
        """The monthly rate (月利率): annual / 12."""
        return self.per_period(12)

    def daily(self, days_in_year: int) -> Decimal:
        """The daily rate (日利率): annual / days in the year basis (360, 364, 365 or 366)."""
        if isinstance(days_in_year, bool) or days_in_year not in ALLOWED_DAYS_IN_YEAR:
            raise ValidationError(
                "The days-in-year basis is 360, 364, 365 or 366.",
                code="rate.invalid_days_in_year",
                details={"allowed": sorted(ALLOWED_DAYS_IN_YEAR)},
            )
        return _CONTEXT.copy().divide(self.annual, Decimal(days_in_year))

    def per_period(self, periods_per_year: int) -> Decimal:
        """The rate of one period when a year has ``periods_per_year`` equal periods."""
        if (
            isinstance(periods_per_year, bool)
            or not isinstance(periods_per_year, int)
            or periods_per_year <= 0
        ):
            raise ValidationError(
                "The number of periods in a year is a positive whole number.",
                code="rate.invalid_periods",
            )
        return _CONTEXT.copy().divide(self.annual, Decimal(periods_per_year))

    def __str__(self) -> str:
        """``3.65%``: the annual rate in percent, without trailing zeros."""
        percent = self.as_percent().normalize(_CONTEXT.copy())
        return f"{percent:f}%"

    def __repr__(self) -> str:
        return f"Rate('{self.annual:f}')"
