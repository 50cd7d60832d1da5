"""Back-testing fraud signals on confirmed cases (R-9.6(c)).

The labelled population is every assessed application; the positives are those of applicants
with a **confirmed** case. For each signal — each fraud rule, and each graph feature taken as
"> 0" — it counts the applications it flagged and how many of them were confirmed fraud:
precision (flagged that were fraud), recall (fraud that was flagged) and lift (precision over
the base rate of fraud in the population). A signal that never fired has no precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

__all__ = ["Assessed", "SignalResult", "backtest"]

GRAPH_SIGNALS: Final = (
    "graph_confirmed_fraud_2hop",
    "graph_declined_2hop",
    "graph_overdue_2hop",
    "graph_shared_device_applicants",
)
_Q: Final = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Assessed:
    application_id: int
    fired: frozenset[str]  # rule ids
    variables: Mapping[str, object]
    fraud: bool  # the applicant has a confirmed case


@dataclass(frozen=True, slots=True)
class SignalResult:
    signal: str
    flagged: int
    true_positives: int
    precision: Decimal | None
    recall: Decimal | None
    lift: Decimal | None


def _ratio(a: int, b: int) -> Decimal | None:
    return None if b == 0 else (Decimal(a) / Decimal(b)).quantize(_Q)


def backtest(
    rows: Iterable[Assessed], rule_ids: Iterable[str]
) -> tuple[int, int, list[SignalResult]]:
    """``(population, confirmed, results)``: one result per rule id, then per graph signal."""
    data = list(rows)
    population = len(data)
    positives = sum(1 for r in data if r.fraud)
    base = _ratio(positives, population)

    def result(name: str, flagged_rows: list[Assessed]) -> SignalResult:
        tp = sum(1 for r in flagged_rows if r.fraud)
        precision = _ratio(tp, len(flagged_rows))
        lift = None
        if precision is not None and base:
            lift = (precision / base).quantize(Decimal("0.01"))
        return SignalResult(name, len(flagged_rows), tp, precision, _ratio(tp, positives), lift)

    results = [result(rid, [r for r in data if rid in r.fired]) for rid in rule_ids]
    for name in GRAPH_SIGNALS:
        flagged = [r for r in data if isinstance(v := r.variables.get(name), int) and v > 0]
        results.append(result(name, flagged))
    return population, positives, results
