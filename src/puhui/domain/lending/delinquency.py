"""Days past due → delinquency bucket and five-category classification (R-9.5(f), R-10.2(f)).

Five categories (五级分类) per 商业银行金融资产风险分类办法 (CBIRC/PBoC Order [2023] No. 1,
REFERENCE §7 [V]): any overdue → at least 关注; more than 90 days → at least 次级; more than 270 →
at least 可疑; more than 360 → 损失; the last three are non-performing (NPL). The day thresholds
are configuration (:class:`ClassificationPolicy`) with those values as defaults, and the result is
a *floor*: a worse class decided on other evidence (``at_least``) is kept.

These scalar functions are the reference definition; the batch layer re-implements them over
integer arrays (``bounds`` are ready for a sorted search) and is property-tested against them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from puhui.domain.errors import ValidationError

__all__ = [
    "BucketPolicy",
    "ClassificationPolicy",
    "DelinquencyBucket",
    "LoanClass",
    "bucket_index",
    "bucket_of",
    "buckets_of",
    "classes_of",
    "classify",
    "is_npl",
]


class DelinquencyBucket(StrEnum):
    """Collection buckets: M0 current, M1 1-30 days past due, ... M6+ beyond 150 (defaults)."""

    M0 = "M0"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M4 = "M4"
    M5 = "M5"
    M6_PLUS = "M6+"


_BUCKETS = tuple(DelinquencyBucket)


def _days(value: object, what: str) -> int:
    """A whole number of days >= 0; integer types such as numpy's are accepted (``__index__``)."""
    try:
        days = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        days = -1
    if isinstance(value, bool) or days < 0:
        raise ValidationError(
            f"{what} must be a whole number >= 0", code="delinquency.invalid_days"
        )
    return days


@dataclass(frozen=True)
class BucketPolicy:
    """Upper bounds (inclusive, in days past due) of M0..M5; M6+ holds everything beyond."""

    bounds: tuple[int, int, int, int, int, int] = (0, 30, 60, 90, 120, 150)

    def __post_init__(self) -> None:
        if len(self.bounds) != len(_BUCKETS) - 1:
            raise ValidationError("six bucket bounds are needed", code="delinquency.invalid_bounds")
        for b in self.bounds:
            _days(b, "a bucket bound")
        if any(a >= b for a, b in pairwise(self.bounds)):
            raise ValidationError(
                "bucket bounds must increase strictly", code="delinquency.invalid_bounds"
            )


DEFAULT_BUCKETS = BucketPolicy()


def bucket_index(days_past_due: int, policy: BucketPolicy = DEFAULT_BUCKETS) -> int:
    """0 for M0 ... 6 for M6+: the number of bounds strictly below ``days_past_due``."""
    dpd = _days(days_past_due, "days past due")
    return sum(1 for bound in policy.bounds if dpd > bound)


def bucket_of(days_past_due: int, policy: BucketPolicy = DEFAULT_BUCKETS) -> DelinquencyBucket:
    return _BUCKETS[bucket_index(days_past_due, policy)]


def buckets_of(
    days_past_due: Iterable[int], policy: BucketPolicy = DEFAULT_BUCKETS
) -> list[DelinquencyBucket]:
    return [bucket_of(d, policy) for d in days_past_due]


class LoanClass(StrEnum):
    """五级分类, from best to worst; ``rank`` orders them (1 正常 ... 5 损失)."""

    NORMAL = "normal"
    SPECIAL_MENTION = "special_mention"
    SUBSTANDARD = "substandard"
    DOUBTFUL = "doubtful"
    LOSS = "loss"

    @property
    def rank(self) -> int:
        return _CLASSES.index(self) + 1

    @property
    def label_zh(self) -> str:
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LABELS[self][1]

    @property
    def is_npl(self) -> bool:
        """次级, 可疑 and 损失 are non-performing."""
        return self.rank >= 3


_CLASSES = tuple(LoanClass)
_LABELS = {
    LoanClass.NORMAL: ("正常", "Normal"),
    LoanClass.SPECIAL_MENTION: ("关注", "Special mention"),
    LoanClass.SUBSTANDARD: ("次级", "Substandard"),
    LoanClass.DOUBTFUL: ("可疑", "Doubtful"),
    LoanClass.LOSS: ("损失", "Loss"),
}


@dataclass(frozen=True)
class ClassificationPolicy:
    """Classify as at least X once days past due exceed X's threshold (REFERENCE §7 [V])."""

    special_mention_after: int = 0
    substandard_after: int = 90
    doubtful_after: int = 270
    loss_after: int = 360

    def __post_init__(self) -> None:
        limits = self.thresholds
        for limit in limits:
            _days(limit, "a classification threshold")
        if any(a >= b for a, b in pairwise(limits)):
            raise ValidationError(
                "classification thresholds must increase strictly",
                code="delinquency.invalid_thresholds",
            )

    @property
    def thresholds(self) -> tuple[int, int, int, int]:
        """Days past due after which 关注, 次级, 可疑, 损失 apply (for a sorted search)."""
        return (
            self.special_mention_after,
            self.substandard_after,
            self.doubtful_after,
            self.loss_after,
        )


DEFAULT_CLASSIFICATION = ClassificationPolicy()


def classify(
    days_past_due: int,
    policy: ClassificationPolicy = DEFAULT_CLASSIFICATION,
    *,
    at_least: LoanClass = LoanClass.NORMAL,
) -> LoanClass:
    """The five-category class for ``days_past_due``, never better than ``at_least``."""
    dpd = _days(days_past_due, "days past due")
    by_days = _CLASSES[sum(1 for limit in policy.thresholds if dpd > limit)]
    return by_days if by_days.rank >= LoanClass(at_least).rank else LoanClass(at_least)


def classes_of(
    days_past_due: Iterable[int], policy: ClassificationPolicy = DEFAULT_CLASSIFICATION
) -> list[LoanClass]:
    return [classify(d, policy) for d in days_past_due]


def is_npl(loan_class: LoanClass) -> bool:
    """Non-performing loan: 次级, 可疑 or 损失 (REFERENCE §7 [V])."""
    return LoanClass(loan_class).is_npl
