"""Day-count conventions against the ISDA examples (2006 ISDA Definitions, section 4.16)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.daycount import DayCountConvention, day_count, year_fraction
from puhui.domain.errors import ValidationError

C = DayCountConvention
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


def d(text: str) -> date:
    return date.fromisoformat(text)


def equals_ratio(value: Decimal, numerator: int, denominator: int) -> bool:
    """``value`` is ``numerator / denominator`` to the 34 digits the module promises."""
    return abs(Fraction(value) - Fraction(numerator, denominator)) < Fraction(1, 10**32)


def test_names() -> None:
    assert [c.value for c in C] == ["ACT/365F", "ACT/360", "30/360", "30E/360", "ACT/ACT"]
    assert C("30/360") is C.THIRTY_360


# ISDA's spreadsheet of examples for 2006 ISDA Definitions 4.16(f) and (g)
# ("30-360-2006ISDADefs.xls"): example 1 (no end of February), 2 (end of February), 3 (misc.).
ISDA_30_360_BOND_BASIS = [
    ("2006-08-20", "2007-02-20", 180),
    ("2007-02-20", "2007-08-20", 180),
    ("2007-08-20", "2008-02-20", 180),
    ("2008-02-20", "2008-08-20", 180),
    ("2008-08-20", "2009-02-20", 180),
    ("2009-02-20", "2009-08-20", 180),
    ("2006-08-31", "2007-02-28", 178),
    ("2007-02-28", "2007-08-31", 183),
    ("2007-08-31", "2008-02-29", 179),
    ("2008-02-29", "2008-08-31", 182),
    ("2008-08-31", "2009-02-28", 178),
    ("2009-02-28", "2009-08-31", 183),
    ("2006-01-31", "2006-02-28", 28),
    ("2006-01-30", "2006-02-28", 28),
    ("2006-02-28", "2006-03-03", 5),
    ("2006-02-14", "2006-02-28", 14),
    ("2006-09-30", "2006-10-31", 30),
    ("2006-10-31", "2006-11-28", 28),
    ("2007-08-31", "2008-02-28", 178),
    ("2008-02-28", "2008-08-28", 180),
    ("2008-02-28", "2008-08-30", 182),
    ("2008-02-28", "2008-08-31", 183),
    ("2007-02-26", "2008-02-28", 362),
    ("2007-02-26", "2008-02-29", 363),
    ("2008-02-29", "2009-02-28", 359),
    ("2008-02-28", "2008-03-30", 32),
    ("2008-02-28", "2008-03-31", 33),
]

ISDA_30E_360 = [
    ("2006-08-20", "2007-02-20", 180),
    ("2007-02-20", "2007-08-20", 180),
    ("2007-08-20", "2008-02-20", 180),
    ("2008-02-20", "2008-08-20", 180),
    ("2008-08-20", "2009-02-20", 180),
    ("2009-02-20", "2009-08-20", 180),
    ("2006-02-28", "2006-08-31", 182),
    ("2006-08-31", "2007-02-28", 178),
    ("2007-02-28", "2007-08-31", 182),
    ("2007-08-31", "2008-02-29", 179),
    ("2008-02-29", "2008-08-31", 181),
    ("2008-08-31", "2009-02-28", 178),
    ("2009-02-28", "2009-08-31", 182),
    ("2009-08-31", "2010-02-28", 178),
    ("2010-02-28", "2010-08-31", 182),
    ("2010-08-31", "2011-02-28", 178),
    ("2011-02-28", "2011-08-31", 182),
    ("2011-08-31", "2012-02-29", 179),
    ("2006-01-31", "2006-02-28", 28),
    ("2006-01-30", "2006-02-28", 28),
    ("2006-02-28", "2006-03-03", 5),
    ("2006-02-14", "2006-02-28", 14),
    ("2006-09-30", "2006-10-31", 30),
    ("2006-10-31", "2006-11-28", 28),
    ("2007-08-31", "2008-02-28", 178),
    ("2008-02-28", "2008-08-28", 180),
    ("2008-02-28", "2008-08-30", 182),
    ("2008-02-28", "2008-08-31", 182),
    ("2007-02-26", "2008-02-28", 362),
    ("2007-02-26", "2008-02-29", 363),
    ("2008-02-29", "2009-02-28", 359),
    ("2008-02-28", "2008-03-30", 32),
    ("2008-02-28", "2008-03-31", 32),
]


@pytest.mark.parametrize(("start", "end", "days"), ISDA_30_360_BOND_BASIS)
def test_isda_30_360_bond_basis(start: str, end: str, days: int) -> None:
    assert day_count(d(start), d(end), C.THIRTY_360) == days
    assert equals_ratio(year_fraction(d(start), d(end), C.THIRTY_360), days, 360)


@pytest.mark.parametrize(("start", "end", "days"), ISDA_30E_360)
def test_isda_30e_360(start: str, end: str, days: int) -> None:
    assert day_count(d(start), d(end), C.THIRTY_E_360) == days
    assert equals_ratio(year_fraction(d(start), d(end), C.THIRTY_E_360), days, 360)


def test_30_360_and_30e_360_differ_on_a_31st_end_date() -> None:
    # D2 = 31 stays 31 under bond basis when D1 < 30; 30E/360 always makes it 30.
    assert day_count(d("2007-01-15"), d("2007-01-31"), C.THIRTY_360) == 16
    assert day_count(d("2007-01-15"), d("2007-01-31"), C.THIRTY_E_360) == 15


# ISDA, "EMU and market conventions: recent developments" (1998), Actual/Actual (ISDA) column.
ISDA_ACT_ACT = [
    ("2003-11-01", "2004-05-01", "0.49772438057"),  # regular calculation period
    ("1999-02-01", "1999-07-01", "0.41095890411"),  # short first period
    ("1999-07-01", "2000-07-01", "1.00137734860"),
    ("2002-08-15", "2003-07-15", "0.91506849315"),  # long first period
    ("2003-07-15", "2004-01-15", "0.50400479078"),
    ("1999-07-30", "2000-01-30", "0.50389250692"),  # short final period
    ("2000-01-30", "2000-06-30", "0.41530054645"),
]


@pytest.mark.parametrize(("start", "end", "expected"), ISDA_ACT_ACT)
def test_isda_act_act(start: str, end: str, expected: str) -> None:
    fraction = year_fraction(d(start), d(end), C.ACT_ACT_ISDA)
    assert round(fraction, 11) == Decimal(expected)  # the memo shows 11 places


def test_act_act_splits_across_years_exactly() -> None:
    # 61 days of 2003 (non-leap) and 121 days of 2004 (leap)
    expected = Fraction(61, 365) + Fraction(121, 366)
    fraction = year_fraction(d("2003-11-01"), d("2004-05-01"), C.ACT_ACT_ISDA)
    assert abs(Fraction(fraction) - expected) < Fraction(1, 10**32)
    assert year_fraction(d("2001-01-01"), d("2005-01-01"), C.ACT_ACT_ISDA) == 4


def test_actual_conventions() -> None:
    start, end = d("2024-01-15"), d("2024-07-15")  # 182 days, across 29 February
    assert day_count(start, end, C.ACT_360) == 182
    assert day_count(start, end, C.ACT_365F) == 182
    assert day_count(start, end, C.ACT_ACT_ISDA) == 182
    assert equals_ratio(year_fraction(start, end, C.ACT_360), 182, 360)
    assert equals_ratio(year_fraction(start, end, C.ACT_365F), 182, 365)
    assert equals_ratio(year_fraction(start, end, C.ACT_ACT_ISDA), 182, 366)
    assert equals_ratio(year_fraction(d("2024-01-01"), d("2025-01-01"), C.ACT_365F), 366, 365)
    assert year_fraction(d("2024-01-01"), d("2024-03-31"), C.ACT_360) == Decimal("0.25")


def test_convention_may_be_given_by_name() -> None:
    assert day_count(d("2007-01-15"), d("2007-01-31"), "30E/360") == 15  # type: ignore[arg-type]


@pytest.mark.parametrize("convention", list(C))
def test_empty_period(convention: DayCountConvention) -> None:
    assert day_count(d("2024-02-29"), d("2024-02-29"), convention) == 0
    assert year_fraction(d("2024-02-29"), d("2024-02-29"), convention) == 0


@pytest.mark.parametrize("convention", list(C))
def test_reversed_period_is_refused(convention: DayCountConvention) -> None:
    for call in (day_count, year_fraction):
        with pytest.raises(ValidationError) as excinfo:
            call(d("2024-03-01"), d("2024-02-29"), convention)
        assert excinfo.value.code == "daycount.reversed_period"


@given(dates, st.integers(0, 4000), st.integers(0, 4000))
def test_act_365f_is_additive(start: date, first: int, second: int) -> None:
    middle, end = start + timedelta(days=first), start + timedelta(days=first + second)
    whole = year_fraction(start, end, C.ACT_365F)
    parts = year_fraction(start, middle, C.ACT_365F) + year_fraction(middle, end, C.ACT_365F)
    assert abs(whole - parts) < Decimal("1e-25")


@given(dates, st.integers(0, 4000), st.integers(0, 4000))
def test_act_act_is_additive(start: date, first: int, second: int) -> None:
    middle, end = start + timedelta(days=first), start + timedelta(days=first + second)
    whole = year_fraction(start, end, C.ACT_ACT_ISDA)
    parts = year_fraction(start, middle, C.ACT_ACT_ISDA) + year_fraction(
        middle, end, C.ACT_ACT_ISDA
    )
    assert abs(whole - parts) < Decimal("1e-25")


@given(dates, dates)
def test_day_counts_agree_with_the_calendar(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    actual = (end - start).days
    for convention in (C.ACT_360, C.ACT_365F, C.ACT_ACT_ISDA):
        assert day_count(start, end, convention) == actual
    for convention in (C.THIRTY_360, C.THIRTY_E_360):
        # 30-day months never drift more than a few days a year from the calendar
        assert abs(day_count(start, end, convention) - actual) <= 6 * (end.year - start.year + 1)
