"""Rule sets: versioned JDM decision graphs, evaluated by Puhui's own evaluator (R-9.2a).

A rule set is a GoRules JDM file (``src/puhui/config/rules/*.json``) with two extra top-level
keys, ``id`` and ``version``. Its identity for audit is the **content hash**: sha256 of the
canonical JSON of the whole file (keys sorted, no spaces, UTF-8; non-integer numbers written as
their decimal text), so any change to a rule changes the hash.

The graph holds one ``inputNode``, one ``outputNode``, ``decisionTableNode`` and
``expressionNode`` nodes, and ``edges``; it is evaluated in topological order, each node
receiving the merge of its predecessors' outputs (as zen-engine does). A decision table whose
output columns are ``rule_id, category, outcome, reason_zh, reason_en`` is a **rule table**
(e.g. the baseline admission table, hit policy ``collect``): each of its rows is a rule, and
the result lists every rule evaluated with whether it fired (:class:`RuleResult`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.risk.decision_table import (
    DecisionTable,
    Transform,
    deep_merge,
    dot_insert,
    rule_set_invalid,
)
from puhui.domain.risk.expression import EvaluationFailed, Expression, compile_expression

__all__ = [
    "RULE_CATEGORIES",
    "RULE_OUTCOMES",
    "RuleResult",
    "RuleSet",
    "RuleSetResult",
    "canonical_json",
    "content_hash",
    "evaluate",
    "load_rule_set",
]

RULE_CATEGORIES: Final = frozenset(
    {"legal", "aml", "behaviour", "admin_penalty", "credit_default", "fraud"}
)
RULE_OUTCOMES: Final = frozenset({"decline", "review", "warn"})
RULE_COLUMNS: Final = ("rule_id", "category", "outcome", "reason_zh", "reason_en")
_NODE_TYPES: Final = frozenset({"inputNode", "outputNode", "decisionTableNode", "expressionNode"})


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule of a rule table and whether it fired for the variables evaluated."""

    rule_id: str
    category: str
    outcome: str
    fired: bool
    reason_zh: str
    reason_en: str


@dataclass(frozen=True, slots=True)
class RuleSetResult:
    rule_set_id: str
    version: str
    content_hash: str
    rules: tuple[RuleResult, ...]  # every rule evaluated, in table order
    fired: tuple[RuleResult, ...]  # the rules that fired
    outputs: Mapping[str, Any]  # what reached the output node


@dataclass(frozen=True, slots=True)
class _Step:
    node_id: str
    kind: str
    sources: tuple[str, ...]  # predecessors, in edge order
    table: DecisionTable | None = None
    expressions: tuple[tuple[str, Expression], ...] = ()
    transform: Transform = Transform()
    rules: tuple[tuple[RuleResult, RuleResult], ...] = ()  # per row: (not fired, fired)


@dataclass(frozen=True)
class RuleSet:
    """A loaded, validated and compiled rule set."""

    id: str
    version: str
    content_hash: str
    content: Mapping[str, Any] = field(repr=False, compare=False)
    _steps: tuple[_Step, ...] = field(repr=False, compare=False)

    @property
    def rules(self) -> tuple[RuleResult, ...]:
        """Every rule of the set (``fired=False``), in evaluation order."""
        return tuple(pair[0] for step in self._steps for pair in step.rules)


def canonical_json(document: Any) -> str:
    return json.dumps(
        _canonical(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a rule-set document."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return str(value.normalize()) if value != value.to_integral_value() else int(value)
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def load_rule_set(source: str | Path | Mapping[str, Any]) -> RuleSet:
    """Load, validate and compile a rule set from a JDM file path or an already parsed mapping.

    Raises ``ValidationError`` ``risk.rule_set.invalid`` (with details) for a bad document.
    """
    if isinstance(source, Mapping):
        document = _copy(source)
    else:
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise rule_set_invalid(
                f"Cannot read rule set {source}: {exc}", path=str(source)
            ) from exc
    if not isinstance(document, dict):
        raise rule_set_invalid("A rule set must be a JSON object")
    identifier, version = document.get("id"), document.get("version")
    for key, value in (("id", identifier), ("version", version)):
        if not isinstance(value, str) or not value.strip():
            raise rule_set_invalid(f"A rule set needs a non-empty string {key!r}", key=key)
    return RuleSet(
        id=str(identifier),
        version=str(version),
        content_hash=content_hash(document),
        content=document,
        _steps=_compile_graph(document),
    )


def evaluate(rule_set: RuleSet, variables: Mapping[str, object]) -> RuleSetResult:
    """Evaluate ``rule_set`` on ``variables`` (R-6.5 variable names → values; ``int``,
    ``Decimal``, ``str``, ``bool`` or None; floats are refused)."""
    if float in set(map(type, variables.values())):
        name = next(k for k, v in variables.items() if isinstance(v, float))
        raise ValidationError(
            f"Variable {name!r} is a float; rule sets take Decimal or int",
            code="risk.rule_set.float_refused",
            details={"variable": name},
        )
    data: dict[str, Any] = {}
    results: list[RuleResult] = []
    outputs: Any = {}
    for step in rule_set._steps:
        if step.kind == "inputNode":
            data[step.node_id] = variables
            continue
        incoming = _incoming(step, data)
        if step.kind == "outputNode":
            outputs = incoming
        elif step.table is not None:
            data[step.node_id], evaluation = step.table.run(incoming)
            if step.rules:
                results += [
                    pair[hit] for pair, hit in zip(step.rules, evaluation.fired, strict=False)
                ]
        else:
            data[step.node_id] = _run_expressions(step, incoming)
    return RuleSetResult(
        rule_set_id=rule_set.id,
        version=rule_set.version,
        content_hash=rule_set.content_hash,
        rules=tuple(results),
        fired=tuple([r for r in results if r.fired]),
        outputs=outputs if isinstance(outputs, Mapping) else {"result": outputs},
    )


def _incoming(step: _Step, data: Mapping[str, Any]) -> Any:
    if len(step.sources) == 1:
        return data[step.sources[0]]
    merged: Any = {}
    for source in reversed(step.sources):  # as zen-engine: on a conflict the first edge wins
        merged = deep_merge(merged, data[source])
    return merged


def _run_expressions(step: _Step, incoming: Any) -> Any:
    node_input = step.transform.node_input(incoming)
    env = node_input if isinstance(node_input, Mapping) else {}
    result: dict[str, Any] = {}
    for key, expression in step.expressions:
        try:
            value = expression.function(env, result)  # `$` is what this node computed so far
        except EvaluationFailed as exc:
            raise DomainError(
                f"Expression node {step.node_id!r}: {key} = {expression.source!r} failed: {exc}",
                code="risk.rule_set.evaluation_failed",
                details={"node": step.node_id, "key": key, "expression": expression.source},
            ) from None
        dot_insert(result, key, value)
    return step.transform.node_output(incoming, result)


# --- graph validation and compilation ---------------------------------------------------------


def _compile_graph(document: Mapping[str, Any]) -> tuple[_Step, ...]:
    nodes, edges = document.get("nodes"), document.get("edges")
    if not isinstance(nodes, list) or not all(isinstance(n, Mapping) for n in nodes):
        raise rule_set_invalid("'nodes' must be a list of objects")
    if not isinstance(edges, list) or not all(isinstance(e, Mapping) for e in edges):
        raise rule_set_invalid("'edges' must be a list of objects")
    by_id: dict[str, Mapping[str, Any]] = {}
    for node in nodes:
        node_id, kind = node.get("id"), node.get("type")
        if not isinstance(node_id, str) or not node_id or node_id in by_id:
            raise rule_set_invalid(f"Node ids must be unique non-empty strings: {node_id!r}")
        if kind not in _NODE_TYPES:
            raise rule_set_invalid(
                f"Node {node_id!r}: type {kind!r} is not supported (use {sorted(_NODE_TYPES)})",
                node=node_id,
                type=kind,
            )
        if not isinstance(node.get("name"), str):
            raise rule_set_invalid(f"Node {node_id!r} needs a string 'name'", node=node_id)
        by_id[node_id] = node
    for kind in ("inputNode", "outputNode"):
        count = sum(1 for n in nodes if n["type"] == kind)
        if count != 1:
            raise rule_set_invalid(f"A rule set needs exactly one {kind}, found {count}", type=kind)
    sources: dict[str, list[str]] = {node_id: [] for node_id in by_id}
    for edge in edges:
        source, target = edge.get("sourceId"), edge.get("targetId")
        if source not in by_id or target not in by_id:
            raise rule_set_invalid(
                f"Edge {edge.get('id')!r} joins unknown nodes {source!r} → {target!r}",
                edge=edge.get("id"),
            )
        if edge.get("sourceHandle"):
            raise rule_set_invalid(f"Edge {edge.get('id')!r}: sourceHandle is not supported")
        sources[str(target)].append(str(source))
    order = _topological_order(list(by_id), sources)
    steps = [_step(by_id[node_id], tuple(sources[node_id])) for node_id in order]
    _check_reachable(steps)
    rule_ids = [pair[0].rule_id for step in steps for pair in step.rules]
    duplicates = sorted({r for r in rule_ids if rule_ids.count(r) > 1})
    if duplicates:
        raise rule_set_invalid(f"Duplicate rule ids: {duplicates}", rule_ids=duplicates)
    return tuple(steps)


def _topological_order(node_ids: list[str], sources: Mapping[str, list[str]]) -> list[str]:
    """Kahn's algorithm, stable in file order; ``risk.rule_set.invalid`` on a cycle."""
    remaining = {n: len(set(sources[n])) for n in node_ids}
    targets: dict[str, list[str]] = {n: [] for n in node_ids}
    for target, preds in sources.items():
        for source in set(preds):
            targets[source].append(target)
    order: list[str] = []
    ready = [n for n in node_ids if remaining[n] == 0]
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in targets[node_id]:
            remaining[target] -= 1
            if remaining[target] == 0:
                ready.append(target)
        ready.sort(key=node_ids.index)
    if len(order) != len(node_ids):
        cyclic = sorted(set(node_ids) - set(order))
        raise rule_set_invalid(f"The decision graph has a cycle through {cyclic}", nodes=cyclic)
    return order


def _check_reachable(steps: list[_Step]) -> None:
    reached = {s.node_id for s in steps if s.kind == "inputNode"}
    for step in steps:  # topological order: predecessors come first
        if step.sources and all(s in reached for s in step.sources):
            reached.add(step.node_id)
    for step in steps:
        if step.node_id not in reached:
            raise rule_set_invalid(
                f"Node {step.node_id!r} is not reachable from the input node", node=step.node_id
            )


def _step(node: Mapping[str, Any], sources: tuple[str, ...]) -> _Step:
    node_id, kind = str(node["id"]), str(node["type"])
    if kind == "inputNode" and sources:
        raise rule_set_invalid("The input node cannot have incoming edges", node=node_id)
    if kind == "decisionTableNode":
        table = DecisionTable.from_node(node)
        return _Step(node_id, kind, sources, table=table, rules=_rule_rows(table))
    if kind == "expressionNode":
        content = node.get("content")
        if not isinstance(content, Mapping):
            raise rule_set_invalid(f"Expression node {node_id!r}: content must be an object")
        expressions = content.get("expressions")
        if not isinstance(expressions, list) or not all(
            isinstance(e, Mapping) for e in expressions
        ):
            raise rule_set_invalid(f"Expression node {node_id!r}: needs a list 'expressions'")
        compiled = []
        for item in expressions:
            key, value = item.get("key"), item.get("value")
            if not isinstance(key, str) or not isinstance(value, str):
                raise rule_set_invalid(f"Expression node {node_id!r}: key and value are strings")
            if key.strip() and value.strip():  # ZEN skips empty entries
                compiled.append((key, _compile_value(node_id, key, value)))
        transform = Transform.from_content(content, f"expression node {node_id!r}")
        return _Step(node_id, kind, sources, expressions=tuple(compiled), transform=transform)
    return _Step(node_id, kind, sources)


def _compile_value(node_id: str, key: str, source: str) -> Expression:
    try:
        return compile_expression(source)
    except ValidationError as exc:
        raise rule_set_invalid(
            f"Expression node {node_id!r}, {key!r}: {exc.message}", node=node_id, **exc.details
        ) from None


def _rule_rows(table: DecisionTable) -> tuple[tuple[RuleResult, RuleResult], ...]:
    """For a rule table, each row's RuleResult (not fired, fired); () for another table."""
    present = [c for c in RULE_COLUMNS if c in table.output_fields]
    if not present:
        return ()
    where = f"Rule table {table.node_id!r}"
    if len(present) != len(RULE_COLUMNS):
        missing = [c for c in RULE_COLUMNS if c not in present]
        raise rule_set_invalid(f"{where} lacks output columns {missing}", missing=missing)
    pairs = []
    for row in table.rows:
        values = {column: row.constant_output(column) for column in RULE_COLUMNS}
        if row.constant is None or not all(isinstance(v, str) and v for v in values.values()):
            raise rule_set_invalid(
                f"{where}, row {row.row_id!r}: {', '.join(RULE_COLUMNS)} must be string literals",
                row=row.row_id,
            )
        if values["category"] not in RULE_CATEGORIES or values["outcome"] not in RULE_OUTCOMES:
            raise rule_set_invalid(
                f"{where}, row {row.row_id!r}: unknown category or outcome",
                row=row.row_id,
                category=values["category"],
                outcome=values["outcome"],
            )
        base = RuleResult(fired=False, **values)
        pairs.append((base, RuleResult(fired=True, **values)))
    return tuple(pairs)
