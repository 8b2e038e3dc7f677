"""Exact recombination: re-solve a district and its neighbours exactly, keep what is better.

On coarse grids a local search moving one or two grids at a time stalls far
from the best plan: the worst district would need its neighbours re-cut
together.  :func:`recombine` takes the worst district with one or two
neighbouring districts, lists every connected way to re-cut their grids
into as many districts (:func:`gis.exact.solve_exact` on that part, with
the whole plan's ideal) and keeps the best re-cut when it lowers the worst
of them; it repeats until the worst district cannot be improved this way.
Like ReCom (GerryChain), but each step is the best re-cut, not a sample.
"""

from __future__ import annotations

import time
from dataclasses import replace
from itertools import combinations

import numpy as np

from gis.exact import solve_exact
from gis.groups import FREE, Groups
from gis.plan import GridGraph, PlanState
from gis.search import worst_scale

#: Neighbouring districts re-cut with the worst one at most.
MAX_NEIGHBOURS = 2
#: Seconds one re-cut may take.
STEP_SECONDS = 2.0


def recombine(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    deadline: float | None = None,
    max_steps: int = 500,
) -> int:
    """Lower the worst deviation by re-cutting it with its neighbours exactly (in place).

    Parameters
    ----------
    state
        The plan (contiguous), changed in place.
    tol
        Tolerance per balanced quantity.
    groups
        Groups of grids and districts; with hard nesting, re-cuts stay in them.
    deadline
        ``time.monotonic()`` value at which to stop.
    max_steps
        Re-cuts made at most.

    Returns
    -------
    int
        Number of re-cuts made.
    """
    steps = 0
    while steps < max_steps and worst_scale(state, tol) > 1.0 + 1e-9:
        if deadline is not None and time.monotonic() > deadline:
            break
        if _improve_worst(state, tol, groups, deadline):
            steps += 1
            continue
        evened = _even_pairs(state, tol, groups, deadline)
        steps += evened
        if evened == 0:
            break
    return steps


def _even_pairs(state: PlanState, tol: np.ndarray, groups: Groups, deadline: float | None) -> int:
    """One pass of exact re-cuts of neighbouring pairs, most uneven first; how many were made.

    A pair is re-cut when the worse of its two deviations falls, so the
    plan's deviations even out across the district graph (a deficit spreads
    to districts that can absorb it) and the worst district gets new
    neighbours to trade with.
    """
    x = _signed(state, tol)
    src, dst = state.graph.edges()
    lab = state.labels
    pairs = np.unique(np.sort(np.column_stack([lab[src], lab[dst]]), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    order = np.argsort(-np.abs(x[pairs[:, 0]] - x[pairs[:, 1]]), kind="stable")
    made = 0
    for a, b in pairs[order].tolist():
        if deadline is not None and time.monotonic() > deadline:
            break
        if _recut(state, tol, [a, b], groups, deadline):
            made += 1
    return made


def _signed(state: PlanState, tol: np.ndarray) -> np.ndarray:
    """The deviation of largest size per district, signed, in units of tolerance."""
    nb = state.graph.n_balanced
    x = state.deviations()[:, :nb] / tol
    return x[np.arange(len(x)), np.abs(x).argmax(axis=1)]


def _improve_worst(
    state: PlanState, tol: np.ndarray, groups: Groups, deadline: float | None
) -> bool:
    """One re-cut that lowers the worst district's deviation; whether one was found."""
    x = _scales(state, tol)
    worst = int(np.argmax(x))
    neighbours = sorted(_neighbour_districts(state, worst), key=lambda d: (-abs(x[d]), d))
    for size in range(1, MAX_NEIGHBOURS + 1):
        for others in combinations(neighbours, size):
            if deadline is not None and time.monotonic() > deadline:
                return False
            if _recut(state, tol, [worst, *others], groups, deadline):
                return True
    return False


def _recut(
    state: PlanState,
    tol: np.ndarray,
    districts: list[int],
    groups: Groups,
    deadline: float | None,
) -> bool:
    """Re-cut ``districts`` exactly; apply and return True when their worst falls."""
    district_group = groups.district if groups.hard else None
    if district_group is not None and len({int(district_group[d]) for d in districts}) > 1:
        return False
    x = _scales(state, tol)
    current = float(x[districts].max())
    members = np.flatnonzero(np.isin(state.labels, districts))
    sub = subgraph(state.graph, members)
    left = STEP_SECONDS if deadline is None else min(STEP_SECONDS, deadline - time.monotonic())
    if left <= 0:
        return False
    nb = state.graph.n_balanced
    found = solve_exact(
        sub,
        len(districts),
        tol,
        current * (1 + 1e-9),
        ideal=state.ideal[:nb],
        time_limit=left,
        enough=1.0,
    )
    if found is None or found.labels is None or found.scale >= current - 1e-9:
        return False
    for i, d in zip(members, np.asarray(districts)[found.labels], strict=True):
        state.move_index(int(i), int(d))
    return True


def _scales(state: PlanState, tol: np.ndarray) -> np.ndarray:
    nb = state.graph.n_balanced
    return (np.abs(state.deviations()[:, :nb]) / tol).max(axis=1)


def _neighbour_districts(state: PlanState, d: int) -> set[int]:
    src, dst = state.graph.edges()
    lab = state.labels
    touching = (lab[src] == d) & (lab[dst] != d)
    return {int(v) for v in np.unique(lab[dst[touching]])}


def subgraph(graph: GridGraph, members: np.ndarray) -> GridGraph:
    """The grids ``members`` (indices) of ``graph`` and the edges among them."""
    pos = np.full(graph.n, -1, dtype=np.int64)
    pos[members] = np.arange(len(members))
    src, dst = graph.edges()
    keep = (pos[src] >= 0) & (pos[dst] >= 0)
    s, t = pos[src[keep]], pos[dst[keep]]
    order = np.lexsort((t, s))
    s, t, shared = s[order], t[order], graph.shared[keep][order]
    indptr = np.r_[0, np.cumsum(np.bincount(s, minlength=len(members)))].astype(np.int64)
    return replace(
        graph,
        codes=graph.codes[members],
        indptr=indptr,
        indices=t.astype(np.int64),
        shared=shared,
        area=graph.area[members],
        perimeter=graph.perimeter[members],
        values=graph.values[members],
        community=None if graph.community is None else graph.community[members],
    )
