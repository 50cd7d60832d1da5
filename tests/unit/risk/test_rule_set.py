"""Rule sets: JDM graphs loaded, validated, hashed and evaluated by Puhui (R-9.2a)."""

from __future__ import annotations

import copy
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zen

from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.risk.rule_set import (
    RuleResult,
    content_hash,
    evaluate,
    load_rule_set,
)

BASELINE = Path(__file__).resolve().parents[3] / "src/puhui/config/rules/admission-baseline.json"


# --- builders in the language of JDM ----------------------------------------------------------


def a_table(
    node_id: str = "table",
    *,
    hit_policy: str = "collect",
    inputs: dict[str, str | None],
    outputs: dict[str, str],
    rows: list[dict[str, str]],
    **content: Any,
) -> dict[str, Any]:
    """``inputs``/``outputs`` map column id → field; each row maps column id → cell."""
    full_rows = []
    for number, row in enumerate(rows, start=1):
        full = {"_id": row.get("_id", f"r{number}"), "_description": ""}
        full.update({column: row.get(column, "") for column in (*inputs, *outputs)})
        full_rows.append(full)
    return {
        "id": node_id,
        "type": "decisionTableNode",
        "name": node_id,
        "content": {
            "hitPolicy": hit_policy,
            "inputs": [{"id": c, "name": c, "field": f} for c, f in inputs.items()],
            "outputs": [{"id": c, "name": c, "field": f} for c, f in outputs.items()],
            "rules": full_rows,
            **content,
        },
    }


def an_expression_node(node_id: str, **expressions: str) -> dict[str, Any]:
    items = [{"id": k, "key": k, "value": v} for k, v in expressions.items()]
    return {"id": node_id, "type": "expressionNode", "name": node_id,
            "content": {"expressions": items}}  # fmt: skip


def a_graph(*nodes: dict[str, Any], chain: bool = True, **extra: Any) -> dict[str, Any]:
    """input → nodes... → output, in a chain (or no edges between the middle nodes)."""
    all_nodes = [{"id": "in", "type": "inputNode", "name": "in"}, *nodes,
                 {"id": "out", "type": "outputNode", "name": "out"}]  # fmt: skip
    ids = [n["id"] for n in all_nodes]
    if chain:
        pairs = list(itertools.pairwise(ids))
    else:
        pairs = [("in", n) for n in ids[1:-1]] + [(n, "out") for n in ids[1:-1]]
    edges = [{"id": f"{s}-{t}", "sourceId": s, "targetId": t} for s, t in pairs]
    return {"id": "test-rules", "version": "0.1", "nodes": all_nodes, "edges": edges, **extra}


AGE_TABLE = a_table(
    hit_policy="first",
    inputs={"age": "applicant.age", "kind": "kind"},
    outputs={"band": "band", "flag": "flags.young"},
    rows=[
        {"_id": "minor", "age": "< 18", "band": '"minor"', "flag": "true"},
        {"_id": "retail", "age": "[18..65]", "kind": '"consumer"', "band": '"adult"'},
        {"_id": "other", "age": "> 0", "band": '"other"', "flag": "false"},
    ],
)


def run(document: dict[str, Any], **variables: Any) -> Any:
    return evaluate(load_rule_set(document), variables).outputs


# --- evaluation -------------------------------------------------------------------------------


def test_first_hit_returns_the_first_matching_row_and_nested_fields() -> None:
    graph = a_graph(AGE_TABLE)
    assert run(graph, applicant={"age": 12}) == {"band": "minor", "flags": {"young": True}}
    assert run(graph, applicant={"age": 30}, kind="consumer") == {"band": "adult"}
    assert run(graph, applicant={"age": 30}, kind="business") == {
        "band": "other",
        "flags": {"young": False},
    }


def test_first_hit_without_a_match_gives_null() -> None:
    assert run(a_graph(AGE_TABLE), applicant={}) == {"result": None}


def test_first_hit_reports_the_rows_evaluated_up_to_the_hit() -> None:
    rule_set = load_rule_set(a_graph(AGE_TABLE))
    table = rule_set._steps[1].table
    assert table is not None
    assert table.evaluate({"applicant": {"age": 30}, "kind": "x"}).fired == (False, False, True)


def test_collect_returns_every_matching_row_in_order() -> None:
    table = a_table(
        inputs={"x": "x"},
        outputs={"id": "id"},
        rows=[{"x": "> 1", "id": '"a"'}, {"x": "> 5", "id": '"b"'}, {"x": "", "id": '"c"'}],
        outputPath="hits",
    )
    assert run(a_graph(table), x=3) == {"hits": [{"id": "a"}, {"id": "c"}]}


def test_a_column_without_field_holds_standalone_conditions() -> None:
    table = a_table(
        inputs={"cond": None},
        outputs={"id": "id"},
        rows=[{"cond": "a > 1 and b", "id": '"yes"'}, {"cond": "a", "id": '"not-a-bool"'}],
        outputPath="hits",
    )
    assert run(a_graph(table), a=2, b=True) == {"hits": [{"id": "yes"}]}


def test_a_row_whose_output_fails_does_not_match() -> None:
    table = a_table(
        hit_policy="first",
        inputs={"x": "x"},
        outputs={"v": "v"},
        rows=[{"x": "", "v": "x + 1"}, {"x": "", "v": '"fallback"'}],
    )
    assert run(a_graph(table), x=None) == {"v": "fallback"}
    assert run(a_graph(table), x=1) == {"v": 2}


def test_expression_nodes_feed_tables_and_see_their_own_results_as_dollar() -> None:
    ratios = an_expression_node("ratios", dsr="debt / income", doubled="$.dsr * 2")
    table = a_table(
        inputs={"dsr": "dsr"},
        outputs={"id": "id"},
        rows=[{"dsr": "> 0.5", "id": '"high"'}],
        outputPath="hits",
        passThrough=True,
    )
    result = run(a_graph(ratios, table), debt=Decimal("600"), income=Decimal("1000"))
    assert result == {"dsr": Decimal("0.6"), "doubled": Decimal("1.2"), "hits": [{"id": "high"}]}


def test_parallel_nodes_merge_into_the_output_first_edge_winning_as_in_zen() -> None:
    one = an_expression_node("one", a="1", shared="1", **{"deep.x": "1"})
    two = an_expression_node("two", b="2", shared="3", **{"deep.y": "2"})
    graph = a_graph(one, two, chain=False)
    expected = {"a": 1, "b": 2, "shared": 1, "deep": {"x": 1, "y": 2}}
    assert run(graph) == expected
    assert zen.ZenEngine().create_decision(json.dumps(graph)).evaluate({})["result"] == expected


def test_input_field_narrows_what_a_table_sees_as_in_zen() -> None:
    table = a_table(
        hit_policy="first",
        inputs={"age": "age"},
        outputs={"band": "band"},
        rows=[{"age": ">= 18", "band": '"adult"'}],
        inputField="applicant",
        outputPath="result.age",
    )
    graph = a_graph(table)
    variables = {"applicant": {"age": 30}, "age": 1}
    expected = zen.ZenEngine().create_decision(json.dumps(graph)).evaluate(variables)["result"]
    assert run(graph, **variables) == expected == {"result": {"age": {"band": "adult"}}}


def test_an_expression_node_that_fails_stops_the_evaluation() -> None:
    with pytest.raises(DomainError) as raised:
        run(a_graph(an_expression_node("calc", total="a + 1")), a=None)
    assert raised.value.code == "risk.rule_set.evaluation_failed"
    assert raised.value.details["node"] == "calc"


def test_floats_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        run(a_graph(AGE_TABLE), ratio=0.5)
    assert raised.value.code == "risk.rule_set.float_refused"
    assert raised.value.details == {"variable": "ratio"}


def test_rule_tables_list_every_rule_with_whether_it_fired() -> None:
    table = a_table(
        inputs={"x": "x"},
        outputs={c: c for c in ("rule_id", "category", "outcome", "reason_zh", "reason_en")},
        rows=[
            {
                "_id": "A",
                "x": "> 1",
                "rule_id": '"T-1"',
                "category": '"aml"',
                "outcome": '"decline"',
                "reason_zh": '"原因"',
                "reason_en": '"why"',
            },
            {
                "_id": "B",
                "x": "> 9",
                "rule_id": '"T-2"',
                "category": '"fraud"',
                "outcome": '"warn"',
                "reason_zh": '"原因二"',
                "reason_en": '"why 2"',
            },
        ],
        outputPath="rules",
    )
    rule_set = load_rule_set(a_graph(table))
    result = evaluate(rule_set, {"x": 5})
    assert result.rules == (
        RuleResult("T-1", "aml", "decline", True, "原因", "why"),
        RuleResult("T-2", "fraud", "warn", False, "原因二", "why 2"),
    )
    assert result.fired == result.rules[:1]
    assert (result.rule_set_id, result.version) == ("test-rules", "0.1")
    assert result.content_hash == rule_set.content_hash
    assert [r.rule_id for r in rule_set.rules] == ["T-1", "T-2"]


# --- the same answers as zen-engine on these graphs -------------------------------------------


def zen_context(variables: dict[str, Any]) -> str:
    """JSON with Decimals written as exact JSON numbers."""
    return json.dumps(variables, default=lambda d: f"@@{d}@@").replace('"@@', "").replace('@@"', "")


@pytest.mark.parametrize(
    ("graph", "variables"),
    [
        (a_graph(AGE_TABLE), {"applicant": {"age": 12}}),
        (a_graph(AGE_TABLE), {"applicant": {"age": 30}, "kind": "consumer"}),
        (a_graph(AGE_TABLE), {"applicant": {"age": 30}, "kind": None}),
        (a_graph(AGE_TABLE), {"applicant": {"age": None}}),
        (a_graph(AGE_TABLE), {"applicant": {"age": 66}, "kind": "consumer"}),
    ],
)
def test_first_hit_tables_agree_with_zen_engine(graph: dict[str, Any], variables: Any) -> None:
    expected = zen.ZenEngine().create_decision(json.dumps(graph)).evaluate(zen_context(variables))
    assert run(graph, **variables) == (expected["result"] or {"result": None})


# --- content hash -----------------------------------------------------------------------------


def test_the_hash_is_sha256_of_canonical_json_whatever_the_key_order_or_source() -> None:
    from_file = load_rule_set(BASELINE)
    document = json.loads(BASELINE.read_text(encoding="utf-8"))
    reordered = dict(reversed(list(document.items())))
    assert load_rule_set(reordered).content_hash == from_file.content_hash
    assert content_hash(document) == from_file.content_hash
    assert len(from_file.content_hash) == 64
    changed = copy.deepcopy(document)
    changed["nodes"][1]["content"]["rules"][0]["in_applicant_age"] = "< 17"
    assert load_rule_set(changed).content_hash != from_file.content_hash


def test_the_hash_treats_equal_numbers_alike() -> None:
    graph = a_graph(AGE_TABLE)
    graph["nodes"][0]["position"] = {"x": 90.5, "y": 10}
    same = copy.deepcopy(graph)
    same["nodes"][0]["position"] = {"x": Decimal("90.50"), "y": Decimal("10.0")}
    assert content_hash(graph) == content_hash(same)


# --- validation -------------------------------------------------------------------------------


def broken(mutate: Any) -> dict[str, Any]:
    graph = a_graph(copy.deepcopy(AGE_TABLE))
    mutate(graph)
    return graph


def table_content(graph: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = graph["nodes"][1]["content"]
    return content


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda g: g.pop("id"), "'id'"),
        (lambda g: g.update(version=""), "'version'"),
        (lambda g: g["nodes"][1].update(type="switchNode"), "not supported"),
        (lambda g: g["nodes"].append(dict(g["nodes"][0], id="in2")), "exactly one inputNode"),
        (lambda g: g["nodes"].pop(), "exactly one outputNode"),
        (lambda g: g["nodes"].append(dict(g["nodes"][1])), "unique"),
        (
            lambda g: g["edges"].append({"id": "x", "sourceId": "in", "targetId": "nowhere"}),
            "unknown nodes",
        ),
        (
            lambda g: g["edges"].append({"id": "loop", "sourceId": "out", "targetId": "table"}),
            "cycle",
        ),
        (lambda g: g["edges"].pop(0), "not reachable"),
        (lambda g: g["edges"][0].update(sourceHandle="h"), "sourceHandle"),
        (lambda g: table_content(g).update(hitPolicy="unique"), "hitPolicy"),
        (lambda g: table_content(g).update(executionMode="loop"), "loop"),
        (lambda g: table_content(g)["rules"][0].pop("kind"), "needs a string cell"),
        (lambda g: table_content(g)["rules"][0].update(extra="1"), "unknown columns"),
        (lambda g: table_content(g)["rules"][1].update(_id="minor"), "unique"),
        (lambda g: table_content(g)["rules"][0].update(age="> > 3"), "column 'age'"),
        (
            lambda g: table_content(g)["outputs"].append(dict(table_content(g)["outputs"][0])),
            "column ids must be unique",
        ),
    ],
)
def test_bad_documents_are_refused_with_a_clear_error(mutate: Any, fragment: str) -> None:
    with pytest.raises(ValidationError) as raised:
        load_rule_set(broken(mutate))
    assert raised.value.code == "risk.rule_set.invalid"
    assert fragment in raised.value.message


def test_a_bad_cell_reports_its_row_column_and_position() -> None:
    graph = broken(lambda g: table_content(g)["rules"][0].update(age="> 1 +"))
    with pytest.raises(ValidationError) as raised:
        load_rule_set(graph)
    assert raised.value.details["column"] == "age"
    assert raised.value.details["position"] == 5
    assert "'minor'" in raised.value.message


def rule_row(rule_id: str, category: str = "aml", outcome: str = "decline") -> dict[str, str]:
    return {"_id": rule_id, "x": "> 1", "rule_id": json.dumps(rule_id),
            "category": json.dumps(category), "outcome": json.dumps(outcome),
            "reason_zh": '"原因"', "reason_en": '"why"'}  # fmt: skip


RULE_OUTPUTS = {c: c for c in ("rule_id", "category", "outcome", "reason_zh", "reason_en")}


@pytest.mark.parametrize(
    ("rows", "outputs", "fragment"),
    [
        ([rule_row("A", category="tax")], RULE_OUTPUTS, "unknown category"),
        ([rule_row("A", outcome="approve")], RULE_OUTPUTS, "unknown category or outcome"),
        ([dict(rule_row("A"), rule_id="x")], RULE_OUTPUTS, "string literals"),
        ([rule_row("A"), dict(rule_row("A"), _id="B")], RULE_OUTPUTS, "Duplicate rule ids"),
        ([rule_row("A")], {"rule_id": "rule_id"}, "lacks output columns"),
    ],
)
def test_rule_tables_are_checked(rows: Any, outputs: dict[str, str], fragment: str) -> None:
    keep = {"_id", "x", *outputs}
    rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
    table = a_table(inputs={"x": "x"}, outputs=outputs, rows=rows)
    with pytest.raises(ValidationError) as raised:
        load_rule_set(a_graph(table))
    assert fragment in raised.value.message


def test_an_unreadable_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError) as raised:
        load_rule_set(path)
    assert raised.value.code == "risk.rule_set.invalid"
    with pytest.raises(ValidationError):
        load_rule_set(tmp_path / "missing.json")
