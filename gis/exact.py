"""Exact districting for coarse grids: the best achievable plan, or a proven bound on it.

When districts hold only a few grids each, the grids themselves limit how
well populations can balance, and a local search cannot tell whether its
plan is the best one possible.  :func:`solve_exact` answers with an exact
search (:mod:`gis._grow`) that grows plans district by district and either
finds a plan whose districts all lie within a level (in units of each
quantity's tolerance) or proves that none exists:

1. the smallest largest deviation, by a search over levels: first the
   tolerance itself (a plan there settles it), then one :data:`GAP` below the
   caller's plan (so a plan within a point of a proven bound comes first),
   then bisection while time lasts.  Each level is decided by a
   set-partitioning MILP over the connected sets within it when they are few
   (:data:`MILP_SETS`: very coarse grids, where the grown search can stall
   on the many ways to place grids without people), else by one grown search.
   A level proven empty is a lower bound for every contiguous plan;
2. at that level (or at the tolerance, when it is met), the fewest cut
   edges (or, redrawing an old plan, the fewest people changing district,
   then the fewest cut edges): every connected set within the level is listed
   (:mod:`gis._enumerate`) and a set-partitioning MILP (HiGHS) chooses ``k``
   of them, when they are few enough (:data:`MAX_CANDIDATES`).

:func:`candidate_districts` lists those sets on its own.  The solver's output
is silenced at the file-descriptor level (:func:`gis.solver.quiet`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint

from gis.plan import GridGraph
from gis.solver import milp

#: Connected sets listed at most for choosing the most compact plan (stage 2).
MAX_CANDIDATES = 5_000
#: Search steps of the listing at most (sets visited, inside or outside the level).
MAX_VISITS = 20_000_000
#: Sets the listing visits per second, about (so that it keeps to the time left).
VISITS_PER_SECOND = 3_000_000
#: Grids per district (on average) above which the exact search is not tried at all.
MAX_GRIDS_PER_DISTRICT = 20.0
#: Largest deviation (a fraction: one percentage point) between a plan and its proven bound
#: that the search settles for first.
GAP = 0.01
#: Share of the time the first step (the tolerance itself) may take.
FIRST_SHARE = 0.5
#: Seconds at least a later step of the search over levels may take (when time is left).
PROBE_SECONDS = 2.0
#: Levels closer than this (in percentage points of deviation) end the bisection.
RESOLUTION = 0.0005
#: Share of the time kept for stage 2 (the most compact plan at the level found).
SECOND_SHARE = 0.2
#: Connected sets within a level at most for deciding that level by a set-partitioning MILP
#: (few sets: a MILP settles the level in milliseconds where the grown search may stall).
MILP_SETS = 1_500
#: Share of a level's time the MILP may take before the grown search has the rest.
MILP_SHARE = 0.5
#: Share of the MILP's time the listing of the sets within the level may take, about.
LIST_SHARE = 0.25


@dataclass
class ExactResult:
    """What :func:`solve_exact` found.

    Attributes
    ----------
    labels
        District index (``0 .. k-1``) per grid of the best plan found, or
        ``None`` when the solver found none better than ``upper``.
    scale
        The best plan's largest deviation in units of tolerance
        (``max |deviation| / tolerance`` over quantities and districts).
    bound
        Proven lower bound on that figure for every contiguous plan.
    optimal
        Whether ``scale`` equals ``bound`` (the plan is the best achievable).
    candidates
        Connected sets listed.
    seconds
        Time taken (listing and solving).
    """

    labels: np.ndarray | None
    scale: float
    bound: float
    optimal: bool
    candidates: int
    seconds: float


def candidate_districts(
    graph: GridGraph,
    k: int,
    tol: np.ndarray,
    upper: float,
    *,
    groups: np.ndarray | None = None,
    max_candidates: int = MAX_CANDIDATES,
    max_visits: int = MAX_VISITS,
) -> list[int] | None:
    """Every connected set of grids within ``upper`` × tolerance of the ideal, as bit masks.

    Parameters
    ----------
    graph
        The grids as numbers (balanced quantities first).
    k
        Number of districts (sets the ideal).
    tol
        Tolerance per balanced quantity.
    upper
        Largest deviation kept, in units of tolerance.
    groups
        Group per grid: sets stay inside one group (hard nesting).
    max_candidates, max_visits
        Give up (return ``None``) past this many sets listed or visited.

    Returns
    -------
    list of int or None
        Sets as bit masks over grid indices (bit ``i`` = grid ``i``).
    """
    listed = _list(graph, _ideal(graph, k), tol, upper, groups, max_candidates, max_visits)
    if listed is None:
        return None
    members, offsets = listed
    return [
        sum(1 << int(i) for i in members[offsets[j] : offsets[j + 1]])
        for j in range(len(offsets) - 1)
    ]


def warm_up() -> None:
    """Compile (or load from numba's cache on disk) the kernels of the exact search."""
    from gis._enumerate import list_sets
    from gis._grow import warm_up as warm_grow

    warm_grow()
    indptr = np.zeros(2, dtype=np.int64)  # one grid, no neighbours
    list_sets(indptr, indptr[:0], np.ones((1, 1)), np.zeros(1), np.ones(1), 1, 1)


def _ideal(graph: GridGraph, k: int) -> np.ndarray:
    return graph.values[:, : graph.n_balanced].sum(axis=0) / k


def _list(
    graph: GridGraph,
    ideal: np.ndarray,
    tol: np.ndarray,
    upper: float,
    groups: np.ndarray | None,
    max_candidates: int,
    max_visits: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Members and offsets of the connected sets within ``upper``, or ``None`` (too many)."""
    from gis._enumerate import list_sets

    nb = graph.n_balanced
    active = ideal > 0
    if not active.any():
        return None
    vals = np.ascontiguousarray(graph.values[:, :nb][:, active], dtype=float)
    ideal, tol = ideal[active], np.asarray(tol, dtype=float)[active]
    hi = ideal * (1.0 + upper * tol) * (1 + 1e-12)
    lo = ideal * (1.0 - upper * tol) * (1 - 1e-12)
    indptr, indices = graph.indptr, graph.indices
    if groups is not None:  # sets stay inside one group
        src, dst = graph.edges()
        keep = groups[src] == groups[dst]
        indptr = np.r_[0, np.cumsum(np.bincount(src[keep], minlength=graph.n))]
        indices = dst[keep]
    members, offsets, status = list_sets(
        indptr.astype(np.int64),
        indices.astype(np.int64),
        vals,
        lo,
        hi,
        int(max_candidates),
        int(max_visits),
    )
    if status < 0:
        return None
    return members[: offsets[status]].astype(np.int64), offsets[: status + 1].copy()


def solve_exact(
    graph: GridGraph,
    k: int,
    tol: np.ndarray,
    upper: float,
    *,
    groups: np.ndarray | None = None,
    old_labels: np.ndarray | None = None,
    time_limit: float = 20.0,
    ideal: np.ndarray | None = None,
    enough: float = 0.0,
    max_candidates: int = MAX_CANDIDATES,
    milp_sets: int = MILP_SETS,
) -> ExactResult | None:
    """The best achievable plan and its proven bound, for coarse grid sets.

    Parameters
    ----------
    graph
        The grids as numbers.
    k
        Number of districts.
    tol
        Tolerance per balanced quantity.
    upper
        The largest deviation (units of tolerance) of a known contiguous
        plan: the search looks below it.
    groups
        Group per grid when districts must nest in groups (communities).
    old_labels
        District per grid of an old plan: among the plans at the level
        found, the one moving the least population is chosen.
    time_limit
        Seconds for the whole search (both stages).
    ideal
        The ideal district per balanced quantity (default: the graph's
        total over ``k``; a part of a plan re-solved keeps the plan's ideal).
    enough
        A level (units of tolerance) that is good enough: the search stops
        lowering the deviation once a plan reaches it (``1.0``: within the
        tolerance), and stage 2 picks the most compact plan within it.
    max_candidates
        Sets listed at most for stage 2 (more: the grown plan is kept).
    milp_sets
        Sets within a level at most for deciding it by a MILP (``0``: the
        grown search decides every level).

    Returns
    -------
    ExactResult or None
        ``None`` for grids too fine for this method (more than
        :data:`MAX_GRIDS_PER_DISTRICT` per district).
    """
    if graph.n > MAX_GRIDS_PER_DISTRICT * k:
        return None
    warm_up()  # compiled before the clock starts
    t0 = time.monotonic()
    deadline = t0 + time_limit
    tol = np.asarray(tol, dtype=float)
    ideal = _ideal(graph, k) if ideal is None else np.asarray(ideal, dtype=float)
    probe = _Prober(graph, k, tol, ideal, groups, milp_sets)
    # 1. the smallest largest deviation: the tolerance, a gap below the plan, then bisection
    second_from = deadline - SECOND_SHARE * time_limit
    labels, scale, bound = _min_max(probe, upper, GAP / float(tol.max()), enough, second_from)
    if labels is None and bound >= upper * (1 - 1e-8):  # the caller's plan is the best
        scale = upper
    # 2. at that level (or the level good enough), the fewest moved people, then cut edges
    level = max(scale, enough)
    labels = _most_compact(graph, k, probe, level, labels, old_labels, max_candidates, deadline)
    if labels is None:
        return ExactResult(None, np.inf, bound, False, probe.steps, time.monotonic() - t0)
    scale = probe.scale(labels)
    optimal = bound >= scale * (1 - 1e-8) - 1e-12
    return ExactResult(
        labels, scale, min(bound, scale), optimal, probe.steps, time.monotonic() - t0
    )


class _Prober:
    """Grown searches over one graph at given levels (see :func:`gis._grow.GrowSearch`)."""

    def __init__(
        self,
        graph: GridGraph,
        k: int,
        tol: np.ndarray,
        ideal: np.ndarray,
        groups: np.ndarray | None,
        milp_sets: int,
    ) -> None:
        nb = graph.n_balanced
        self.active = ideal > 0
        self.values = np.ascontiguousarray(graph.values[:, :nb][:, self.active], dtype=float)
        self.ideal, self.tol = ideal[self.active], tol[self.active]
        self.indptr, self.indices = _within_groups(graph, groups)
        self.ideal_full, self.tol_full, self.groups = ideal, tol, groups
        self.graph, self.k, self.milp_sets = graph, k, milp_sets
        self.steps = 0
        self.listed = 0

    def run(self, level: float, deadline: float) -> tuple[str, np.ndarray | None]:
        """``("found", labels)``, ``("none", None)`` or ``("unknown", None)`` at ``level``.

        Few connected sets within the level: a set-partitioning MILP over them
        decides it first; otherwise (or when the MILP runs out of its share of
        the time) the grown search.
        """
        from gis._grow import GrowSearch

        share = time.monotonic() + MILP_SHARE * max(deadline - time.monotonic(), 0.0)
        status, labels = self.run_listed(level, share)
        if status != "unknown":
            return status, labels
        lo = self.ideal * (1.0 - level * self.tol) * (1 - 1e-12)
        hi = self.ideal * (1.0 + level * self.tol) * (1 + 1e-12)
        search = GrowSearch(self.indptr, self.indices, self.values, self.k, lo, hi)
        status = search.run(deadline)
        self.steps += search.steps
        return status, search.labels.copy() if status == "found" else None

    def run_listed(self, level: float, deadline: float) -> tuple[str, np.ndarray | None]:
        """The level decided by a MILP over its connected sets (``"unknown"``: too many sets).

        Every district of a plan within the level is one of the sets listed,
        so a MILP proving that no ``k`` of them cover the grids once proves
        that no plan within the level exists.
        """
        visits = min(MAX_VISITS, (deadline - time.monotonic()) * VISITS_PER_SECOND * LIST_SHARE)
        if self.milp_sets <= 0 or visits < 1:
            return "unknown", None
        full, tol = self.ideal_full, self.tol_full
        listed = _list(self.graph, full, tol, level, self.groups, self.milp_sets, int(visits))
        if listed is None:
            return "unknown", None
        cover = _cover(self.graph.n, *listed)
        self.steps += cover.shape[1]
        status, chosen = _partition(cover, self.k, np.arange(cover.shape[1]), None, deadline)
        if status != "feasible":
            return ("none" if status == "infeasible" else "unknown"), None
        return "found", _labels(cover, chosen, self.graph.n)

    def scale(self, labels: np.ndarray) -> float:
        """The plan's largest |deviation| in units of tolerance."""
        totals = np.zeros((self.k, self.values.shape[1]))
        np.add.at(totals, labels, self.values)
        return float((np.abs(totals / self.ideal - 1.0) / self.tol).max()) if len(self.tol) else 0.0


def _within_groups(graph: GridGraph, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The neighbour lists, without the edges between groups (districts nest in them)."""
    if groups is None:
        return graph.indptr.astype(np.int64), graph.indices.astype(np.int64)
    src, dst = graph.edges()
    keep = groups[src] == groups[dst]
    indptr = np.r_[0, np.cumsum(np.bincount(src[keep], minlength=graph.n))]
    return indptr.astype(np.int64), dst[keep].astype(np.int64)


def _min_max(
    probe: _Prober, upper: float, gap: float, enough: float, deadline: float
) -> tuple[np.ndarray | None, float, float]:
    """Search the levels for the smallest largest deviation a plan reaches.

    Steps, while time lasts: the tolerance (level 1) when the plan is above
    it, with :data:`FIRST_SHARE` of the time; one ``gap`` below the plan;
    then bisection between the proven bound and the best plan; last a level
    just below the best plan, which proves it optimal.  A step out of time
    proves nothing; later steps look below it, where proofs come easier.
    The search stops once a plan reaches ``enough``.

    Returns the best plan found (or ``None``), its scale, and the proven
    bound (no contiguous plan has a smaller scale).
    """
    labels: np.ndarray | None = None
    hi, lo, unsure = upper, 0.0, np.inf  # best plan's level, proven bound, lowest undecided
    resolution = RESOLUTION / float(probe.tol.max()) if len(probe.tol) else 1.0
    start, tried = time.monotonic(), set[float]()
    while time.monotonic() < deadline and hi > enough and lo < hi * (1 - 1e-9):
        level, share = _next_level(
            hi, lo, unsure, upper, gap, resolution, labels is not None, tried
        )
        if level is None:
            break
        tried.add(level)
        left = deadline - time.monotonic()
        end = time.monotonic() + max(min(PROBE_SECONDS, left), share * left)
        if level == 1.0:
            end = start + FIRST_SHARE * (deadline - start)
        status, found = probe.run(level, min(end, deadline))
        if found is not None:
            labels, hi = found, min(probe.scale(found), level)
            unsure = np.inf if unsure > hi else unsure
        elif status == "none":
            lo = max(lo, level)
        else:
            unsure = min(unsure, level)
    if labels is not None and lo >= hi * (1 - 1e-9):
        lo = hi  # nothing below the plan: it is optimal
    return labels, (np.inf if labels is None else probe.scale(labels)), float(lo)


def _next_level(
    hi: float,
    lo: float,
    unsure: float,
    upper: float,
    gap: float,
    resolution: float,
    found: bool,
    tried: set[float],
) -> tuple[float | None, float]:
    """The next level to try (``None``: done) and the share of the time left it may take."""
    if upper > 1.0 and 1.0 not in tried and lo < 1.0:
        return 1.0, FIRST_SHARE
    top = min(hi, unsure)
    if not found and top - gap > lo and top - gap not in tried:
        return top - gap, 0.5
    if top - lo > resolution:
        return (lo + top) / 2, 0.5
    # last, just below the best plan (the caller's when none was found here): proves it optimal
    below = hi * (1 - 1e-9) if found else upper * (1 - 2e-9)
    if unsure > hi and below > lo and below not in tried:
        return below, 1.0
    return None, 0.0


def _most_compact(
    graph: GridGraph,
    k: int,
    probe: _Prober,
    level: float,
    labels: np.ndarray | None,
    old_labels: np.ndarray | None,
    max_candidates: int,
    deadline: float,
) -> np.ndarray | None:
    """Among the plans within ``level``, the fewest moved people, then cut edges (or ``labels``)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return labels
    visits = int(min(MAX_VISITS, left * VISITS_PER_SECOND))
    listed = _list(
        graph, probe.ideal_full, probe.tol_full, level, probe.groups, max_candidates, visits
    )
    if listed is None:
        return labels
    cover = _cover(graph.n, *listed)
    probe.listed = cover.shape[1]
    cut = _set_cut(graph, cover)
    cost = cut.astype(float)
    if old_labels is not None:
        cost = _set_moved(graph, cover, old_labels) * (cut.sum() + 1.0) + cost
    status, chosen = _partition(cover, k, np.arange(cover.shape[1]), cost, deadline)
    if status != "feasible":
        return labels
    return _labels(cover, chosen, graph.n)


def _labels(cover: sparse.csc_matrix, chosen: np.ndarray, n: int) -> np.ndarray:
    """District per grid (``0 .. len(chosen)-1``) of the sets ``chosen``."""
    out = np.full(n, -1, dtype=np.int64)
    for d, j in enumerate(chosen):
        out[cover[:, j].nonzero()[0]] = d
    return out


def _partition(
    cover: sparse.csc_matrix,
    k: int,
    cols: np.ndarray,
    cost: np.ndarray | None,
    deadline: float,
    gap: float = 1e-4,
) -> tuple[str, np.ndarray]:
    """Choose ``k`` of the sets ``cols`` covering every grid once (cheapest when ``cost``).

    Returns ``("feasible", chosen set indices)``, ``("infeasible", [])`` or
    ``("unknown", [])`` when the time ran out first.
    """
    left = deadline - time.monotonic()
    if left <= 0:
        return "unknown", cols[:0]
    if len(cols) < k:
        return "infeasible", cols[:0]
    sub = cover[:, cols]
    if (sub.getnnz(axis=1) == 0).any():  # a grid no candidate covers
        return "infeasible", cols[:0]
    res = milp(
        np.zeros(len(cols)) if cost is None else cost[cols],
        constraints=[
            LinearConstraint(sub, 1, 1),
            LinearConstraint(np.ones((1, len(cols))), k, k),
        ],
        integrality=np.ones(len(cols)),
        bounds=Bounds(0, 1),
        options={"time_limit": left, "disp": False, "mip_rel_gap": gap},
    )
    if res.x is not None:
        return "feasible", cols[res.x > 0.5]
    if res.status == 2:
        return "infeasible", cols[:0]
    return "unknown", cols[:0]


def _cover(n: int, members: np.ndarray, offsets: np.ndarray) -> sparse.csc_matrix:
    """Grid × set incidence matrix."""
    cols = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return sparse.csc_matrix((np.ones(len(members)), (members, cols)), shape=(n, len(offsets) - 1))


def _set_cut(graph: GridGraph, cover: sparse.csc_matrix) -> np.ndarray:
    """Edges leaving each set (each counted once per side, so a plan's sum is twice its cut)."""
    adj = sparse.csr_matrix(
        (np.ones(len(graph.indices)), graph.indices, graph.indptr), shape=(graph.n, graph.n)
    )
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inside = np.asarray(cover.multiply(adj @ cover).sum(axis=0)).ravel()
    return (cover.T @ degree) - inside


def _set_moved(graph: GridGraph, cover: sparse.csc_matrix, old_labels: np.ndarray) -> np.ndarray:
    """Population of each set outside the old district it draws most population from."""
    pop = graph.values[:, 0]
    old = sparse.csr_matrix(
        (pop, (np.arange(graph.n), old_labels)), shape=(graph.n, int(old_labels.max()) + 1)
    )
    per_old = (cover.T @ old).toarray()
    return per_old.sum(axis=1) - per_old.max(axis=1)
