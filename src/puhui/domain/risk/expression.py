"""The ZEN expression language of GoRules JDM decision tables, in plain Python (R-9.2a).

Puhui evaluates its rule sets (JDM files) itself; the parity test proves the same results as
zen-engine 2.1.3 on the same file. Two modes, as in ZEN:

* **standard** — a full expression: ``a + b``, ``a > 5 and b == "x"``, ``x in [1..10]``,
  ``c ? 1 : 2``, ``a ?? 0``, field paths ``applicant.age``, functions (``len abs min max sum
  round floor ceil trunc contains startsWith endsWith upper lower bool``);
* **unary** — a decision-table cell tested against the column value ``$``: ``> 18``,
  ``[18..60]``, ``(0..1]``, ``"A", "B"`` (comma = or), ``== "x"``, ``!= "x"``,
  ``not in ["a", "b"]``, ``> 0 and < 10``, or any expression using ``$``.

ZEN semantics kept on purpose: ``<``/``>`` on anything but two numbers (``null`` included) is an
evaluation error, and a cell whose evaluation fails does not match — so comparisons with null
never fire a rule, while ``== null`` / ``!= "x"`` do what they say. ``==`` never equates a bool
with a number (``true == 1`` is false). ``/`` or ``%`` by zero gives null. ZEN 2.1.3 has no
``not(...)`` unary test; write ``not in [...]`` or ``not ($ == "x")``.

Numbers are exact: integer literals are ``int``, others ``Decimal``; inputs must be ``int`` or
``Decimal`` (never ``float``), compared exactly. Division uses a 28-digit decimal context, as
ZEN's rust_decimal. Not supported (refused as invalid syntax): template strings, object
literals, closures, slices, date functions.

Parsing happens once per distinct source (LRU cache); the result is a tree of closures.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from decimal import DecimalException as _DecimalError
from functools import lru_cache
from typing import Any, Final

from puhui.domain.errors import ValidationError

__all__ = ["Expression", "UnaryTest", "compile_expression", "compile_unary"]

Fn = Callable[[Mapping[str, Any], Any], Any]
"""A compiled node: ``fn(variables, reference)`` — ``reference`` is ``$``."""

_CTX: Final = Context(prec=28)
_NUM: Final[frozenset[type[Any]]] = frozenset({int, Decimal})  # bool is not a number here
_TOKEN: Final = re.compile(
    r"""\s*(?:(?P<num>\d[\d_]*(?:\.(?!\.)\d*)?(?:[eE][+-]?\d+)?)|(?P<str>"[^"]*"|'[^']*')
    |(?P<id>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<op>\.\.|==|!=|<=|>=|\?\?|[-+*/%^<>!?:.,()\[\]]))""",
    re.VERBOSE,
)
_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_COMPARISONS: Final = frozenset({"==", "!=", "<", ">", "<=", ">=", "in", "not in"})
# (precedence, right-associative) as in zen-expression's parser constants
_BINARY: Final = {
    "or": (10, False), "and": (15, False), "+": (30, False), "-": (30, False),
    "*": (60, False), "/": (60, False), "%": (60, False), "^": (70, True), "??": (80, False),
    **{op: (20, False) for op in _COMPARISONS},
}  # fmt: skip
_ARITY: Final = {
    "len": (1, 1), "abs": (1, 1), "min": (1, 1), "max": (1, 1), "sum": (1, 1), "round": (1, 2),
    "floor": (1, 1), "ceil": (1, 1), "trunc": (1, 1), "contains": (2, 2), "startsWith": (2, 2),
    "endsWith": (2, 2), "upper": (1, 1), "lower": (1, 1), "bool": (1, 1),
}  # fmt: skip
_AS_BOOLEAN_CALLS: Final = frozenset({"contains", "startsWith", "endsWith"})


class EvaluationFailed(Exception):
    """A ZEN runtime error (bad operand type); a cell that raises it does not match."""


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # num str bool null ref id member call array interval not neg bin cond
    value: Any = None
    args: tuple[_Node, ...] = ()
    pos: int = 0


_REF: Final = _Node("ref")


# --- parsing ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        self.i = 0
        pos, end = 0, len(source.rstrip())
        while pos < end:
            m = _TOKEN.match(source, pos)
            if m is None or m.lastgroup is None:
                at = end - len(source[pos:end].lstrip())
                raise self.error(f"unexpected character {source[at]!r}", at)
            kind, text = m.lastgroup, m.group(m.lastgroup)
            if kind == "id" and text in _KEYWORDS:
                kind = "op"
            self.tokens.append((kind, text, m.start(kind)))
            pos = m.end()
        self.tokens.append(("end", "", len(source)))

    def error(self, reason: str, pos: int | None = None) -> ValidationError:
        at = self.tokens[self.i][2] if pos is None else pos
        return ValidationError(
            f"Invalid expression {self.source!r}: {reason} at position {at}",
            code="risk.expression.invalid",
            details={"expression": self.source, "position": at, "reason": reason},
        )

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self, text: str | None = None) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        if token[0] == "end":
            raise self.error("unexpected end of expression")
        if text is not None and (token[0] != "op" or token[1] != text):
            raise self.error(f"expected {text!r}")
        self.i += 1
        return token

    def at(self, *texts: str) -> bool:
        kind, text, _ = self.tokens[self.i]
        return kind == "op" and text in texts

    def finish(self, node: _Node) -> _Node:
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.peek()[1]!r}")
        return node

    def operator(self) -> str | None:
        kind, text, _ = self.peek()
        if kind != "op":
            return None
        if text == "not":
            return "not in" if self.peek(1)[:2] == ("op", "in") else None
        return text if text in _BINARY else None

    def binary(self, min_prec: int, unary: bool) -> _Node:
        left = self.prefix(unary)
        while (op := self.operator()) is not None:
            if unary and op in ("and", "or"):
                break
            prec, right_assoc = _BINARY[op]
            if prec < min_prec:
                break
            pos = self.take()[2]
            if op == "not in":
                self.take()
            right = self.binary(prec if right_assoc else prec + 1, unary)
            left = _Node("bin", op, (left, right), pos)
        if min_prec == 0 and self.at("?"):
            pos = self.take()[2]
            on_true = self.binary(0, unary)
            self.take(":")
            left = _Node("cond", None, (left, on_true, self.binary(0, unary)), pos)
        return left

    def prefix(self, unary: bool) -> _Node:
        kind, text, pos = self.peek()
        if kind == "op" and text in ("not", "!", "-", "+"):
            self.take()
            if text in ("not", "!"):
                return _Node("not", None, (self.binary(50, unary),), pos)
            operand = self.binary(200, unary)
            if text == "+":
                return operand
            if operand.kind == "num":  # fold `-1` into a literal
                return _Node("num", -operand.value, pos=pos)
            return _Node("neg", None, (operand,), pos)
        if kind == "op" and text in ("(", "["):
            return self.postfix(self.bracket(unary))
        if kind == "end":
            raise self.error("expected a value")
        self.take()
        if kind == "num":
            digits = text.replace("_", "")
            if digits.isdigit():
                return _Node("num", int(digits), pos=pos)
            return _Node(
                "num", Decimal(digits.rstrip(".") if digits.endswith(".") else digits), pos=pos
            )
        if kind == "str":
            return _Node("str", text[1:-1], pos=pos)
        if kind == "op" and text in ("true", "false"):
            return _Node("bool", text == "true", pos=pos)
        if kind == "op" and text == "null":
            return _Node("null", pos=pos)
        if kind == "id":
            if self.at("("):
                return self.postfix(self.call(text, pos))
            return self.postfix(_REF if text == "$" else _Node("id", text, pos=pos))
        self.i -= 1
        raise self.error(f"unexpected {text!r}")

    def bracket(self, unary: bool) -> _Node:
        opener, pos = self.take()[1], self.peek()[2]
        if opener == "[" and self.at("]"):
            self.take()
            return _Node("array", pos=pos)
        first = self.binary(0, unary and opener == "(")
        if self.at(".."):
            self.take()
            last = self.binary(0, False)
            if not self.at("]", ")"):
                raise self.error("expected ']' or ')' to close the interval")
            closer = self.take()[1]
            return _Node("interval", (opener == "[", closer == "]"), (first, last), pos)
        if opener == "(":
            self.take(")")
            return first
        items = [first]
        while self.at(","):
            self.take()
            items.append(self.binary(0, False))
        self.take("]")
        return _Node("array", None, tuple(items), pos)

    def call(self, name: str, pos: int) -> _Node:
        if name not in _ARITY:
            raise self.error(f"unknown function {name!r}", pos)
        self.take("(")
        args: list[_Node] = []
        while not self.at(")"):
            if args:
                self.take(",")
            args.append(self.binary(0, False))
        self.take(")")
        low, high = _ARITY[name]
        if not low <= len(args) <= high:
            raise self.error(f"{name}() takes {low}..{high} arguments, got {len(args)}", pos)
        return _Node("call", name, tuple(args), pos)

    def postfix(self, node: _Node) -> _Node:
        while self.at(".", "["):
            if self.take()[1] == ".":
                kind, text, pos = self.take()
                if kind not in ("id", "op") or not text.isidentifier():
                    raise self.error("expected a field name after '.'", pos)
                node = _Node("member", None, (node, _Node("str", text)), pos)
            else:
                node = _Node("member", None, (node, self.binary(0, False)), node.pos)
                self.take("]")
        return node

    def unary_test(self) -> _Node:
        """A cell: pairs joined by ``,``/``or``/``and`` (one precedence, left to right)."""
        node = self.pair()
        while self.peek()[0] != "end":
            if not self.at(",", "or", "and"):
                raise self.error(f"invalid join operator {self.peek()[1]!r}")
            kind, pos = ("and" if self.take()[1] == "and" else "or"), self.peek()[2]
            node = _Node("bin", kind, (node, self.pair()), pos)
        return node

    def pair(self) -> _Node:
        op, pos = self.operator(), self.peek()[2]
        if op in _COMPARISONS:
            self.take()
            if op == "not in":
                self.take()
            return _Node("bin", op, (_REF, self.binary(0, True)), pos)
        node = self.binary(0, True)
        behaviour = _behaviour(node)
        if behaviour == "bool":
            return _Node("call", "bool", (node,), pos)
        return _Node("bin", behaviour, (_REF, node), pos)


def _behaviour(node: _Node) -> str:
    """How a bare unary cell is tested against ``$``: ``==``, ``in`` or ``bool`` (as ZEN)."""
    kind = node.kind
    if kind in ("array", "interval"):
        return "in"
    if kind in ("not", "neg"):
        return _behaviour(node.args[0])
    if kind == "call":
        return "bool" if node.value in _AS_BOOLEAN_CALLS else "=="
    if kind == "cond":
        a, b = _behaviour(node.args[1]), _behaviour(node.args[2])
        return a if a == b else "=="
    if kind == "bin":
        if node.value in ("+", "-", "*", "/", "%", "^"):
            a, b = _behaviour(node.args[0]), _behaviour(node.args[1])
            return a if a == b else "=="
        return "bool"
    return "=="


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Interval:
    low: Any
    high: Any
    low_closed: bool
    high_closed: bool

    def contains(self, value: Any) -> bool:
        low, high = self.low, self.high
        if value.__class__ not in _NUM or low.__class__ not in _NUM or high.__class__ not in _NUM:
            raise EvaluationFailed("interval bounds and value must be numbers")
        above = low <= value if self.low_closed else low < value
        return bool(above and (value <= high if self.high_closed else value < high))


def equal(a: object, b: object) -> bool:
    """ZEN ``==``: null equals only null; numbers by value; bools only bools; strings; else no."""
    if a is None or b is None:
        return a is b
    if a.__class__ in _NUM:
        return b.__class__ in _NUM and a == b
    if a.__class__ is bool or b.__class__ is bool:
        return a is b
    return isinstance(a, str) and isinstance(b, str) and a == b


def _member(target: Any, key: Any) -> Any:
    if isinstance(target, Mapping):
        return target.get(key) if isinstance(key, str) else None
    if isinstance(target, list | tuple) and key.__class__ is int:
        if key < 0:
            raise EvaluationFailed("negative index")
        return target[key] if key < len(target) else None
    return None


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list | tuple) and not isinstance(item, list | tuple | Mapping):
        return any(equal(item, element) for element in container)
    if isinstance(container, _Interval):
        return container.contains(item)
    raise EvaluationFailed("`in` needs an array or an interval")


def _numbers(*values: Any) -> None:
    for value in values:
        if value.__class__ not in _NUM:
            raise EvaluationFailed("operand is not a number")


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    _numbers(a, b)
    try:
        if op in ("+", "-", "*"):
            return a + b if op == "+" else a - b if op == "-" else a * b
        if b == 0 and op in ("/", "%"):
            return None  # as ZEN
        if op == "/":
            return _CTX.divide(Decimal(a), Decimal(b))
        if op == "%":  # sign of the dividend, as ZEN (Python's int % would floor)
            return _CTX.remainder(Decimal(a), Decimal(b))
        return _CTX.power(Decimal(a), Decimal(b))
    except _DecimalError as exc:
        raise EvaluationFailed(f"arithmetic failed: {exc!r}") from None


def _to_bool(value: Any) -> bool:
    if value.__class__ is bool:
        return value is True
    if value is None:
        return False
    if value.__class__ in _NUM:
        return bool(value != 0)
    if isinstance(value, str):
        return value in ("true", "")  # what ZEN 2.1.3's bool() does with strings
    return True


def _round(value: Any, places: Any = 0, mode: str = ROUND_HALF_UP) -> Any:
    _numbers(value, places)
    if places < 0:
        raise EvaluationFailed("invalid number of decimal places")
    exponent = Decimal(1).scaleb(-int(places))
    result = Decimal(value).quantize(exponent, mode)  # HALF_UP: half away from zero, as ZEN
    return int(result) if exponent == 1 else result


def _call(name: str, args: list[Any]) -> Any:
    a = args[0]
    if name == "len" and isinstance(a, str | list | tuple):
        return len(a.encode("utf-8")) if isinstance(a, str) else len(a)  # ZEN: UTF-8 bytes
    if name == "abs":
        _numbers(a)
        return abs(a)
    if name in ("min", "max", "sum") and isinstance(a, list | tuple):
        _numbers(*a)
        if name == "sum":
            return sum(a, 0)
        if a:
            return min(a) if name == "min" else max(a)
    if name == "round":
        return _round(*args)
    if name in _INTEGRAL:
        return _round(a, 0, _INTEGRAL[name])
    if name == "contains" and isinstance(a, str) and isinstance(args[1], str):
        return args[1] in a
    if name == "contains" and isinstance(a, list | tuple):
        return _contains(a, args[1])
    if name == "bool":
        return _to_bool(a)
    if name in ("startsWith", "endsWith") and isinstance(a, str) and isinstance(args[1], str):
        return a.startswith(args[1]) if name == "startsWith" else a.endswith(args[1])
    if name in ("upper", "lower") and isinstance(a, str):
        return a.upper() if name == "upper" else a.lower()
    raise EvaluationFailed(f"{name}() cannot take these arguments")


_INTEGRAL: Final = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "trunc": ROUND_DOWN}


# --- compilation to closures ------------------------------------------------------------------


def _compile(node: _Node) -> Fn:
    kind, args = node.kind, node.args
    if kind in ("num", "str", "bool", "null"):
        constant = node.value
        return lambda env, ref: constant
    if kind == "ref":
        return lambda env, ref: ref
    path = _field_path(node)
    if path is not None:
        return _path_getter(path[0], tuple(path[1:]))
    if kind == "member":
        target, key = _compile(args[0]), _compile(args[1])
        return lambda env, ref: _member(target(env, ref), key(env, ref))
    if kind == "array":
        items = tuple(_compile(a) for a in args)
        return lambda env, ref: [item(env, ref) for item in items]
    if kind == "interval":
        low, high = _compile(args[0]), _compile(args[1])
        closed: tuple[bool, bool] = node.value
        return lambda env, ref: _Interval(low(env, ref), high(env, ref), *closed)
    if kind == "call":
        name, fns = str(node.value), tuple(_compile(a) for a in args)
        return lambda env, ref: _call(name, [f(env, ref) for f in fns])
    if kind == "not":
        return _compile_not(_compile(args[0]))
    if kind == "neg":
        operand = _compile(args[0])
        return lambda env, ref: _arith("-", 0, operand(env, ref))
    if kind == "cond":
        test, on_true, on_false = (_compile(a) for a in args)
        return lambda env, ref: _branch(test(env, ref), on_true, on_false, env, ref)
    return _compile_binary(str(node.value), args[0], args[1])


def _field_path(node: _Node) -> list[str] | None:
    """``applicant.age`` as ``["applicant", "age"]``; None if not a plain field path."""
    if node.kind == "id":
        return [str(node.value)]
    if node.kind == "member" and node.args[1].kind == "str":
        head = _field_path(node.args[0])
        return None if head is None else [*head, str(node.args[1].value)]
    return None


def _path_getter(root: str, rest: tuple[str, ...]) -> Fn:
    if not rest:
        return lambda env, ref: env.get(root)

    def get(env: Mapping[str, Any], ref: Any) -> Any:
        value = env.get(root)
        for key in rest:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    return get


def _compile_not(operand: Fn) -> Fn:
    def negate(env: Mapping[str, Any], ref: Any) -> Any:
        value = operand(env, ref)
        if value.__class__ is not bool:
            raise EvaluationFailed("`not` of a non-boolean")
        return value is False

    return negate


def _branch(test: Any, on_true: Fn, on_false: Fn, env: Mapping[str, Any], ref: Any) -> Any:
    if test.__class__ is not bool:
        raise EvaluationFailed("condition is not a boolean")
    return on_true(env, ref) if test else on_false(env, ref)


def _compile_binary(op: str, left_node: _Node, right_node: _Node) -> Fn:
    left, right = _compile(left_node), _compile(right_node)
    if op in ("and", "or"):
        decisive = op == "or"  # the left value that decides alone

        def logical(env: Mapping[str, Any], ref: Any) -> Any:
            value = left(env, ref)
            if value.__class__ is not bool:
                raise EvaluationFailed(f"`{op}` of a non-boolean")
            return decisive if value is decisive else right(env, ref)

        return logical
    if op == "??":
        return lambda env, ref: v if (v := left(env, ref)) is not None else right(env, ref)
    if op in _ORDER:
        return _compile_order(op, left, right_node)
    if op == "==" and right_node.kind == "str":  # the common cell `"A"`: exact as it is
        text = right_node.value
        return lambda env, ref: left(env, ref) == text
    if op in ("==", "!="):
        negate = op == "!="
        return lambda env, ref: equal(left(env, ref), right(env, ref)) is not negate
    if op in ("in", "not in"):
        negate = op == "not in"
        return lambda env, ref: _contains(right(env, ref), left(env, ref)) is not negate
    return lambda env, ref: _arith(op, left(env, ref), right(env, ref))


_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}  # fmt: skip


def _compile_order(op: str, left: Fn, right_node: _Node) -> Fn:
    compare = _ORDER[op]
    if right_node.kind == "num":  # fast path for the common cell: `> 18`, `<= 0.5`
        limit = right_node.value

        def against_literal(env: Mapping[str, Any], ref: Any) -> Any:
            value = left(env, ref)
            if value.__class__ in _NUM:
                return compare(value, limit)
            raise EvaluationFailed(f"`{op}` needs two numbers")

        return against_literal
    right = _compile(right_node)

    def order(env: Mapping[str, Any], ref: Any) -> Any:
        a, b = left(env, ref), right(env, ref)
        if a.__class__ in _NUM and b.__class__ in _NUM:
            return compare(a, b)
        raise EvaluationFailed(f"`{op}` needs two numbers")

    return order


# --- public API -------------------------------------------------------------------------------


class Expression:
    """A compiled standard-mode expression."""

    __slots__ = ("function", "source")

    def __init__(self, source: str, function: Fn) -> None:
        self.source = source
        self.function = function  # raises EvaluationFailed on a ZEN runtime error

    def evaluate(self, variables: Mapping[str, object], reference: object = None) -> object:
        """The value of the expression; ``ValidationError`` if ZEN would fail at runtime."""
        try:
            return self.function(variables, reference)
        except EvaluationFailed as exc:
            raise ValidationError(
                f"Expression {self.source!r} cannot be evaluated: {exc}",
                code="risk.expression.evaluation_failed",
                details={"expression": self.source, "reason": str(exc)},
            ) from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


class UnaryTest:
    """A compiled decision-table cell; ``test(variables, value)`` never raises."""

    __slots__ = ("function", "source", "test")

    def __init__(self, source: str, function: Fn | None, test: Test | None = None) -> None:
        self.source = source
        self.function = function
        self.test: Test = test or (_always if function is None else _safe(function))

    def __repr__(self) -> str:
        return f"UnaryTest({self.source!r})"


Test = Callable[[Mapping[str, Any], Any], bool]


def _always(env: Mapping[str, Any], ref: Any) -> bool:
    return True


def _safe(function: Fn) -> Test:
    def test(env: Mapping[str, Any], ref: Any) -> bool:
        try:
            return function(env, ref) is True
        except EvaluationFailed:
            return False

    return test


@lru_cache(maxsize=8192)
def compile_expression(source: str) -> Expression:
    """Parse a standard-mode expression once (cached); ``risk.expression.invalid`` if bad."""
    parser = _Parser(source)
    if parser.peek()[0] == "end":
        raise parser.error("empty expression")
    return Expression(source, _compile(parser.finish(parser.binary(0, False))))


@lru_cache(maxsize=8192)
def compile_unary(source: str) -> UnaryTest:
    """Parse a decision-table cell once (cached); an empty cell always matches."""
    parser = _Parser(source)
    if parser.peek()[0] == "end":
        return UnaryTest(source, None)
    node = parser.finish(parser.unary_test())
    return UnaryTest(source, _compile(node), _direct_test(node))


def _direct_test(node: _Node) -> Test | None:
    """One-call tests for the usual cells (``> 18``, ``"A", "B"``, ``[1..5]``, ``true``), where
    a failed evaluation and ``false`` cannot be told apart at cell level; None for the rest."""
    strings = _string_choices(node)
    if strings is not None:  # (a str subclass such as StrEnum may hash differently: unwrap)
        return lambda env, v: (
            v in strings if v.__class__ is str else isinstance(v, str) and str.__str__(v) in strings
        )
    if node.kind != "bin" or node.args[0] is not _REF:
        return None
    op, right = node.value, node.args[1]
    value = right.value
    if op in _ORDER and right.kind == "num":
        compare = _ORDER[op]
        return lambda env, v: v.__class__ in _NUM and compare(v, value)
    if op == "==" and right.kind in ("bool", "null"):
        return lambda env, v: v is value
    if op == "==" and right.kind == "num":
        return lambda env, v: v.__class__ in _NUM and v == value
    if (
        op == "in"
        and right.kind == "interval"
        and right.args[0].kind == right.args[1].kind == "num"
    ):
        low, high = right.args[0].value, right.args[1].value
        above = operator.le if value[0] else operator.lt
        below = operator.le if value[1] else operator.lt
        return lambda env, v: v.__class__ in _NUM and above(low, v) and below(v, high)
    return None


def _string_choices(node: _Node) -> frozenset[str] | None:
    """``"A", "B"`` (``$ == "A" or $ == "B"``) as the set of strings, else None."""
    if node.kind == "bin" and node.value == "or":
        left, right = _string_choices(node.args[0]), _string_choices(node.args[1])
        return None if left is None or right is None else left | right
    if node.kind == "bin" and node.value == "==" and node.args[0] is _REF:
        return frozenset({node.args[1].value}) if node.args[1].kind == "str" else None
    return None


def literal_value(source: str) -> tuple[bool, object]:
    """``(True, value)`` if ``source`` is a bare literal (``"decline"``, ``12``), for
    precomputing constant output cells; ``(False, None)`` otherwise."""
    parser = _Parser(source)
    if parser.peek()[0] == "end":
        return False, None
    node = parser.finish(parser.binary(0, False))
    if node.kind in ("num", "str", "bool", "null"):
        return True, node.value
    return False, None
