"""Rebalancing suggestions and the minimal-change rebalance of an existing plan.

A *move* takes one grid, or a short chain of two neighbouring grids, from its
district to a neighbouring district.  A move is suggested only when

* the district it leaves stays contiguous and non-empty (the receiving
  district stays contiguous because the chain touches it), and
* it reduces imbalance: the sum of squared deviations (in units of each
  quantity's tolerance) falls, and the larger deviation of the two districts
  involved does not grow.

:func:`suggest_moves` ranks such moves by how much they reduce the sum of
squares; :func:`minimal_rebalance` applies moves until every district is
within tolerance, choosing each time the move that removes most excess
deviation per person moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.adjacency import Adjacency
from gis.districting import balance_state
from gis.plan import PlanState, grid_graph, tolerances

#: Suggestions kept per (from, to) pair of districts, so the list stays varied.
PER_PAIR = 3


def plan_state(
    grids: gpd.GeoDataFrame,
    assignment: pd.Series,
    *,
    adjacency: Adjacency | None = None,
    quantities: Sequence[str] = ("population",),
) -> PlanState:
    """A :class:`PlanState` for ``grids`` and ``assignment`` (population tallied too)."""
    graph = grid_graph(
        grids, adjacency=adjacency, quantities=quantities, tallied=("population", "households")
    )
    return PlanState.from_assignment(graph, assignment)


def suggest_moves(
    grids: gpd.GeoDataFrame | None,
    assignment: pd.Series | None,
    *,
    tolerance: float | Mapping[str, float] = 0.02,
    limit: int = 20,
    adjacency: Adjacency | None = None,
    quantities: Sequence[str] = ("population",),
    state: PlanState | None = None,
) -> list[dict[str, Any]]:
    """Ranked moves that reduce imbalance while keeping every district contiguous.

    Parameters
    ----------
    grids, assignment
        The grids and the plan (grid code → district); ignored when ``state``
        is given.
    tolerance
        Tolerance (fraction) for all quantities or per quantity: deviations
        are compared in units of it.
    limit
        Largest number of suggestions.
    adjacency
        The grids' neighbour graph, when already built.
    quantities
        Balanced quantities; the first is reported as ``population_moved``
        when it is population.
    state
        A ready plan state (the API's); left unchanged.

    Returns
    -------
    list of dict
        ``rank``, ``grids`` (codes), ``from``, ``to``, ``population_moved``,
        ``before`` and ``after`` (the two districts' population and
        deviation, the plan's max deviation and cut edges) and ``reason``.
    """
    if state is None:
        state = plan_state(grids, assignment, adjacency=adjacency, quantities=quantities)
    tol = _tol_array(state, tolerance)
    cands = _candidates(state, tol)
    out: list[dict[str, Any]] = []
    per_pair: dict[tuple[int, int], int] = {}
    for chain, a, b in cands:
        if len(out) >= limit:
            break
        if per_pair.get((a, b), 0) >= PER_PAIR:
            continue
        if not state.keeps_contiguous(chain):
            continue
        per_pair[(a, b)] = per_pair.get((a, b), 0) + 1
        out.append(_describe(state, chain, b, rank=len(out) + 1))
    return out


def _tol_array(state: PlanState, tolerance: float | Mapping[str, float]) -> np.ndarray:
    tol = tolerances(state.graph.balanced, tolerance)
    return np.array([tol[q] for q in state.graph.balanced])


def _candidates(state: PlanState, tol: np.ndarray) -> list[tuple[list[int], int, int]]:
    """Improving single grids and two-grid chains, best first (before contiguity checks)."""
    g = state.graph
    nb = g.n_balanced
    lab = state.labels
    x = state.deviations()[:, :nb] / tol
    ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
    v = g.values[:, :nb] / (ideal * tol)
    src, dst = g.edges()
    cross = lab[src] != lab[dst]
    key = np.unique(src[cross] * state.k + lab[dst[cross]])
    i, b = np.divmod(key, state.k)
    # two-grid chains: i and a neighbour j of i in the same district
    deg = np.diff(g.indptr)[i]
    first = np.repeat(np.arange(len(i)), deg)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(deg) - deg, deg)
    j = g.indices[np.repeat(g.indptr[i], deg) + offset]
    same = lab[j] == lab[i[first]]
    first, j = first[same], j[same]
    chain_i = np.r_[i, i[first]]
    chain_j = np.r_[np.full(len(i), -1), j]
    chain_b = np.r_[b, b[first]]
    a = lab[chain_i]
    moved = v[chain_i] + np.where(chain_j[:, None] >= 0, v[np.maximum(chain_j, 0)], 0.0)
    xa, xb = x[a], x[chain_b]
    xa2, xb2 = xa - moved, xb + moved
    dsq = (xa2**2 - xa**2 + xb2**2 - xb**2).sum(axis=1)
    pair_before = np.maximum(np.abs(xa), np.abs(xb)).max(axis=1)
    pair_after = np.maximum(np.abs(xa2), np.abs(xb2)).max(axis=1)
    keep = (dsq < -1e-9) & (pair_after <= pair_before + 1e-12)
    idx = np.flatnonzero(keep)
    # best first; single grids before chains on ties; then by grid index for determinism
    order = idx[np.lexsort((chain_j[idx], chain_i[idx], chain_j[idx] >= 0, dsq[idx]))]
    out = []
    for m in order:
        chain = [int(chain_i[m])] if chain_j[m] < 0 else [int(chain_i[m]), int(chain_j[m])]
        out.append((chain, int(a[m]), int(chain_b[m])))
    return out


def _describe(state: PlanState, chain: list[int], b: int, *, rank: int) -> dict[str, Any]:
    """Before/after figures of moving ``chain`` to ``b`` (applied, measured, undone)."""
    a = int(state.labels[chain[0]])
    before = _snapshot(state, a, b)
    for i in chain:
        state.move_index(i, b)
    after = _snapshot(state, a, b)
    for i in reversed(chain):
        state.move_index(i, a)
    g = state.graph
    pop = _population(state)
    moved = float(pop[chain].sum()) if pop is not None else None
    name_a, name_b = state.districts[a], state.districts[b]
    what = "grid" if len(chain) == 1 else f"chain of {len(chain)} grids"
    reason = (
        f"move {what} ({_fmt_num(moved)} people) from district {name_a} "
        f"({before['from']['deviation']:+.2%}) to neighbouring district {name_b} "
        f"({before['to']['deviation']:+.2%}): {name_a} → {after['from']['deviation']:+.2%}, "
        f"{name_b} → {after['to']['deviation']:+.2%}"
    )
    return {
        "rank": rank,
        "grids": [str(g.codes[i]) for i in chain],
        "from": name_a,
        "to": name_b,
        "population_moved": moved,
        "before": before,
        "after": after,
        "reason": reason,
    }


def _population(state: PlanState) -> np.ndarray | None:
    q = state.graph.quantities
    return state.graph.values[:, q.index("population")] if "population" in q else None


def _snapshot(state: PlanState, a: int, b: int) -> dict[str, Any]:
    dev = state.deviations()
    pop_col = (
        state.graph.quantities.index("population") if "population" in state.graph.quantities else 0
    )

    def one(d: int) -> dict[str, Any]:
        return {
            "district": state.districts[d],
            "population": round(float(state.totals[d, pop_col]), 1),
            "deviation": round(float(dev[d, 0]), 6),
            "grids": int(state.count[d]),
        }

    return {
        "from": one(a),
        "to": one(b),
        "max_deviation": round(float(np.abs(dev[:, 0]).max()), 6),
        "cut_edges": int(state.cut_edges),
    }


def _fmt_num(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def minimal_rebalance(
    grids: gpd.GeoDataFrame | None,
    assignment: pd.Series | None,
    *,
    tolerance: float | Mapping[str, float] = 0.02,
    adjacency: Adjacency | None = None,
    quantities: Sequence[str] = ("population",),
    state: PlanState | None = None,
    max_moves: int = 5000,
) -> tuple[pd.Series, list[dict[str, Any]]]:
    """Reach the tolerance moving as few people as the greedy rule can.

    Each step applies the contiguity-keeping single-grid move that removes
    the most deviation beyond tolerance per person moved.  When no such move
    exists (population must pass through districts already at their limit)
    the general balancer (:func:`gis.districting.balance_state`) finishes.

    Returns
    -------
    assignment, moves
        The rebalanced plan and the moves made, in order: ``grid``, ``from``,
        ``to``, ``population``.
    """
    if state is None:
        state = plan_state(grids, assignment, adjacency=adjacency, quantities=quantities)
    else:
        state = state.copy()
    tol = _tol_array(state, tolerance)
    g = state.graph
    nb = g.n_balanced
    ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
    v = g.values[:, :nb] / (ideal * tol)
    weight = _population(state)
    weight = (weight if weight is not None else g.values[:, 0]) + 1.0
    src, dst = g.edges()
    moves: list[dict[str, Any]] = []

    def excess(x: np.ndarray) -> np.ndarray:
        return np.maximum(np.abs(x) - 1.0, 0.0)

    for _ in range(max_moves):
        x = state.deviations()[:, :nb] / tol
        if excess(x).max() <= 1e-9:
            break
        lab = state.labels
        cross = lab[src] != lab[dst]
        key = np.unique(src[cross] * state.k + lab[dst[cross]])
        i, b = np.divmod(key, state.k)
        a = lab[i]
        de = (excess(x[a] - v[i]) - excess(x[a]) + excess(x[b] + v[i]) - excess(x[b])).sum(axis=1)
        idx = np.flatnonzero(de < -1e-9)
        if len(idx) == 0:
            break
        ratio = de[idx] / weight[i[idx]]
        # equal value per person (to 2 digits): prefer moves that cut fewer edges
        tier = np.round(ratio / ratio.min(), 2)
        same = np.bincount(src[~cross], minlength=g.n)
        n_to = _edges_into(lab, src, dst, i[idx], b[idx], state.k)
        dcut = same[i[idx]] - n_to
        order = idx[np.lexsort((i[idx], de[idx], dcut, -tier))]
        for m in order[:200]:
            if state.keeps_contiguous([int(i[m])]):
                _record(state, moves, int(i[m]), int(b[m]))
                break
        else:
            break
    if excess(state.deviations()[:, :nb] / tol).max() > 1e-9:
        before = state.labels.copy()
        balance_state(state, tol)
        for gi in np.flatnonzero(before != state.labels):
            moves.append(_move_row(state, int(gi), int(before[gi]), int(state.labels[gi])))
    return state.assignment(), moves


def _edges_into(
    lab: np.ndarray, src: np.ndarray, dst: np.ndarray, i: np.ndarray, b: np.ndarray, k: int
) -> np.ndarray:
    """Number of edges from each grid ``i`` into district ``b``."""
    cross = lab[src] != lab[dst]
    keys, counts = np.unique(src[cross] * k + lab[dst[cross]], return_counts=True)
    pos = np.searchsorted(keys, i * k + b)
    return counts[np.minimum(pos, len(keys) - 1)]


def _record(state: PlanState, moves: list[dict[str, Any]], i: int, b: int) -> None:
    a = int(state.labels[i])
    state.move_index(i, b)
    moves.append(_move_row(state, i, a, b))


def _move_row(state: PlanState, i: int, a: int, b: int) -> dict[str, Any]:
    pop = _population(state)
    return {
        "grid": str(state.graph.codes[i]),
        "from": state.districts[a],
        "to": state.districts[b],
        "population": None if pop is None else float(pop[i]),
    }
