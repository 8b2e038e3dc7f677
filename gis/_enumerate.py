"""Connected sets of grids within population bounds, listed fast (numba).

The listing behind :mod:`gis.exact`: every connected set of a graph whose
quantities stay below ``hi`` (and, to be kept, reach ``lo``), each listed
once by the ESU scheme (Wernicke 2006): a set grows from its lowest-numbered
grid, adding only grids above it that touch the grid just added and no grid
of the set before.  The quantities are not negative, so a set over ``hi``
is not grown further.  Compiled with numba on first use (cached on disk).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def list_sets(  # noqa: C901, PLR0915  (one compiled loop: the ESU listing)
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    max_found: int,
    max_visits: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Members and offsets of every connected set with ``lo ≤ Σ values ≤ hi``.

    Parameters
    ----------
    indptr, indices
        CSR neighbour lists (int64).
    values
        ``(n, q)`` non-negative quantities per vertex (float64).
    lo, hi
        Bounds per quantity.
    max_found, max_visits
        Give up past this many sets kept or visited.

    Returns
    -------
    members, offsets, status
        Set ``j`` is ``members[offsets[j]:offsets[j + 1]]``; ``status`` is the
        number of sets (``-1`` when a limit was reached).
    """
    n, q = values.shape
    depth_cap = n + 1
    members = np.empty(1024, dtype=np.int32)
    offsets = np.zeros(1025, dtype=np.int64)
    n_found = 0
    n_members = 0
    visits = 0
    cover = np.zeros(n, dtype=np.int32)  # members of the set in each vertex's closed neighbourhood
    chosen = np.empty(depth_cap, dtype=np.int64)
    ext = np.empty((depth_cap, n), dtype=np.int64)
    ext_len = np.zeros(depth_cap, dtype=np.int64)
    tot = np.zeros((depth_cap, q))
    for root in range(n):
        over = False
        for j in range(q):
            if values[root, j] > hi[j]:
                over = True
        if over:
            continue
        # depth 0: the set {root}
        depth = 0
        chosen[0] = root
        for j in range(q):
            tot[0, j] = values[root, j]
        cover[root] += 1
        for p in range(indptr[root], indptr[root + 1]):
            cover[indices[p]] += 1
        ext_len[0] = 0
        for p in range(indptr[root], indptr[root + 1]):
            u = indices[p]
            if u > root:
                ext[0, ext_len[0]] = u
                ext_len[0] += 1
        fresh = True
        while depth >= 0:
            if fresh:  # a new set: count, keep when within bounds
                fresh = False
                visits += 1
                if visits > max_visits:
                    return members, offsets, -1
                inside = True
                for j in range(q):
                    if tot[depth, j] < lo[j]:
                        inside = False
                if inside:
                    if n_found + 2 > len(offsets):
                        offsets = _grow_int64(offsets)
                    while n_members + depth + 1 > len(members):
                        members = _grow_int32(members)
                    for d in range(depth + 1):
                        members[n_members + d] = chosen[d]
                    n_members += depth + 1
                    n_found += 1
                    offsets[n_found] = n_members
                    if n_found > max_found:
                        return members, offsets, -1
            if ext_len[depth] == 0:  # nothing left to add: back up one grid
                w = chosen[depth]
                cover[w] -= 1
                for p in range(indptr[w], indptr[w + 1]):
                    cover[indices[p]] -= 1
                depth -= 1
                continue
            ext_len[depth] -= 1
            w = ext[depth, ext_len[depth]]
            over = False
            for j in range(q):
                if tot[depth, j] + values[w, j] > hi[j]:
                    over = True
            if over:
                continue
            # the next set: this one plus w, extended by w's neighbours outside its reach
            nd = depth + 1
            ext_len[nd] = ext_len[depth]
            for e in range(ext_len[depth]):
                ext[nd, e] = ext[depth, e]
            for p in range(indptr[w], indptr[w + 1]):
                u = indices[p]
                if u > root and cover[u] == 0:
                    ext[nd, ext_len[nd]] = u
                    ext_len[nd] += 1
            cover[w] += 1
            for p in range(indptr[w], indptr[w + 1]):
                cover[indices[p]] += 1
            for j in range(q):
                tot[nd, j] = tot[depth, j] + values[w, j]
            chosen[nd] = w
            depth = nd
            fresh = True
    return members, offsets, n_found


@njit(cache=True)
def _grow_int32(a: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(a), dtype=np.int32)
    out[: len(a)] = a
    return out


@njit(cache=True)
def _grow_int64(a: np.ndarray) -> np.ndarray:
    out = np.zeros(2 * len(a), dtype=np.int64)
    out[: len(a)] = a
    return out


@njit(cache=True)
def exact_cover(
    members: np.ndarray,
    offsets: np.ndarray,
    grid_sets: np.ndarray,
    grid_offsets: np.ndarray,
    values: np.ndarray,
    k: int,
    lo: float,
    hi: float,
    max_nodes: int,
) -> tuple[np.ndarray, int]:
    """``k`` disjoint sets covering every grid, by depth-first search (Knuth's Algorithm X).

    Branches on the uncovered grid with the fewest sets still usable, and
    prunes when the population left cannot make the districts left
    (each between ``lo`` and ``hi``).

    Parameters
    ----------
    members, offsets
        The sets (see :func:`list_sets`).
    grid_sets, grid_offsets
        The sets holding each grid (CSR).
    values
        Population per grid.
    k
        Number of sets to choose.
    lo, hi
        Smallest and largest population of a set (for the pruning).
    max_nodes
        Give up past this many branches.

    Returns
    -------
    chosen, status
        The chosen set indices (first ``k``) and ``1`` found, ``0`` none
        exists, ``-1`` gave up.
    """
    n = len(grid_offsets) - 1
    m = len(offsets) - 1
    blocked = np.zeros(m, dtype=np.int32)  # chosen sets overlapping each set
    usable = np.zeros(n, dtype=np.int64)  # unblocked sets holding each grid
    for g in range(n):
        usable[g] = grid_offsets[g + 1] - grid_offsets[g]
    covered = np.zeros(n, dtype=np.bool_)
    chosen = np.empty(k + 1, dtype=np.int64)
    branch = np.zeros(k + 1, dtype=np.int64)  # next option at each depth
    pivot = np.zeros(k + 1, dtype=np.int64)
    left_pop = values.sum()
    nodes = 0
    depth = 0
    pivot[0] = _pick(usable, covered)
    branch[0] = grid_offsets[pivot[0]]
    while depth >= 0:
        g = pivot[depth]
        found_option = False
        while branch[depth] < grid_offsets[g + 1]:
            s = grid_sets[branch[depth]]
            branch[depth] += 1
            if blocked[s] == 0:
                found_option = True
                break
        if not found_option:  # back up: undo the set chosen one level up
            depth -= 1
            if depth >= 0:
                left_pop += _apply(
                    chosen[depth],
                    -1,
                    members,
                    offsets,
                    grid_sets,
                    grid_offsets,
                    blocked,
                    usable,
                    covered,
                    values,
                )
            continue
        nodes += 1
        if nodes > max_nodes:
            return chosen, -1
        chosen[depth] = s
        left_pop -= _apply(
            s, 1, members, offsets, grid_sets, grid_offsets, blocked, usable, covered, values
        )
        rest = k - depth - 1
        if rest == 0:
            if np.all(covered):
                return chosen, 1
        elif rest * lo <= left_pop + 1e-9 and left_pop <= rest * hi + 1e-9:
            nxt = _pick(usable, covered)
            if nxt >= 0 and usable[nxt] > 0:
                depth += 1
                pivot[depth] = nxt
                branch[depth] = grid_offsets[nxt]
                continue
        left_pop += _apply(
            s, -1, members, offsets, grid_sets, grid_offsets, blocked, usable, covered, values
        )
    return chosen, 0


@njit(cache=True)
def _pick(usable: np.ndarray, covered: np.ndarray) -> int:
    best, best_count = -1, 1 << 62
    for g in range(len(usable)):
        if not covered[g] and usable[g] < best_count:
            best, best_count = g, usable[g]
    return best


@njit(cache=True)
def _apply(
    s: int,
    sign: int,
    members: np.ndarray,
    offsets: np.ndarray,
    grid_sets: np.ndarray,
    grid_offsets: np.ndarray,
    blocked: np.ndarray,
    usable: np.ndarray,
    covered: np.ndarray,
    values: np.ndarray,
) -> float:
    """Choose (``sign = 1``) or un-choose (``-1``) set ``s``; returns its population."""
    pop = 0.0
    for p in range(offsets[s], offsets[s + 1]):
        g = members[p]
        pop += values[g]
        covered[g] = sign > 0
        for r in range(grid_offsets[g], grid_offsets[g + 1]):
            t = grid_sets[r]
            if sign > 0:
                if blocked[t] == 0:
                    for p2 in range(offsets[t], offsets[t + 1]):
                        usable[members[p2]] -= 1
                blocked[t] += 1
            else:
                blocked[t] -= 1
                if blocked[t] == 0:
                    for p2 in range(offsets[t], offsets[t + 1]):
                        usable[members[p2]] += 1
    return pop
