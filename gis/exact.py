"""Exact districting for coarse grids: every candidate district, then set partitioning.

When districts hold only a few grids each, the grids themselves limit how
well populations can balance, and a local search cannot tell whether its
plan is the best one possible.  Here every connected set of grids whose
deviation stays within a bound ``upper`` (the local search's plan gives it)
is listed, and a MILP (HiGHS through :func:`scipy.optimize.milp`) picks
``k`` disjoint sets covering every grid:

1. minimise the largest deviation (in units of each quantity's tolerance):
   because every connected district within ``upper`` is a candidate, the
   optimum is the best achievable deviation of *any* contiguous plan, and
   the solver's dual bound is a proven lower bound when time runs out;
2. at that deviation, minimise the cut edges (or, redrawing an old plan,
   the population that changes district, then the cut edges).

Listing stops at ``max_candidates`` sets, so the method applies to coarse
grid sets only (a few grids per district); :func:`solve_exact` returns
``None`` when the list would be longer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gis.plan import GridGraph

#: Connected sets listed at most (candidates within the bound).
MAX_CANDIDATES = 150_000
#: Search steps of the listing at most (sets visited, inside or outside the bound).
MAX_VISITS = 400_000
#: Grids per district (on average) above which the listing is not tried at all.
MAX_GRIDS_PER_DISTRICT = 10.0


@dataclass
class ExactResult:
    """What :func:`solve_exact` found.

    Attributes
    ----------
    labels
        District index (``0 .. k-1``) per grid of the best plan found, or
        ``None`` when the solver found none within its time.
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
    """Every connected set of grids within ``upper`` × tolerance of the ideal.

    Sets are listed once each by the ESU scheme (each set is grown from its
    lowest-numbered grid, adding only neighbours not adjacent to the set
    before), pruned as soon as a quantity exceeds its upper limit (the
    quantities are not negative, so no superset can come back).

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
    nb = graph.n_balanced
    vals = graph.values[:, :nb]
    ideal = vals.sum(axis=0) / k
    active = ideal > 0
    if not active.any():
        return None
    vals = vals[:, active]
    ideal, tol = ideal[active], np.asarray(tol, dtype=float)[active]
    hi = (ideal * (1.0 + upper * tol) * (1 + 1e-12)).tolist()
    lo = (ideal * (1.0 - upper * tol) * (1 - 1e-12)).tolist()
    q = len(hi)
    v = vals.tolist()
    nbrs = graph.neighbour_lists()
    if groups is not None:
        nbrs = [[u for u in nb_i if groups[u] == groups[i]] for i, nb_i in enumerate(nbrs)]
    masks = [sum(1 << u for u in nb_i) for nb_i in nbrs]
    found: list[int] = []
    visits = 0

    class _TooManyError(Exception):
        pass

    def grow(s: int, closed: int, ext: list[int], tot: list[float], root: int) -> None:
        nonlocal visits
        visits += 1
        if visits > max_visits:
            raise _TooManyError
        if all(tot[j] >= lo[j] for j in range(q)):
            found.append(s)
            if len(found) > max_candidates:
                raise _TooManyError
        ext = list(ext)
        while ext:
            w = ext.pop()
            vw = v[w]
            nt = [tot[j] + vw[j] for j in range(q)]
            if any(nt[j] > hi[j] for j in range(q)):
                continue
            new = [u for u in nbrs[w] if u > root and not (closed >> u) & 1]
            grow(s | (1 << w), closed | masks[w], ext + new, nt, root)

    try:
        for r in range(graph.n):
            if any(v[r][j] > hi[j] for j in range(q)):
                continue
            grow(1 << r, (1 << r) | masks[r], [u for u in nbrs[r] if u > r], list(v[r]), r)
    except (_TooManyError, RecursionError):  # too many sets, or sets too large to grow
        return None
    return found


def solve_exact(
    graph: GridGraph,
    k: int,
    tol: np.ndarray,
    upper: float,
    *,
    groups: np.ndarray | None = None,
    old_labels: np.ndarray | None = None,
    time_limit: float = 20.0,
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
        Seconds for the two MILP solves together.
    max_candidates, max_visits
        Limits of the listing (see :func:`candidate_districts`).

    Returns
    -------
    ExactResult or None
        ``None`` when the candidates are too many to list (grids too fine
        for this method: more than :data:`MAX_GRIDS_PER_DISTRICT` per
        district, or past the listing's limits).
    """
    t0 = time.monotonic()
    if graph.n > MAX_GRIDS_PER_DISTRICT * k:
        return None
    sets = candidate_districts(
        graph,
        k,
        tol,
        upper,
        groups=groups,
        max_candidates=max_candidates,
        max_visits=max_visits,
    )
    if sets is None:
        return None
    n, m = graph.n, len(sets)
    member_rows, member_cols = _members(sets)
    cover = sparse.csc_matrix((np.ones(len(member_rows)), (member_rows, member_cols)), shape=(n, m))
    dev = _set_deviation(graph, k, tol, cover)
    cut = _set_cut(graph, cover)
    deadline = t0 + time_limit
    # 1. the smallest largest deviation: bisection over the sets' deviations,
    #    each step a set-partitioning feasibility problem
    levels = np.unique(dev)
    lo, hi = 0, len(levels) - 1
    best: np.ndarray | None = None
    while lo < hi or best is None:
        mid = (lo + hi) // 2
        status, chosen = _partition(
            cover, k, np.flatnonzero(dev <= levels[mid]), dev**2, deadline, gap=0.5
        )
        if status == "feasible":
            best = chosen
            hi = int(np.searchsorted(levels, dev[chosen].max()))
            if lo >= hi:
                break
        elif status == "infeasible":
            lo = mid + 1
            if lo > hi:  # nothing listed makes a plan (upper was below every plan)
                break
        else:  # out of time: what is proven so far
            break
    bound = float(levels[min(lo, len(levels) - 1)]) if lo < len(levels) else float(upper)
    if best is None:
        return ExactResult(None, np.inf, bound, False, m, time.monotonic() - t0)
    scale = float(dev[best].max())
    optimal = bound >= scale - 1e-12
    # 2. at that deviation, the fewest moved people (from a plan), then the fewest cut edges
    second = cut.astype(float)
    if old_labels is not None:
        second = _set_moved(graph, cover, old_labels) * (cut.sum() + 1.0) + second
    status, chosen = _partition(
        cover, k, np.flatnonzero(dev <= scale + 1e-12), second, deadline + 0.5 * time_limit
    )
    if status == "feasible":
        best = chosen
    labels = np.full(n, -1, dtype=np.int64)
    for d, j in enumerate(best):
        labels[cover[:, j].nonzero()[0]] = d
    return ExactResult(labels, scale, min(bound, scale), optimal, m, time.monotonic() - t0)


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
    res = milp(
        np.zeros(len(cols)) if cost is None else cost[cols],
        constraints=[
            LinearConstraint(cover[:, cols], 1, 1),
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


def _members(sets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rows: list[int] = []
    cols: list[int] = []
    for j, s in enumerate(sets):
        while s:
            low = s & -s
            rows.append(low.bit_length() - 1)
            cols.append(j)
            s ^= low
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def _set_deviation(
    graph: GridGraph, k: int, tol: np.ndarray, cover: sparse.csr_matrix
) -> np.ndarray:
    """Largest |deviation| / tolerance of each set over the balanced quantities."""
    nb = graph.n_balanced
    vals = graph.values[:, :nb]
    ideal = vals.sum(axis=0) / k
    active = ideal > 0
    totals = cover.T @ vals[:, active]
    return (np.abs(totals / ideal[active] - 1.0) / np.asarray(tol)[active]).max(axis=1)


def _set_cut(graph: GridGraph, cover: sparse.csr_matrix) -> np.ndarray:
    """Edges leaving each set (each counted once per side, so a plan's sum is twice its cut)."""
    adj = sparse.csr_matrix(
        (np.ones(len(graph.indices)), graph.indices, graph.indptr), shape=(graph.n, graph.n)
    )
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inside = np.asarray(cover.multiply(adj @ cover).sum(axis=0)).ravel()
    return (cover.T @ degree) - inside


def _set_moved(graph: GridGraph, cover: sparse.csr_matrix, old_labels: np.ndarray) -> np.ndarray:
    """Population of each set outside the old district it draws most population from."""
    pop = graph.values[:, 0]
    old = sparse.csr_matrix(
        (pop, (np.arange(graph.n), old_labels)), shape=(graph.n, int(old_labels.max()) + 1)
    )
    per_old = (cover.T @ old).toarray()
    return per_old.sum(axis=1) - per_old.max(axis=1)
