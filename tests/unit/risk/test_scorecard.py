"""Scorecard artifacts, master scale and runtime scoring (R-9.2b)."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.risk.master_scale import Scaling
from puhui.domain.risk.scorecard import (
    DEFAULT_SCORECARD_PATH,
    MISSING_LOWEST_LABEL,
    content_hash,
    load_scorecard,
    scorecard_from_mapping,
)

DOC: dict[str, Any] = json.loads(DEFAULT_SCORECARD_PATH.read_text(encoding="utf-8"))
CARD = load_scorecard()

# A small business with a clean credit file (variable names of the variable catalogue).
CLEAN_BUSINESS: dict[str, object] = {
    "months_in_business": 30,
    "tax_grade": "B",
    "tax_revenue_growth": Decimal("0.10"),
    "worst_dpd_24m": 0,
    "enquiries_3m": 1,
    "debt_service_ratio": Decimal("0.25"),
    "has_credit_record": True,
    "social_security_months": 20,
    "bank_inflow_12m": Decimal("800000"),
    # platform_gmv_12m absent: no platform store
}


def doc(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(DOC)
    d.update(changes)
    return d


def invalid(document: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        scorecard_from_mapping(document)
    assert info.value.code == "risk.scorecard.invalid"
    return info.value


# --- the shipped expert card ------------------------------------------------------------------


def test_expert_card_is_documented_as_not_fitted() -> None:
    assert CARD.id == "expert-v1"
    assert CARD.kind == "expert"
    assert "NOT FITTED" in CARD.description
    assert CARD.master_scale.scaling == Scaling(600, Decimal(50), Decimal(20))
    assert len(CARD.characteristics) == 10
    assert CARD.master_scale.grade_names == ("A+", "A", "B", "C", "D", "E")
    # 260 + minimum of every characteristic / 260 + maximum of every characteristic
    assert (CARD.min_score, CARD.max_score) == (323, 690)


def test_every_characteristic_has_a_missing_bin_and_monotone_points() -> None:
    for characteristic in CARD.characteristics:
        assert sum(b.missing for b in characteristic.bins) == 1, characteristic.variable
        if characteristic.type == "numeric":
            points = [b.points for b in characteristic.bins if not b.missing]
            increasing = points == sorted(points)
            decreasing = points == sorted(points, reverse=True)
            assert increasing or decreasing, characteristic.variable


def test_worked_example_clean_small_business() -> None:
    result = CARD.score(CLEAN_BUSINESS)
    # 260 intercept + 40 (2-5 years) + 40 (tax B) + 35 (growth 0..20%) + 60 (never past due)
    # + 35 (1-2 enquiries) + 38 (DSR 20-35%) + 35 (has record) + 28 (12-35 months social
    # security) + 32 (inflow 500k-2m) + 22 (platform GMV missing) = 625 → grade B (620..639)
    assert result.score == 625
    assert result.grade == "B"
    # PD = 1 / (1 + 50 x 2^((625-600)/20)) = 1 / (1 + 50 x 2.37841423) = 1 / 119.9207115
    assert result.pd == Decimal("0.00833884311967")
    assert result.grade_pd == Decimal("0.0070")
    labels = {p.variable: p.bin_label for p in result.points}
    assert labels["months_in_business"] == "2-5 years"
    assert labels["platform_gmv_12m"] == "missing"
    assert result.missing == ("platform_gmv_12m",)
    # points lost vs each maximum: months 10, tax 10, growth 5, dpd 0, enquiries 5, DSR 7,
    # record 0, social security 10, inflow 8, GMV 10 → four 10s, ties in card order
    assert [r.code for r in result.reasons] == ["RC01", "RC02", "RC08", "RC10"]
    assert [r.points_lost for r in result.reasons] == [10, 10, 10, 10]
    assert result.reasons[3].en == "Low platform sales (data missing)"
    assert result.reasons[0].zh == "经营年限较短"
    assert result.scorecard_hash == CARD.content_hash


def test_all_variables_missing_scores_the_missing_bins() -> None:
    result = CARD.score({})
    # 260 + 35 + 35 + 30 + 45 + 30 + 20 + 20 + 15 + 25 + 22 = 537 → E (below 570)
    assert result.score == 537
    assert result.grade == "E"
    assert all(p.missing for p in result.points)
    assert len(result.reasons) == 4
    assert CARD.score(dict.fromkeys(CARD.variables)).score == 537  # None is missing too


def test_bins_are_half_open_at_their_edges() -> None:
    def label(variable: str, value: object) -> str:
        points = CARD.score({variable: value}).points
        return next(p.bin_label for p in points if p.variable == variable)

    assert label("months_in_business", 5) == "< 6 months"
    assert label("months_in_business", 6) == "6-11 months"
    assert label("debt_service_ratio", Decimal("0.1999")) == "< 20%"
    assert label("debt_service_ratio", Decimal("0.20")) == "20-35%"
    assert label("tax_revenue_growth", Decimal("-0.5")) == "< -30%"
    assert label("worst_dpd_24m", 90) == ">= 90 days"
    assert label("has_credit_record", False) == "no record"


def test_unknown_category_is_scored_as_missing_and_flagged() -> None:
    points = CARD.score({"tax_grade": "N"}).points
    tax = next(p for p in points if p.variable == "tax_grade")
    assert (tax.points, tax.missing, tax.unmatched) == (35, True, True)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("months_in_business", 1.5), ("months_in_business", "12"), ("tax_grade", 3)],
)
def test_wrong_variable_types_are_refused(variable: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        CARD.score({variable: value})
    assert info.value.code == "risk.scorecard.bad_variable"
    assert info.value.details["variable"] == variable


def test_bool_is_not_a_number() -> None:
    with pytest.raises(ValidationError):
        CARD.score({"enquiries_3m": True})


def test_content_hash_is_sha256_of_canonical_json_and_changes_with_any_edit() -> None:
    canonical = json.dumps(DOC, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert CARD.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert content_hash(doc(version="1.0.1")) != CARD.content_hash
    reordered = dict(reversed(list(DOC.items())))
    assert content_hash(reordered) == CARD.content_hash


def test_a_card_without_missing_bin_scores_missing_at_its_lowest_points() -> None:
    d = doc()
    d["characteristics"][0]["bins"] = d["characteristics"][0]["bins"][:-1]
    card = scorecard_from_mapping(d)
    months = card.score({}).points[0]
    assert (months.bin_label, months.points, months.missing) == (MISSING_LOWEST_LABEL, 10, True)


# --- validation --------------------------------------------------------------------------------


def bins_of(d: dict[str, Any], i: int = 0) -> list[dict[str, Any]]:
    bins: list[dict[str, Any]] = d["characteristics"][i]["bins"]
    return bins


def test_gap_between_bins_is_refused() -> None:
    d = doc()
    bins_of(d)[1]["lower"] = 7  # [null,6) then [7,12)
    assert "gap" in invalid(d).details["reason"]


def test_overlapping_bins_are_refused() -> None:
    d = doc()
    bins_of(d)[1]["lower"] = 5
    assert "overlap" in invalid(d).details["reason"]


def test_range_must_be_unbounded_at_both_ends() -> None:
    d = doc()
    bins_of(d)[0]["lower"] = 0
    assert "first bin" in invalid(d).details["reason"]
    d = doc()
    bins_of(d)[4]["upper"] = 600
    assert "last bin" in invalid(d).details["reason"]


def test_bins_may_be_listed_in_any_order() -> None:
    d = doc()
    bins_of(d).reverse()
    assert scorecard_from_mapping(d).score(CLEAN_BUSINESS).score == 625


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(extra=1), "$"),
        (lambda d: d["characteristics"][0].update(weight=1), "characteristics[0]"),
        (lambda d: bins_of(d)[0].update(colour="red"), "characteristics[0].bins[0]"),
        (lambda d: bins_of(d)[0].update(points=1.5), "characteristics[0].bins[0].points"),
        (lambda d: bins_of(d)[0].update(points=True), "characteristics[0].bins[0].points"),
        (lambda d: bins_of(d, 1)[1].update(values=["A"]), "characteristics[1].bins"),
        (lambda d: bins_of(d).append({"label": "m2", "missing": True, "points": 0}), "bins"),
        (lambda d: d["characteristics"].append(d["characteristics"][0]), "characteristics"),
        (lambda d: d["characteristics"][0].update(type="ordinal"), "characteristics[0].type"),
        (lambda d: d["scaling"].update(pdo=0), "scaling"),
        (lambda d: d["master_scale"][1].update(min_score=700), "master_scale[1].min_score"),
        (lambda d: d["master_scale"][2].update(pd="0.001"), "master_scale[2].pd"),
        (lambda d: d["master_scale"][0].update(min_score=None), "master_scale[0].min_score"),
        (lambda d: d.pop("intercept_points"), "intercept_points"),
        (lambda d: d.update(kind="guess"), "kind"),
    ],
)
def test_invalid_artifacts_are_refused_with_the_path(mutate: Any, path: str) -> None:
    d = doc()
    mutate(d)
    error = invalid(d)
    assert path in error.details["path"]


def test_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "card.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_scorecard(broken)
    assert info.value.code == "risk.scorecard.unreadable"


# --- master scale ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (10_000, "A+"),
        (660, "A+"),
        (659, "A"),
        (640, "A"),
        (639, "B"),
        (600, "C"),
        (599, "D"),
        (570, "D"),
        (569, "E"),
        (-1000, "E"),
    ],
)
def test_grade_lookup_at_the_bounds(score: int, grade: str) -> None:
    assert CARD.master_scale.grade_for(score).grade == grade


def test_grade_bounds_and_pd_ranges() -> None:
    b = CARD.master_scale.by_name("B")
    assert (b.min_score, b.max_score) == (620, 639)
    # PD(620) = 1 / (1 + 50 x 2) = 1/101
    assert b.pd_high == Decimal("0.00990099009901")
    top, bottom = CARD.master_scale.grades[0], CARD.master_scale.grades[-1]
    assert top.max_score is None and top.pd_low is None
    assert bottom.min_score is None and bottom.pd_high is None
    for grade in CARD.master_scale.grades:  # the expert PDs sit inside their grade's range
        assert grade.pd_low is None or grade.pd_low <= grade.pd
        assert grade.pd_high is None or grade.pd <= grade.pd_high
    with pytest.raises(ValidationError):
        CARD.master_scale.by_name("Z")


def test_scaling_pd_at_known_points() -> None:
    scaling = CARD.master_scale.scaling
    assert scaling.pd(600) == Decimal("0.0196078431373")  # 1/51
    assert scaling.pd(580) == Decimal("0.0384615384615")  # odds 25 → 1/26
    assert scaling.odds(640) == Decimal(200)


# --- properties --------------------------------------------------------------------------------

VALUES = st.fixed_dictionaries(
    {},
    optional={
        "months_in_business": st.integers(0, 600) | st.none(),
        "tax_grade": st.sampled_from(["A", "B", "M", "C", "D", "X"]) | st.none(),
        "tax_revenue_growth": st.decimals("-1", "3", places=4),
        "worst_dpd_24m": st.integers(0, 400),
        "enquiries_3m": st.integers(0, 30),
        "debt_service_ratio": st.decimals("0", "5", places=4) | st.none(),
        "has_credit_record": st.booleans(),
        "social_security_months": st.integers(0, 400),
        "bank_inflow_12m": st.decimals("0", "100000000", places=2),
        "platform_gmv_12m": st.decimals("0", "100000000", places=2) | st.none(),
    },
)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_score_is_the_sum_of_the_points(values: dict[str, object]) -> None:
    result = CARD.score(values)
    assert result.score == result.intercept_points + sum(p.points for p in result.points)
    assert CARD.min_score <= result.score <= CARD.max_score
    assert result.grade == CARD.master_scale.grade_for(result.score).grade
    lost = [r.points_lost for r in result.reasons]
    assert len(lost) <= 4 and all(x > 0 for x in lost) and lost == sorted(lost, reverse=True)
    biggest = max(p.lost for p in result.points)
    assert not lost or lost[0] == biggest


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1199), st.integers(1, 200))
def test_pd_decreases_and_grade_improves_as_score_increases(score: int, step: int) -> None:
    scale = CARD.master_scale
    assert scale.pd_for(score + step) < scale.pd_for(score)
    assert 0 < scale.pd_for(score + step) < 1
    names = scale.grade_names
    assert names.index(scale.grade_for(score + step).grade) <= names.index(
        scale.grade_for(score).grade
    )
