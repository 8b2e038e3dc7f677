"""Plans grown district by district: an exact search for k connected districts within bounds.

The search behind :mod:`gis.exact` on coarse grids (compiled with numba,
cached on disk).  It chooses the districts one at a time.  The next district
holds the *pivot*, the uncovered grid with the fewest uncovered neighbours
(a grid on the edge of what is left, so what is left stays whole); its
candidates are the connected sets of uncovered grids that hold the pivot and
whose quantities lie within the bounds, listed lazily by the ESU scheme
(Wernicke 2006) in chunks, each chunk most compact first (fewest edges
leaving the set per grid).  A branch is cut when

- a part of the uncovered grids (a connected component) cannot make a whole
  number of districts within the bounds, or the parts together cannot make
  the districts left; or
- the uncovered grids already failed in another branch (a hash table of
  failed remainders).

Every plan is reachable (its district holding the pivot is a candidate), so
an exhausted search proves that no plan within the bounds exists: the lower
bound :mod:`gis.exact` reports.  The search is resumable: :meth:`GrowSearch.run`
advances it a budget of steps at a time and checks the clock in between.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

#: Candidate districts listed at a time for one choice (then sorted, most compact first).
CHUNK = 4096
#: Search steps per call of the compiled loop between two looks at the clock.
STEPS_PER_CALL = 2_000
#: Failed remainders remembered at most (slots of the hash table; half are filled at most).
MEMO_SLOTS = 1 << 20

FOUND, NONE, RUNNING = 1, 0, -1


class GrowSearch:
    """A resumable search for ``k`` connected districts with every total in ``[lo, hi]``.

    Parameters
    ----------
    indptr, indices
        CSR neighbour lists of the grids.
    values
        ``(n, q)`` non-negative quantities per grid.
    k
        Number of districts.
    lo, hi
        Bounds per quantity of every district's total.
    chunk
        Candidate districts listed at a time for one choice.
    """

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        values: np.ndarray,
        k: int,
        lo: np.ndarray,
        hi: np.ndarray,
        *,
        chunk: int = CHUNK,
    ) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int64)
        self.values = np.ascontiguousarray(values, dtype=np.float64).reshape(len(indptr) - 1, -1)
        self.lo = np.ascontiguousarray(lo, dtype=np.float64)
        self.hi = np.ascontiguousarray(hi, dtype=np.float64)
        self.k = int(k)
        n = len(self.values)
        words = (n + 63) // 64
        depth = _largest_set(self.values, self.hi) + 2  # ESU levels: grids in a set, plus one
        self.covered = np.zeros((k + 1, words), dtype=np.uint64)
        self.e_cov = np.zeros((k, n), dtype=np.int32)
        self.e_chosen = np.zeros((k, depth), dtype=np.int64)
        self.e_ext = np.zeros((k, depth, n), dtype=np.int32)
        self.e_len = np.zeros((k, depth), dtype=np.int64)
        self.e_tot = np.zeros((k, depth, self.values.shape[1]))
        self.e_top = np.full(k, -1, dtype=np.int64)
        self.e_fresh = np.zeros(k, dtype=np.bool_)
        self.a_mask = np.zeros((k, chunk, words), dtype=np.uint64)
        self.a_key = np.zeros((k, chunk))
        self.a_pos = np.zeros(k, dtype=np.int64)
        self.a_end = np.zeros(k, dtype=np.int64)
        self.m_words = np.zeros((MEMO_SLOTS, words), dtype=np.uint64)
        self.m_depth = np.full(MEMO_SLOTS, -1, dtype=np.int64)
        self.labels = np.full(n, -1, dtype=np.int64)
        self.ctl = np.zeros(4, dtype=np.int64)  # depth, steps, memo filled, status
        self.ctl[3] = RUNNING
        if n == 0 or k < 1 or k > n or (self.values > self.hi).any():
            self.ctl[3] = NONE  # a grid alone is over the bound: no district can hold it
        else:
            _start(self._arrays())

    @property
    def steps(self) -> int:
        """Search steps (candidate districts tried) so far."""
        return int(self.ctl[1])

    def run(self, deadline: float) -> str:
        """Advance until a plan is found, none can exist, or the clock passes ``deadline``.

        Returns
        -------
        str
            ``"found"`` (the plan is in :attr:`labels`), ``"none"`` (proven:
            no plan within the bounds) or ``"unknown"`` (out of time; call
            again to resume).
        """
        while self.ctl[3] == RUNNING and time.monotonic() < deadline:
            _advance(self._arrays(), STEPS_PER_CALL)
        return {FOUND: "found", NONE: "none"}.get(int(self.ctl[3]), "unknown")

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.indptr,
            self.indices,
            self.values,
            self.lo,
            self.hi,
            self.covered,
            self.e_cov,
            self.e_chosen,
            self.e_ext,
            self.e_len,
            self.e_tot,
            self.e_top,
            self.a_mask,
            self.a_key,
            self.a_pos,
            self.a_end,
            self.m_words,
            self.m_depth,
            self.labels,
            self.ctl,
            self.e_fresh,
        )


def _largest_set(values: np.ndarray, hi: np.ndarray) -> int:
    """Most grids a district within ``hi`` can hold (the smallest grids, added up)."""
    most = len(values)
    for j in range(values.shape[1]):
        fits = np.searchsorted(np.cumsum(np.sort(values[:, j])), hi[j] * (1 + 1e-12), side="right")
        most = min(most, int(fits))
    return max(most, 1)


def warm_up() -> None:
    """Compile (or load from the cache) the search before any time is counted."""
    indptr = np.array([0, 1, 2], dtype=np.int64)
    search = GrowSearch(indptr, np.array([1, 0]), np.ones((2, 1)), 2, np.ones(1), np.ones(1))
    search.run(time.monotonic() + 60.0)


# --------------------------------------------------------------------------- compiled core
@njit(cache=True)
def _has(words: np.ndarray, i: int) -> bool:
    return bool((words[i >> 6] >> np.uint64(i & 63)) & np.uint64(1))


@njit(cache=True)
def _start(a: tuple[np.ndarray, ...]) -> None:
    """Depth 0: check the whole area, then list the first district's candidates."""
    indptr, indices, values, lo, hi, covered = a[0], a[1], a[2], a[3], a[4], a[5]
    ctl = a[19]
    k = a[11].shape[0]
    if not _parts_fit(covered[0], indptr, indices, values, lo, hi, k):
        ctl[3] = NONE
        return
    _open(a, 0)


@njit(cache=True)
def _open(a: tuple[np.ndarray, ...], d: int) -> None:
    """Start listing the candidates of district ``d`` (the pivot's sets)."""
    indptr, indices, values, covered = a[0], a[1], a[2], a[5]
    e_cov, e_chosen, e_ext, e_len, e_tot, e_top = a[6], a[7], a[8], a[9], a[10], a[11]
    a_pos, a_end = a[14], a[15]
    n = len(values)
    root = _pivot(covered[d], indptr, indices, n)
    e_cov[d, :] = 0
    e_chosen[d, 0] = root
    e_tot[d, 0, :] = values[root]
    e_cov[d, root] += 1
    e_len[d, 0] = 0
    for p in range(indptr[root], indptr[root + 1]):
        u = indices[p]
        e_cov[d, u] += 1
        if not _has(covered[d], u):
            e_ext[d, 0, e_len[d, 0]] = u
            e_len[d, 0] += 1
    e_top[d] = 0
    a[20][d] = True  # the pivot alone is the first set to consider
    a_pos[d] = 0
    a_end[d] = 0


@njit(cache=True)
def _pivot(covered: np.ndarray, indptr: np.ndarray, indices: np.ndarray, n: int) -> int:
    """The uncovered grid with the fewest uncovered neighbours (lowest index on ties)."""
    best, best_count = -1, 1 << 30
    for i in range(n):
        if _has(covered, i):
            continue
        count = 0
        for p in range(indptr[i], indptr[i + 1]):
            if not _has(covered, indices[p]):
                count += 1
        if count < best_count:
            best, best_count = i, count
    return best


@njit(cache=True)
def _within(tot: np.ndarray, lo: np.ndarray) -> bool:
    inside = True
    for j in range(len(lo)):
        inside = inside and tot[j] >= lo[j]
    return inside


@njit(cache=True)
def _fill(a: tuple[np.ndarray, ...], d: int) -> int:  # noqa: C901, PLR0915
    """Advance district ``d``'s ESU listing by up to one chunk; sort the chunk; its size."""
    indptr, indices, values, lo, hi, covered = a[0], a[1], a[2], a[3], a[4], a[5]
    e_cov, e_chosen, e_ext, e_len, e_tot, e_top = a[6], a[7], a[8], a[9], a[10], a[11]
    a_mask, a_key = a[12], a[13]
    cap = a_mask.shape[1]
    words = a_mask.shape[2]
    q = len(lo)
    root = e_chosen[d, 0]
    count = 0
    e_fresh = a[20]
    fresh = e_fresh[d]
    top = e_top[d]
    while top >= 0 and count < cap:
        if fresh:
            fresh = False
            if _within(e_tot[d, top], lo):
                for w in range(words):
                    a_mask[d, count, w] = 0
                leaving = 0
                for t in range(top + 1):
                    v = e_chosen[d, t]
                    a_mask[d, count, v >> 6] |= np.uint64(1) << np.uint64(v & 63)
                    leaving += (indptr[v + 1] - indptr[v]) - (e_cov[d, v] - 1)
                a_key[d, count] = leaving / (top + 1.0)
                count += 1
                continue
        if e_len[d, top] == 0:  # nothing left to add: back up one grid
            w_ = e_chosen[d, top]
            e_cov[d, w_] -= 1
            for p in range(indptr[w_], indptr[w_ + 1]):
                e_cov[d, indices[p]] -= 1
            top -= 1
            continue
        e_len[d, top] -= 1
        w_ = e_ext[d, top, e_len[d, top]]
        over = False
        for j in range(q):
            if e_tot[d, top, j] + values[w_, j] > hi[j]:
                over = True
        if over:
            continue
        nt = top + 1
        e_len[d, nt] = e_len[d, top]
        for e in range(e_len[d, top]):
            e_ext[d, nt, e] = e_ext[d, top, e]
        for p in range(indptr[w_], indptr[w_ + 1]):
            u = indices[p]
            if u != root and e_cov[d, u] == 0 and not _has(covered[d], u):
                e_ext[d, nt, e_len[d, nt]] = u
                e_len[d, nt] += 1
        e_cov[d, w_] += 1
        for p in range(indptr[w_], indptr[w_ + 1]):
            e_cov[d, indices[p]] += 1
        for j in range(q):
            e_tot[d, nt, j] = e_tot[d, top, j] + values[w_, j]
        e_chosen[d, nt] = w_
        top = nt
        fresh = True
    e_top[d] = top
    e_fresh[d] = fresh
    if count > 1:
        order = np.argsort(a_key[d, :count], kind="mergesort")
        a_mask[d, :count] = a_mask[d, :count][order]
    return count


@njit(cache=True)
def _parts_fit(
    covered: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    left: int,
) -> bool:
    """Whether the uncovered grids can make ``left`` districts: each part a whole number of them."""
    n, q = values.shape
    seen = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int64)
    tot = np.zeros(q)
    fewest, most = 0, 0
    for s in range(n):
        if seen[s] or _has(covered, s):
            continue
        seen[s] = True
        stack[0] = s
        size = 1
        tot[:] = 0.0
        while size > 0:
            size -= 1
            v = stack[size]
            for j in range(q):
                tot[j] += values[v, j]
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                if not seen[u] and not _has(covered, u):
                    seen[u] = True
                    stack[size] = u
                    size += 1
        low, high = 1, left
        for j in range(q):
            low = max(low, int(np.ceil(tot[j] / hi[j] - 1e-12)))
            if lo[j] > 0:
                high = min(high, int(np.floor(tot[j] / lo[j] + 1e-12)))
        if low > high:
            return False
        fewest += low
        most += high
        if fewest > left:
            return False
    return fewest <= left <= most


@njit(cache=True)
def _memo(m_words: np.ndarray, m_depth: np.ndarray, words: np.ndarray, d: int, add: bool) -> bool:
    """Whether (``words``, ``d``) is in the table of failed remainders; add it when ``add``."""
    h = np.uint64(1469598103934665603) ^ np.uint64(d)
    for w in range(len(words)):
        h = (h ^ words[w]) * np.uint64(1099511628211)
        h ^= h >> np.uint64(29)
    mask = np.uint64(len(m_depth) - 1)
    slot = h & mask
    while m_depth[slot] >= 0:
        same = m_depth[slot] == d
        if same:
            for w in range(len(words)):
                if m_words[slot, w] != words[w]:
                    same = False
                    break
        if same:
            return True
        slot = (slot + np.uint64(1)) & mask
    if add:
        m_depth[slot] = d
        m_words[slot, :] = words
    return False


@njit(cache=True)
def _advance(a: tuple[np.ndarray, ...], budget: int) -> None:  # noqa: C901, PLR0915
    """Run the search for up to ``budget`` steps (state in ``a``, see :class:`GrowSearch`)."""
    indptr, indices, values, lo, hi, covered = a[0], a[1], a[2], a[3], a[4], a[5]
    e_top, a_mask, a_pos, a_end = a[11], a[12], a[14], a[15]
    m_words, m_depth, labels, ctl = a[16], a[17], a[18], a[19]
    k = e_top.shape[0]
    n = len(values)
    words = covered.shape[1]
    depth, steps, filled = ctl[0], ctl[1], ctl[2]
    stop = steps + budget
    while steps < stop:
        d = depth
        if a_pos[d] >= a_end[d]:
            if e_top[d] >= 0:  # the next chunk of candidates
                a_end[d] = _fill(a, d)
                a_pos[d] = 0
                continue
            if d > 0 and 2 * filled < len(m_depth):  # this remainder cannot be completed
                _memo(m_words, m_depth, covered[d], d, True)
                filled += 1
            depth -= 1
            if depth < 0:
                ctl[3] = NONE
                break
            continue
        s = a_pos[d]
        a_pos[d] += 1
        steps += 1
        for w in range(words):
            covered[d + 1, w] = covered[d, w] | a_mask[d, s, w]
        left = k - d - 1
        if left == 0:  # k = 1: the set must be every grid
            whole = True
            for i in range(n):
                if not _has(covered[1], i):
                    whole = False
            if whole:
                labels[:] = 0
                ctl[3] = FOUND
                break
            continue
        if _memo(m_words, m_depth, covered[d + 1], d + 1, False):
            continue
        if not _parts_fit(covered[d + 1], indptr, indices, values, lo, hi, left):
            continue
        if left == 1:  # what is left is one part within the bounds: the last district
            labels[:] = d + 1
            for t in range(d + 1):
                chosen = a_mask[t, a_pos[t] - 1]
                for i in range(n):
                    if _has(chosen, i):
                        labels[i] = t
            ctl[3] = FOUND
            break
        depth = d + 1
        _open(a, depth)
    ctl[0], ctl[1], ctl[2] = depth, steps, filled
