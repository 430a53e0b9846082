"""The graph of extinction groups linked by maximal translationengleiche subgroups.

An edge a -> b means some space group of extinction group b is a maximal t-subgroup
(ITA Vol. A1) of a space group of group a: b has lower symmetry. The core computes the
space-group relations from the operations; this module lifts them to extinction groups
and answers the questions error analysis asks (Baggett et al., arXiv 2604.23811): how far
apart two groups are, and whether a prediction lies below, above or beside the truth.
"""
from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Iterable, Literal

import numpy as np

from xrdfast._core import extinction_group_number, maximal_t_subgroups

Relation = Literal["same", "descendant", "ancestor", "branch"]


class SubgroupGraph:
    """Directed acyclic graph on extinction-group numbers (1..99 unless merged)."""

    def __init__(self, edges: Iterable[tuple[int, int]], nodes: Iterable[int]) -> None:
        self.nodes: list[int] = sorted(set(nodes))
        self.edges: set[tuple[int, int]] = {(a, b) for a, b in edges if a != b}
        index = {n: i for i, n in enumerate(self.nodes)}
        self._index = index
        n = len(self.nodes)
        children: list[list[int]] = [[] for _ in range(n)]
        neighbours: list[list[int]] = [[] for _ in range(n)]
        for a, b in self.edges:
            children[index[a]].append(index[b])
            neighbours[index[a]].append(index[b])
            neighbours[index[b]].append(index[a])
        self._distance = np.array([_bfs(neighbours, i) for i in range(n)], dtype=np.int64)
        reach = np.array([_bfs(children, i) for i in range(n)], dtype=np.int64)
        self._below = reach >= 0  # _below[i, j]: j reachable from i along edges

    def distance(self, a: int, b: int) -> int:
        """Shortest undirected path length between two groups (-1 if disconnected)."""
        return int(self._distance[self._index[a], self._index[b]])

    def relation(self, predicted: int, truth: int) -> Relation:
        """Where ``predicted`` lies relative to ``truth``: a descendant has lower symmetry."""
        i, j = self._index[predicted], self._index[truth]
        if i == j:
            return "same"
        if self._below[j, i]:
            return "descendant"
        if self._below[i, j]:
            return "ancestor"
        return "branch"

    def distance_matrix(self) -> np.ndarray:
        """(n, n) undirected distances, rows and columns in ``self.nodes`` order."""
        return self._distance.copy()

    def sinks(self) -> list[int]:
        """Groups with no lower-symmetry neighbour."""
        sources = {a for a, _ in self.edges}
        return [n for n in self.nodes if n not in sources]

    def random_pair_baseline(self) -> dict[str, float]:
        """Mean distance and fraction within 2 hops over all pairs of distinct groups."""
        iu = np.triu_indices(len(self.nodes), k=1)
        d = self._distance[iu]
        return {"mean_distance": float(d.mean()), "within_2_hops": float((d <= 2).mean())}

    def merged(self, groups: Iterable[int]) -> "SubgroupGraph":
        """The graph with ``groups`` merged into their smallest member (as the paper merges 73, 74)."""
        groups = sorted(groups)
        keep = groups[0]
        rename = {g: keep for g in groups}
        edges = {(rename.get(a, a), rename.get(b, b)) for a, b in self.edges}
        return SubgroupGraph(edges, {rename.get(n, n) for n in self.nodes})


def _bfs(adjacency: list[list[int]], start: int) -> list[int]:
    dist = [-1] * len(adjacency)
    dist[start] = 0
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in adjacency[u]:
            if dist[v] < 0:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def space_group_edges() -> set[tuple[int, int]]:
    """(group, maximal t-subgroup) pairs of space-group types, computed by the core."""
    return {(g, sub["number"]) for g in range(1, 231) for sub in maximal_t_subgroups(g)}


@lru_cache(maxsize=1)
def subgroup_graph() -> SubgroupGraph:
    """The extinction-group graph of maximal t-subgroups (99 nodes; computed once)."""
    edges = {(extinction_group_number(g), extinction_group_number(h)) for g, h in space_group_edges()}
    return SubgroupGraph(edges, range(1, 100))
