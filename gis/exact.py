"""Exact districting for coarse grids: candidate districts, then set partitioning.

When districts hold only a few grids each, the grids themselves limit how
well populations can balance, and a local search cannot tell whether its
plan is the best one possible.  Here every connected set of grids whose
deviation stays within a level ``upper`` (the local search's plan gives it)
is listed (:mod:`gis._enumerate`), and MILPs (HiGHS through
:func:`scipy.optimize.milp`) pick ``k`` disjoint sets covering every grid:

1. the smallest largest deviation (in units of each quantity's tolerance),
   by a search over the sets' deviations, each step a set-partitioning
   feasibility problem.  Because every connected district within a level
   is a candidate, an infeasible step *proves* that no contiguous plan
   reaches that level: the bound.  The first step is the level one
   :data:`GAP` below the plan, so a plan within that gap of a proven bound
   comes first; the search then closes in on the optimum while time lasts;
2. at that deviation, the fewest cut edges (or, redrawing an old plan, the
   fewest people changing district, then the fewest cut edges).

When the sets within ``upper`` are too many to list, the listing is tried
at lower levels (the gap below the plan, then the tolerance itself): an
infeasible partition there is still a proven bound, a feasible one a better
plan.  :func:`solve_exact` returns ``None`` when even those are too many
(grids too fine for this method).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gis.plan import GridGraph

#: Connected sets listed at most (candidates within the level).
MAX_CANDIDATES = 200_000
#: Search steps of the listing at most (sets visited, inside or outside the level).
MAX_VISITS = 60_000_000
#: Grids per district (on average) above which the listing is not tried at all.
MAX_GRIDS_PER_DISTRICT = 10.0
#: Largest deviation (a fraction: one percentage point) between a plan and its proven bound
#: that the search settles for first.
GAP = 0.01
#: Seconds at least for choosing the most compact (or least moving) plan at the best level.
SECOND_SECONDS = 3.0
#: Branches of the depth-first search for a partition before the MILP takes over.
SEARCH_NODES = 20_000
#: Seconds one feasibility step of the search may take (a step out of time proves nothing).
PROBE_SECONDS = 4.0


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


def _warm_up() -> None:
    """Compile (or load from the cache) the listing before any time is counted."""
    from gis._enumerate import list_sets

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
    max_candidates: int = MAX_CANDIDATES,
    max_visits: int = MAX_VISITS,
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
        plan; candidates are listed up to it, so the optimum is never worse.
    groups
        Group per grid when districts must nest in groups (communities).
    old_labels
        District per grid of an old plan: among the best-balanced plans,
        the one moving the least population is chosen.
    time_limit
        Seconds for listing and solving together.
    ideal
        The ideal district per balanced quantity (default: the graph's
        total over ``k``; a part of a plan re-solved keeps the plan's ideal).
    max_candidates, max_visits
        Limits of the listing (see :func:`candidate_districts`).

    Returns
    -------
    ExactResult or None
        ``None`` when the candidates are too many to list even at the
        tolerance (grids too fine for this method: more than
        :data:`MAX_GRIDS_PER_DISTRICT` per district, or past the limits).
    """
    if graph.n > MAX_GRIDS_PER_DISTRICT * k:
        return None
    _warm_up()
    t0 = time.monotonic()
    tol = np.asarray(tol, dtype=float)
    ideal = _ideal(graph, k) if ideal is None else np.asarray(ideal, dtype=float)
    gap = GAP / float(tol.max())  # one point, in units of tolerance
    # 1. candidates up to the plan's level; when too many, at lower levels (a bound there)
    for level in dict.fromkeys([upper, max(upper - gap, 1.0), 1.0]):
        if level > upper:
            continue
        listed = _list(graph, ideal, tol, level, groups, max_candidates, max_visits)
        if listed is not None:
            break
    else:
        return None
    cover = _cover(graph.n, *listed)
    dev = _set_deviation(graph, ideal, tol, cover)
    deadline = t0 + time_limit
    # 2. the smallest largest deviation, a bound within the gap first
    pop = (np.ascontiguousarray(graph.values[:, 0], dtype=float), float(ideal[0]), float(tol[0]))
    best, bound = _min_max_level(cover, k, dev, pop, level, upper, gap, deadline)
    if best is None:
        return ExactResult(None, np.inf, bound, False, cover.shape[1], time.monotonic() - t0)
    scale = float(dev[best].max())
    optimal = bound >= scale - 1e-12
    # 3. at that deviation, the fewest moved people (from a plan), then the fewest cut edges
    cut = _set_cut(graph, cover)
    second = cut.astype(float)
    if old_labels is not None:
        second = _set_moved(graph, cover, old_labels) * (cut.sum() + 1.0) + second
    end = max(deadline, time.monotonic() + SECOND_SECONDS)
    status, chosen = _partition(cover, k, np.flatnonzero(dev <= scale + 1e-12), second, end)
    if status == "feasible":
        best = chosen
    labels = np.full(graph.n, -1, dtype=np.int64)
    for d, j in enumerate(best):
        labels[cover[:, j].nonzero()[0]] = d
    return ExactResult(
        labels, scale, min(bound, scale), optimal, cover.shape[1], time.monotonic() - t0
    )


def _min_max_level(
    cover: sparse.csc_matrix,
    k: int,
    dev: np.ndarray,
    pop: tuple[np.ndarray, float, float],
    listed_to: float,
    upper: float,
    gap: float,
    deadline: float,
) -> tuple[np.ndarray | None, float]:
    """Search the sets' deviations for the smallest level a partition reaches.

    A bisection over the levels, each step a feasibility problem of at most
    :data:`PROBE_SECONDS` (or the time left); a step that runs out of time
    counts as "not proven infeasible", so the search still closes in on the
    bound.  The first step is one :data:`GAP` below ``upper``.  Then, time
    permitting, the bound's own level is tried (a plan there is optimal).

    Returns the best partition found (set indices, or ``None``) and the
    proven bound: every level below it is infeasible (``listed_to`` when
    nothing listed makes a plan, since every plan then exceeds it).
    """
    levels = np.unique(dev)
    if len(levels) == 0:
        return None, float(listed_to)
    lo, hi = 0, len(levels) - 1  # levels[:lo] proven infeasible
    best: np.ndarray | None = None
    first = int(np.searchsorted(levels, min(upper, levels[-1]) - gap, side="right")) - 1
    while lo <= hi:
        mid = first if 0 <= first < hi else (lo + hi) // 2
        first = -1
        status, chosen = _probe(cover, k, dev, pop, levels[mid], deadline)
        if status == "feasible":
            best = chosen
            hi = int(np.searchsorted(levels, dev[chosen].max())) - 1
        elif status == "infeasible":
            lo = mid + 1
        elif time.monotonic() < deadline:  # this step ran out of time: look lower
            hi = mid - 1
        else:
            break
    if lo >= len(levels):  # nothing listed makes a plan: every plan exceeds the listed level
        return best, float(listed_to)
    reached = np.inf if best is None else float(dev[best].max())
    if reached > levels[lo] and time.monotonic() < deadline:  # the bound's level itself
        status, chosen = _probe(cover, k, dev, pop, levels[lo], deadline, seconds=np.inf)
        if status == "feasible":
            best = chosen
        elif status == "infeasible" and lo + 1 < len(levels):
            lo += 1
    return best, float(levels[lo])


def _probe(
    cover: sparse.csc_matrix,
    k: int,
    dev: np.ndarray,
    pop: tuple[np.ndarray, float, float],
    level: float,
    deadline: float,
    seconds: float | None = None,
) -> tuple[str, np.ndarray]:
    """Whether the sets within ``level`` partition the grids (a time-capped MILP)."""
    cols = np.flatnonzero(dev <= level)
    found = _search_cover(cover, k, cols, pop, level)
    if found is not None:
        return "feasible", found
    cap = PROBE_SECONDS if seconds is None else seconds
    end = min(deadline, time.monotonic() + cap)
    return _partition(cover, k, cols, dev**2, end, gap=0.5)


def _search_cover(
    cover: sparse.csc_matrix,
    k: int,
    cols: np.ndarray,
    pop: tuple[np.ndarray, float, float],
    level: float,
) -> np.ndarray | None:
    """A partition by the sets ``cols`` found by depth-first search, or ``None``."""
    from gis._enumerate import exact_cover

    values, ideal, tol = pop
    sub = cover[:, cols]
    by_grid = sub.tocsr()
    chosen, status = exact_cover(
        sub.indices.astype(np.int64),
        sub.indptr.astype(np.int64),
        by_grid.indices.astype(np.int64),
        by_grid.indptr.astype(np.int64),
        values,
        k,
        ideal * (1 - level * tol) * (1 - 1e-12),
        ideal * (1 + level * tol) * (1 + 1e-12),
        SEARCH_NODES,
    )
    return cols[chosen[:k]] if status == 1 else None


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


def _set_deviation(
    graph: GridGraph, ideal: np.ndarray, tol: np.ndarray, cover: sparse.csc_matrix
) -> np.ndarray:
    """Largest |deviation| / tolerance of each set over the balanced quantities."""
    vals = graph.values[:, : graph.n_balanced]
    active = ideal > 0
    totals = cover.T @ vals[:, active]
    return (np.abs(totals / ideal[active] - 1.0) / np.asarray(tol)[active]).max(axis=1)


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
