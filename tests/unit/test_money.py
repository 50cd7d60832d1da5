"""Money: Decimal + currency, never float; one rounding function (STYLE.md, DESIGN.md)."""

from __future__ import annotations

import decimal
import pickle
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.money import CNY, Currency, Money, RoundingMode, quantize, sum_money

JPY = Currency.of("JPY")
USD = Currency.of("USD")

amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
)
fine_amounts = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False
)
money = amounts.map(Money)


def code_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return excinfo.value.code


# --- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_amount", "expected"),
    [
        ("1234.5", Decimal("1234.5")),
        ("-0.01", Decimal("-0.01")),
        ("+7", Decimal("7")),
        (12, Decimal("12")),
        (Decimal("3.14159"), Decimal("3.14159")),
    ],
)
def test_amount_is_kept_as_given(given_amount: Decimal | int | str, expected: Decimal) -> None:
    m = Money(given_amount)
    assert m.amount == expected
    assert m.amount.as_tuple() == expected.as_tuple()  # not auto-quantized
    assert m.currency == CNY


def test_float_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money(0.1)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.float_refused"


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "sNaN",
        "1e3",
        "1_000",
        "1,000.00",
        " 1",
        "1.",
        ".5",
        "",
        "１２",  # full-width digits
        Decimal("NaN"),
        Decimal("Infinity"),
        True,
        None,
        [1],
    ],
)
def test_invalid_amounts_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money(bad)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.invalid_amount"


@pytest.mark.parametrize("bad", [10**21, "-1000000000000000000000", Decimal("1E+21")])
def test_absurd_amounts_are_refused(bad: Decimal | int | str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money(bad)
    assert code_of(excinfo) == "money.out_of_range"
    assert Money(10**21 - 1).amount == 10**21 - 1


def test_negative_zero_is_plain_zero() -> None:
    assert str(Money("-0.00")) == "CNY 0.00"
    assert str(-Money("0.00")) == "CNY 0.00"


def test_currency_given_as_code_or_object() -> None:
    assert Money(1, "USD").currency == USD
    assert Money(1, USD).currency is USD
    assert Money(1, "cny").currency == CNY
    assert Currency.of(" hkd ") == Currency("HKD", 2)


@pytest.mark.parametrize("bad", ["XXX", "RMB", "", 156])
def test_unknown_currency(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money(1, bad)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.unknown_currency"


@pytest.mark.parametrize(("code", "minor_units"), [("cny", 2), ("CN", 2), ("CNY", -1), ("CNY", 9)])
def test_malformed_currency(code: str, minor_units: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Currency(code, minor_units)
    assert code_of(excinfo) == "money.invalid_currency"


def test_currency_minor_unit() -> None:
    assert CNY.minor_unit == Decimal("0.01")
    assert JPY.minor_unit == Decimal("1")
    assert str(CNY) == "CNY"


# --- the one rounding function -------------------------------------------------------------


def test_rounding_modes_are_the_decimal_constants() -> None:
    assert RoundingMode.HALF_UP == decimal.ROUND_HALF_UP
    assert RoundingMode.HALF_EVEN == decimal.ROUND_HALF_EVEN
    assert RoundingMode.HALF_DOWN == decimal.ROUND_HALF_DOWN
    assert RoundingMode.UP == decimal.ROUND_UP
    assert RoundingMode.DOWN == decimal.ROUND_DOWN
    assert RoundingMode.CEILING == decimal.ROUND_CEILING
    assert RoundingMode.FLOOR == decimal.ROUND_FLOOR


@pytest.mark.parametrize(
    ("mode", "positive", "negative"),
    [
        (RoundingMode.HALF_UP, "2.35", "-2.35"),
        (RoundingMode.HALF_EVEN, "2.34", "-2.34"),
        (RoundingMode.HALF_DOWN, "2.34", "-2.34"),
        (RoundingMode.UP, "2.35", "-2.35"),
        (RoundingMode.DOWN, "2.34", "-2.34"),
        (RoundingMode.CEILING, "2.35", "-2.34"),
        (RoundingMode.FLOOR, "2.34", "-2.35"),
    ],
)
def test_quantize_to_fen_by_mode(mode: RoundingMode, positive: str, negative: str) -> None:
    assert quantize(Decimal("2.345"), CNY, mode) == Decimal(positive)
    assert quantize(Decimal("-2.345"), CNY, mode) == Decimal(negative)


def test_quantize_defaults_to_half_up_at_currency_scale() -> None:
    assert str(quantize(Decimal("0.125"), CNY)) == "0.13"
    assert str(quantize(Decimal("7"), CNY)) == "7.00"
    assert str(quantize(Decimal("2.5"), JPY)) == "3"


@pytest.mark.parametrize(
    ("amount", "step", "mode", "expected"),
    [
        ("12.35", "0.1", RoundingMode.HALF_UP, "12.40"),
        ("12.35", "0.1", RoundingMode.HALF_EVEN, "12.40"),
        ("12.25", "0.1", RoundingMode.HALF_EVEN, "12.20"),
        ("1234.5", "1", RoundingMode.HALF_UP, "1235.00"),
        ("1234.5", "1", RoundingMode.DOWN, "1234.00"),
        ("1235", "10", RoundingMode.HALF_UP, "1240.00"),
        ("1234.99", "10", RoundingMode.FLOOR, "1230.00"),
        ("-1235", "10", RoundingMode.HALF_UP, "-1240.00"),
        ("1.234567", "0.0001", RoundingMode.HALF_UP, "1.2346"),
        ("0.37", "0.25", RoundingMode.HALF_UP, "0.25"),
    ],
)
def test_quantize_to_a_step(amount: str, step: str, mode: RoundingMode, expected: str) -> None:
    result = quantize(Decimal(amount), CNY, mode, step=Decimal(step))
    assert str(result) == expected


@pytest.mark.parametrize("step", [Decimal(0), Decimal("-0.1"), Decimal("NaN"), "0.1", 0.1])
def test_quantize_invalid_step(step: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        quantize(Decimal(1), CNY, step=step)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.invalid_step"


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("-Infinity"), 1.5, "1"])
def test_quantize_needs_a_finite_decimal(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        quantize(bad, CNY)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.invalid_amount"


def test_money_quantize_uses_the_module_function() -> None:
    assert Money("2.345").quantize() == Money("2.35")
    assert Money("2.345").quantize(RoundingMode.DOWN) == Money("2.34")
    assert Money("1234.5").quantize(step=Decimal(10)) == Money("1230")


@given(fine_amounts, st.sampled_from(list(RoundingMode)))
def test_quantize_is_idempotent(amount: Decimal, mode: RoundingMode) -> None:
    once = quantize(amount, CNY, mode)
    assert quantize(once, CNY, mode) == once
    assert abs(once - amount) < CNY.minor_unit


@given(
    fine_amounts,
    st.sampled_from(list(RoundingMode)),
    st.sampled_from([Decimal("0.05"), Decimal("0.1"), Decimal("1"), Decimal("10")]),
)
def test_quantize_to_step_is_idempotent(amount: Decimal, mode: RoundingMode, step: Decimal) -> None:
    once = quantize(amount, CNY, mode, step=step)
    assert quantize(once, CNY, mode, step=step) == once
    assert once % step == 0
    assert abs(once - amount) < step


# --- arithmetic ----------------------------------------------------------------------------


def test_add_subtract_negate_abs() -> None:
    a, b = Money("10.50"), Money("0.75")
    assert a + b == Money("11.25")
    assert a - b == Money("9.75")
    assert b - a == Money("-9.75")
    assert -a == Money("-10.50")
    assert +a is a
    assert abs(Money("-3.10")) == Money("3.10")


def test_currencies_never_mix() -> None:
    for operation in (
        lambda: Money(1) + Money(1, "USD"),
        lambda: Money(1) - Money(1, "USD"),
        lambda: Money(1) < Money(1, "USD"),
        lambda: Money(1) <= Money(1, "USD"),
        lambda: Money(1) > Money(1, "USD"),
        lambda: Money(1) >= Money(1, "USD"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            operation()
        assert code_of(excinfo) == "money.currency_mismatch"


def test_equality_across_currencies_is_false_not_an_error() -> None:
    assert Money(1) != Money(1, "USD")
    assert Money(1) != Decimal(1)


def test_money_plus_a_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(1) + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Decimal(1) - Money(1)  # type: ignore[operator]


def test_multiply_by_decimal_or_int_on_either_side() -> None:
    assert Money("100.00") * Decimal("0.0365") == Money("3.65")
    assert Decimal("0.0365") * Money("100.00") == Money("3.65")
    assert Money("2.50") * 3 == Money("7.50")
    assert 3 * Money("2.50") == Money("7.50")


@pytest.mark.parametrize("factor", [Money(2), 1.5, True, "2"])
def test_multiply_refuses_money_float_bool_and_text(factor: object) -> None:
    with pytest.raises(TypeError):
        Money(1) * factor  # type: ignore[operator]
    with pytest.raises(TypeError):
        factor * Money(1)  # type: ignore[operator]


def test_non_finite_factor_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money(1) * Decimal("Infinity")
    assert code_of(excinfo) == "money.invalid_amount"


def test_divide() -> None:
    assert Money("100.00") / 4 == Money("25")
    assert (Money("1.00") / Decimal(3)).quantize() == Money("0.33")
    assert (Money("1.00") / Decimal(3)) * 3 != Money("1.00")  # kept exact to 60 digits, not rounded
    with pytest.raises(ValidationError) as excinfo:
        Money(1) / 0
    assert code_of(excinfo) == "money.division_by_zero"
    with pytest.raises(TypeError):
        Money(1) / 2.0  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1) / Money(1)  # type: ignore[operator]


def test_unrounded_accruals_add_up_exactly() -> None:
    # a year of daily accruals kept unrounded (60 digits each), summed, then rounded once
    daily = Money("100000.00") * Decimal("0.0365") / 365
    total = sum_money([daily] * 365)
    assert total.quantize() == Money("3650.00")


def test_comparisons_and_predicates() -> None:
    assert Money("1.00") < Money("1.01") <= Money("1.01") < Money(2)
    assert Money(2) > Money("1.99") >= Money("1.99")
    assert Money("0.00").is_zero() and not Money("0.00")
    assert Money("0.01").is_positive() and Money("0.01")
    assert Money("-0.01").is_negative()
    assert not Money(0).is_positive() and not Money(0).is_negative()
    with pytest.raises(TypeError):
        _ = Money(1) < 2  # type: ignore[operator]


def test_hashable_and_value_equal() -> None:
    assert Money("1.0") == Money("1.00")
    assert hash(Money("1.0")) == hash(Money("1.00"))
    assert len({Money("1.0"), Money("1.00"), Money("1.00", "USD")}) == 2


def test_immutable_and_picklable() -> None:
    m = Money("5.00")
    with pytest.raises(AttributeError):
        m.amount = Decimal(6)  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(m)) == m


def test_arithmetic_ignores_and_keeps_the_thread_decimal_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        assert Money("123456.78") + Money("0.01") == Money("123456.79")
        assert quantize(Decimal("2.345"), CNY) == Decimal("2.35")
        assert decimal.getcontext().prec == 3
    assert decimal.getcontext().prec == 28


@given(money, money, money)
def test_addition_is_associative_and_commutative(a: Money, b: Money, c: Money) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert a - a == Money.zero()
    assert a + Money.zero() == a


# --- minor units ---------------------------------------------------------------------------


def test_minor_units() -> None:
    assert Money("1234.50").to_minor_units() == 123450
    assert Money("1.5").to_minor_units() == 150
    assert Money("-0.01").to_minor_units() == -1
    assert Money.from_minor_units(12345) == Money("123.45")
    assert str(Money.from_minor_units(12345)) == "CNY 123.45"
    assert Money.from_minor_units(500, "JPY") == Money(500, "JPY")


def test_minor_units_need_quantized_amount() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money("1.005").to_minor_units()
    assert code_of(excinfo) == "money.not_quantized"
    assert not Money("1.005").is_quantized()
    assert Money("1.000").is_quantized()


@pytest.mark.parametrize("bad", [1.0, True, "100"])
def test_from_minor_units_needs_an_int(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money.from_minor_units(bad)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.invalid_amount"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_minor_units_round_trip(units: int) -> None:
    assert Money.from_minor_units(units).to_minor_units() == units


# --- allocation ----------------------------------------------------------------------------


def test_allocate_equal_thirds() -> None:
    assert Money("100.00").allocate([1, 1, 1]) == [Money("33.34"), Money("33.33"), Money("33.33")]


def test_allocate_by_decimal_weights_and_zero_weight() -> None:
    parts = Money("10.00").allocate([Decimal("0.5"), Decimal("0.3"), Decimal(0), Decimal("0.2")])
    assert parts == [Money("5.00"), Money("3.00"), Money("0.00"), Money("2.00")]


def test_allocate_largest_remainder() -> None:
    # 10 fen by 1:2 → shares of 3⅓ and 6⅔ fen: floors 3 + 6, the larger remainder gets the last fen
    assert Money("0.10").allocate([1, 2]) == [Money("0.03"), Money("0.07")]


def test_allocate_negative_amount() -> None:
    parts = Money("-0.05").allocate([1, 1, 1])
    assert parts == [Money("-0.02"), Money("-0.02"), Money("-0.01")]


@pytest.mark.parametrize(
    "weights", [[], [0, 0], [1, -1], [1.5, 1], [True], [Decimal("NaN")], ["1"]]
)
def test_allocate_invalid_weights(weights: list[object]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money("1.00").allocate(weights)  # type: ignore[arg-type]
    assert code_of(excinfo) == "money.invalid_weights"


def test_allocate_needs_quantized_amount() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Money("1.001").allocate([1, 1])
    assert code_of(excinfo) == "money.not_quantized"


@given(
    money,
    st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=1000),
            st.decimals(min_value=0, max_value=100, places=3, allow_nan=False),
        ),
        min_size=1,
        max_size=12,
    ).filter(any),
)
def test_allocate_sums_exactly_and_each_part_within_one_fen(
    amount: Money, weights: list[Decimal | int]
) -> None:
    parts = amount.allocate(weights)
    assert len(parts) == len(weights)
    assert sum_money(parts) == amount
    total = sum(Fraction(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(amount.to_minor_units()) * Fraction(weight) / total
        assert abs(Fraction(part.to_minor_units()) - exact) < 1


@given(money, st.integers(min_value=1, max_value=40))
def test_allocate_equal_weights_differ_by_at_most_one_fen(amount: Money, n: int) -> None:
    units = [p.to_minor_units() for p in amount.allocate([1] * n)]
    assert max(units) - min(units) <= 1
    assert sum(units) == amount.to_minor_units()


# --- totals and display --------------------------------------------------------------------


def test_sum_money() -> None:
    assert sum_money([]) == Money.zero()
    assert sum_money([], "JPY") == Money(0, "JPY")
    assert sum_money([Money("1.10"), Money("2.20")]) == Money("3.30")
    with pytest.raises(ValidationError) as excinfo:
        sum_money([Money(1, "USD")])
    assert code_of(excinfo) == "money.currency_mismatch"
    with pytest.raises(TypeError):
        sum_money([Decimal(1)])  # type: ignore[list-item]


def test_display() -> None:
    assert str(Money("1234.5")) == "CNY 1234.50"
    assert str(Money(Decimal("1E+3"))) == "CNY 1000.00"
    assert str(Money("0.001")) == "CNY 0.001"  # never hides a fraction of a fen
    assert str(Money(500, "JPY")) == "JPY 500"
    assert str(Money.zero()) == "CNY 0.00"
    assert repr(Money("1234.5")) == "Money('1234.50', 'CNY')"
    assert Money("1234567.8").format() == "¥1,234,567.80"
    assert Money("-1234.5").format() == "-¥1,234.50"
    assert Money("-1234.5").format(symbol=False) == "CNY -1,234.50"
    assert Money("1234.5", "USD").format(grouping=False) == "US$1234.50"
