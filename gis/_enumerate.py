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
