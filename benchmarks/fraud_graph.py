"""Relationship graph benchmark: ring recall and precision, batch detection time
on python-igraph and on networkx, incremental neighbourhood features, peak memory.

Reproduce (about 4 minutes and 3 GiB at 1,000,000 applicants; ``--quick``: 100,000 applicants,
100 rings, 2,000 incremental calls, under 20 seconds)::

    .venv/bin/python benchmarks/fraud_graph.py
    .venv/bin/python benchmarks/fraud_graph.py --quick

Acceptance (issue text): 1,000,000 applicants and 500 planted rings of 5-30 members; ring recall
>= 95 % at precision >= 90 %; full batch detection <= 60 s; incremental neighbourhood features
p99 <= 5 ms; the same algorithm on networkx in the same run for the speed ratio.

1. **Population** — ``_fraud_population.generate`` (seeded; the model is in its docstring):
   households, dormitories, extended families, carrier-grade NAT IPs, employers, device resale,
   friends named as second contact, and the planted rings, which touch legitimate households.
   Every identifier becomes a 64-hex blind-index style key (BLAKE2b-256 of kind and id).
2. **Graph** — one ``ApplicationLinks.create`` + ``RelationshipGraph.add_application`` per
   applicant (validation included). Labels: 12 % declined, 4 % overdue, confirmed fraud on 20 %
   of the ring members and 0.1 % of the others.
3. **Batch detection** — ``ring_detection.detect_rings`` on ``graph.snapshot()`` (the snapshot
   is inside the timed span), then the same function with the cluster step on networkx
   (``_fraud_networkx.py``) over the same snapshot. Both are scored:
   * a planted ring is **found** when one suspect group holds at least ``RING_COVERAGE`` (80 %)
     of its members;
   * a suspect group is **correct** when more than half of its members are ring members;
   * recall = found rings / planted rings, precision = correct groups / suspect groups.
4. **Incremental** — ``--incremental`` further legitimate applicants (kept out of the graph,
   drawn from the same households and families) arrive one by one: each timed call makes the
   applicant's keys (BLAKE2b, standing in for the blind indexes), validates them
   (``ApplicationLinks.create``), adds them and reads the applicant's features
   (``add_and_read``), timed call by call with ``perf_counter_ns``; then ``features`` alone is
   timed again for the same applicants.
5. **Memory** — ``ru_maxrss`` (peak resident set of this process) after each stage.

The machine is shared and has 2 cores: read ratios within one run rather than absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _fraud_networkx import networkx_clusters
from _fraud_population import COLUMNS, KIND_OF, Population, generate, key_of

from puhui.adapters.fraud.ring_detection import RingReport, detect_rings
from puhui.domain.fraud.graph import (
    ApplicantLabel,
    ApplicationLinks,
    RelationshipGraph,
)
from puhui.domain.fraud.rings import RingParameters

RING_COVERAGE = 0.8
SEED = 20261123


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def links_of(pop: Population, row: int, columns: dict[str, list[int]]) -> ApplicationLinks:
    given: dict[str, list[str]] = {}
    for column in COLUMNS:
        ident = columns[column][row]
        if ident >= 0:
            kind = KIND_OF[column]
            given.setdefault(kind, []).append(key_of(kind, ident))
    return ApplicationLinks.create(key_of("applicant", row), **given)


def build_graph(pop: Population, columns: dict[str, list[int]]) -> tuple[RelationshipGraph, float]:
    graph = RelationshipGraph()
    start = time.perf_counter()
    for row in range(pop.size):
        graph.add_application(links_of(pop, row, columns))
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(SEED + 1)
    keys = [key_of("applicant", row) for row in range(pop.size)]
    ring = pop.ring[: pop.size]
    draws = rng.random((pop.size, 3))
    for row in np.flatnonzero(draws[:, 0] < 0.12).tolist():
        graph.set_label(keys[row], ApplicantLabel.DECLINED)
    for row in np.flatnonzero(draws[:, 1] < 0.04).tolist():
        graph.set_label(keys[row], ApplicantLabel.OVERDUE)
    fraud = np.where(ring >= 0, draws[:, 2] < 0.2, draws[:, 2] < 0.001)
    for row in np.flatnonzero(fraud).tolist():
        graph.set_label(keys[row], ApplicantLabel.CONFIRMED_FRAUD)
    return graph, seconds


def score(report: RingReport, pop: Population) -> dict[str, Any]:
    row_of = {key_of("applicant", row): row for row in range(pop.size)}
    ring = pop.ring[: pop.size]
    sizes = Counter(ring[ring >= 0].tolist())
    found: set[int] = set()
    correct = 0
    for group in report.groups:
        rows = np.array([row_of[key] for key in group.members])
        rings = ring[rows]
        correct += int((rings >= 0).sum() * 2 > len(rows))
        for planted, count in Counter(rings[rings >= 0].tolist()).items():
            if count >= RING_COVERAGE * sizes[planted]:
                found.add(planted)
    groups = len(report.groups)
    return {
        "rings": len(sizes),
        "found": len(found),
        "recall": len(found) / max(len(sizes), 1),
        "groups": groups,
        "correct": correct,
        "precision": correct / max(groups, 1),
        "missed_sizes": sorted(sizes[r] for r in sizes if r not in found),
    }


def incremental(
    graph: RelationshipGraph, pop: Population, columns: dict[str, list[int]]
) -> dict[str, Any]:
    rows = range(pop.size, pop.size + pop.extra)
    total_ns: list[float] = []
    linked = []
    for row in rows:
        start = time.perf_counter_ns()
        features = graph.add_and_read(links_of(pop, row, columns))
        total_ns.append(time.perf_counter_ns() - start)
        linked.append(features.linked_applicants)
    read_ns: list[float] = []
    for row in rows:
        key = key_of("applicant", row)
        start = time.perf_counter_ns()
        graph.features(key)
        read_ns.append(time.perf_counter_ns() - start)
    ms = 1e-6
    return {
        "calls": len(total_ns),
        "add_and_read_p50_ms": percentile(total_ns, 50) * ms,
        "add_and_read_p99_ms": percentile(total_ns, 99) * ms,
        "add_and_read_max_ms": max(total_ns) * ms,
        "features_p50_ms": percentile(read_ns, 50) * ms,
        "features_p99_ms": percentile(read_ns, 99) * ms,
        "linked_p50": percentile(linked, 50),
        "linked_max": max(linked),
    }


def graph_stats(graph: RelationshipGraph) -> dict[str, int]:
    snapshot = graph.snapshot()
    degree = np.bincount(
        np.frombuffer(snapshot.attribute_ids, dtype=np.int64), minlength=graph.attribute_count
    )
    return {
        "applicants": graph.applicant_count,
        "attributes": graph.attribute_count,
        "edges": graph.edge_count,
        "hubs": int((degree > graph.hub_threshold).sum()),
        "max_degree": int(degree.max()),
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="100,000 applicants, 100 rings")
    p.add_argument("--applicants", type=int, default=1_000_000)
    p.add_argument("--rings", type=int, default=500)
    p.add_argument("--incremental", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--skip-networkx", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.applicants, args.rings, args.incremental = 100_000, 100, 2_000
    return args


def main() -> None:
    args = parse_args()
    memory: dict[str, float] = {}
    print(
        f"# fraud graph benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{args.applicants:,} applicants, {args.rings} rings, seed {args.seed}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    start = time.perf_counter()
    pop = generate(args.applicants, args.rings, args.incremental, args.seed)
    columns = {column: pop.columns[column].tolist() for column in COLUMNS}
    generated = time.perf_counter() - start
    memory["population"] = peak_mib()
    print(f"population generated in {generated:.1f} s", flush=True)

    graph, build_seconds = build_graph(pop, columns)
    memory["graph"] = peak_mib()
    stats = graph_stats(graph)
    print(f"graph built in {build_seconds:.1f} s: {json.dumps(stats)}", flush=True)

    params = RingParameters()
    start = time.perf_counter()
    report = detect_rings(graph.snapshot(), params)
    igraph_seconds = time.perf_counter() - start
    memory["igraph"] = peak_mib()
    quality = score(report, pop)
    print(
        f"igraph detection {igraph_seconds:.1f} s {dict(report.seconds)}: {json.dumps(quality)}",
        flush=True,
    )

    nx_seconds = None
    nx_report = None
    nx_quality: dict[str, Any] = {}
    differ = (0, 0)
    if not args.skip_networkx:
        start = time.perf_counter()
        nx_report = detect_rings(graph.snapshot(), params, cluster_step=networkx_clusters)
        nx_seconds = time.perf_counter() - start
        memory["networkx"] = peak_mib()
        nx_quality = score(nx_report, pop)
        ours = {g.members for g in report.groups}
        theirs = {g.members for g in nx_report.groups}
        differ = (len(ours - theirs), len(theirs - ours))
        print(
            f"networkx detection {nx_seconds:.1f} s {dict(nx_report.seconds)}: "
            f"{json.dumps(nx_quality)}; groups only igraph / only networkx found: {differ}",
            flush=True,
        )

    inc = incremental(graph, pop, columns)
    memory["incremental"] = peak_mib()
    print(f"incremental: {json.dumps(inc)}", flush=True)

    rows: list[tuple[str, str]] = [
        (
            "applicants / planted rings (members)",
            f"{pop.size:,} / {quality['rings']} ({int((pop.ring[: pop.size] >= 0).sum()):,})",
        ),
        (
            "graph: attribute nodes / edges / hubs (> 50 applicants)",
            f"{stats['attributes']:,} / {stats['edges']:,} / {stats['hubs']:,}",
        ),
        (
            "graph build (keys + validate + add, one call per applicant)",
            f"{build_seconds:.1f} s ({pop.size / build_seconds:,.0f} applications/s)",
        ),
        (
            "links / strong links / core members",
            f"{report.links:,} / {report.strong_links:,} / {report.core_members:,}",
        ),
        (
            "clusters / Louvain splits / candidate groups",
            f"{report.clusters:,} / {report.louvain_splits} / {report.candidates:,}",
        ),
        (
            "**ring recall** (group holds >= 80 % of a ring)",
            f"**{quality['recall']:.1%}** ({quality['found']}/{quality['rings']})",
        ),
        (
            "**precision** (group more than half ring members)",
            f"**{quality['precision']:.1%}** ({quality['correct']}/{quality['groups']})",
        ),
        ("**batch detection, igraph** (snapshot to suspect groups)", f"**{igraph_seconds:.1f} s**"),
    ]
    rows += [(f"  igraph step: {k}", f"{v:.2f} s") for k, v in report.seconds.items()]
    if nx_report is not None and nx_seconds is not None:
        graph_ig = report.seconds["core_and_clusters"]
        graph_nx = nx_report.seconds["core_and_clusters"]
        rows += [
            ("batch detection, networkx (same algorithm, same snapshot)", f"{nx_seconds:.1f} s"),
            ("  networkx step: core_and_clusters", f"{graph_nx:.2f} s"),
            ("**graph step networkx / igraph**", f"**{graph_nx / graph_ig:.1f}x**"),
            ("whole detection networkx / igraph", f"{nx_seconds / igraph_seconds:.1f}x"),
            (
                "networkx recall / precision; groups only igraph / only networkx found",
                f"{nx_quality['recall']:.1%} / {nx_quality['precision']:.1%}; "
                f"{differ[0]} / {differ[1]}",
            ),
        ]
    rows += [
        (
            f"**incremental add_and_read p50 / p99** ({inc['calls']:,} calls)",
            f"**{inc['add_and_read_p50_ms']:.3f} / {inc['add_and_read_p99_ms']:.3f} ms** "
            f"(max {inc['add_and_read_max_ms']:.2f})",
        ),
        (
            "features alone p50 / p99",
            f"{inc['features_p50_ms']:.3f} / {inc['features_p99_ms']:.3f} ms",
        ),
        (
            f"peak RSS after {' / '.join(memory)} (MiB)",
            " / ".join(f"{v:,.0f}" for v in memory.values()),
        ),
    ]
    print("\n| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        json.dumps(
            {
                "quality": quality,
                "incremental": inc,
                "memory_mib": memory,
                "igraph_s": igraph_seconds,
                "networkx_s": nx_seconds,
                "build_s": build_seconds,
                "graph": stats,
            }
        )
    )


if __name__ == "__main__":
    main()
