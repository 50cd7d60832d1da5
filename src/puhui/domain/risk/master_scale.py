"""Master scale (主标尺): score scaling, risk grades with score bounds and PD ranges (R-9.2b).

A scorecard's points are on a log-odds scale fixed by three numbers (:class:`Scaling`): the
``base_score`` has good:bad odds of ``base_odds`` and every ``pdo`` points double the odds. So

    odds(score) = base_odds x 2 ** ((score - base_score) / pdo)
    PD(score)   = 1 / (1 + odds(score))

computed in ``Decimal`` (a private 28-digit context, the PD kept to 12 significant digits, so the
PD is strictly decreasing in the score over any realistic range). The master scale cuts the score
axis into grades, best first: a grade holds the integer scores ``min_score .. next better grade's
min_score - 1``; the best grade is open above and the worst grade is open below (a score under
its ``min_score``, or a ``null`` one, still gets it). Each grade carries its PD range from the
scaling and its representative ``pd`` (given by the artifact, e.g. the calibrated default rate).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, Overflow
from functools import lru_cache
from typing import Any, Final

from puhui.domain.errors import ValidationError

__all__ = [
    "Grade",
    "MasterScale",
    "Scaling",
    "master_scale_from_mapping",
    "scaling_from_mapping",
]

_CTX: Final = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
_PD_CTX: Final = Context(prec=12, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
_ONE: Final = Decimal(1)
_TWO: Final = Decimal(2)


def _invalid(path: str, reason: str) -> ValidationError:
    return ValidationError(
        f"invalid scorecard: {path}: {reason}",
        code="risk.scorecard.invalid",
        details={"path": path, "reason": reason},
    )


def _decimal(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _invalid(path, "expected a decimal written as a string")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise _invalid(path, "not a decimal number") from None
    if not number.is_finite():
        raise _invalid(path, "not a finite number")
    return number


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(path, "expected a whole number")
    return value


@lru_cache(maxsize=8192)
def _pd(base_score: int, base_odds: Decimal, pdo: Decimal, score: int) -> Decimal:
    exponent = _CTX.divide(Decimal(score - base_score), pdo)
    odds = _CTX.multiply(base_odds, _CTX.power(_TWO, exponent))
    return _PD_CTX.divide(_ONE, _CTX.add(_ONE, odds))


@dataclass(frozen=True, slots=True)
class Scaling:
    """Points-to-odds scaling: ``base_score`` at ``base_odds`` (good:bad), ``pdo`` doubles."""

    base_score: int
    base_odds: Decimal
    pdo: Decimal

    def __post_init__(self) -> None:
        if self.base_odds <= 0 or self.pdo <= 0:
            raise _invalid("scaling", "base_odds and pdo must be positive")

    def odds(self, score: int) -> Decimal:
        """Good:bad odds at ``score`` (28 significant digits)."""
        exponent = _CTX.divide(Decimal(score - self.base_score), self.pdo)
        return _CTX.multiply(self.base_odds, _CTX.power(_TWO, exponent))

    def pd(self, score: int) -> Decimal:
        """Probability of default at an integer ``score``: ``1 / (1 + odds)``, 12 digits."""
        return _pd(self.base_score, self.base_odds, self.pdo, score)


def scaling_from_mapping(data: object) -> Scaling:
    """``{"base_score": 600, "base_odds": 50, "pdo": 20}`` → :class:`Scaling`."""
    if not isinstance(data, Mapping):
        raise _invalid("scaling", "expected an object")
    unknown = sorted(set(data) - {"base_score", "base_odds", "pdo"})
    if unknown:
        raise _invalid("scaling", f"unknown keys {unknown}")
    for key in ("base_score", "base_odds", "pdo"):
        if key not in data:
            raise _invalid(f"scaling.{key}", "missing")
    return Scaling(
        base_score=_int(data["base_score"], "scaling.base_score"),
        base_odds=_decimal(data["base_odds"], "scaling.base_odds"),
        pdo=_decimal(data["pdo"], "scaling.pdo"),
    )


@dataclass(frozen=True, slots=True)
class Grade:
    """One grade: integer scores ``min_score..max_score`` (``None`` = open) and its PDs.

    ``pd_low``/``pd_high`` are the scaling's PD at ``max_score``/``min_score`` (``None`` where
    the grade is open); ``pd`` is the grade's representative PD from the artifact.
    """

    grade: str
    min_score: int | None
    max_score: int | None
    pd: Decimal
    pd_low: Decimal | None
    pd_high: Decimal | None

    def contains(self, score: int) -> bool:
        return (self.min_score is None or score >= self.min_score) and (
            self.max_score is None or score <= self.max_score
        )


@dataclass(frozen=True, slots=True)
class MasterScale:
    """Grades best first; :meth:`grade_for` finds a score's grade by bisection."""

    scaling: Scaling
    grades: tuple[Grade, ...]
    _cuts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ascending lower bounds of every grade but the worst (which is open below)
        cuts = tuple(g.min_score for g in reversed(self.grades[:-1]))
        object.__setattr__(self, "_cuts", tuple(c for c in cuts if c is not None))

    @property
    def grade_names(self) -> tuple[str, ...]:
        return tuple(g.grade for g in self.grades)

    def grade_for(self, score: int) -> Grade:
        """The grade holding ``score`` (the worst grade is open below)."""
        index = bisect_right(self._cuts, score)  # number of cuts at or under the score
        return self.grades[len(self.grades) - 1 - index]

    def pd_for(self, score: int) -> Decimal:
        """PD from the scaling (not the grade's representative PD)."""
        return self.scaling.pd(score)

    def by_name(self, grade: str) -> Grade:
        for g in self.grades:
            if g.grade == grade:
                return g
        raise ValidationError(
            "unknown risk grade", code="risk.master_scale.unknown_grade", details={"grade": grade}
        )


def master_scale_from_mapping(entries: object, scaling: Scaling) -> MasterScale:
    """Build and check ``[{"grade": "A", "min_score": 640, "pd": "0.0035"}, ...]``.

    Grades are listed best first with strictly decreasing ``min_score`` (the worst may be
    ``null``) and strictly increasing ``pd`` in (0, 1); names are unique.
    """
    if not isinstance(entries, Sequence) or isinstance(entries, str) or len(entries) < 2:
        raise _invalid("master_scale", "expected a list of at least two grades")
    raw: list[tuple[str, int | None, Decimal]] = []
    for i, entry in enumerate(entries):
        path = f"master_scale[{i}]"
        if not isinstance(entry, Mapping):
            raise _invalid(path, "expected an object")
        entry_map: Mapping[str, Any] = entry
        unknown = sorted(set(entry_map) - {"grade", "min_score", "pd", "label_zh", "label_en"})
        if unknown:
            raise _invalid(path, f"unknown keys {unknown}")
        name = entry_map.get("grade")
        if not isinstance(name, str) or not name.strip() or len(name) > 8:
            raise _invalid(f"{path}.grade", "expected a short grade name")
        last = i == len(entries) - 1
        min_score = entry_map.get("min_score")
        if min_score is None and not last:
            raise _invalid(f"{path}.min_score", "only the worst grade may be open below")
        lower = None if min_score is None else _int(min_score, f"{path}.min_score")
        pd = _decimal(entry_map.get("pd"), f"{path}.pd")
        if not 0 < pd < 1:
            raise _invalid(f"{path}.pd", "a PD is between 0 and 1")
        raw.append((name, lower, pd))
    names = [r[0] for r in raw]
    if len(set(names)) != len(names):
        raise _invalid("master_scale", "grade names must be unique")
    for i in range(1, len(raw)):
        prev_min, this_min = raw[i - 1][1], raw[i][1]
        if prev_min is not None and this_min is not None and this_min >= prev_min:
            raise _invalid(f"master_scale[{i}].min_score", "must be below the better grade's")
        if raw[i][2] <= raw[i - 1][2]:
            raise _invalid(f"master_scale[{i}].pd", "must be above the better grade's PD")
    grades: list[Grade] = []
    for i, (name, lower, pd) in enumerate(raw):
        upper = None if i == 0 else _upper(raw[i - 1][1])
        low_bound = None if i == len(raw) - 1 else lower
        grades.append(
            Grade(
                grade=name,
                min_score=low_bound,
                max_score=upper,
                pd=pd,
                pd_low=None if upper is None else scaling.pd(upper),
                pd_high=None if low_bound is None else scaling.pd(low_bound),
            )
        )
    return MasterScale(scaling=scaling, grades=tuple(grades))


def _upper(better_min: int | None) -> int | None:
    return None if better_min is None else better_min - 1
