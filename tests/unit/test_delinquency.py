"""Days past due → bucket and five-category class (R-9.5(f), R-10.2(f), REFERENCE §7 [V])."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.lending.delinquency import (
    BucketPolicy,
    ClassificationPolicy,
    DelinquencyBucket,
    LoanClass,
    bucket_index,
    bucket_of,
    buckets_of,
    classes_of,
    classify,
    is_npl,
)

B, K = DelinquencyBucket, LoanClass


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, B.M0),
        (1, B.M1),
        (30, B.M1),
        (31, B.M2),
        (60, B.M2),
        (61, B.M3),
        (90, B.M3),
        (91, B.M4),
        (120, B.M4),
        (121, B.M5),
        (150, B.M5),
        (151, B.M6_PLUS),
        (10_000, B.M6_PLUS),
    ],
)
def test_default_buckets(dpd: int, bucket: DelinquencyBucket) -> None:
    assert bucket_of(dpd) is bucket
    assert bucket_index(dpd) == list(B).index(bucket)


def test_bucket_boundaries_are_configurable() -> None:
    weekly = BucketPolicy(bounds=(0, 7, 14, 21, 28, 35))
    assert [bucket_of(d, weekly) for d in (0, 7, 8, 35, 36)] == [B.M0, B.M1, B.M2, B.M5, B.M6_PLUS]


@pytest.mark.parametrize(
    "bounds", [(0, 30, 30, 90, 120, 150), (0, 30, 60), (-1, 30, 60, 90, 120, 150)]
)
def test_bucket_bounds_must_be_six_increasing_day_counts(bounds: tuple[int, ...]) -> None:
    with pytest.raises(ValidationError):
        BucketPolicy(bounds=bounds)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dpd", "expected"),
    [
        (0, K.NORMAL),
        (1, K.SPECIAL_MENTION),  # any overdue → at least 关注
        (90, K.SPECIAL_MENTION),
        (91, K.SUBSTANDARD),  # > 90 → at least 次级
        (270, K.SUBSTANDARD),
        (271, K.DOUBTFUL),  # > 270 → at least 可疑
        (360, K.DOUBTFUL),
        (361, K.LOSS),  # > 360 → 损失
    ],
)
def test_five_categories_follow_the_2023_measures(dpd: int, expected: LoanClass) -> None:
    assert classify(dpd) is expected


def test_chinese_labels_and_npl() -> None:
    assert [c.label_zh for c in LoanClass] == ["正常", "关注", "次级", "可疑", "损失"]
    assert [is_npl(c) for c in LoanClass] == [False, False, True, True, True]
    assert [c.rank for c in LoanClass] == [1, 2, 3, 4, 5]


def test_thresholds_are_configurable() -> None:
    strict = ClassificationPolicy(special_mention_after=0, substandard_after=60)
    assert classify(61, strict) is K.SUBSTANDARD
    assert classify(61) is K.SPECIAL_MENTION
    lenient = ClassificationPolicy(special_mention_after=3)  # a grace of three days
    assert classify(3, lenient) is K.NORMAL
    assert classify(4, lenient) is K.SPECIAL_MENTION


def test_the_days_give_a_floor_not_a_ceiling() -> None:
    assert classify(0, at_least=K.SUBSTANDARD) is K.SUBSTANDARD  # e.g. credit-impaired
    assert classify(400, at_least=K.SUBSTANDARD) is K.LOSS


def test_thresholds_must_increase() -> None:
    with pytest.raises(ValidationError) as err:
        ClassificationPolicy(substandard_after=300)
    assert err.value.code == "delinquency.invalid_thresholds"


@pytest.mark.parametrize("bad", [-1, True, 1.0, "5"])
def test_days_past_due_is_a_whole_number_not_below_zero(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        classify(bad)  # type: ignore[arg-type]
    assert err.value.code == "delinquency.invalid_days"
    with pytest.raises(ValidationError):
        bucket_of(bad)  # type: ignore[arg-type]


days = st.integers(min_value=0, max_value=5000)


@given(days, days)
def test_class_and_bucket_are_monotone_in_days_past_due(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert classify(low).rank <= classify(high).rank
    assert bucket_index(low) <= bucket_index(high)


@given(st.lists(days, max_size=50))
def test_batch_helpers_equal_the_scalar_functions(dpds: list[int]) -> None:
    assert buckets_of(dpds) == [bucket_of(d) for d in dpds]
    assert classes_of(dpds) == [classify(d) for d in dpds]


@given(days)
def test_thresholds_suit_a_sorted_search(dpd: int) -> None:
    """What the numpy batch does: count thresholds below the days (searchsorted, side=left)."""
    policy = ClassificationPolicy()
    assert classify(dpd).rank == 1 + sum(1 for t in policy.thresholds if dpd > t)
    assert bucket_index(dpd) == sum(1 for b in BucketPolicy().bounds if dpd > b)
