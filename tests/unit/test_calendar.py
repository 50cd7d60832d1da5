"""The business date (营业日期) and calendar helpers: no wall clock in the domain."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.calendar import (
    BusinessDateClock,
    FixedBusinessDate,
    add_months,
    days_in_month,
    days_in_year,
    is_end_of_month,
    is_leap,
)
from puhui.domain.errors import Conflict, ErrorKind, ValidationError


def test_fixed_business_date_is_a_clock() -> None:
    clock = FixedBusinessDate(date(2024, 6, 28))
    assert isinstance(clock, BusinessDateClock)
    assert clock.today() == date(2024, 6, 28)
    assert repr(clock) == "FixedBusinessDate(2024-06-28)"


def test_end_of_day_advances_the_business_date() -> None:
    clock = FixedBusinessDate(date(2024, 2, 28))
    assert clock.advance() == date(2024, 2, 29)
    assert clock.advance(2) == date(2024, 3, 2)
    assert clock.advance(0) == date(2024, 3, 2)
    assert clock.set(date(2024, 12, 31)) == date(2024, 12, 31)
    assert clock.today() == date(2024, 12, 31)


def test_business_date_does_not_move_backwards() -> None:
    clock = FixedBusinessDate(date(2024, 3, 1))
    for move in (lambda: clock.set(date(2024, 2, 29)), lambda: clock.advance(-1)):
        with pytest.raises(Conflict) as excinfo:
            move()
        assert excinfo.value.code == "business_date.backwards"
        assert excinfo.value.kind is ErrorKind.CONFLICT
    assert clock.today() == date(2024, 3, 1)  # unchanged


def test_business_date_may_move_backwards_when_allowed() -> None:
    clock = FixedBusinessDate(date(2024, 3, 1), allow_backwards=True)
    assert clock.set(date(2023, 1, 1)) == date(2023, 1, 1)
    assert clock.advance(-1) == date(2022, 12, 31)


@pytest.mark.parametrize("bad", [datetime(2024, 3, 1, tzinfo=UTC), "2024-03-01", None])
def test_business_date_is_a_plain_date(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        FixedBusinessDate(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "business_date.not_a_date"
    clock = FixedBusinessDate(date(2024, 3, 1))
    with pytest.raises(ValidationError):
        clock.set(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.0, True, "1"])
def test_advance_by_whole_days(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        FixedBusinessDate(date(2024, 3, 1)).advance(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "business_date.invalid_days"


@pytest.mark.parametrize(
    ("year", "leap"), [(2024, True), (2023, False), (2000, True), (1900, False), (2100, False)]
)
def test_leap_years(year: int, leap: bool) -> None:
    assert is_leap(year) is leap
    assert days_in_year(year) == (366 if leap else 365)


def test_days_in_month() -> None:
    assert [days_in_month(2024, m) for m in range(1, 13)] == [
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    ]  # fmt: skip
    assert days_in_month(2023, 2) == 28
    for month in (0, 13):
        with pytest.raises(ValidationError) as excinfo:
            days_in_month(2024, month)
        assert excinfo.value.code == "calendar.invalid_month"
    assert is_end_of_month(date(2024, 2, 29))
    assert not is_end_of_month(date(2023, 2, 27))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 2, date(2024, 3, 31)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 1, 15), 12, date(2025, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2025, 1, 10), -13, date(2023, 12, 10)),
        (date(2024, 5, 20), 0, date(2024, 5, 20)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_months_errors() -> None:
    with pytest.raises(ValidationError) as excinfo:
        add_months(date(9999, 12, 1), 1)
    assert excinfo.value.code == "calendar.overflow"
    with pytest.raises(ValidationError) as excinfo:
        add_months(date(2024, 1, 1), 1.0)  # type: ignore[arg-type]
    assert excinfo.value.code == "calendar.invalid_months"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), st.integers(-600, 600))
def test_add_months_properties(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == min(start.day, days_in_month(result.year, result.month))
    if start.day <= 28:
        assert add_months(result, -months) == start
