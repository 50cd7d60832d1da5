"""Scorecard artifacts and runtime: points, score, grade, PD, reason codes (R-9.2b).

**Artifact** (JSON; the modelling toolkit emits the same format)::

    {"id", "version", "description"?, "kind"?: "expert"|"fitted",
     "scaling": {"base_score": 600, "base_odds": 50, "pdo": 20},
     "intercept_points": int,
     "characteristics": [{"variable", "type": "numeric"|"categorical", "description"?,
        "bins": [{"label", "lower", "upper"} | {"label", "values": [...]}
                 | {"label", "missing": true}, each with "points": int, "woe"?: "decimal"],
        "reason_code", "reason_zh", "reason_en"}],
     "master_scale": [{"grade", "min_score", "pd"}, ...]}

Numeric bins are half-open ``[lower, upper)``, ``null`` meaning unbounded; together they must
cover the whole line without gap or overlap (first lower and last upper ``null``). Categorical
bins list disjoint values (strings or booleans). Unknown keys are refused; every problem raises
``ValidationError(code="risk.scorecard.invalid", details={"path", "reason"})``.

**Missing values** (variable absent or ``None``) get the characteristic's ``missing`` bin. A
characteristic without one scores a missing value at its *lowest* points (conservative policy),
reported with the label ``"<missing: lowest bin>"``. A categorical value that matches no bin is
scored like a missing value and flagged ``unmatched``.

**Runtime**: :meth:`Scorecard.score` adds ``intercept_points`` and the points of each
characteristic's bin; the grade comes from the master scale and the PD from the scaling
(:mod:`puhui.domain.risk.master_scale`). Reason codes are the characteristics that lost the most
points against their own maximum (top 4, ties in card order), with zh/en texts. Bin edges and
the per-bin results are precomputed at load time, so scoring is a bisection and a dict lookup
per characteristic. The content hash is the sha256 of the canonical JSON of the artifact
(sorted keys, no spaces, UTF-8), so any edit changes it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from puhui.domain.errors import ValidationError
from puhui.domain.risk.master_scale import (
    MasterScale,
    master_scale_from_mapping,
    scaling_from_mapping,
)

__all__ = [
    "DEFAULT_SCORECARD_PATH",
    "Bin",
    "Characteristic",
    "CharacteristicPoints",
    "ReasonCode",
    "ScoreResult",
    "Scorecard",
    "content_hash",
    "load_scorecard",
    "scorecard_from_mapping",
]

DEFAULT_SCORECARD_PATH: Final = (
    Path(__file__).resolve().parents[2] / "config" / "scorecards" / "expert-v1.json"
)
TOP_REASONS: Final = 4
MISSING_LOWEST_LABEL: Final = "<missing: lowest bin>"

_TOP_KEYS: Final = frozenset(
    {"id", "version", "description", "kind", "scaling", "intercept_points"}
    | {"characteristics", "master_scale"}
)
_CHAR_KEYS: Final = frozenset(
    {"variable", "type", "bins", "reason_code", "reason_zh", "reason_en", "description"}
)
_BIN_KEYS: Final = frozenset({"label", "lower", "upper", "values", "missing", "points", "woe"})


def _invalid(path: str, reason: str) -> ValidationError:
    return ValidationError(
        f"invalid scorecard: {path}: {reason}",
        code="risk.scorecard.invalid",
        details={"path": path, "reason": reason},
    )


def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of an artifact: sorted keys, compact, UTF-8."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CharacteristicPoints:
    """The bin one characteristic fell into and its points (``lost`` = max points - points)."""

    variable: str
    bin_label: str
    points: int
    max_points: int
    missing: bool = False
    unmatched: bool = False

    @property
    def lost(self) -> int:
        return self.max_points - self.points


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """Why the score is lower: a characteristic that lost points, in Chinese and English."""

    code: str
    zh: str
    en: str
    variable: str
    points_lost: int


@dataclass(frozen=True, slots=True)
class ScoreResult:
    scorecard_id: str
    scorecard_version: str
    scorecard_hash: str
    score: int
    grade: str
    pd: Decimal  # from the scaling at this score
    grade_pd: Decimal  # the grade's representative PD (master scale)
    intercept_points: int
    points: tuple[CharacteristicPoints, ...]
    reasons: tuple[ReasonCode, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(p.variable for p in self.points if p.missing)


# --- the card ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bin:
    label: str
    points: int
    lower: Decimal | None = None
    upper: Decimal | None = None
    values: tuple[str | bool, ...] = ()
    missing: bool = False
    woe: Decimal | None = None


# (points record, (rank, reason) or None); rank = -points lost x 4096 + position: sorts by
# points lost, ties in card order, comparing ints only
_Ranked = tuple[int, ReasonCode]
_Outcome = tuple[CharacteristicPoints, _Ranked | None]
MAX_CHARACTERISTICS: Final = 4096


@dataclass(frozen=True, slots=True)
class Characteristic:
    variable: str
    type: Literal["numeric", "categorical"]
    bins: tuple[Bin, ...]  # numeric: ordered by lower bound; the missing bin last if any
    reason_code: str
    reason_zh: str
    reason_en: str
    position: int = 0  # index in the card: breaks ties between reasons
    max_points: int = field(init=False)
    # precomputed lookups
    _edges: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)
    _range_outcomes: tuple[_Outcome, ...] = field(init=False, repr=False, compare=False)
    _by_text: dict[str, _Outcome] = field(init=False, repr=False, compare=False)
    _by_flag: dict[bool, _Outcome] = field(init=False, repr=False, compare=False)
    _missing: _Outcome = field(init=False, repr=False, compare=False)
    _unmatched: _Outcome = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scoring = [b for b in self.bins if not b.missing]
        missing = [b for b in self.bins if b.missing]
        maximum = max(b.points for b in self.bins)
        lowest = min(scoring, key=lambda b: b.points)
        put = object.__setattr__
        put(self, "max_points", maximum)
        put(self, "_edges", tuple(b.lower for b in scoring[1:] if b.lower is not None))
        put(self, "_range_outcomes", tuple(self._outcome(b) for b in scoring))
        texts: dict[str, _Outcome] = {}
        flags: dict[bool, _Outcome] = {}
        if self.type == "categorical":
            for b in scoring:
                for v in b.values:
                    if isinstance(v, bool):
                        flags[v] = self._outcome(b)
                    else:
                        texts[v] = self._outcome(b)
        put(self, "_by_text", texts)
        put(self, "_by_flag", flags)
        fallback = missing[0] if missing else lowest
        label = fallback.label if missing else MISSING_LOWEST_LABEL
        put(self, "_missing", self._outcome(fallback, label=label, missing=True))
        put(self, "_unmatched", self._outcome(fallback, label=label, missing=True, unmatched=True))

    def _outcome(
        self, b: Bin, *, label: str | None = None, missing: bool = False, unmatched: bool = False
    ) -> _Outcome:
        label = b.label if label is None else label
        points = CharacteristicPoints(
            self.variable, label, b.points, self.max_points, missing, unmatched
        )
        lost = self.max_points - b.points
        if lost <= 0:
            return points, None
        rank = -lost * MAX_CHARACTERISTICS + self.position
        suffix_zh, suffix_en = ("（数据缺失）", " (data missing)") if missing else ("", "")
        reason = ReasonCode(
            self.reason_code,
            f"{self.reason_zh}{suffix_zh}",
            f"{self.reason_en}{suffix_en}",
            self.variable,
            lost,
        )
        return points, (rank, reason)

    def evaluate(self, value: object) -> _Outcome:
        """The precomputed (points, reason) of the bin holding ``value``."""
        if value is None:
            return self._missing
        if self.type == "numeric":
            if type(value) is int:
                return self._range_outcomes[bisect_right(self._edges, value)]
            if isinstance(value, Decimal) and value.is_finite():
                return self._range_outcomes[bisect_right(self._edges, value)]
            raise _bad_value(self.variable, f"a numeric characteristic got {type(value).__name__}")
        if type(value) is bool:
            return self._by_flag.get(value, self._unmatched)
        if type(value) is str:
            return self._by_text.get(value, self._unmatched)
        raise _bad_value(self.variable, f"a categorical characteristic got {type(value).__name__}")


def _bad_value(variable: str, reason: str) -> ValidationError:
    return ValidationError(
        f"cannot score {variable}: {reason}",
        code="risk.scorecard.bad_variable",
        details={"variable": variable, "reason": reason},
    )


@dataclass(frozen=True, slots=True)
class Scorecard:
    id: str
    version: str
    description: str
    kind: str
    content_hash: str
    intercept_points: int
    characteristics: tuple[Characteristic, ...]
    master_scale: MasterScale

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(c.variable for c in self.characteristics)

    @property
    def min_score(self) -> int:
        return self.intercept_points + sum(
            min(b.points for b in c.bins) for c in self.characteristics
        )

    @property
    def max_score(self) -> int:
        return self.intercept_points + sum(c.max_points for c in self.characteristics)

    def score(self, variables: Mapping[str, object]) -> ScoreResult:
        """Score one applicant's variable values (absent or ``None`` = missing)."""
        total = self.intercept_points
        points: list[CharacteristicPoints] = []
        reasons: list[_Ranked] = []
        get = variables.get
        for characteristic in self.characteristics:
            result, ranked = characteristic.evaluate(get(characteristic.variable))
            total += result.points
            points.append(result)
            if ranked is not None:
                reasons.append(ranked)
        reasons.sort()
        grade = self.master_scale.grade_for(total)
        return ScoreResult(
            scorecard_id=self.id,
            scorecard_version=self.version,
            scorecard_hash=self.content_hash,
            score=total,
            grade=grade.grade,
            pd=self.master_scale.scaling.pd(total),
            grade_pd=grade.pd,
            intercept_points=self.intercept_points,
            points=tuple(points),
            reasons=tuple(r for _, r in reasons[:TOP_REASONS]),
        )


# --- loading and validation --------------------------------------------------------------------


def _text(value: object, path: str, *, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise _invalid(path, f"expected a non-empty text of at most {max_len} characters")
    return value


def _points(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 100_000:
        raise _invalid(path, "points are a whole number")
    return value


def _bound(value: object, path: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _invalid(path, "a bound is a decimal string, a whole number or null")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise _invalid(path, "not a decimal number") from None
    if not number.is_finite():
        raise _invalid(path, "not a finite number")
    return number


def _bin(data: object, kind: str, path: str) -> Bin:
    if not isinstance(data, Mapping):
        raise _invalid(path, "expected an object")
    unknown = sorted(set(data) - _BIN_KEYS)
    if unknown:
        raise _invalid(path, f"unknown keys {unknown}")
    label = _text(data.get("label"), f"{path}.label", max_len=80)
    points = _points(data.get("points"), f"{path}.points")
    woe = None
    if data.get("woe") is not None:
        woe = _bound(data["woe"], f"{path}.woe")
    if data.get("missing", False) is True:
        if {"lower", "upper", "values"} & set(data):
            raise _invalid(path, "a missing bin has no bounds or values")
        return Bin(label=label, points=points, missing=True, woe=woe)
    if "missing" in data and data["missing"] is not False:
        raise _invalid(f"{path}.missing", "expected true or false")
    if kind == "numeric":
        if "values" in data or "lower" not in data or "upper" not in data:
            raise _invalid(path, "a numeric bin has lower and upper (null = unbounded)")
        lower, upper = (
            _bound(data["lower"], f"{path}.lower"),
            _bound(data["upper"], f"{path}.upper"),
        )
        if lower is not None and upper is not None and lower >= upper:
            raise _invalid(path, "lower must be below upper")
        return Bin(label=label, points=points, lower=lower, upper=upper, woe=woe)
    values = data.get("values")
    if "lower" in data or "upper" in data or not isinstance(values, list) or not values:
        raise _invalid(path, "a categorical bin lists its values")
    for j, v in enumerate(values):
        if not isinstance(v, str | bool):
            raise _invalid(f"{path}.values[{j}]", "a category is a string or a boolean")
    return Bin(label=label, points=points, values=tuple(values), woe=woe)


def _check_numeric(bins: list[Bin], path: str) -> list[Bin]:
    ordered = sorted(bins, key=lambda b: (b.lower is not None, b.lower or Decimal(0)))
    if ordered[0].lower is not None:
        raise _invalid(path, "the first bin must start at null (unbounded below)")
    if ordered[-1].upper is not None:
        raise _invalid(path, "the last bin must end at null (unbounded above)")
    for before, after in itertools.pairwise(ordered):
        if before.upper is None or after.lower is None:
            raise _invalid(path, f"bins {before.label!r} and {after.label!r} overlap")
        if before.upper < after.lower:
            raise _invalid(path, f"gap between {before.label!r} and {after.label!r}")
        if before.upper > after.lower:
            raise _invalid(path, f"bins {before.label!r} and {after.label!r} overlap")
    return ordered


def _characteristic(data: object, position: int) -> Characteristic:
    path = f"characteristics[{position}]"
    if not isinstance(data, Mapping):
        raise _invalid(path, "expected an object")
    unknown = sorted(set(data) - _CHAR_KEYS)
    if unknown:
        raise _invalid(path, f"unknown keys {unknown}")
    variable = _text(data.get("variable"), f"{path}.variable", max_len=64)
    kind = data.get("type")
    if kind not in ("numeric", "categorical"):
        raise _invalid(f"{path}.type", "expected 'numeric' or 'categorical'")
    raw_bins = data.get("bins")
    if not isinstance(raw_bins, list) or not raw_bins:
        raise _invalid(f"{path}.bins", "expected a non-empty list")
    bins = [_bin(b, kind, f"{path}.bins[{j}]") for j, b in enumerate(raw_bins)]
    scoring = [b for b in bins if not b.missing]
    missing = [b for b in bins if b.missing]
    if len(missing) > 1:
        raise _invalid(f"{path}.bins", "at most one missing bin")
    if not scoring:
        raise _invalid(f"{path}.bins", "at least one bin besides the missing bin")
    labels = [b.label for b in bins]
    if len(set(labels)) != len(labels):
        raise _invalid(f"{path}.bins", "bin labels must be unique")
    if kind == "numeric":
        scoring = _check_numeric(scoring, f"{path}.bins")
    else:
        seen: set[tuple[type, str | bool]] = set()
        for b in scoring:
            for v in b.values:
                key = (type(v), v)
                if key in seen:
                    raise _invalid(f"{path}.bins", f"value {v!r} is in more than one bin")
                seen.add(key)
    return Characteristic(
        position=position,
        variable=variable,
        type=kind,
        bins=(*scoring, *missing),
        reason_code=_text(data.get("reason_code"), f"{path}.reason_code", max_len=40),
        reason_zh=_text(data.get("reason_zh"), f"{path}.reason_zh"),
        reason_en=_text(data.get("reason_en"), f"{path}.reason_en"),
    )


def scorecard_from_mapping(document: Mapping[str, Any]) -> Scorecard:
    """Validate an artifact (see the module docstring) and precompute its lookups."""
    if not isinstance(document, Mapping):
        raise _invalid("$", "expected an object")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise _invalid("$", f"unknown keys {unknown}")
    for key in ("id", "version", "scaling", "intercept_points", "characteristics"):
        if key not in document:
            raise _invalid(key, "missing")
    kind = document.get("kind", "fitted")
    if kind not in ("expert", "fitted"):
        raise _invalid("kind", "expected 'expert' or 'fitted'")
    raw = document["characteristics"]
    if not isinstance(raw, list) or not raw:
        raise _invalid("characteristics", "expected a non-empty list")
    if len(raw) > MAX_CHARACTERISTICS:
        raise _invalid("characteristics", f"at most {MAX_CHARACTERISTICS}")
    characteristics = tuple(_characteristic(c, i) for i, c in enumerate(raw))
    variables = [c.variable for c in characteristics]
    if len(set(variables)) != len(variables):
        raise _invalid("characteristics", "each variable may appear once")
    scaling = scaling_from_mapping(document["scaling"])
    description = document.get("description", "")
    if not isinstance(description, str):
        raise _invalid("description", "expected a text")
    return Scorecard(
        id=_text(document["id"], "id", max_len=64),
        version=_text(document["version"], "version", max_len=32),
        description=description,
        kind=kind,
        content_hash=content_hash(document),
        intercept_points=_points(document["intercept_points"], "intercept_points"),
        characteristics=characteristics,
        master_scale=master_scale_from_mapping(document.get("master_scale"), scaling),
    )


def load_scorecard(path: str | Path = DEFAULT_SCORECARD_PATH) -> Scorecard:
    """Read and validate a scorecard artifact file (default: the shipped expert card)."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValidationError(
            f"cannot read the scorecard {source.name}: {err}",
            code="risk.scorecard.unreadable",
            details={"file": source.name},
        ) from None
    return scorecard_from_mapping(document)
