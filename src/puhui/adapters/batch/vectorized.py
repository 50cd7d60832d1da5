"""The end-of-day step over numpy int64 arrays: the same arithmetic as
``puhui.domain.lending.eod.close_day``, a whole partition at once.

Equality with the scalar reference is a property test (``tests/unit/test_eod_vectorized.py``).
All money is integer minor units (分) in int64; no float is ever involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from puhui.domain.lending.eod import PPM, AgingPolicy

I64 = npt.NDArray[np.int64]

COLUMNS = (
    "loan_id",
    "principal_outstanding",
    "overdue_principal",
    "interest_receivable",
    "penalty_receivable",
    "period_start",
    "period_days",
    "period_due",
    "period_interest",
    "period_accrued",
    "period_principal",
    "period_paid_principal",
    "period_paid_interest",
    "oldest_unpaid_due",
    "penalty_rate_ppm",
    "penalty_day_basis",
    "dpd",
    "class_code",
    "bucket",
)


@dataclass
class Batch:
    """Column arrays of one partition, named as ``COLUMNS``."""

    cols: dict[str, I64]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, ...]]) -> Batch:
        if not rows:
            return cls({c: np.zeros(0, dtype=np.int64) for c in COLUMNS})
        matrix = np.array(rows, dtype=np.int64)
        return cls({c: matrix[:, i].copy() for i, c in enumerate(COLUMNS)})

    def __len__(self) -> int:
        return int(self.cols["loan_id"].shape[0])

    def __getitem__(self, name: str) -> I64:
        return self.cols[name]


def _round_half_up_div(numerator: I64, denominator: I64 | int) -> I64:
    result: I64 = (2 * numerator + denominator) // (2 * np.asarray(denominator, dtype=np.int64))
    return result


@dataclass
class NextPeriods:
    """Next-period data aligned with a batch; ``has_next`` is 0 where there is none."""

    has_next: I64
    start: I64
    days: I64
    due: I64
    interest: I64
    principal: I64

    @classmethod
    def none(cls, n: int) -> NextPeriods:
        z = np.zeros(n, dtype=np.int64)
        return cls(z, z.copy(), np.ones(n, dtype=np.int64), z.copy(), z.copy(), z.copy())


@dataclass
class OverdueRows:
    """Overdue installments of a batch, flat: ``row`` indexes the batch, one entry each."""

    row: I64
    due: I64
    unpaid_principal: I64

    @classmethod
    def none(cls) -> OverdueRows:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), z.copy())


def _penalty_through(unpaid: I64, ppm: I64, days: I64, basis: I64) -> I64:
    raw = _round_half_up_div(unpaid * ppm * days, basis * PPM)
    result: I64 = np.where((days > 0) & (unpaid > 0), raw, 0).astype(np.int64)
    return result


def close_day(
    batch: Batch,
    business_ordinal: int,
    policy: AgingPolicy,
    nxt: NextPeriods | None = None,
    overdue: OverdueRows | None = None,
) -> tuple[I64, I64, I64]:
    """Apply end of day in place; returns (interest accrued, penalty accrued, fell_due mask)."""
    c = batch.cols
    nxt = nxt or NextPeriods.none(len(batch))
    overdue = overdue or OverdueRows.none()
    d = np.int64(business_ordinal)
    fell_due = c["period_due"] == d
    unpaid = c["period_principal"] - c["period_paid_principal"]
    unpaid_interest = c["period_interest"] - c["period_paid_interest"]
    becomes_overdue = fell_due & (unpaid > 0)
    c["overdue_principal"] = c["overdue_principal"] + np.where(becomes_overdue, unpaid, 0)
    starts_aging = fell_due & ((unpaid > 0) | (unpaid_interest > 0)) & (c["oldest_unpaid_due"] == 0)
    c["oldest_unpaid_due"] = np.where(starts_aging, c["period_due"], c["oldest_unpaid_due"])
    roll = fell_due & (nxt.has_next != 0)
    for col, new in (
        ("period_start", nxt.start),
        ("period_days", nxt.days),
        ("period_due", nxt.due),
        ("period_interest", nxt.interest),
        ("period_principal", nxt.principal),
    ):
        c[col] = np.where(roll, new, c[col])
    for col in ("period_accrued", "period_paid_principal", "period_paid_interest"):
        c[col] = np.where(roll, 0, c[col])
    penalty = np.zeros(len(batch), dtype=np.int64)
    if overdue.row.size:
        ppm = c["penalty_rate_ppm"][overdue.row]
        basis = c["penalty_day_basis"][overdue.row]
        days = d - overdue.due + 1
        delta = _penalty_through(overdue.unpaid_principal, ppm, days, basis) - _penalty_through(
            overdue.unpaid_principal, ppm, days - 1, basis
        )
        np.add.at(penalty, overdue.row, np.where(overdue.due <= d, delta, 0))
    elapsed = np.clip(d - c["period_start"] + 1, 0, c["period_days"])
    target = _round_half_up_div(c["period_interest"] * elapsed, c["period_days"])
    interest = np.maximum(target - c["period_accrued"], 0).astype(np.int64)
    dpd = np.where(c["oldest_unpaid_due"] > 0, d - c["oldest_unpaid_due"], 0).astype(np.int64)
    c["dpd"] = dpd
    # rank = 1 + number of thresholds strictly below dpd; bucket = number of bounds below dpd
    thresholds = np.asarray(policy.classification.thresholds, dtype=np.int64)
    bounds = np.asarray(policy.buckets.bounds, dtype=np.int64)
    c["class_code"] = 1 + np.searchsorted(thresholds, dpd, side="left").astype(np.int64)
    c["bucket"] = np.searchsorted(bounds, dpd, side="left").astype(np.int64)
    c["interest_receivable"] = c["interest_receivable"] + interest
    c["penalty_receivable"] = c["penalty_receivable"] + penalty
    c["period_accrued"] = c["period_accrued"] + interest
    return interest, penalty, fell_due.astype(np.int64)
