"""The cluster step of ring detection on networkx: the same algorithm as
``puhui.adapters.fraud.ring_detection.igraph_clusters`` (strong-link k-core, connected components
of all links among the core, Louvain on components above ``max_cluster_size``), so that
``benchmarks/fraud_graph.py`` can time both libraries on the same links. Only the benchmark
uses it; networkx is a development dependency.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from puhui.adapters.fraud.ring_detection import ClusterResult, Links
from puhui.domain.fraud.rings import RingParameters


def networkx_clusters(n: int, links: Links, params: RingParameters) -> ClusterResult:
    strong = links.weight >= params.strong_link_weight
    strong_graph = nx.Graph()
    strong_graph.add_edges_from(
        zip(links.low[strong].tolist(), links.high[strong].tolist(), strict=True)
    )
    core = np.zeros(n, dtype=bool)
    for vertex, k in nx.core_number(strong_graph).items():
        if k >= params.core_k:
            core[vertex] = True
    inside = core[links.low] & core[links.high]
    graph = nx.Graph()
    graph.add_nodes_from(np.flatnonzero(core).tolist())
    graph.add_weighted_edges_from(
        zip(
            links.low[inside].tolist(),
            links.high[inside].tolist(),
            links.weight[inside].tolist(),
            strict=True,
        )
    )
    clusters = []
    splits = 0
    for component in nx.connected_components(graph):
        if len(component) < params.min_core_size:
            continue
        if len(component) <= params.max_cluster_size:
            clusters.append(np.array(sorted(component), dtype=np.int64))
            continue
        splits += 1
        parts = nx.community.louvain_communities(
            graph.subgraph(component),
            weight="weight",
            resolution=params.louvain_resolution,
            seed=params.seed,
        )
        clusters.extend(
            np.array(sorted(part), dtype=np.int64)
            for part in parts
            if len(part) >= params.min_core_size
        )
    return ClusterResult(clusters, int(core.sum()), splits)
