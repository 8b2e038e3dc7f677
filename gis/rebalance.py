"""Rebalancing suggestions and the minimal-change rebalance of an existing plan.

A *move* takes one grid, or a short chain of two neighbouring grids, from its
district to a neighbouring district.  A move is suggested only when

* the district it leaves stays contiguous and non-empty (the receiving
  district stays contiguous because the chain touches it), and
* it reduces imbalance: the sum of squared deviations (in units of each
  quantity's tolerance) falls, and the larger deviation of the two districts
  involved does not grow.

:func:`suggest_moves` ranks such moves by how much they reduce the sum of
squares.  :func:`minimal_rebalance` brings a drifted plan back within
tolerance moving few people: it plans the transfers between neighbouring
districts that move the fewest people, makes each as a compact band of grids
along the shared boundary, and fixes what rounding to whole grids leaves with
single-grid moves.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from gis.adjacency import Adjacency
from gis.plan import PlanState, grid_graph, tolerances
from gis.search import balance_state
from gis.solver import linprog

#: Suggestions kept per (from, to) pair of districts, so the list stays varied.
PER_PAIR = 3

#: :func:`minimal_rebalance` transfers aim at the tolerance less half a typical
#: grid (room for rounding to whole grids), and at least this share of it.
FLOW_MARGIN = 0.25

#: Extra cost per person of a transfer across a boundary of ``L`` grid edges is
#: this divided by ``L``: short boundaries would need deep bulges.
FLOW_BOUNDARY_COST = 1.0

#: Rounds of (plan transfers, make them) at most: a band can take up the
#: boundary another transfer needed, so what is left is planned again.
FLOW_ROUNDS = 3

#: The clean-up may raise the population moved by at most this share of what
#: the rebalance had moved before it.
TIDY_BUDGET = 0.02

#: Rounds of clean-up at most (each change removes at least one cut edge).
TIDY_ROUNDS = 50


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
    # the plan's worst deviation must fall: the two districts, and every other one, below it
    worst = np.abs(x).max(axis=1)
    after = np.maximum(pair_after, _others_worst(worst, a, chain_b))
    keep = (dsq < -1e-9) & (pair_after <= pair_before + 1e-12) & (after < worst.max() - 1e-12)
    idx = np.flatnonzero(keep)
    # best first; single grids before chains on ties; then by grid index for determinism
    order = idx[np.lexsort((chain_j[idx], chain_i[idx], chain_j[idx] >= 0, dsq[idx]))]
    out = []
    for m in order:
        chain = [int(chain_i[m])] if chain_j[m] < 0 else [int(chain_i[m]), int(chain_j[m])]
        out.append((chain, int(a[m]), int(chain_b[m])))
    return out


def _others_worst(worst: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The largest of ``worst`` over the districts other than ``a`` and ``b`` (per pair)."""
    top = np.argsort(-worst, kind="stable")[:3]
    out = np.zeros(len(a))
    done = np.zeros(len(a), dtype=bool)
    for d in top:  # the largest district that is neither a nor b
        take = ~done & (a != d) & (b != d)
        out[take] = worst[d]
        done |= take
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
    """Reach the tolerance moving few people, in compact bands of grids.

    1. *Transfers between districts.*  A small linear programme over the
       district graph finds how much of the first balanced quantity each
       district should pass to each neighbour so that every district lands
       within its tolerance less half a median grid (at least
       :data:`FLOW_MARGIN` of the tolerance), moving the fewest people: each
       transfer costs ``1 + FLOW_BOUNDARY_COST / L`` per unit, ``L`` the
       shared boundary in grid edges, so long boundaries are preferred.
    2. *Bands.*  Each transfer is made by peeling grids off the giving
       district along the shared boundary, always the grid whose move cuts
       fewest edges (ties: the one found first, so a band grows along the
       boundary rather than into a finger), stopping at the grid that brings
       the amount closest to the transfer.  No grid is moved twice.
    3. *Residue.*  The contiguity-keeping single-grid move that removes the
       most deviation beyond tolerance per person moved, repeatedly; when no
       such move exists the general balancer
       (:func:`gis.search.balance_state`) finishes.
    4. *Clean-up.*  Changes that each remove at least one cut edge, around
       the grids moved so far only: a moved grid joins another neighbouring
       district (back to its own, say), or trades districts with a grid
       within two steps of it.  A change is made only when no district
       leaves its tolerance (nor, if beyond it, gets further off), and while
       the population moved stays within ``1 + TIDY_BUDGET`` times what
       steps 1-3 moved (2% more at most; reverting grids lowers it).

    Every move keeps every district contiguous.

    Returns
    -------
    assignment, moves
        The rebalanced plan and its net changes: one row per grid whose
        district differs from the input plan (``grid``, ``from``, ``to``,
        ``population``), in the order the grids were first moved.  Setting
        each row's grid to ``to`` in the input plan gives the returned plan.
    """
    if state is None:
        state = plan_state(grids, assignment, adjacency=adjacency, quantities=quantities)
    else:
        state = state.copy()
    tol = _tol_array(state, tolerance)
    start = state.labels.copy()
    if _beyond(state, tol) <= 1e-9:  # already within the tolerance: no move
        return state.assignment(), []
    worst_before = _worst(state, tol)
    log: list[int] = []  # grids in the order they were moved
    if _beyond(state, tol) > 1e-9:
        _transfer_bands(state, tol, log)
    if _beyond(state, tol) > 1e-9:
        _greedy(state, tol, log, max_moves)
    if _beyond(state, tol) > 1e-9:
        before = state.labels.copy()
        balance_state(state, tol)
        log.extend(np.flatnonzero(before != state.labels).tolist())
    _tidy(state, tol, start, log)
    if _worst(state, tol) >= worst_before - 1e-12:  # no gain: propose nothing
        return PlanState(state.graph, start, state.districts).assignment(), []
    return state.assignment(), _net_moves(state, start, log)


def _worst(state: PlanState, tol: np.ndarray) -> float:
    return float((np.abs(state.deviations()[:, : state.graph.n_balanced]) / tol).max())


def no_move_reason(
    state: PlanState, tolerance: float | Mapping[str, float], *, time_limit: float = 20.0
) -> str:
    """Why no move is proposed: within tolerance, the proven best, or no move lowers the worst."""
    from gis.exact import solve_exact

    tol = _tol_array(state, tolerance)
    worst = float(np.abs(state.deviations()[:, 0]).max())
    if _beyond(state, tol) <= 1e-9:
        return f"the plan is already within ±{tol[0]:.2%} (worst ±{worst:.2%}): no move needed"
    found = solve_exact(
        state.graph, state.k, tol, _worst(state, tol) * (1 + 1e-9), time_limit=time_limit
    )
    if found is not None and found.bound >= _worst(state, tol) * (1 - 1e-8):
        return (
            f"the plan is already the best achievable: no contiguous plan of {state.k} districts "
            f"does better than ±{worst:.2%} (proven by an exact search)"
        )
    bound = "" if found is None else f"; no plan can do better than ±{found.bound * tol[0]:.2%}"
    return f"no move of whole grids lowers the worst deviation (±{worst:.2%}){bound}"


def _beyond(state: PlanState, tol: np.ndarray) -> float:
    """The largest deviation beyond tolerance, in units of tolerance (0 when within)."""
    x = state.deviations()[:, : state.graph.n_balanced] / tol
    return float(max(np.abs(x).max() - 1.0, 0.0))


def _transfer_bands(state: PlanState, tol: np.ndarray, log: list[int]) -> None:
    """Steps 1 and 2 of :func:`minimal_rebalance`: plan transfers, peel them as bands."""
    used = np.zeros(state.graph.n, dtype=bool)
    values = state.graph.values[:, 0]
    for _ in range(FLOW_ROUNDS):  # again on the new boundaries, for what a round left
        worst = np.abs(state.deviations()[:, 0]).max()
        flows = _plan_transfers(state, float(tol[0]))
        for a, b, amount in sorted(flows, key=lambda f: (-f[2], f[0], f[1])):
            peel_band(state, a, b, amount, values, used, log)
        if np.abs(state.deviations()[:, 0]).max() >= worst - 1e-12:
            break


def _plan_transfers(state: PlanState, tol: float) -> list[tuple[int, int, float]]:
    """Transfers ``(from, to, amount)`` of the first balanced quantity (see step 1)."""
    ideal = float(state.ideal[0])
    if ideal <= 0 or state.k < 2:
        return []
    src, dst = state.graph.edges()
    la, lb = state.labels[src], state.labels[dst]
    cross = la != lb
    if not cross.any():
        return []
    pairs, shared = np.unique(np.column_stack([la[cross], lb[cross]]), axis=0, return_counts=True)
    m = len(pairs)
    cols = np.r_[np.arange(m), np.arange(m)]
    flow_in = sparse.csr_matrix(
        (np.r_[np.ones(m), -np.ones(m)], (np.r_[pairs[:, 1], pairs[:, 0]], cols)),
        shape=(state.k, m),
    )
    # room for rounding to whole grids: half a typical grid, at least FLOW_MARGIN of the band
    values = state.graph.values[:, 0]
    half_grid = 0.5 * float(np.median(values[values > 0])) if (values > 0).any() else 0.0
    band = max(tol * ideal - half_grid, FLOW_MARGIN * tol * ideal)
    total = state.totals[:, 0]
    res = linprog(
        1.0 + FLOW_BOUNDARY_COST / shared,
        A_ub=sparse.vstack([flow_in, -flow_in]),
        b_ub=np.r_[ideal + band - total, total - ideal + band],
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:  # e.g. districts in separate parts of the grid graph
        return []
    keep = res.x > 1e-6 * ideal
    return [(int(a), int(b), float(f)) for (a, b), f in zip(pairs[keep], res.x[keep], strict=True)]


def peel_band(
    state: PlanState,
    a: int,
    b: int,
    amount: float,
    values: np.ndarray,
    used: np.ndarray,
    log: list[int],
) -> None:
    """Move about ``amount`` from ``a`` to ``b`` as a band along their boundary.

    Grids of ``a`` touching ``b`` are taken fewest-cut-edges first (so the band
    grows along the boundary), never a grid already ``used``, and only when
    ``a`` stays contiguous; each moved grid is marked ``used`` and appended to
    ``log``.  Stops at the grid that brings the amount closest to ``amount``.
    """
    ip, ix = state.graph.indptr, state.graph.indices
    lab = state.labels

    def dcut(i: int) -> int:
        nb = lab[ix[ip[i] : ip[i + 1]]]
        return int((nb == a).sum() - (nb == b).sum())

    heap: list[tuple[int, int, int]] = []
    for g in np.flatnonzero((lab == a) & ~used):
        if (lab[ix[ip[g] : ip[g + 1]]] == b).any():
            heap.append((dcut(int(g)), len(heap), int(g)))
    heapq.heapify(heap)
    seq = len(heap)
    moved = 0.0
    skip: set[int] = set()
    while heap:
        d, s, i = heapq.heappop(heap)
        if lab[i] != a or used[i] or i in skip:
            continue
        now = dcut(i)
        if now != d:  # a neighbour moved since: requeue with the current count
            heapq.heappush(heap, (now, s, i))
            continue
        if moved + values[i] - amount > amount - moved:
            break  # taking it would leave the transfer further off
        if not state.keeps_contiguous([i]):
            skip.add(i)  # not in this band
            continue
        state.move_index(i, b)
        used[i] = True
        log.append(i)
        moved += values[i]
        for j in ix[ip[i] : ip[i + 1]]:
            if lab[j] == a and not used[j] and j not in skip:
                heapq.heappush(heap, (dcut(int(j)), seq, int(j)))
                seq += 1


def _greedy(state: PlanState, tol: np.ndarray, log: list[int], max_moves: int) -> None:
    """Step 3 of :func:`minimal_rebalance`: most excess removed per person moved."""
    g = state.graph
    nb = g.n_balanced
    ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
    v = g.values[:, :nb] / (ideal * tol)
    weight = _population(state)
    weight = (weight if weight is not None else g.values[:, 0]) + 1.0
    src, dst = g.edges()

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
                state.move_index(int(i[m]), int(b[m]))
                log.append(int(i[m]))
                break
        else:
            break


def _tidy(state: PlanState, tol: np.ndarray, start: np.ndarray, log: list[int]) -> int:
    """Step 4 of :func:`minimal_rebalance`: fewer cut edges around the moved grids.

    Returns the number of changes made.
    """
    g = state.graph
    nb = g.n_balanced
    ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
    v = g.values[:, :nb] / (ideal * tol)
    pop = _population(state)
    pop = pop if pop is not None else g.values[:, 0]
    nbrs = g.neighbour_lists()
    lab = state.labels
    moved_pop = float(pop[lab != start].sum())
    budget = (1.0 + TIDY_BUDGET) * moved_pop + 1e-9
    done = 0
    for _ in range(TIDY_ROUNDS):
        applied = 0
        for _, _, i, d, j in _tidy_candidates(state, start, pop, nbrs):
            change = _tidy_try(state, tol, v, start, pop, nbrs, i, d, j, budget - moved_pop)
            if change is not None:
                moved_pop += change
                log.extend([i] if j < 0 else [i, j])
                applied += 1
        done += applied
        if applied == 0:
            break
    return done


def _tidy_candidates(
    state: PlanState, start: np.ndarray, pop: np.ndarray, nbrs: list[list[int]]
) -> list[tuple[int, float, int, int, int]]:
    """Changes that lower the cut edges, best first: ``(dcut, dpop, i, to, j)``.

    ``j < 0``: grid ``i`` moves to district ``to``; else ``i`` and ``j``
    (within two steps of ``i``, in district ``to``) trade districts.
    """
    lab = state.labels
    out: list[tuple[int, float, int, int, int]] = []
    for i in np.flatnonzero(lab != start).tolist():
        b = int(lab[i])
        cnt_i: dict[int, int] = {}
        for u in nbrs[i]:
            cnt_i[int(lab[u])] = cnt_i.get(int(lab[u]), 0) + 1
        own = cnt_i.get(b, 0)
        for d, n_d in cnt_i.items():
            if d != b and own - n_d < 0:
                dpop = -float(pop[i]) if d == start[i] else 0.0
                out.append((own - n_d, dpop, i, d, -1))
        near = {w for u in nbrs[i] for w in nbrs[u]} | set(nbrs[i])
        near.discard(i)
        adjacent = set(nbrs[i])
        for j in sorted(near):
            d = int(lab[j])
            if d == b or d not in cnt_i:
                continue
            n_jd = n_jb = 0
            for u in nbrs[j]:
                lu = lab[u]
                n_jd += lu == d
                n_jb += lu == b
            dcut = own - cnt_i[d] + n_jd - n_jb + (2 if j in adjacent else 0)
            if dcut < 0:
                dpop = (-float(pop[i]) if d == start[i] else 0.0) + float(pop[j]) * (
                    int(b != start[j]) - int(d != start[j])
                )
                out.append((dcut, dpop, i, d, j))
    out.sort()
    return out


def _tidy_try(
    state: PlanState,
    tol: np.ndarray,
    v: np.ndarray,
    start: np.ndarray,
    pop: np.ndarray,
    nbrs: list[list[int]],
    i: int,
    d: int,
    j: int,
    room: float,
) -> float | None:
    """Make one clean-up change if it still obeys the rules; its moved-population change."""
    lab = state.labels
    b = int(lab[i])
    if b == d or (j >= 0 and lab[j] != d):
        return None
    shift = v[i] - (v[j] if j >= 0 else 0.0)  # leaves b, joins d
    x = state.deviations()[:, : state.graph.n_balanced] / tol
    for dist, new in ((b, x[b] - shift), (d, x[d] + shift)):
        if (np.abs(new) > np.maximum(np.abs(x[dist]), 1.0) + 1e-9).any():
            return None
    change = -float(pop[i]) if d == start[i] else 0.0
    if j >= 0:
        change += float(pop[j]) * (int(b != start[j]) - int(d != start[j]))
    if change > room:
        return None
    cut = state.cut_edges
    if not any(lab[u] == d for u in nbrs[i]) or not state.keeps_contiguous([i]):
        return None
    state.move_index(i, d)
    if j >= 0:
        if not any(lab[u] == b for u in nbrs[j]) or not state.keeps_contiguous([j]):
            state.move_index(i, b)
            return None
        state.move_index(j, b)
    if state.cut_edges >= cut:
        if j >= 0:
            state.move_index(j, d)
        state.move_index(i, b)
        return None
    return change


def _net_moves(state: PlanState, start: np.ndarray, log: list[int]) -> list[dict[str, Any]]:
    """One row per grid whose district changed, in the order first moved."""
    changed = start != state.labels
    rows = []
    for i in dict.fromkeys(log):
        if changed[i]:
            rows.append(_move_row(state, i, int(start[i]), int(state.labels[i])))
            changed[i] = False
    for j in np.flatnonzero(changed):  # not logged (should not happen): still reported
        rows.append(_move_row(state, int(j), int(start[j]), int(state.labels[j])))
    return rows


def _edges_into(
    lab: np.ndarray, src: np.ndarray, dst: np.ndarray, i: np.ndarray, b: np.ndarray, k: int
) -> np.ndarray:
    """Number of edges from each grid ``i`` into district ``b``."""
    cross = lab[src] != lab[dst]
    keys, counts = np.unique(src[cross] * k + lab[dst[cross]], return_counts=True)
    pos = np.searchsorted(keys, i * k + b)
    return counts[np.minimum(pos, len(keys) - 1)]


def _move_row(state: PlanState, i: int, a: int, b: int) -> dict[str, Any]:
    pop = _population(state)
    return {
        "grid": str(state.graph.codes[i]),
        "from": state.districts[a],
        "to": state.districts[b],
        "population": None if pop is None else float(pop[i]),
    }
