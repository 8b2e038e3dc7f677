"""Districting: k balanced, contiguous, compact districts, fresh or from an old plan.

The main flow is :func:`draw_districts`:

1. turn the grids into numbers (:func:`gis.plan.grid_graph`);
2. split them into groups that must (nesting in communities) or should
   (the districts of an old plan) hold whole districts, and apportion the k
   districts among the groups by population;
3. partition each group with METIS (pymetis; vertex weight = the balanced
   quantities, edge weight = shared boundary length, contiguous parts);
4. repair contiguity, then balance with a local search that moves boundary
   grids only when both districts stay contiguous (:func:`gis.search.balance_state`),
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from gis.groups import Groups
from gis.plan import GridGraph, PlanState, grid_graph, repair_contiguity, sort_ids, to_metric
from gis.search import balance_state, perturb_and_polish, polish_worst, smooth, worst_scale
from gis.transfer import transfer_balance

#: Partitions tried (with derived seeds) for a fresh plan that misses its tolerance.
RETRIES = 6
#: Seconds the exact solve for coarse grids gets at least.
EXACT_SECONDS = 20.0


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


def draw_districts(  # noqa: C901, PLR0915  (the districting engineer splits it, issue 12)
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
        if best is None or worst_scale(state, tol) < worst_scale(best, tol):
            best = state
        if ok or time.monotonic() > deadline:
            break
    assert best is not None  # the loop runs at least once
    state = best
    if worst_scale(state, tol) > 1.0 and len(tol) > 1:  # quantities pulling apart: joint moves
        say("balancing the quantities together")
        state = _transfer(state, tol, rule, deadline)
    exact = None
    if worst_scale(state, tol) > 1.0 and graph.n <= MAX_GRIDS_PER_DISTRICT * k:
        # coarse grids: prove the best achievable (or reach the tolerance) exactly
        say("exact search for the best achievable plan")
        polish_worst(state, tol, groups=rule)
        state, exact = _exact_if_coarse(
            state, tol, k, groups=groups if hard else None, old_state=old_state, deadline=deadline
        )
    if worst_scale(state, tol) > 1.0 and exact is None:  # out of reach: lower the worst itself
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
    summary["exact"] = None if exact is None else _exact_summary(exact, worst_scale(state, tol))
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
    return trial if worst_scale(trial, tol) < worst_scale(state, tol) else state


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
    upper = worst_scale(state, tol) * (1 + 1e-9)
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
            _, raw = pymetis.part_graph(
                k,
                adjacency=pymetis.CSRAdjacency(xadj, adjncy),
                vweights=weights,
                eweights=eweights,
                options=opts,
            )
        except (RuntimeError, ValueError):  # METIS refuses contig on odd graphs: retry
            continue
        parts = np.asarray(raw, dtype=np.int64)
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
