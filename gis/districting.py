"""Districting: k balanced, contiguous, compact districts, fresh or from an old plan.

The main flow is :func:`draw_districts`:

1. turn the grids into numbers (:func:`gis.plan.grid_graph`);
2. split them into groups that must (nesting in communities) or should
   (the districts of an old plan) hold whole districts, and apportion the k
   districts among the groups by population;
3. partition each group with METIS (pymetis; vertex weight = the balanced
   quantities, edge weight = shared boundary length, contiguous parts);
4. repair contiguity, then balance with a local search that moves boundary
   grids only when both districts stay contiguous (:func:`balance_state`),
   with swaps and ejection chains through neighbouring districts when single
   moves stall, and boundary moves chosen jointly by a MILP when several
   quantities pull apart (:mod:`gis.transfer`); fresh plans that miss the
   tolerance retry with derived seeds;
5. when the tolerance is still missed: on coarse grids (a few per district)
   solve exactly (:mod:`gis.exact`), so the plan is the best achievable one,
   proven; on finer grids lower the worst deviation by an iterated local
   search;
6. smooth boundaries (moves that cut fewer edges and keep the tolerance);
7. report metrics, what moved, and the best achievable bound.

Everything is deterministic for a given ``seed`` (unless ``time_limit`` cuts
the search short).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import InfeasibleError, PlanError
from gis.adjacency import Adjacency
from gis.exact import MAX_GRIDS_PER_DISTRICT, ExactResult, solve_exact
from gis.groups import FREE, Groups
from gis.plan import GridGraph, PlanState, grid_graph, repair_contiguity, sort_ids, to_metric
from gis.transfer import transfer_balance

#: Weight of one cut edge against one unit of normalised squared deviation.
CUT_WEIGHT = 0.02
#: Extra weight of squared deviation beyond the tolerance.
PENALTY = 20.0
#: Partitions tried (with derived seeds) for a fresh plan that misses its tolerance.
RETRIES = 6
#: Seconds the exact solve for coarse grids gets at least.
EXACT_SECONDS = 20.0


def _cost(x: np.ndarray) -> np.ndarray:
    """Cost of deviations ``x`` in units of tolerance: squares, much steeper outside ±1."""
    over = np.maximum(np.abs(x) - 1.0, 0.0)
    return x**2 + PENALTY * over**2


def _worst(state: PlanState, tol: np.ndarray) -> float:
    nb = state.graph.n_balanced
    return float((np.abs(state.deviations()[:, :nb]) / tol).max())


@dataclass
class DistrictingResult:
    """What :func:`draw_districts` returns.

    Attributes
    ----------
    assignment
        Grid code → district id (strings ``"1"`` … ``"k"``, or the old ids
        when ``from_plan`` has the same k).
    summary
        JSON-serialisable plan figures (see :func:`draw_districts`).
    districts
        One polygon per district (WGS 84) with its metrics.
    warnings
        Repairs made and tolerances that could not be met.
    state
        The final :class:`gis.plan.PlanState`, for further edits.
    """

    assignment: pd.Series
    summary: dict[str, Any]
    districts: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    state: PlanState | None = None


def draw_districts(
    grids: gpd.GeoDataFrame,
    k: int,
    *,
    tolerance: float = 0.02,
    nest: str | None = None,
    from_plan: pd.Series | None = None,
    balance: Sequence[str] | Mapping[str, float] = ("population",),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    adjacency: Adjacency | None = None,
    crs: str | None = None,
    time_limit: float = 30.0,
) -> DistrictingResult:
    """Draw ``k`` contiguous, balanced, compact districts.

    Parameters
    ----------
    grids
        Grids with ``code``, ``population`` (and the other balanced
        quantities), optionally ``households`` and ``community``; any CRS.
    k
        Number of districts.
    tolerance
        Allowed deviation from the ideal (fraction, 0.02 = ±2%) for every
        quantity in ``balance`` given as a sequence.
    nest
        ``"communities"`` to keep every district inside one community.
    from_plan
        An existing plan (grid code → district id): its districts are kept
        where balance allows; with another k they are split or merged.
    balance
        Quantities to balance, or a mapping quantity → tolerance.
    seed
        Seed of the partitioner; equal seeds give equal plans.
    progress
        Called with a short message at each stage.
    adjacency
        The grids' neighbour graph, when already built.
    crs
        Preferred metric CRS (the build's ``crs``).
    time_limit
        Seconds the local search may take before it stops with the best plan
        (plans are deterministic for a seed unless this limit cuts them short).

    Returns
    -------
    DistrictingResult
        ``summary`` holds ``max_deviation``, ``deviation_range``,
        ``contiguous``, ``cut_edges``, ``moved_grids``, ``moved_population``,
        ``best_bound`` (no plan can have a smaller max deviation) and the
        per-district metrics.

    Raises
    ------
    InfeasibleError
        ``k`` is below 1 or above the number of grids, or nesting needs more
        districts than ``k`` or more than a community's grids.
    """
    say = progress or (lambda _msg: None)
    quantities, tol = _balance_spec(balance, tolerance)
    # 1. grids as numbers
    gm = to_metric(grids, crs=crs)
    graph = grid_graph(
        gm, adjacency=adjacency, quantities=quantities, tallied=("population", "households")
    )
    _check_k(graph, k)
    warnings: list[str] = []
    if graph.adjacency.bridges:
        warnings.append(
            f"{len(graph.adjacency.bridges)} island(s) or enclave(s) bridged to their nearest grid"
        )
    # 2. groups that hold whole districts, and the districts per group
    old_state = None
    if from_plan is not None:
        old_state = PlanState.from_assignment(graph, from_plan)
        warnings += repair_contiguity(old_state)
        groups, hard = old_state.labels.copy(), False
        groups = _merge_groups(graph, groups, k)
    elif nest == "communities":
        groups, hard = _community_groups(graph, k), True
    elif nest is None:
        groups, hard = np.zeros(graph.n, dtype=np.int64), False
    else:
        raise PlanError(f"unknown nesting {nest!r}: use 'communities'")
    seats = allot_seats(graph, groups, k)
    say(f"partitioning {graph.n} grids into {k} districts")
    deadline = time.monotonic() + time_limit
    # fresh plans retry with derived seeds while the tolerance is not met
    # (several quantities: fewer retries, the joint moves below do better)
    attempts = 1 if old_state is not None else (RETRIES if len(tol) == 1 else 3)
    best: PlanState | None = None
    for attempt in range(attempts):
        # 3. partition each group
        labels, district_group = _partition_groups(graph, groups, seats, seed=seed + 7919 * attempt)
        ids = _district_ids(labels, k, old_state, groups)
        state = PlanState(graph, labels, ids)
        # 4. contiguity, then balance
        repair_contiguity(state)
        _fill_empty(state, district_group, groups if hard else None)
        rule = Groups(groups, district_group, hard)
        say("balancing" if attempt == 0 else f"balancing (attempt {attempt + 1})")
        ok = balance_state(state, tol, groups=rule, deadline=deadline)
        if best is None or _worst(state, tol) < _worst(best, tol):
            best = state
        if ok or time.monotonic() > deadline:
            break
    state = best
    if _worst(state, tol) > 1.0 and len(tol) > 1:  # quantities pulling apart: joint moves
        say("balancing the quantities together")
        state = _transfer(state, tol, rule, deadline)
    exact = None
    if _worst(state, tol) > 1.0 and graph.n <= MAX_GRIDS_PER_DISTRICT * k:
        # coarse grids: prove the best achievable (or reach the tolerance) exactly
        say("exact search for the best achievable plan")
        polish_worst(state, tol, groups=rule)
        state, exact = _exact_if_coarse(
            state, tol, k, groups=groups if hard else None, old_state=old_state, deadline=deadline
        )
    if _worst(state, tol) > 1.0 and exact is None:  # out of reach: lower the worst itself
        state = perturb_and_polish(state, tol, groups=rule, seed=seed, deadline=deadline)
        polish_worst(state, tol, groups=rule, deadline=deadline)
    # 6. smooth
    smooth(state, tol, groups=rule, deadline=deadline)
    # 7. report
    bound = best_bound(graph, k, groups=groups if hard else None, seats=seats if hard else None)
    if exact is not None and len(tol) == 1:
        bound = max(bound, round(exact.bound * float(tol[0]), 6))
    summary = plan_summary(state, tol, old_state=old_state, bound=bound)
    summary["best_scale"] = None if exact is None else round(exact.bound, 6)
    summary["exact"] = None if exact is None else _exact_summary(exact, _worst(state, tol))
    summary["seed"] = seed
    summary["nest"] = nest
    if not summary["within_tolerance"]:
        warnings.append(_tolerance_warning(summary, tol, graph.balanced))
    if not summary["contiguous"]:
        warnings.append("some districts are not contiguous (their grids are not connected)")
    summary["warnings"] = warnings
    districts = district_polygons(gm, state, summary)
    return DistrictingResult(state.assignment(), summary, districts, warnings, state)


def _transfer(state: PlanState, tol: np.ndarray, groups: Groups, deadline: float) -> PlanState:
    """Joint boundary moves (:func:`gis.transfer.transfer_balance`), kept when better."""
    trial = state.copy()
    for _ in range(3):
        moved = transfer_balance(trial, tol, groups=groups, deadline=deadline)
        ok = balance_state(trial, tol, groups=groups, deadline=deadline)
        if ok or moved == 0 or time.monotonic() > deadline:
            break
    return trial if _worst(trial, tol) < _worst(state, tol) else state


def _exact_if_coarse(
    state: PlanState,
    tol: np.ndarray,
    k: int,
    *,
    groups: np.ndarray | None,
    old_state: PlanState | None,
    deadline: float,
) -> tuple[PlanState, ExactResult | None]:
    """Solve exactly when the grids are coarse enough; keep the better plan."""
    if not state.contiguity().all():
        return state, None
    upper = _worst(state, tol) * (1 + 1e-9)
    found = solve_exact(
        state.graph,
        k,
        tol,
        upper,
        groups=groups,
        old_labels=None if old_state is None else old_state.labels,
        time_limit=max(EXACT_SECONDS, deadline - time.monotonic()),
    )
    if found is None or found.labels is None or found.scale > upper:
        return state, found
    ids = _district_ids(found.labels, k, old_state, np.zeros(state.graph.n, dtype=np.int64))
    return PlanState(state.graph, found.labels, ids), found


def _exact_summary(exact: ExactResult, reached: float) -> dict[str, Any]:
    return {
        "candidates": exact.candidates,
        "seconds": round(exact.seconds, 3),
        "optimal": bool(exact.optimal and reached <= exact.bound + 1e-9),
        "bound_scale": round(exact.bound, 6),
    }


def _tolerance_warning(summary: Mapping[str, Any], tol: np.ndarray, names: Sequence[str]) -> str:
    worst = summary["max_deviation"]
    exact = summary.get("exact")
    if len(tol) > 1:
        scale = summary.get("best_scale")
        reach = ", ".join(
            f"{q} ±{summary['quantities'][q]['max_deviation']:.2%} (±{t:.2%} asked)"
            for q, t in zip(names, tol, strict=True)
        )
        if exact and exact["optimal"]:
            return (
                f"the tolerances are out of reach: no contiguous plan keeps every quantity within "
                f"{scale:.2f}× its tolerance (proven over {exact['candidates']} candidate "
                f"districts); this plan reaches that: {reach}"
            )
        return f"tolerances not reached: {reach}; try another seed or larger tolerances"
    bound = summary["best_bound"]
    if exact and exact["optimal"]:
        return (
            f"the grids are too coarse for ±{tol[0]:.2%}: the best achievable is ±{bound:.2%} "
            f"(proven by an exact search over {exact['candidates']} candidate districts), "
            "and this plan reaches it"
        )
    if bound > tol[0] - 1e-12:
        return (
            f"the grids are too coarse for ±{tol[0]:.2%}: no plan can do better than "
            f"±{bound:.2%}; this plan reaches ±{worst:.2%}"
        )
    return (
        f"tolerance ±{tol[0]:.2%} not reached (±{worst:.2%}); the best achievable bound "
        f"is at least ±{bound:.2%}: try another seed or a larger tolerance"
    )


# --------------------------------------------------------------------------- set-up
def _balance_spec(
    balance: Sequence[str] | Mapping[str, float], tolerance: float
) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(balance, Mapping):
        quantities = tuple(balance)
        tol = np.array([float(balance[q]) for q in quantities])
    else:
        quantities = tuple(balance) or ("population",)
        tol = np.full(len(quantities), float(tolerance))
    if (tol <= 0).any():
        raise PlanError("tolerances must be positive fractions (0.02 = ±2%)")
    return quantities, tol


def _check_k(graph: GridGraph, k: int) -> None:
    if k < 1:
        raise InfeasibleError(f"k must be at least 1 (got {k})")
    if k > graph.n:
        raise InfeasibleError(
            f"k = {k} is larger than the number of grids ({graph.n}): "
            "ask for fewer districts or build smaller grids"
        )


def _community_groups(graph: GridGraph, k: int) -> np.ndarray:
    if graph.community is None:
        raise PlanError("nesting in communities needs a `community` column in the grids")
    groups = graph.community.copy()
    none = groups < 0
    if none.any():
        groups[none] = groups.max() + 1  # grids without a community form one group
    n_groups = len(np.unique(groups))
    if k < n_groups:
        raise InfeasibleError(
            f"nesting in communities needs at least one district per community: "
            f"k = {k} but there are {n_groups} communities"
        )
    return groups


def _merge_groups(graph: GridGraph, groups: np.ndarray, k: int) -> np.ndarray:
    """Merge the smallest group into its smallest neighbour until at most ``k`` remain."""
    groups = np.unique(groups, return_inverse=True)[1]
    pop = graph.values[:, 0]
    src, dst = graph.edges()
    while groups.max() + 1 > k:
        tot = np.bincount(groups, weights=pop)
        small = int(np.argmin(tot))
        touching = np.unique(groups[dst[groups[src] == small]])
        touching = touching[touching != small]
        into = int(touching[np.argmin(tot[touching])])
        groups[groups == small] = into
        groups = np.unique(groups, return_inverse=True)[1]
    return groups


def allot_seats(graph: GridGraph, groups: np.ndarray, k: int) -> np.ndarray:
    """Apportion ``k`` districts among ``groups`` to minimise the largest deviation.

    Each group gets at least one district and at most one per grid.  Starts
    with D'Hondt (largest population per district first) and then moves
    single seats while that lowers the largest absolute deviation.
    """
    n_groups = int(groups.max()) + 1
    pop = np.bincount(groups, weights=graph.values[:, 0], minlength=n_groups)
    cap = np.bincount(groups, minlength=n_groups)
    if cap.sum() < k:
        raise InfeasibleError(f"k = {k} is larger than the number of grids ({cap.sum()})")
    seats = np.ones(n_groups, dtype=np.int64)
    if k < n_groups:
        raise InfeasibleError(f"cannot give {n_groups} groups at least one of {k} districts")
    while seats.sum() < k:
        ratio = np.where(seats < cap, pop / seats, -np.inf)
        seats[int(np.argmax(ratio))] += 1
    ideal = pop.sum() / k if pop.sum() > 0 else 1.0

    def worst(s: np.ndarray) -> float:
        return float(np.abs(pop / (s * ideal) - 1.0).max())

    for _ in range(4 * k):
        current, best = worst(seats), None
        for a in np.flatnonzero(seats > 1):
            for b in np.flatnonzero(seats < cap):
                if a == b:
                    continue
                trial = seats.copy()
                trial[a] -= 1
                trial[b] += 1
                w = worst(trial)
                if w < current - 1e-12 and (best is None or w < best[0]):
                    best = (w, a, b)
        if best is None:
            break
        seats[best[1]] -= 1
        seats[best[2]] += 1
    return seats


def _partition_groups(
    graph: GridGraph, groups: np.ndarray, seats: np.ndarray, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Partition each group into its seats; returns labels and the group of each district."""
    labels = np.zeros(graph.n, dtype=np.int64)
    district_group = np.repeat(np.arange(len(seats)), seats)
    offset = 0
    full = sparse.csr_matrix((graph.shared, graph.indices, graph.indptr), shape=(graph.n,) * 2)
    weights = _vertex_weights(graph)
    for g, s in enumerate(seats):
        members = np.flatnonzero(groups == g)
        if s == 1:
            labels[members] = offset
        else:
            sub = full[members][:, members]
            labels[members] = offset + partition(sub, weights[members], int(s), seed=seed)
        offset += int(s)
    return labels, district_group


def _vertex_weights(graph: GridGraph) -> np.ndarray:
    """One positive integer weight per grid mixing the balanced quantities equally."""
    vals = graph.values[:, : graph.n_balanced]
    tot = vals.sum(axis=0)
    share = (vals / np.where(tot > 0, tot, 1.0)).sum(axis=1) / vals.shape[1]
    return np.maximum(1, np.round(share * 1e8)).astype(np.int64)


def partition(matrix: sparse.csr_matrix, weights: np.ndarray, k: int, *, seed: int) -> np.ndarray:
    """Split a graph into ``k`` balanced, compact, contiguous parts with METIS.

    Parameters
    ----------
    matrix
        Symmetric CSR of shared boundary lengths (m).
    weights
        Positive integer vertex weights.
    k
        Number of parts.
    seed
        METIS seed.

    Returns
    -------
    numpy.ndarray
        Part index per vertex.
    """
    import pymetis

    n = matrix.shape[0]
    if k >= n:
        return np.arange(n) % k
    matrix = _connect(matrix)
    xadj = matrix.indptr.astype(np.int64)
    adjncy = matrix.indices.astype(np.int64)
    eweights = np.maximum(1, np.round(matrix.data)).astype(np.int64)
    for contig in (1, -1):
        opts = pymetis.Options(seed=seed, ufactor=1, contig=contig, niter=20, ncuts=2)
        try:
            _, parts = pymetis.part_graph(
                k,
                adjacency=pymetis.CSRAdjacency(xadj, adjncy),
                vweights=weights,
                eweights=eweights,
                options=opts,
            )
        except (RuntimeError, ValueError):  # METIS refuses contig on odd graphs: retry
            continue
        parts = np.asarray(parts, dtype=np.int64)
        if len(np.unique(parts)) == k:
            return parts
    # METIS left parts empty (tiny graphs): fall back to BFS slices of equal weight
    return _bfs_slices(matrix, weights, k)


def _connect(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Chain the components of ``matrix`` together with weight-1 edges."""
    n_comp, comp = csgraph.connected_components(matrix, directed=False)
    if n_comp == 1:
        return matrix
    firsts = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
    a, b = firsts[:-1], firsts[1:]
    extra = sparse.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=matrix.shape)
    return (matrix + extra).tocsr()


def _bfs_slices(matrix: sparse.csr_matrix, weights: np.ndarray, k: int) -> np.ndarray:
    order = csgraph.breadth_first_order(matrix, 0, directed=False, return_predecessors=False)
    cum = np.cumsum(weights[order]) / weights.sum()
    part = np.minimum((cum * k).astype(np.int64), k - 1)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = part
    # make sure every part is used
    for p in range(k):
        if not (out == p).any():
            out[order[p]] = p
    return out


def _district_ids(
    labels: np.ndarray, k: int, old_state: PlanState | None, groups: np.ndarray
) -> list[str]:
    if old_state is not None and old_state.k == k:
        # one new district per old one: keep the old id of the group each lies in
        ids = [""] * k
        for d in range(k):
            members = np.flatnonzero(labels == d)
            if len(members):
                ids[d] = old_state.districts[int(np.bincount(old_state.labels[members]).argmax())]
        if len(set(ids)) == k and all(ids):
            return ids
    return [str(d + 1) for d in range(k)]


def _fill_empty(state: PlanState, district_group: np.ndarray, groups: np.ndarray | None) -> None:
    """Give each empty district one grid: a leaf of a BFS tree of the fullest district."""
    for d in np.flatnonzero(state.count == 0):
        allowed = (
            np.arange(state.k)
            if groups is None
            else np.flatnonzero(district_group == district_group[d])
        )
        donor = int(allowed[np.argmax(state.count[allowed])])
        members = np.flatnonzero(state.labels == donor)
        if len(members) < 2:
            continue
        for i in members[::-1]:
            if state.keeps_contiguous([int(i)]):
                state.move_index(int(i), int(d))
                break


# --------------------------------------------------------------------------- local search
class _Moves:
    """Vectorised candidate single-grid moves (grid → neighbouring district)."""

    def __init__(self, state: PlanState, tol: np.ndarray) -> None:
        g = state.graph
        self.state = state
        self.src, self.dst = g.edges()
        nb = g.n_balanced
        ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
        self.scale = 1.0 / (ideal * tol)  # value → units of tolerance
        self.v = g.values[:, :nb] * self.scale
        self.tol = np.asarray(tol, dtype=float)

    def x(self) -> np.ndarray:
        """Deviation of each district in units of its tolerance, ``(k, q)``."""
        nb = self.state.graph.n_balanced
        return self.state.deviations()[:, :nb] / self.tol

    def candidates(self) -> dict[str, np.ndarray]:
        """All moves of a boundary grid into a neighbouring district, with deltas."""
        st = self.state
        lab = st.labels
        ls, ld = lab[self.src], lab[self.dst]
        cross = ls != ld
        key = self.src[cross] * st.k + ld[cross]
        key, n_to = np.unique(key, return_counts=True)
        i, b = np.divmod(key, st.k)
        a = lab[i]
        same = np.bincount(self.src[~cross], minlength=st.graph.n)
        x = self.x()
        vi = self.v[i]
        xa, xb = x[a], x[b]
        dobj = (_cost(xa - vi) - _cost(xa) + _cost(xb + vi) - _cost(xb)).sum(axis=1)
        dcut = same[i] - n_to
        return {"i": i, "a": a, "b": b, "dobj": dobj, "dcut": dcut, "xa": xa, "xb": xb, "vi": vi}


def balance_state(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    deadline: float | None = None,
    max_rounds: int = 5000,
) -> bool:
    """Move boundary grids until every balanced quantity is within its tolerance.

    Each round takes the moves that lower the sum of squared deviations
    (in units of tolerance) most, preferring moves that cut fewer edges and
    that stay inside the grid's group, applies at most one per pair of
    districts, and only when the source district stays contiguous.  When no
    single move helps, an ejection chain pushes population along a path of
    neighbouring districts.

    Parameters
    ----------
    state
        The plan, changed in place.
    tol
        Tolerance per balanced quantity.
    groups
        Groups of grids and districts (old districts or communities): moves
        across them are forbidden (nesting) or only discouraged.
    deadline
        ``time.monotonic()`` value at which to stop.
    max_rounds
        Upper bound on rounds.

    Returns
    -------
    bool
        Whether the tolerance was reached.
    """
    moves = _Moves(state, tol)
    for _ in range(max_rounds):
        x = moves.x()
        if np.abs(x).max() <= 1.0 + 1e-9:
            return True
        if deadline is not None and time.monotonic() > deadline:
            return False
        c = moves.candidates()
        crossing = groups.crossing(c["i"], c["b"])
        keep = (c["dobj"] < -1e-9) & groups.allowed(c["i"], c["b"])
        idx = np.flatnonzero(keep)
        score = c["dobj"][idx] + CUT_WEIGHT * c["dcut"][idx]
        order = idx[np.lexsort((c["i"][idx], score, crossing[idx]))]
        applied = _apply_batch(state, c, order)
        if applied == 0:
            allowed = groups.allowed(c["i"], c["b"])
            if _swaps(state, c, allowed) == 0 and not _ejection_chain(state, moves, groups):
                return False
    return bool(np.abs(moves.x()).max() <= 1.0 + 1e-9)


def polish_worst(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    deadline: float | None = None,
    max_steps: int = 10_000,
) -> int:
    """Lower the worst deviation directly: moves and swaps with the worst district.

    Each step makes the worst district better and leaves the other district
    below the old worst, so the sorted deviations fall lexicographically and
    the search ends.  Used when the tolerance cannot be met (coarse grids),
    where a sum of squares is not the measure that matters.

    Returns
    -------
    int
        Number of steps made.
    """
    moves = _Moves(state, tol)
    steps = 0
    for _ in range(max_steps):
        if deadline is not None and time.monotonic() > deadline:
            break
        x = moves.x()
        m = np.abs(x).max(axis=1)
        worst = int(np.argmax(m))
        c = moves.candidates()
        after = np.maximum(
            np.abs(c["xa"] - c["vi"]).max(axis=1), np.abs(c["xb"] + c["vi"]).max(axis=1)
        )
        allowed = ((c["a"] == worst) | (c["b"] == worst)) & groups.allowed(c["i"], c["b"])
        keep = allowed & (after < m[worst] - 1e-9)
        idx = np.flatnonzero(keep)
        order = idx[np.lexsort((c["i"][idx], after[idx]))]
        done = False
        for t in order[:200]:
            i = int(c["i"][t])
            if state.keeps_contiguous([i]):
                state.move_index(i, int(c["b"][t]))
                done = True
                break
        if not done:
            done = _swaps(state, c, allowed, limit_to=m[worst]) > 0
        if not done:
            done = _chain_pair(state, moves, c, allowed, limit_to=m[worst])
        if not done:
            break
        steps += 1
    return steps


def perturb_and_polish(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    seed: int = 0,
    deadline: float | None = None,
    work: int = 40_000,
) -> PlanState:
    """Iterated local search for coarse grids: shake a few boundary grids, repolish, keep the best.

    Runs ``work // n`` rounds (at most 200), so small grid sets get many and
    large ones few; seeded, so the result is the same for the same seed.

    Returns
    -------
    PlanState
        The best plan found (by the worst deviation, in units of tolerance).
    """
    rng = np.random.default_rng(seed)
    best = state.copy()
    polish_worst(best, tol, groups=groups)
    best_score = _worst(best, tol)
    src, dst = best.graph.edges()
    for _ in range(min(200, work // max(best.graph.n, 1))):
        if deadline is not None and time.monotonic() > deadline:
            break
        trial = best.copy()
        for _ in range(int(rng.integers(1, 4))):
            lab = trial.labels
            cross = np.flatnonzero(lab[src] != lab[dst])
            if len(cross) == 0:
                break
            e = int(cross[rng.integers(len(cross))])
            i, b = int(src[e]), int(lab[dst[e]])
            if not groups.allowed(np.array([i]), np.array([b]))[0]:
                continue
            if trial.keeps_contiguous([i]):
                trial.move_index(i, b)
        balance_state(
            trial,
            tol,
            groups=groups,
            max_rounds=50,
        )
        polish_worst(trial, tol, groups=groups)
        score = _worst(trial, tol)
        if score < best_score - 1e-9:
            best, best_score = trial, score
        if best_score <= 1.0:
            break
    return best


def _chain_pair(
    state: PlanState,
    moves: _Moves,
    c: dict[str, np.ndarray],
    allowed: np.ndarray,
    *,
    limit_to: float,
) -> bool:
    """Move two neighbouring grids together when that brings both districts below ``limit_to``."""
    lab = state.labels
    best: tuple[float, int, int, int] | None = None
    for t in np.flatnonzero(allowed):
        i, a, b = int(c["i"][t]), int(c["a"][t]), int(c["b"][t])
        for j in state._nbrs[i]:
            if lab[j] != a:
                continue
            moved = moves.v[i] + moves.v[j]
            after = max(
                float(np.abs(c["xa"][t] - moved).max()), float(np.abs(c["xb"][t] + moved).max())
            )
            better = after < limit_to - 1e-9 and (best is None or after < best[0])
            if better and state.keeps_contiguous([i, j]):
                best = (after, i, j, b)
    if best is None:
        return False
    _, i, j, b = best
    state.move_index(i, b)
    state.move_index(j, b)
    return True


def _apply_batch(state: PlanState, c: dict[str, np.ndarray], order: np.ndarray) -> int:
    """Apply candidates in ``order``, at most one per district, keeping contiguity."""
    touched: set[int] = set()
    applied = 0
    tried = 0
    for m in order:
        a, b = int(c["a"][m]), int(c["b"][m])
        if a in touched or b in touched:
            continue
        i = int(c["i"][m])
        tried += 1
        if state.keeps_contiguous([i]):
            state.move_index(i, b)
            touched.update((a, b))
            applied += 1
            if len(touched) >= state.k - 1:
                break
        if tried > max(8 * state.k, 400):
            break
    return applied


def _swaps(
    state: PlanState,
    c: dict[str, np.ndarray],
    allowed: np.ndarray,
    *,
    limit_to: float | None = None,
) -> int:
    """Exchange one boundary grid each way between neighbouring districts.

    A swap moves ``v_g - v_h`` net, finer than any single grid: it is what
    gets coarse grids within tight tolerances.  Applies the best improving
    swap per pair of districts, each district in one swap at most.
    """
    i, a, b, vi = c["i"][allowed], c["a"][allowed], c["b"][allowed], c["vi"][allowed]
    x = c["xa"][allowed]  # x of the source district
    xb_all = c["xb"][allowed]
    found = []
    pair_key = np.minimum(a, b) * state.k + np.maximum(a, b)
    for key in np.unique(pair_key):
        lo, hi = divmod(int(key), state.k)
        fwd = np.flatnonzero((pair_key == key) & (a == lo))
        bwd = np.flatnonzero((pair_key == key) & (a == hi))
        if len(fwd) == 0 or len(bwd) == 0:
            continue
        xlo, xhi = x[fwd[0]], xb_all[fwd[0]]
        net = vi[fwd][:, None, :] - vi[bwd][None, :, :]  # lo → hi
        dobj = (_cost(xlo - net) - _cost(xlo) + _cost(xhi + net) - _cost(xhi)).sum(axis=2)
        if limit_to is not None:  # rank by the pair's worst deviation, keep those below limit
            worst = np.maximum(np.abs(xlo - net).max(axis=2), np.abs(xhi + net).max(axis=2))
            dobj = np.where(worst < limit_to - 1e-9, worst - limit_to, np.inf)
        flat = np.argsort(dobj, axis=None, kind="stable")[:8]
        for f in flat:
            u, w = divmod(int(f), len(bwd))
            if dobj[u, w] < -1e-9:
                found.append((float(dobj[u, w]), int(i[fwd[u]]), int(i[bwd[w]]), lo, hi))
    found.sort()
    touched: set[int] = set()
    applied = 0
    lab = state.labels
    for _, g, h, lo, hi in found:
        if lo in touched or hi in touched or g == h:
            continue
        if not state.keeps_contiguous([g]):
            continue
        state.move_index(g, hi)
        if any(lab[j] == lo for j in state._nbrs[h]) and state.keeps_contiguous([h]):
            state.move_index(h, lo)
            touched.update((lo, hi))
            applied += 1
        else:
            state.move_index(g, lo)
    return applied


def _ejection_chain(
    state: PlanState,
    moves: _Moves,
    groups: Groups,
) -> bool:
    """Push population from a bad district along a path to one on the other side.

    Tries the worst few (district, quantity) pairs and, for each, the most
    opposite reachable districts; keeps the first chain that lowers the sum
    of squared deviations.
    """
    x = moves.x()
    before = float(_cost(x).sum())
    dgraph = _district_graph(state)
    flat = np.argsort(-np.abs(x), axis=None, kind="stable")[:5]
    for f in flat:
        worst, q = (int(v) for v in np.unravel_index(int(f), x.shape))
        if abs(x[worst, q]) <= 1.0:
            break
        sign = 1.0 if x[worst, q] > 0 else -1.0
        prev = _bfs_districts(dgraph, worst, groups.district if groups.hard else None)
        targets = [d for d in prev if d != worst and x[d, q] * sign < 0]
        targets.sort(key=lambda d: (x[d, q] * sign, d))  # the most opposite first
        for target in targets[:6]:
            path = [target]
            while prev[path[-1]] != -1:
                path.append(prev[path[-1]])
            path.reverse()  # worst ... target
            if sign < 0:
                path.reverse()  # population flows from target towards the worst
            src, dst = (worst, target) if sign > 0 else (target, worst)
            want = (x[src] - x[dst]) / 2.0
            done = _push_along(state, moves, path, want, groups)
            if done is None:
                continue
            if float(_cost(moves.x()).sum()) < before - 1e-9:
                return True
            for i, d in reversed(done):  # undo
                state.move_index(i, d)
    return False


def _bfs_districts(
    dgraph: list[set[int]], start: int, district_group: np.ndarray | None
) -> dict[int, int]:
    """BFS predecessors over the district graph (within ``start``'s group when given)."""
    prev = {start: -1}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for w in sorted(dgraph[u]):
            if w not in prev and (
                district_group is None or district_group[w] == district_group[start]
            ):
                prev[w] = u
                queue.append(w)
    return prev


def _push_along(
    state: PlanState,
    moves: _Moves,
    path: list[int],
    want: np.ndarray,
    groups: Groups,
) -> list[tuple[int, int]] | None:
    """Move one grid across each hop of ``path``; returns the undo list or ``None``."""
    done: list[tuple[int, int]] = []
    lab = state.labels
    for a, b in pairwise(path):
        sel = (lab[moves.src] == a) & (lab[moves.dst] == b)
        cand = np.unique(moves.src[sel])
        cand = cand[groups.allowed(cand, np.full(len(cand), b))]
        if len(cand) == 0:
            break
        gap = np.linalg.norm(moves.v[cand] - want, axis=1)
        ranked = cand[np.lexsort((cand, gap))]
        moved = False
        for i in ranked[:40]:
            if state.keeps_contiguous([int(i)]):
                state.move_index(int(i), b)
                done.append((int(i), a))
                want = moves.v[i]
                moved = True
                break
        if not moved:
            break
    else:
        return done
    for i, d in reversed(done):
        state.move_index(i, d)
    return None


def _district_graph(state: PlanState) -> list[set[int]]:
    src, dst = state.graph.edges()
    la, lb = state.labels[src], state.labels[dst]
    cross = la != lb
    pairs = np.unique(np.column_stack([la[cross], lb[cross]]), axis=0)
    out: list[set[int]] = [set() for _ in range(state.k)]
    for a, b in pairs:
        out[int(a)].add(int(b))
    return out


def smooth(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    deadline: float | None = None,
    max_rounds: int = 200,
) -> int:
    """Move boundary grids that cut fewer edges while every deviation stays in tolerance.

    A move may not make any district leave its tolerance (or get further
    from it), nor move a grid away from its group.

    Returns
    -------
    int
        Number of moves made.
    """
    moves = _Moves(state, tol)
    total = 0
    for _ in range(max_rounds):
        if deadline is not None and time.monotonic() > deadline:
            break
        c = moves.candidates()
        xa2, xb2 = c["xa"] - c["vi"], c["xb"] + c["vi"]
        fits = (np.maximum(np.abs(xa2), np.abs(xb2)) <= 1.0).all(axis=1) | (
            np.maximum(np.abs(xa2), np.abs(xb2)).max(axis=1)
            <= np.maximum(np.abs(c["xa"]), np.abs(c["xb"])).max(axis=1)
        )
        keep = (c["dcut"] < 0) & fits
        # never away from the grid's own group
        keep &= groups.crossing(c["i"], c["b"]) <= groups.crossing(c["i"], c["a"])
        keep &= groups.allowed(c["i"], c["b"])
        idx = np.flatnonzero(keep)
        if len(idx) == 0:
            break
        order = idx[np.lexsort((c["i"][idx], c["dobj"][idx], c["dcut"][idx]))]
        applied = _apply_batch(state, c, order)
        total += applied
        if applied == 0:
            break
    return total


# --------------------------------------------------------------------------- reporting
def best_bound(
    graph: GridGraph,
    k: int,
    *,
    groups: np.ndarray | None = None,
    seats: np.ndarray | None = None,
) -> float:
    """A lower bound on the max deviation any plan with ``k`` districts can reach.

    The largest of: the largest grid against the ideal (its district holds
    at least that grid); when fewer than ``2k`` grids, the ``2k - n`` grids
    closest to the ideal must stand alone; under nesting, the apportionment
    of districts to communities.
    """
    bounds = [0.0]
    for qi in range(graph.n_balanced):
        v = graph.values[:, qi]
        ideal = v.sum() / k
        if ideal <= 0:
            continue
        bounds.append(float(v.max() / ideal - 1.0))
        singles = 2 * k - graph.n
        if singles > 0:
            bounds.append(float(np.sort(np.abs(v / ideal - 1.0))[singles - 1]))
        if groups is not None and seats is not None:
            pop = np.bincount(groups, weights=v, minlength=len(seats))
            bounds.append(float(np.abs(pop / (seats * ideal) - 1.0).max()))
    return round(max(bounds), 6)


def moved_grids(old: PlanState, new: PlanState) -> np.ndarray:
    """Whether each grid moved: its new district draws most population from another old one."""
    pop = new.graph.values[:, 0] + 1e-9
    table = np.zeros((new.k, old.k))
    np.add.at(table, (new.labels, old.labels), pop)
    major = table.argmax(axis=1)
    return old.labels != major[new.labels]


def plan_summary(
    state: PlanState,
    tol: np.ndarray,
    *,
    old_state: PlanState | None = None,
    bound: float | None = None,
) -> dict[str, Any]:
    """Plan metrics plus moved grids/population and the best bound (JSON-ready)."""
    g = state.graph
    tol_map = {q: float(t) for q, t in zip(g.balanced, tol, strict=True)}
    summary = state.evaluate(tolerance=tol_map)
    if old_state is not None:
        moved = moved_grids(old_state, state)
        pop = g.values[:, g.quantities.index("population")] if "population" in g.quantities else 0
        summary["moved_grids"] = int(moved.sum())
        summary["moved_population"] = round(float(np.sum(pop * moved)), 1)
        summary["moved_share"] = round(float(moved.mean()), 4)
        summary["from_k"] = old_state.k
    else:
        summary["moved_grids"] = 0
        summary["moved_population"] = 0.0
        summary["moved_share"] = 0.0
        summary["from_k"] = None
    summary["best_bound"] = bound
    return summary


def district_polygons(
    grids_metric: gpd.GeoDataFrame, state: PlanState, summary: Mapping[str, Any]
) -> gpd.GeoDataFrame:
    """One (multi)polygon per district in WGS 84 with the district metrics."""
    geoms = np.asarray(grids_metric.geometry.values, dtype=object)
    shapes = []
    for d in range(state.k):
        members = geoms[state.labels == d]
        try:
            shape = shapely.coverage_union_all(members)
            if not shape.is_valid:
                shape = shapely.union_all(members)
        except shapely.errors.GEOSException:
            shape = shapely.union_all(members)
        shapes.append(shape)
    cols = [
        "district",
        "population",
        "households",
        "area_m2",
        "deviation",
        "polsby_popper",
        "contiguous",
        "grids",
        "cut_edges",
    ]
    rows = pd.DataFrame(summary["districts"])
    extra = [c for c in rows.columns if c not in cols and c != "perimeter_m"]
    rows = rows[[c for c in cols if c in rows.columns] + extra]
    out = gpd.GeoDataFrame(rows, geometry=shapes, crs=grids_metric.crs)
    return out.to_crs("EPSG:4326")


def plan_frame(assignment: pd.Series) -> pd.DataFrame:
    """A plan as the CSV frame (``grid``, ``district``), districts in natural order."""
    order = {d: i for i, d in enumerate(sort_ids(assignment.unique()))}
    df = pd.DataFrame(
        {
            "grid": assignment.index.astype(str).to_numpy(),
            "district": assignment.astype(str).to_numpy(),
        }
    )
    df["_o"] = df["district"].map(order)
    return df.sort_values(["_o", "grid"], kind="stable").drop(columns="_o").reset_index(drop=True)
