"""Money: an exact ``Decimal`` amount in a currency, never a float.

Puhui's non-negotiable: no float money (DESIGN.md). Every amount shown to a customer — principal,
interest, fees, the key facts of R-11.3 and R-G7 — is a :class:`Money`, and every rounding goes
through the one function :func:`quantize`, with a named :class:`RoundingMode` and the currency's
fixed scale (CNY: 2 places, 分).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final, Self

from puhui.domain.errors import ValidationError

__all__ = [
    "CNY",
    "EUR",
    "HKD",
    "JPY",
    "MAX_AMOUNT_DIGITS",
    "USD",
    "Currency",
    "Money",
    "RoundingMode",
    "quantize",
    "sum_money",
]


class RoundingMode(StrEnum):
    """A named rounding rule; each value is the matching ``decimal`` constant."""

    HALF_UP = ROUND_HALF_UP  # 四舍五入: the default for amounts shown and charged
    HALF_EVEN = ROUND_HALF_EVEN  # banker's rounding
    HALF_DOWN = ROUND_HALF_DOWN
    UP = ROUND_UP  # away from zero
    DOWN = ROUND_DOWN  # toward zero (truncate)
    CEILING = ROUND_CEILING
    FLOOR = ROUND_FLOOR


_CODE_PATTERN: Final = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and the number of decimal places of its minor unit."""

    code: str
    minor_units: int

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE_PATTERN.fullmatch(self.code):
            raise ValidationError(
                "A currency code is three upper-case letters.",
                code="money.invalid_currency",
            )
        if (
            isinstance(self.minor_units, bool)
            or not isinstance(self.minor_units, int)
            or not 0 <= self.minor_units <= 8
        ):
            raise ValidationError(
                "A currency's minor units are a whole number from 0 to 8.",
                code="money.invalid_currency",
                details={"currency": self.code},
            )

    @classmethod
    def of(cls, code: str) -> Currency:
        """The known currency with this ISO code (``"CNY"``, ``"usd"`` ...)."""
        key = code.strip().upper() if isinstance(code, str) else ""
        try:
            return _KNOWN_CURRENCIES[key]
        except KeyError:
            raise ValidationError(
                "This currency is not supported.",
                code="money.unknown_currency",
                details={"currency": key[:8], "supported": sorted(_KNOWN_CURRENCIES)},
            ) from None

    @property
    def minor_unit(self) -> Decimal:
        """The smallest amount of the currency: ``0.01`` for CNY (1 分), ``1`` for JPY."""
        return Decimal(1).scaleb(-self.minor_units)

    def __str__(self) -> str:
        return self.code


CNY: Final = Currency("CNY", 2)
USD: Final = Currency("USD", 2)
EUR: Final = Currency("EUR", 2)
HKD: Final = Currency("HKD", 2)
JPY: Final = Currency("JPY", 0)

_KNOWN_CURRENCIES: Final = MappingProxyType({c.code: c for c in (CNY, USD, EUR, HKD, JPY)})
_SYMBOLS: Final = MappingProxyType(
    {"CNY": "¥", "USD": "US$", "EUR": "€", "HKD": "HK$", "JPY": "JP¥"}
)

MAX_AMOUNT_DIGITS: Final = 21  # whole-number digits: |amount| < 10**21, far above any balance

# Arithmetic never reads or changes the thread's decimal context. Sums and differences are exact
# (wide precision, Inexact trapped); products and quotients round half-even at 60 digits.
_EXACT: Final = Context(prec=1000, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_WIDE: Final = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
_AMOUNT_PATTERN: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # pragma: no cover - only NaN/Infinity, refused earlier
        raise ValidationError("An amount must be a finite number.", code="money.invalid_amount")
    return exponent


def _as_currency(currency: Currency | str) -> Currency:
    return currency if isinstance(currency, Currency) else Currency.of(currency)


def quantize(
    amount: Decimal,
    currency: Currency,
    rounding: RoundingMode = RoundingMode.HALF_UP,
    *,
    step: Decimal | None = None,
) -> Decimal:
    """Round ``amount`` the one way the platform rounds.

    Without ``step``: to the currency's minor unit (CNY → 0.01, 分). With ``step`` (``0.1``,
    ``1``, ``10`` ...): to a multiple of ``step``, shown with at least the currency's scale.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(
            "Only a finite decimal amount can be rounded.", code="money.invalid_amount"
        )
    mode = RoundingMode(rounding)
    ctx = _WIDE.copy()
    if step is None:
        return amount.quantize(currency.minor_unit, rounding=mode.value, context=ctx)
    if isinstance(step, bool) or not isinstance(step, Decimal | int):
        raise ValidationError("A rounding step is a positive decimal.", code="money.invalid_step")
    step = Decimal(step)
    if not step.is_finite() or step <= 0:
        raise ValidationError("A rounding step is a positive decimal.", code="money.invalid_step")
    multiples = ctx.divide(amount, step).to_integral_value(rounding=mode.value, context=ctx)
    rounded = ctx.multiply(multiples, step)
    exponent = min(_exponent(step), -currency.minor_units)
    return rounded.quantize(Decimal(1).scaleb(exponent), context=ctx)


def _parse_amount(amount: object) -> Decimal:
    if isinstance(amount, float):
        raise ValidationError(
            "Money is never a float: give the amount as a string, an int or a Decimal.",
            code="money.float_refused",
        )
    if isinstance(amount, bool):
        raise ValidationError("A yes/no value is not an amount.", code="money.invalid_amount")
    if isinstance(amount, Decimal | int) or (
        isinstance(amount, str) and _AMOUNT_PATTERN.fullmatch(amount)
    ):
        value = Decimal(amount)
    else:
        raise ValidationError(
            "An amount is written with digits and an optional decimal point, e.g. 1234.50.",
            code="money.invalid_amount",
        )
    if not value.is_finite():
        raise ValidationError("An amount must be a finite number.", code="money.invalid_amount")
    if not value.is_zero() and value.adjusted() >= MAX_AMOUNT_DIGITS:
        raise ValidationError(
            "The amount is too large to be real.",
            code="money.out_of_range",
            details={"max_whole_digits": MAX_AMOUNT_DIGITS},
        )
    return value.copy_abs() if value.is_zero() else value  # no "-0.00"


def _factor(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money cannot be multiplied or divided by a float; use a Decimal")
    if isinstance(value, Money):
        raise TypeError("money cannot be multiplied or divided by money")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"unsupported operand for money: {type(value).__name__}")
    factor = Decimal(value)
    if not factor.is_finite():
        raise ValidationError("A factor must be a finite number.", code="money.invalid_amount")
    return factor


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class Money:
    """An amount of money in one currency; immutable and hashable.

    The amount is kept exactly as given; call :meth:`quantize` to round it.
    """

    amount: Decimal
    currency: Currency

    def __init__(self, amount: Decimal | int | str, currency: Currency | str = CNY) -> None:
        object.__setattr__(self, "amount", _parse_amount(amount))
        object.__setattr__(self, "currency", _as_currency(currency))

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: Currency | str = CNY) -> Self:
        """Nothing, at the currency's scale (``CNY 0.00``)."""
        cur = _as_currency(currency)
        return cls(Decimal(0).scaleb(-cur.minor_units), cur)

    @classmethod
    def from_minor_units(cls, units: int, currency: Currency | str = CNY) -> Self:
        """Money from a whole number of minor units (分 for CNY): ``12345`` → ``CNY 123.45``."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise ValidationError("Minor units are a whole number.", code="money.invalid_amount")
        cur = _as_currency(currency)
        return cls(Decimal(units).scaleb(-cur.minor_units), cur)

    # -- queries -----------------------------------------------------------------------------

    def is_zero(self) -> bool:
        return self.amount.is_zero()

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def is_quantized(self) -> bool:
        """Whether the amount is a whole number of minor units (no fraction of a 分)."""
        scaled = self.amount.scaleb(self.currency.minor_units)
        return scaled == scaled.to_integral_value()

    def quantize(
        self, rounding: RoundingMode = RoundingMode.HALF_UP, *, step: Decimal | None = None
    ) -> Money:
        """This amount rounded by :func:`quantize`."""
        return Money(quantize(self.amount, self.currency, rounding, step=step), self.currency)

    def to_minor_units(self) -> int:
        """The amount as a whole number of minor units (分); it must already be quantized."""
        if not self.is_quantized():
            raise ValidationError(
                "The amount has a fraction of the smallest unit: round it first.",
                code="money.not_quantized",
                details={"currency": self.currency.code},
            )
        return int(self.amount.scaleb(self.currency.minor_units))

    # -- splitting ---------------------------------------------------------------------------

    def allocate(self, weights: Sequence[Decimal | int]) -> list[Money]:
        """Split this quantized amount by ``weights`` so that the parts add up exactly.

        Each part gets the floor of its exact share in minor units; the units left over go, one
        each, to the parts with the largest remainders (earlier parts win ties).
        """
        ratios = _weights(weights)
        units = self.to_minor_units()
        sign, whole = (-1 if units < 0 else 1), abs(units)
        total = sum(ratios, Fraction(0))
        shares = [whole * r / total for r in ratios]
        floors = [s.numerator // s.denominator for s in shares]
        left = whole - sum(floors)
        by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
        for i in by_remainder[:left]:
            floors[i] += 1
        return [Money.from_minor_units(sign * f, self.currency) for f in floors]

    # -- arithmetic --------------------------------------------------------------------------

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValidationError(
                "Amounts in different currencies cannot be combined.",
                code="money.currency_mismatch",
                details={"currencies": [self.currency.code, other.currency.code]},
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(_EXACT.copy().add(self.amount, other.amount), self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(_EXACT.copy().subtract(self.amount, other.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(_WIDE.copy().multiply(self.amount, _factor(factor)), self.currency)

    def __rmul__(self, factor: Decimal | int) -> Money:
        return self.__mul__(factor)

    def __truediv__(self, divisor: Decimal | int) -> Money:
        value = _factor(divisor)
        if value.is_zero():
            raise ValidationError("Money cannot be divided by zero.", code="money.division_by_zero")
        return Money(_WIDE.copy().divide(self.amount, value), self.currency)

    def __neg__(self) -> Money:
        return Money(self.amount.copy_negate(), self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(self.amount.copy_abs(), self.currency)

    def __bool__(self) -> bool:
        return not self.amount.is_zero()

    # -- comparison --------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal when the currency and the value agree (``1.0`` equals ``1.00``)."""
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def _comparable(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"money cannot be compared with {type(other).__name__}")
        self._same_currency(other)
        return other

    def __lt__(self, other: object) -> bool:
        return self.amount < self._comparable(other).amount

    def __le__(self, other: object) -> bool:
        return self.amount <= self._comparable(other).amount

    def __gt__(self, other: object) -> bool:
        return self.amount > self._comparable(other).amount

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._comparable(other).amount

    # -- display -----------------------------------------------------------------------------

    def _plain(self, grouping: bool = False) -> str:
        amount = self.amount
        if _exponent(amount) > -self.currency.minor_units:
            amount = amount.quantize(self.currency.minor_unit, context=_WIDE.copy())
        return format(amount, ",f" if grouping else "f")

    def __str__(self) -> str:
        """``CNY 1234.50``: never rounded, padded to the currency's scale."""
        return f"{self.currency.code} {self._plain()}"

    def __repr__(self) -> str:
        return f"Money('{self._plain()}', '{self.currency.code}')"

    def format(self, *, symbol: bool = True, grouping: bool = True) -> str:
        """For people: ``¥1,234.50`` (or ``CNY 1,234.50`` with ``symbol=False``)."""
        text = self._plain(grouping)
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        if symbol and self.currency.code in _SYMBOLS:
            return f"{sign}{_SYMBOLS[self.currency.code]}{digits}"
        return f"{self.currency.code} {sign}{digits}"


def _weights(weights: Sequence[Decimal | int]) -> list[Fraction]:
    ratios: list[Fraction] = []
    for weight in weights:
        if isinstance(weight, bool | float) or not isinstance(weight, Decimal | int):
            raise ValidationError(
                "Allocation weights are decimals or whole numbers.", code="money.invalid_weights"
            )
        if isinstance(weight, Decimal) and not weight.is_finite():
            raise ValidationError("Allocation weights are finite.", code="money.invalid_weights")
        if weight < 0:
            raise ValidationError(
                "Allocation weights cannot be negative.", code="money.invalid_weights"
            )
        ratios.append(Fraction(weight))
    if not ratios or not any(ratios):
        raise ValidationError(
            "At least one allocation weight must be positive.", code="money.invalid_weights"
        )
    return ratios


def sum_money(amounts: Iterable[Money], currency: Currency | str = CNY) -> Money:
    """The total of ``amounts``, all in ``currency``; an empty total is zero."""
    total = Money.zero(currency)
    for amount in amounts:
        if not isinstance(amount, Money):
            raise TypeError(f"sum_money adds Money, not {type(amount).__name__}")
        total = total + amount
    return total
