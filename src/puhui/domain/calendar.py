"""The platform business date (营业日期) and plain calendar arithmetic.

As in a core banking system, the date on which interest accrues, instalments fall due and days
past due are counted is the *business date*, moved forward by end-of-day processing — not the
wall clock. Domain code therefore never calls ``date.today()``: it is handed a
:class:`BusinessDateClock`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

from puhui.domain.errors import Conflict, ValidationError

__all__ = [
    "BusinessDateClock",
    "FixedBusinessDate",
    "add_months",
    "days_in_month",
    "days_in_year",
    "is_end_of_month",
    "is_leap",
]


@runtime_checkable
class BusinessDateClock(Protocol):
    """Anything that tells the current business date."""

    def today(self) -> date: ...


def _require_date(value: object) -> date:
    # ``datetime`` is a subclass of ``date``: an instant is not a business date.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(
            "A business date is a calendar date without a time.",
            code="business_date.not_a_date",
        )
    return value


class FixedBusinessDate:
    """A business date held in memory and moved explicitly (end-of-day, tests, demos).

    It only moves forward unless built with ``allow_backwards=True`` (e.g. for a replay).
    """

    __slots__ = ("_allow_backwards", "_today")

    def __init__(self, business_date: date, *, allow_backwards: bool = False) -> None:
        self._today = _require_date(business_date)
        self._allow_backwards = allow_backwards

    def today(self) -> date:
        """The current business date."""
        return self._today

    def set(self, business_date: date) -> date:
        """Move to ``business_date``; moving backwards is refused unless allowed."""
        new = _require_date(business_date)
        if new < self._today and not self._allow_backwards:
            raise Conflict(
                "The business date cannot move backwards.",
                code="business_date.backwards",
                details={"current": self._today.isoformat(), "requested": new.isoformat()},
            )
        self._today = new
        return new

    def advance(self, days: int = 1) -> date:
        """Move forward by ``days`` (end-of-day processing moves by one)."""
        if isinstance(days, bool) or not isinstance(days, int):
            raise ValidationError(
                "The business date advances by a whole number of days.",
                code="business_date.invalid_days",
            )
        return self.set(self._today + timedelta(days=days))

    def __repr__(self) -> str:
        return f"FixedBusinessDate({self._today.isoformat()})"


def is_leap(year: int) -> bool:
    """Whether ``year`` has a 29 February (Gregorian rules)."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if is_leap(year) else 365


_MONTH_LENGTHS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    """The number of days of ``month`` (1-12) in ``year``."""
    if not 1 <= month <= 12:
        raise ValidationError("A month is 1 to 12.", code="calendar.invalid_month")
    return 29 if month == 2 and is_leap(year) else _MONTH_LENGTHS[month - 1]


def is_end_of_month(d: date) -> bool:
    """Whether ``d`` is the last day of its month."""
    return d.day == days_in_month(d.year, d.month)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's end.

    31 January + 1 month is 28 February (29 in a leap year): the usual rule for instalment due
    dates.
    """
    if isinstance(months, bool) or not isinstance(months, int):
        raise ValidationError("Months are a whole number.", code="calendar.invalid_months")
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise ValidationError("The date is out of the calendar's range.", code="calendar.overflow")
    return date(year, month, min(d.day, days_in_month(year, month)))
