"""JDM decision tables (``decisionTableNode``), compiled once and evaluated fast (R-9.2a).

A table has input columns (a ``field`` expression whose value is ``$`` in the column's cells,
or no field: the cell is then a standalone condition), output columns (a ``field`` path, the
cell an expression) and rows (``_id``, ``_description``, one cell per column). An empty input
cell matches anything. Hit policies are ZEN's: ``first`` (the first matching row's output, or
null) and ``collect`` (the outputs of every matching row, in row order). As in zen-engine, a row
whose cell or output cannot be evaluated (``> 18`` on null) does not match.

Puhui's additions, so a rule set is auditable: every row must have an ``_id`` (unique in its
table) and a cell for every column, and :class:`TableEvaluation` says for each row evaluated
whether it fired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from puhui.domain.errors import ValidationError
from puhui.domain.risk.expression import (
    EvaluationFailed,
    Expression,
    compile_expression,
    compile_unary,
    literal_value,
)

__all__ = [
    "DecisionTable",
    "TableEvaluation",
    "TableRow",
    "Transform",
    "deep_merge",
    "dot_insert",
    "rule_set_invalid",
]

HitPolicy = Literal["first", "collect"]
Cell = Callable[[Mapping[str, Any], Any], bool]
_FAILED: Final = object()  # a column whose field expression could not be evaluated


def rule_set_invalid(message: str, **details: Any) -> ValidationError:
    return ValidationError(message, code="risk.rule_set.invalid", details=details)


def dot_insert(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``target["a"]["b"] = value`` for ``path == "a.b"``, creating objects on the way."""
    *parents, last = path.split(".")
    for key in parents:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[last] = value


def deep_merge(base: Any, update: Any) -> Any:
    """Objects merge key by key (recursively); anything else is replaced by ``update``."""
    if not (isinstance(base, Mapping) and isinstance(update, Mapping)):
        return update
    merged = dict(base)
    for key, value in update.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else value
    return merged


def _text(container: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str:
    value = container.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise rule_set_invalid(f"{where}: {key!r} must be a non-empty string", where=where, key=key)
    return value


@dataclass(frozen=True, slots=True)
class Transform:
    """ZEN's node transform attributes: ``inputField``, ``outputPath``, ``passThrough``."""

    input_field: Expression | None = None
    output_path: str | None = None
    pass_through: bool = False

    @classmethod
    def from_content(cls, content: Mapping[str, Any], where: str) -> Transform:
        if content.get("executionMode", "single") not in ("single", None):
            raise rule_set_invalid(f"{where}: executionMode 'loop' is not supported", where=where)
        field = (content.get("inputField") or "").strip()
        path = (content.get("outputPath") or "").strip()
        return cls(
            input_field=_compile(compile_expression, field, where, "inputField") if field else None,
            output_path=path or None,
            pass_through=content.get("passThrough") is True,
        )

    def node_input(self, data: Any) -> Any:
        if self.input_field is None:
            return data
        value = self.input_field.evaluate(data if isinstance(data, Mapping) else {})
        return value if isinstance(value, Mapping) else {}

    def node_output(self, data: Any, result: Any) -> Any:
        if self.output_path is not None:
            wrapped: dict[str, Any] = {}
            dot_insert(wrapped, self.output_path, result)
            result = wrapped
        return deep_merge(data, result) if self.pass_through else result


def _compile(compiler: Callable[[str], Any], source: str, where: str, column: str) -> Any:
    try:
        return compiler(source)
    except ValidationError as exc:
        raise rule_set_invalid(
            f"{where}, column {column!r}: {exc.message}", where=where, column=column, **exc.details
        ) from None


def _condition(expression: Expression) -> Cell:
    """An input cell of a column without a field: a standard expression that must be true."""
    function = expression.function

    def condition(env: Mapping[str, Any], ref: Any) -> bool:
        try:
            return function(env, None) is True
        except EvaluationFailed:
            return False

    return condition


@dataclass(frozen=True, slots=True)
class TableRow:
    index: int
    row_id: str
    description: str
    cells: Mapping[str, str]  # the source text of every cell, by column id
    tests: tuple[tuple[int, Cell], ...]  # the non-empty input cells: (column index, test)
    match: Callable[[Mapping[str, Any], list[Any]], bool]  # all tests pass
    outputs: tuple[tuple[str, Expression], ...]  # the non-empty output cells: (field, value)
    constant: tuple[tuple[str, Any], ...] | None  # (field, value) when every output is a literal
    reference_column: int  # the column whose value is `$` in output cells (-1: none)
    flat: bool  # no output field is a dotted path

    def constant_output(self, field: str) -> Any:
        """The literal value of an output cell (None when absent or not a literal)."""
        return dict(self.constant or ()).get(field)


@dataclass(frozen=True, slots=True)
class TableEvaluation:
    """``fired`` has one flag per row evaluated (every row for ``collect``, rows up to the hit
    for ``first``); ``output`` is the hit's object (or None) or the list of outputs."""

    fired: tuple[bool, ...]
    output: Any


@dataclass(frozen=True, slots=True)
class DecisionTable:
    node_id: str
    name: str
    hit_policy: HitPolicy
    input_fields: tuple[str | None, ...]
    output_fields: tuple[str, ...]
    rows: tuple[TableRow, ...]
    transform: Transform
    _references: tuple[Callable[[Mapping[str, Any], Any], Any] | None, ...]
    _names: tuple[str, ...] | None  # when every field is a plain variable name

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> DecisionTable:
        """Validate and compile a ``decisionTableNode``; ``risk.rule_set.invalid`` if bad."""
        node_id = _text(node, "id", "decision table")
        where = f"decision table {node_id!r}"
        content = node.get("content")
        if not isinstance(content, Mapping):
            raise rule_set_invalid(f"{where}: content must be an object", node=node_id)
        hit_policy = content.get("hitPolicy")
        if hit_policy not in ("first", "collect"):
            raise rule_set_invalid(f"{where}: hitPolicy must be 'first' or 'collect'", node=node_id)
        inputs, outputs = _columns(content, "inputs", where), _columns(content, "outputs", where)
        input_fields = tuple(
            _text(c, "field", where, optional=True).strip() or None for c in inputs
        )
        output_fields = tuple(_text(c, "field", where) for c in outputs)
        column_ids = [_text(c, "id", where) for c in (*inputs, *outputs)]
        if len(set(column_ids)) != len(column_ids):
            raise rule_set_invalid(f"{where}: column ids must be unique", node=node_id)
        references = tuple(
            None if f is None else _compile(compile_expression, f, where, f).function
            for f in input_fields
        )
        rules = content.get("rules")
        if not isinstance(rules, Sequence) or isinstance(rules, str):
            raise rule_set_invalid(f"{where}: rules must be a list", node=node_id)
        input_ids, output_ids = column_ids[: len(inputs)], column_ids[len(inputs) :]
        context = (input_fields, output_fields, where)
        rows = tuple(_row(i, rule, input_ids, output_ids, context) for i, rule in enumerate(rules))
        row_ids = [row.row_id for row in rows]
        if len(set(row_ids)) != len(row_ids):
            raise rule_set_invalid(f"{where}: row _id values must be unique", node=node_id)
        return cls(
            node_id=node_id,
            name=_text(node, "name", where, optional=True),
            hit_policy=hit_policy,
            input_fields=input_fields,
            output_fields=output_fields,
            rows=rows,
            transform=Transform.from_content(content, where),
            _references=references,
            _names=tuple(f for f in input_fields if f is not None)
            if all(f is not None and f.isidentifier() for f in input_fields)
            else None,
        )

    def evaluate(self, variables: Mapping[str, Any]) -> TableEvaluation:
        """Evaluate the rows against ``variables`` (the node's input object)."""
        refs = self._column_values(variables)
        if self._names is None and _FAILED in refs:  # a field failed: its cells cannot match
            failed = {i for i, value in enumerate(refs) if value is _FAILED}
            hits = [
                all(c not in failed and test(variables, refs[c]) for c, test in row.tests)
                for row in self.rows
            ]
        elif self.hit_policy == "collect":
            hits = [row.match(variables, refs) for row in self.rows]
        else:
            return self._first_hit(variables, refs)
        outputs: list[Any] = []
        for index, hit in enumerate(hits):
            if hit:
                output = self._output(self.rows[index], variables, refs)
                if output is _FAILED:  # as ZEN: a row whose output fails does not match
                    hits[index] = False
                elif self.hit_policy == "first":
                    return TableEvaluation(tuple(hits[: index + 1]), output)
                else:
                    outputs.append(output)
        return TableEvaluation(tuple(hits), outputs if self.hit_policy == "collect" else None)

    def _first_hit(self, variables: Mapping[str, Any], refs: list[Any]) -> TableEvaluation:
        fired: list[bool] = []
        for row in self.rows:
            if row.match(variables, refs):
                output = self._output(row, variables, refs)
                if output is not _FAILED:
                    fired.append(True)
                    return TableEvaluation(tuple(fired), output)
            fired.append(False)
        return TableEvaluation(tuple(fired), None)

    def run(self, data: Any) -> tuple[Any, TableEvaluation]:
        """The node's output for its incoming ``data`` (transform attributes applied)."""
        evaluation = self.evaluate(self.transform.node_input(data))
        return self.transform.node_output(data, evaluation.output), evaluation

    def _column_values(self, variables: Mapping[str, Any]) -> list[Any]:
        if self._names is not None:  # every field a plain variable name: the fast way
            get = variables.get
            return [get(name) for name in self._names]
        values: list[Any] = []
        for reference in self._references:
            try:
                values.append(None if reference is None else reference(variables, None))
            except EvaluationFailed:
                values.append(_FAILED)
        return values

    def _output(self, row: TableRow, variables: Mapping[str, Any], refs: list[Any]) -> Any:
        if row.constant is not None:
            if row.flat:
                return dict(row.constant)
            pairs: Sequence[tuple[str, Any]] = row.constant
        else:
            ref = refs[row.reference_column] if row.reference_column >= 0 else None
            try:
                pairs = [(f, e.function(variables, ref)) for f, e in row.outputs]
            except EvaluationFailed:
                return _FAILED
        output: dict[str, Any] = {}
        for field, value in pairs:
            if "." in field:
                dot_insert(output, field, value)
            else:
                output[field] = value
        return output


def _matcher(tests: tuple[tuple[int, Cell], ...]) -> Callable[[Mapping[str, Any], list[Any]], bool]:
    """One closure per row: ``match(variables, column_values)``, unrolled for 1-3 cells."""
    if not tests:
        return lambda env, refs: True
    if len(tests) == 1:
        ((c, t),) = tests
        return lambda env, refs: t(env, refs[c])
    if len(tests) == 2:
        (c, t), (d, u) = tests
        return lambda env, refs: t(env, refs[c]) and u(env, refs[d])
    if len(tests) == 3:
        (c, t), (d, u), (e, w) = tests
        return lambda env, refs: t(env, refs[c]) and u(env, refs[d]) and w(env, refs[e])
    return lambda env, refs: all(test(env, refs[c]) for c, test in tests)


def _columns(content: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    columns = content.get(key)
    if not isinstance(columns, list) or not all(isinstance(c, Mapping) for c in columns):
        raise rule_set_invalid(f"{where}: {key} must be a list of objects", where=where)
    for column in columns:
        _text(column, "name", f"{where}, {key}", optional=True)
    return columns


def _row(
    index: int,
    rule: Any,
    input_ids: list[str],
    output_ids: list[str],
    context: tuple[tuple[str | None, ...], tuple[str, ...], str],
) -> TableRow:
    input_fields, output_fields, table_where = context
    if not isinstance(rule, Mapping):
        raise rule_set_invalid(f"{table_where}: row {index} must be an object", row=index)
    row_id = _text(rule, "_id", f"{table_where}, row {index}")
    where = f"{table_where}, row {row_id!r}"
    known = {"_id", "_description", *input_ids, *output_ids}
    unknown = sorted(str(k) for k in rule if k not in known)
    if unknown:
        raise rule_set_invalid(f"{where}: unknown columns {unknown}", row=row_id, columns=unknown)
    cells: dict[str, str] = {}
    for column_id in (*input_ids, *output_ids):
        text = rule.get(column_id)
        if not isinstance(text, str):
            raise rule_set_invalid(
                f"{where}: needs a string cell for column {column_id!r} (empty for any)",
                row=row_id,
                column=column_id,
            )
        cells[column_id] = text
    tests: list[tuple[int, Cell]] = []
    for column, (column_id, field) in enumerate(zip(input_ids, input_fields, strict=True)):
        text = cells[column_id]
        if not text.strip():
            continue
        if field is None:
            tests.append((column, _condition(_compile(compile_expression, text, where, column_id))))
        else:
            tests.append((column, _compile(compile_unary, text, where, column_id).test))
    outputs: list[tuple[str, Expression]] = []
    constant: list[tuple[str, Any]] | None = []
    for column_id, field in zip(output_ids, output_fields, strict=True):
        text = cells[column_id]
        if not text.strip():
            continue
        outputs.append((field, _compile(compile_expression, text, where, column_id)))
        is_literal, value = literal_value(text)
        constant = [*constant, (field, value)] if constant is not None and is_literal else None
    return TableRow(
        index=index,
        row_id=row_id,
        description=_text(rule, "_description", where, optional=True),
        cells=cells,
        tests=tuple(tests),
        match=_matcher(tuple(tests)),
        outputs=tuple(outputs),
        constant=None if constant is None else tuple(constant),
        reference_column=next((c for c, _ in reversed(tests) if input_fields[c]), -1),
        flat=not any("." in field for field, _ in outputs),
    )
