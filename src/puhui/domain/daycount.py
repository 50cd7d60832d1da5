"""Day-count conventions: how many days, and what fraction of a year, a period is worth.

Interest for a period is ``principal × annual rate × year fraction``; the convention is part of
the loan product and of the disclosed terms (R-11.3). Domestic RMB loans usually accrue on
ACT/360 (daily rate = annual rate / 360); ACT/365F and the 30/360 family are offered for products
and partners that need them. Rules follow the 2006 ISDA Definitions, section 4.16.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation
from enum import StrEnum
from typing import Final

from puhui.domain.calendar import days_in_year
from puhui.domain.errors import ValidationError

__all__ = ["DayCountConvention", "day_count", "year_fraction"]

_CONTEXT: Final = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero]
)


class DayCountConvention(StrEnum):
    """A day-count convention, by its market name."""

    ACT_365F = "ACT/365F"  # actual days / 365, leap years included
    ACT_360 = "ACT/360"  # actual days / 360
    THIRTY_360 = "30/360"  # ISDA 4.16(f), bond basis
    THIRTY_E_360 = "30E/360"  # ISDA 4.16(g), Eurobond basis
    ACT_ACT_ISDA = "ACT/ACT"  # ISDA 4.16(b): days in leap years / 366 + others / 365


def _check(start: date, end: date) -> None:
    if end < start:
        raise ValidationError(
            "A period cannot end before it starts.",
            code="daycount.reversed_period",
            details={"start": start.isoformat(), "end": end.isoformat()},
        )


def _thirty_360(start: date, end: date, *, eurobond: bool) -> int:
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and (eurobond or d1 >= 30):
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def day_count(start: date, end: date, convention: DayCountConvention) -> int:
    """The days from ``start`` (counted) to ``end`` (not counted) under ``convention``."""
    _check(start, end)
    match DayCountConvention(convention):
        case DayCountConvention.THIRTY_360:
            return _thirty_360(start, end, eurobond=False)
        case DayCountConvention.THIRTY_E_360:
            return _thirty_360(start, end, eurobond=True)
        case _:
            return (end - start).days


def year_fraction(start: date, end: date, convention: DayCountConvention) -> Decimal:
    """The fraction of a year from ``start`` to ``end`` (34 significant digits)."""
    convention = DayCountConvention(convention)
    days = Decimal(day_count(start, end, convention))
    ctx = _CONTEXT.copy()
    match convention:
        case DayCountConvention.ACT_365F:
            return ctx.divide(days, Decimal(365))
        case DayCountConvention.ACT_ACT_ISDA:
            return _act_act_isda(start, end, ctx)
        case _:
            return ctx.divide(days, Decimal(360))


def _act_act_isda(start: date, end: date, ctx: Context) -> Decimal:
    if start.year == end.year:
        return ctx.divide(Decimal((end - start).days), Decimal(days_in_year(start.year)))
    first = (date(start.year + 1, 1, 1) - start).days
    last = (end - date(end.year, 1, 1)).days
    whole_years = end.year - start.year - 1
    return ctx.add(
        ctx.add(
            ctx.divide(Decimal(first), Decimal(days_in_year(start.year))),
            ctx.divide(Decimal(last), Decimal(days_in_year(end.year))),
        ),
        Decimal(whole_years),
    )
