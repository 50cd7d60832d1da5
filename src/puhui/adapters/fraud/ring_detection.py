"""Batch ring detection (团伙识别) over the whole relationship graph, with python-igraph.

Input: a :class:`~puhui.domain.fraud.graph.GraphSnapshot` of the relationship graph. Output: a
:class:`RingReport` whose :class:`~puhui.domain.fraud.rings.SuspectGroup` values carry their
members, score and evidence subgraph. The steps (parameters in
:class:`~puhui.domain.fraud.rings.RingParameters`, reasons in docs/anti-fraud.md):

1. **Links** (numpy): every pair of applicants sharing a non-hub attribute becomes one link
   weighted by the kinds of identifier the pair shares (``link_weights``: device, phone and bank
   card 2; address, emergency contact and enterprise 1; IP and employer 0).
2. **Core** (igraph): the ``core_k``-core of the strong links (weight >= ``strong_link_weight``).
   A household member held only by a shared address, or a relative held only by a shared
   emergency contact, has no strong link and falls out here.
3. **Clusters** (igraph): connected components of *all* links among core members, so a ring's
   cells stay together through the weaker links between them; a component of more than
   ``max_cluster_size`` is split by Louvain community detection (weighted, seeded).
4. **Periphery** (numpy): an applicant outside the core joins a cluster when it is linked to at
   least ``attach_links`` of its members (and to no other cluster that well).
5. **Evidence and score** (Python): per cluster of at least ``min_group_size`` members, the
   shared identifiers, the links between members, and the households (members at one address
   are one unit). A link is *corroborated* when its two members live at different addresses
   and share an identity identifier plus at least one more identifier (IP counts here, employer
   does not). The group is suspect when ``min_linked_households`` households are drawn in by
   corroborated links; ``score`` is the share of its households that are.

:func:`detect_rings` takes the cluster step as a parameter so that the benchmark can run the
same algorithm on networkx (``benchmarks/_fraud_networkx.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import igraph
import numpy as np
import numpy.typing as npt

from puhui.domain.fraud.graph import ATTRIBUTE_KINDS, KIND_CODE, GraphSnapshot, NodeKind
from puhui.domain.fraud.rings import (
    EvidenceAttribute,
    EvidenceLink,
    RingParameters,
    SuspectGroup,
)

__all__ = [
    "ClusterResult",
    "Links",
    "Memberships",
    "RingReport",
    "attach_periphery",
    "detect_rings",
    "igraph_clusters",
    "project_links",
]

I64 = npt.NDArray[np.int64]
_ADDRESS = KIND_CODE[NodeKind.ADDRESS]
_EMPLOYER = KIND_CODE[NodeKind.EMPLOYER]


@dataclass(frozen=True)
class Memberships:
    """A snapshot as numpy arrays.

    Applicant ``i`` holds ``attribute_ids[offsets[i]:offsets[i + 1]]``.
    """

    applicants: int
    offsets: I64
    attribute_ids: I64
    applicant_of: I64  # the applicant of each membership
    kinds: npt.NDArray[np.uint8]  # kind code per attribute
    degree: I64  # applicants per attribute

    @classmethod
    def from_snapshot(cls, snapshot: GraphSnapshot) -> Memberships:
        offsets = np.frombuffer(snapshot.offsets, dtype=np.int64)
        ids = np.frombuffer(snapshot.attribute_ids, dtype=np.int64)
        kinds = np.frombuffer(snapshot.attribute_kinds, dtype=np.uint8)
        applicants = len(offsets) - 1
        return cls(
            applicants=applicants,
            offsets=offsets,
            attribute_ids=ids,
            applicant_of=np.repeat(np.arange(applicants, dtype=np.int64), np.diff(offsets)),
            kinds=kinds,
            degree=np.bincount(ids, minlength=len(kinds)).astype(np.int64),
        )


@dataclass(frozen=True)
class Links:
    """Applicant pairs ``low < high`` with the kinds they share (bit ``KIND_CODE``) and weight."""

    low: I64
    high: I64
    kinds: I64
    weight: I64

    def __len__(self) -> int:
        return len(self.low)


@dataclass(frozen=True)
class ClusterResult:
    clusters: list[I64]  # applicant indices per cluster, each of at least min_core_size
    core_members: int
    louvain_splits: int


ClusterStep = Callable[[int, Links, RingParameters], ClusterResult]


@dataclass(frozen=True)
class RingReport:
    """Suspect groups (best score first) and what the run saw, with the seconds of each step."""

    groups: tuple[SuspectGroup, ...]
    applicants: int
    links: int
    strong_links: int
    core_members: int
    clusters: int
    louvain_splits: int
    candidates: int
    seconds: Mapping[str, float] = field(default_factory=dict)


def _weight_table(params: RingParameters) -> I64:
    weights = [params.link_weights[kind] for kind in ATTRIBUTE_KINDS]
    table = np.zeros(1 << len(weights), dtype=np.int64)
    for mask in range(len(table)):
        table[mask] = sum(w for code, w in enumerate(weights) if mask >> code & 1)
    return table


def project_links(m: Memberships, params: RingParameters) -> Links:
    """Step 1: one weighted link per pair of applicants sharing a linking, non-hub attribute."""
    weights = np.array([params.link_weights[k] for k in ATTRIBUTE_KINDS], dtype=np.int64)
    attribute = m.attribute_ids
    degree = m.degree[attribute]
    kind = m.kinds[attribute].astype(np.int64)
    keep = (weights[kind] > 0) & (degree >= 2) & (degree <= params.hub_threshold)
    member, attribute, kind = m.applicant_of[keep], attribute[keep], kind[keep]
    order = np.lexsort((member, attribute))
    member, attribute, kind = member[order], attribute[order], kind[order]
    first = np.flatnonzero(np.r_[True, attribute[1:] != attribute[:-1]])
    end = np.repeat(np.r_[first[1:], len(attribute)], np.diff(np.r_[first, len(attribute)]))
    lows, highs, bits = [], [], []
    position = np.arange(len(attribute))
    for step in range(1, params.hub_threshold):
        position = position[position + step < end[position]]
        if not len(position):
            break
        lows.append(member[position])
        highs.append(member[position + step])
        bits.append(np.left_shift(1, kind[position]))
    if not lows:
        empty = np.zeros(0, dtype=np.int64)
        return Links(empty, empty, empty, empty)
    n = np.int64(max(m.applicants, 1))
    pair = np.concatenate(lows) * n + np.concatenate(highs)
    bit = np.concatenate(bits)
    order = np.argsort(pair, kind="stable")
    pair, bit = pair[order], bit[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    kinds = np.bitwise_or.reduceat(bit, starts)
    pair = pair[starts]
    return Links(pair // n, pair % n, kinds, _weight_table(params)[kinds])


def _group_by(labels: I64, values: I64, minimum: int) -> list[I64]:
    """The values of each label that has at least ``minimum`` of them, in label order."""
    order = np.argsort(labels, kind="stable")
    labels, values = labels[order], values[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    return [values[s:e] for s, e in zip(starts, ends, strict=True) if e - s >= minimum]


def igraph_clusters(n: int, links: Links, params: RingParameters) -> ClusterResult:
    """Steps 2 and 3 with python-igraph: strong-link core, components, Louvain on big ones.

    The vertices are the applicants' own indices (an applicant without links is an isolated
    vertex, which costs igraph next to nothing).
    """
    strong = links.weight >= params.strong_link_weight
    strong_graph = igraph.Graph(n=n, edges=np.column_stack((links.low[strong], links.high[strong])))
    core = np.asarray(strong_graph.coreness(), dtype=np.int64) >= params.core_k
    inside = core[links.low] & core[links.high]
    graph = igraph.Graph(n=n, edges=np.column_stack((links.low[inside], links.high[inside])))
    graph.es["weight"] = links.weight[inside].tolist()
    # the plain membership list: Graph.connected_components would wrap it in a VertexClustering,
    # whose constructor walks a million-entry list in Python
    membership = np.asarray(igraph.GraphBase.connected_components(graph), dtype=np.int64)
    core_vertices = np.flatnonzero(core)
    clusters: list[I64] = []
    splits = 0
    # Louvain visits vertices in random order: a seeded generator makes the output repeatable
    igraph.set_random_number_generator(random.Random(params.seed))  # noqa: S311
    try:
        for component in _group_by(membership[core_vertices], core_vertices, params.min_core_size):
            if len(component) <= params.max_cluster_size:
                clusters.append(component)
                continue
            splits += 1
            parts = graph.induced_subgraph(component.tolist()).community_multilevel(
                weights="weight", resolution=params.louvain_resolution
            )
            labels = np.asarray(parts.membership, dtype=np.int64)
            clusters.extend(_group_by(labels, component, params.min_core_size))
    finally:
        igraph.set_random_number_generator(random)
    return ClusterResult(clusters, int(core.sum()), splits)


def attach_periphery(n: int, clusters: Sequence[I64], links: Links, minimum: int) -> list[I64]:
    """Step 4: add each outsider linked to ``minimum`` members of exactly one cluster."""
    if not clusters:
        return []
    count = len(clusters)
    owner = np.full(n, -1, dtype=np.int64)
    sizes = np.array([len(c) for c in clusters])
    owner[np.concatenate(clusters)] = np.repeat(np.arange(count), sizes)
    near = np.concatenate([links.low, links.high])
    far = np.concatenate([links.high, links.low])
    outward = (owner[near] >= 0) & (owner[far] < 0)
    keys, counts = np.unique(far[outward] * count + owner[near[outward]], return_counts=True)
    keys = keys[counts >= minimum]
    outsider, cluster = keys // count, keys % count
    candidates, seen = np.unique(outsider, return_counts=True)
    alone = np.isin(outsider, candidates[seen == 1])
    joined: dict[int, list[int]] = {}
    for member, index in zip(outsider[alone].tolist(), cluster[alone].tolist(), strict=True):
        joined.setdefault(index, []).append(member)
    return [
        np.sort(np.concatenate([c, np.asarray(joined.get(i, ()), dtype=np.int64)]))
        for i, c in enumerate(clusters)
    ]


class _Units:
    """Union-find over the members of one group: members sharing an address are one unit."""

    def __init__(self, members: Sequence[int]) -> None:
        self.parent = {m: m for m in members}

    def find(self, member: int) -> int:
        root = member
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[member] != root:
            self.parent[member], member = root, self.parent[member]
        return root

    def union(self, first: int, second: int) -> None:
        self.parent[self.find(first)] = self.find(second)


def _evaluate(
    members: Sequence[int],
    snapshot: GraphSnapshot,
    m: Memberships,
    params: RingParameters,
    identity: frozenset[int],
) -> SuspectGroup | None:
    holders: dict[int, list[int]] = {}
    offsets, ids, degree = m.offsets, m.attribute_ids, m.degree
    for member in members:
        for attribute in ids[offsets[member] : offsets[member + 1]].tolist():
            if degree[attribute] <= params.hub_threshold:
                holders.setdefault(attribute, []).append(member)
    shared = {a: ms for a, ms in holders.items() if len(ms) >= 2}
    units = _Units(members)
    pairs: dict[tuple[int, int], int] = {}
    for attribute, sharing in shared.items():
        code = int(m.kinds[attribute])
        for i, first in enumerate(sharing):
            for second in sharing[i + 1 :]:
                pairs[(first, second)] = pairs.get((first, second), 0) | 1 << code
                if code == _ADDRESS:
                    units.union(first, second)
    identity_bits = sum(1 << code for code in identity)
    touched: set[int] = set()
    corroborated: dict[tuple[int, int], bool] = {}
    for (first, second), bits in pairs.items():
        unit_a, unit_b = units.find(first), units.find(second)
        evidence = bits & ~(1 << _EMPLOYER)
        ok = unit_a != unit_b and bool(bits & identity_bits) and evidence.bit_count() >= 2
        corroborated[(first, second)] = ok
        if ok:
            touched.update((unit_a, unit_b))
    if len(touched) < params.min_linked_households:
        return None
    households = len({units.find(member) for member in members})
    keys = snapshot.applicant_keys
    names = {member: keys[member] for member in members}
    links = []
    for (first, second), bits in pairs.items():
        name_a, name_b = sorted((names[first], names[second]))
        links.append(
            EvidenceLink(
                first=name_a,
                second=name_b,
                kinds=tuple(k for k in ATTRIBUTE_KINDS if bits >> KIND_CODE[k] & 1),
                corroborated=corroborated[(first, second)],
            )
        )
    links.sort(key=lambda link: (link.first, link.second))
    evidence_attributes = sorted(
        (
            EvidenceAttribute(
                kind=ATTRIBUTE_KINDS[int(m.kinds[attribute])],
                key=snapshot.attribute_keys[attribute],
                members=tuple(sorted(names[x] for x in sharing)),
            )
            for attribute, sharing in shared.items()
        ),
        key=lambda e: (e.kind, e.key),
    )
    return SuspectGroup(
        members=tuple(sorted(names.values())),
        score=round(len(touched) / households, 4),
        households=households,
        linked_households=len(touched),
        evidence=tuple(evidence_attributes),
        links=tuple(links),
    )


def detect_rings(
    snapshot: GraphSnapshot,
    params: RingParameters | None = None,
    *,
    cluster_step: ClusterStep = igraph_clusters,
) -> RingReport:
    """Run steps 1-5 over the whole graph and return the suspect groups, best first."""
    params = params or RingParameters()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    m = Memberships.from_snapshot(snapshot)
    links = project_links(m, params)
    seconds["links"] = time.perf_counter() - clock

    clock = time.perf_counter()
    result = cluster_step(m.applicants, links, params)
    seconds["core_and_clusters"] = time.perf_counter() - clock

    clock = time.perf_counter()
    grown = attach_periphery(m.applicants, result.clusters, links, params.attach_links)
    candidates = [sorted(c.tolist()) for c in grown if len(c) >= params.min_group_size]
    seconds["periphery"] = time.perf_counter() - clock

    clock = time.perf_counter()
    identity = frozenset(KIND_CODE[k] for k in params.identity_kinds)
    found = [_evaluate(c, snapshot, m, params, identity) for c in candidates]
    groups = sorted(
        (g for g in found if g is not None), key=lambda g: (-g.score, -g.size, g.members)
    )
    seconds["evidence"] = time.perf_counter() - clock
    return RingReport(
        groups=tuple(groups),
        applicants=m.applicants,
        links=len(links),
        strong_links=int((links.weight >= params.strong_link_weight).sum()),
        core_members=result.core_members,
        clusters=len(result.clusters),
        louvain_splits=result.louvain_splits,
        candidates=len(candidates),
        seconds=seconds,
    )
