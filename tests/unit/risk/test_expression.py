"""The ZEN expression subset Puhui evaluates decision-table cells with (R-9.2a).

Expected values follow zen-engine 2.1.3 (checked against it when the cases were written; the
baseline parity test in test_admission_baseline.py re-checks on every run).
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.risk.expression import compile_expression, compile_unary


def cell(source: str, value: Any, **variables: Any) -> bool:
    return compile_unary(source).test(variables, value)


def expr(source: str, **variables: Any) -> Any:
    return compile_expression(source).evaluate(variables)


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("> 18", 19, True),
        ("> 18", 18, False),
        (">= 18", 18, True),
        ("< 0.5", Decimal("0.4999"), True),
        ("<= 0.5", Decimal("0.50"), True),
        ("[18..60]", 18, True),
        ("[18..60]", 60, True),
        ("[18..60]", 61, False),
        ("(0..1]", 0, False),
        ("(0..1]", 1, True),
        ("[1..5)", 5, False),
        ('"A", "B"', "B", True),
        ('"A", "B"', "C", False),
        ('== "x"', "x", True),
        ('!= "x"', "y", True),
        ("1, 2, 3", 2, True),
        ("true", True, True),
        ("true", 1, False),  # a bool never equals a number
        ("false", False, True),
        ("> 0 and < 10", 5, True),
        ("< 0, > 10", 11, True),
        ("$ > 5", 6, True),
        ("$ * 2 > 3", 2, True),
        ('not in ["a", "b"]', "c", True),
        ('in ["a", "b"]', "a", True),
        ("-1", -1, True),
        ("> -1", 0, True),
        ('startsWith($, "US")', "USD", True),
        ("len($) > 2", "abc", True),
        ("not ($ == 1)", 5, True),
        ("not true", False, True),  # ZEN reads it as `$ == (not true)`
        ("$ > 1 ? true : false", 3, False),  # `$ == (...)`: 3 is not true
        ("$", "anything", True),
    ],
)
def test_unary_cells(source: str, value: Any, expected: bool) -> None:
    assert cell(source, value) is expected


def test_an_empty_cell_matches_anything() -> None:
    assert cell("", None) and cell("   ", "x")


def test_cells_may_read_other_variables() -> None:
    assert cell("> limit", 5, limit=3)
    assert cell("x == 1, $ == 5", 5, x=2)
    assert not cell("> 1 and x", 5, x=True)  # `x` alone is `$ == x`


@pytest.mark.parametrize(
    "source", ["> 18", "<= 0.5", "[18..60]", "(0..1]", "$ > 5", "> 1, == null"]
)
def test_comparisons_with_null_never_match(source: str) -> None:
    assert cell(source, None) is False


def test_null_equality_and_inequality_say_what_they_mean() -> None:
    assert cell("null", None) and cell("== null", None)
    assert cell('!= "x"', None)  # null is not "x"
    assert not cell('"A", "B"', None)
    assert not cell("true", None) and not cell("false", None)


def test_a_failed_evaluation_inside_a_cell_fails_the_cell_not_just_the_operand() -> None:
    # ZEN raises on `null > 1`, so `not (...)` does not turn it into a match
    assert cell("not ($ > 1)", None) is False
    assert cell("not ($ > 1)", 0) is True


def test_strings_and_bools_are_not_numbers() -> None:
    assert not cell("> 1", "5")
    assert not cell(">= 1", True)
    assert not cell("< 1", 0.5)  # floats are refused upstream; here they never match


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("0.1 + 0.2 == 0.3", True),
        ("7 / 2", Decimal("3.5")),
        ("-7 % 3", Decimal("-1")),
        ("1 / 0", None),
        ("2 ^ 10", 1024),
        ("-2 ^ 2", 4),
        ("2 * 3 + 4", 10),
        ("10 - 2 - 3", 5),
        ("1 ?? 2 + 3", 4),
        ('a > 5 and b == "x"', True),
        ('a < 5 or b == "x"', True),
        ("not (a > 5)", False),
        ("a in [1..10]", True),
        ("a not in [1, 2]", True),
        ('"b" in ["a", "b"]', True),
        ("applicant.age >= 18", True),
        ("applicant.missing.deeper", None),
        ('applicant["age"]', 30),
        ("items[1]", 8),
        ("items[5]", None),
        ("n ?? 5", 5),
        ('a > 5 ? "y" : "n"', "y"),
        ('len("abc")', 3),
        ("len(items)", 2),
        ("abs(-2.5)", Decimal("2.5")),
        ("min([3, 1.5])", Decimal("1.5")),
        ("max([1, 3])", 3),
        ("sum([1, 2.5])", Decimal("3.5")),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(1.005, 2)", Decimal("1.01")),
        ("floor(-2.5)", -3),
        ("ceil(2.1)", 3),
        ("trunc(-1.5)", -1),
        ('contains("abc", "b")', True),
        ("contains(items, 8)", True),
        ('startsWith("abc", "a")', True),
        ('endsWith("abc", "c")', True),
        ('upper("a") + lower("B")', "Ab"),
        ("true == 1", False),
        ('1 == "1"', False),
        ("null == null", True),
        ("1_000", 1000),
        ("1e3", 1000),
    ],
)
def test_standard_expressions(source: str, expected: Any) -> None:
    variables = {"a": 6, "b": "x", "n": None, "items": [7, 8], "applicant": {"age": 30}}
    result = expr(source, **variables)
    if isinstance(expected, bool) or expected is None:
        assert result is expected
    else:
        assert result == expected
        assert not isinstance(result, bool)


def test_dollar_is_the_reference_in_standard_mode() -> None:
    assert compile_expression("$.total * 2").evaluate({}, {"total": 21}) == 42


@pytest.mark.parametrize(
    "source",
    ["null > 1", "1 + null", "not 1", "null and true", "1 and 2", '"a" < "b"', "len(null)",
     'contains("abc", 1)', "min([])", '"a" in "abc"', "x ? 1 : 2"],
)  # fmt: skip
def test_runtime_type_errors_are_reported(source: str) -> None:
    with pytest.raises(ValidationError) as raised:
        expr(source, x=None)
    assert raised.value.code == "risk.expression.evaluation_failed"
    assert raised.value.details["expression"] == source


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("1 +", 3),
        ("a b", 2),
        ('"abc', 0),
        ("foo(1)", 0),
        ("len(1, 2)", 0),
        ("(1", 2),
        ("x in [1..", 9),
        ("a # b", 2),
        ("[1..2[", 5),
    ],
)
def test_bad_syntax_is_a_validation_error_with_the_position(source: str, position: int) -> None:
    with pytest.raises(ValidationError) as raised:
        compile_expression(source)
    assert raised.value.code == "risk.expression.invalid"
    assert raised.value.details["position"] == position
    assert raised.value.details["expression"] == source


@pytest.mark.parametrize("source", ["> ", ",", ">= 1 and", '"a" "b"', "($ > 1 and $ < 5)"])
def test_bad_cells_are_refused(source: str) -> None:
    with pytest.raises(ValidationError) as raised:
        compile_unary(source)
    assert raised.value.code == "risk.expression.invalid"


def test_parsing_happens_once_per_source() -> None:
    assert compile_unary("> 42") is compile_unary("> 42")
    assert compile_expression("a + 1") is compile_expression("a + 1")


# --- properties -------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.decimals(min_value=-(10**6), max_value=10**6, places=6, allow_nan=False),
)


def literal(number: int | Decimal) -> str:
    return str(number) if isinstance(number, int) else format(number, "f")


@given(numbers, numbers, numbers, st.booleans(), st.booleans())
def test_an_interval_is_the_pair_of_comparisons(
    x: int | Decimal, a: int | Decimal, b: int | Decimal, closed_low: bool, closed_high: bool
) -> None:
    source = f"{'[' if closed_low else '('}{literal(a)}..{literal(b)}{']' if closed_high else ')'}"
    above = a <= x if closed_low else a < x
    below = x <= b if closed_high else x < b
    assert cell(source, x) is (above and below)
    assert expr(f"x in {source}", x=x) is (above and below)


OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
             "==": operator.eq, "!=": operator.ne}  # fmt: skip


@given(numbers, numbers, st.sampled_from(sorted(OPERATORS)))
def test_comparisons_agree_with_python_on_ints_and_decimals(
    x: int | Decimal, limit: int | Decimal, op: str
) -> None:
    expected = OPERATORS[op](x, limit)
    assert cell(f"{op} {literal(limit)}", x) is expected
    assert expr(f"x {op} limit", x=x, limit=limit) is expected
    assert expr(f"x {op} {literal(limit)}", x=x) is expected


@given(numbers, numbers)
def test_arithmetic_is_exact(a: int | Decimal, b: int | Decimal) -> None:
    assert expr("a + b", a=a, b=b) == a + b
    assert expr("a - b", a=a, b=b) == a - b
    assert expr("a * b", a=a, b=b) == a * b
    assert expr(f"{literal(a)} + {literal(b)} == a + b", a=a, b=b) is True


@given(st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=4), st.text(max_size=2))
def test_a_list_cell_is_membership(choices: list[str], value: str) -> None:
    source = ", ".join(f'"{c}"' for c in choices)
    assert cell(source, value) is (value in choices)
