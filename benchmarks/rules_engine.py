"""Rule-engine benchmark: the baseline admission rule set, Puhui's evaluator vs zen-engine.

Reproduce: ``.venv/bin/python benchmarks/rules_engine.py [--n 10000] [--seed 20240501]``
(``benchmarks/run_all.py`` runs it with the others). Needs zen-engine 2.1.3 (dev dependency).

Both engines evaluate ``src/puhui/config/rules/admission-baseline.json`` on the same ``--n``
deterministic variable sets, in the same run:

* Puhui: ``rule_set.evaluate`` (every rule listed with ``fired``);
* zen-engine: one shared ``ZenEngine`` whose loader hands back the parsed decision content, so
  the runtime and the compiled decision are reused (``ZenEngine.evaluate(key, context)``);
  once without trace, once with ``trace=True`` (the trace lists the rows that fired). The
  context goes in as JSON text so Decimals stay exact; building that text is timed apart.

Each call is timed on its own (``perf_counter_ns``); decisions/s is calls over the summed call
times of the best of ``--rounds`` rounds; p50/p99 are over every call of every round. The run
fails (exit 1) if any variable set gets different fired rules from the engines.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import zen

from puhui.domain.risk.rule_set import evaluate, load_rule_set

RULES = Path(__file__).resolve().parents[1] / "src/puhui/config/rules/admission-baseline.json"


def variable_sets(n: int, seed: int) -> list[dict[str, Any]]:
    """Mostly clean applicants; each adverse fact a few percent of the time; a few missing."""
    rng = random.Random(seed)

    def pick(clean: Any, adverse: list[Any], p: float = 0.05) -> Any:
        roll = rng.random()
        if roll < 0.02:
            return None
        return rng.choice(adverse) if roll < 0.02 + p else clean

    sets = []
    for _ in range(n):
        borrower = rng.choice(["consumer", "individual_business", "micro_enterprise"])
        sets.append(
            {
                "applicant_age": pick(rng.randint(22, 60), [16, 17, 66, 68, 71, 75]),
                "borrower_type": borrower,
                "product_code": {"consumer": "CONSUMER", "individual_business": "INDIV-BIZ"}.get(
                    borrower, "MICRO-BIZ"
                ),
                "requested_amount": Decimal(rng.randint(1_000, 3_000_000)),
                "requested_term_months": rng.choice([6, 12, 24, 36]),
                "region_code": "450103",
                "industry_code": rng.choice("AFGHI"),
                "guarantee_type": rng.choice(["credit", "guarantee", "mortgage", "pledge"]),
                "identity_verified": pick(True, [False], 0.01),
                "phone_in_service_months": rng.randint(1, 120),
                "enterprise_status": "none"
                if borrower == "consumer"
                else pick("in_operation", ["suspended", "revoked", "cancelled"], 0.02),
                "licence_valid": pick(True, [False], 0.02),
                "months_in_business": None
                if borrower == "consumer"
                else pick(rng.randint(6, 240), [1, 3, 5]),
                "sanction_hit": pick(False, [True], 0.002),
                "dishonest_debtor": pick(False, [True], 0.01),
                "open_enforcement_cases": pick(0, [1, 2]),
                "admin_penalties_24m": pick(0, [1, 2, 3, 4]),
                "major_admin_penalties_24m": pick(0, [1], 0.01),
                "has_credit_record": rng.random() > 0.1,
                "current_overdue_amount": pick(Decimal("0.00"), [Decimal("120.50"), Decimal(9)]),
                "worst_dpd_24m": pick(0, [5, 30, 31, 60, 90, 91, 180], 0.08),
                "enquiries_3m": pick(rng.randint(0, 3), [4, 5, 6, 9], 0.08),
                "bureau_monthly_debt_service": Decimal(rng.randint(0, 20_000)),
                "tax_grade": rng.choice("ABMCD"),
                "tax_revenue_12m": Decimal(rng.randint(100_000, 9_000_000)),
                "tax_revenue_growth": Decimal(rng.randint(-30, 60)) / 100,
                "bank_inflow_12m": Decimal(rng.randint(100_000, 9_000_000)),
                "gambling_txn_12m": pick(0, [1, 2, 3, 7]),
                "platform_gmv_12m": None,
                "social_security_months": rng.randint(0, 120),
                "monthly_income": Decimal(rng.randint(3_000, 90_000)),
                "debt_service_ratio": pick(
                    Decimal(rng.randint(0, 5_500)) / 10_000,
                    [Decimal("0.55"), Decimal("0.5501"), Decimal("0.7"), Decimal("0.93")],
                    0.08,
                ),
                "fraud_level": pick("none", ["low", "medium", "high"]),
            }
        )
    return sets


def zen_context(variables: dict[str, Any]) -> str:
    """JSON text with Decimals as exact JSON numbers."""
    text = json.dumps(variables, default=lambda d: f"@@{d}@@")
    return text.replace('"@@', "").replace('@@"', "")


def timed(call: Callable[[Any], Any], items: list[Any]) -> tuple[list[int], list[Any]]:
    clock = time.perf_counter_ns
    durations, results = [], []
    for item in items:
        start = clock()
        result = call(item)
        durations.append(clock() - start)
        results.append(result)
    return durations, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="variable sets (default 10000)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds (default 3)")
    args = parser.parse_args()

    rule_set = load_rule_set(RULES)
    content = zen.ZenDecisionContent(RULES.read_text(encoding="utf-8"))
    engine = zen.ZenEngine({"loader": lambda key: content})
    sets = variable_sets(args.n, args.seed)
    serialising, contexts = timed(zen_context, sets)

    def puhui(variables: dict[str, Any]) -> list[str]:
        return [rule.rule_id for rule in evaluate(rule_set, variables).fired]

    def zen_plain(context: str) -> list[str]:
        return [row["rule_id"] for row in engine.evaluate("admission", context)["result"]["rules"]]

    def zen_traced(context: str) -> list[str]:
        trace = engine.evaluate("admission", context, {"trace": True})["trace"]
        return [row["rule"]["_id"] for row in trace["admission"]["traceData"]]

    cases = [
        ("Puhui evaluator, `rule_set.evaluate` (all rules with `fired`)", puhui, sets),
        ("zen-engine 2.1.3, shared `ZenEngine.evaluate(key)`", zen_plain, contexts),
        ("zen-engine 2.1.3, same with `trace=True` (rows fired)", zen_traced, contexts),
    ]
    for _, call, items in cases:  # warm up caches and the engine
        timed(call, items[:200])
    best: list[float] = [0.0] * len(cases)
    every: list[list[int]] = [[] for _ in cases]
    answers: list[list[Any]] = [[] for _ in cases]
    for _ in range(args.rounds):  # round-robin, so load elsewhere hits every engine alike
        for i, (_, call, items) in enumerate(cases):
            durations, answers[i] = timed(call, items)
            every[i] += durations
            best[i] = max(best[i], len(items) / (sum(durations) / 1e9))

    disagreements = [
        k for k in range(len(sets)) if not answers[0][k] == answers[1][k] == answers[2][k]
    ]
    fired_sets = sum(1 for fired in answers[0] if fired)
    print(f"{'| engine / call':<65} | decisions/s | p50 µs | p99 µs |")
    print(f"|{'-' * 65}|-------------|--------|--------|")
    for (name, _, _), rate, durations in zip(cases, best, every, strict=True):
        q = statistics.quantiles(durations, n=100)
        print(f"| {name:<63} | {rate:>11,.0f} | {q[49] / 1e3:>6.1f} | {q[98] / 1e3:>6.1f} |")
    print(
        f"\n{len(sets):,} variable sets (seed {args.seed}), {fired_sets:,} with at least one rule "
        f"fired; best of {args.rounds} rounds; Python {sys.version.split()[0]}.\n"
        f"Building the JSON context for zen-engine (not in its figures): "
        f"p50 {statistics.median(serialising) / 1e3:.1f} µs.\n"
        f"Agreement (same fired rules from all three): "
        f"{len(sets) - len(disagreements):,}/{len(sets):,}."
    )
    if disagreements:
        first = disagreements[0]
        print(f"First disagreement: {sets[first]} → {[a[first] for a in answers]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
