"""Local search over a plan: balance, lower the worst deviation, smooth.

The moves are single boundary grids (vectorised, :class:`_Moves`), swaps of
two grids between neighbouring districts, pairs, and ejection chains that
push population along a path of districts; every move keeps both districts
contiguous and respects the groups (:class:`gis.groups.Groups`).  Deviations
are measured in units of each quantity's tolerance, so ``±1`` is the edge of
the tolerance.  :func:`gis.districting.draw_districts` runs these stages.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import pairwise

import numpy as np

from gis.groups import FREE, Groups
from gis.plan import PlanState

#: Weight of one cut edge against one unit of normalised squared deviation.
CUT_WEIGHT = 0.02
#: Extra weight of squared deviation beyond the tolerance.
PENALTY = 20.0


def _cost(x: np.ndarray) -> np.ndarray:
    """Cost of deviations ``x`` in units of tolerance: squares, much steeper outside ±1."""
    over = np.maximum(np.abs(x) - 1.0, 0.0)
    return x**2 + PENALTY * over**2


def worst_scale(state: PlanState, tol: np.ndarray) -> float:
    """The largest ``|deviation| / tolerance`` over districts and balanced quantities."""
    nb = state.graph.n_balanced
    return float((np.abs(state.deviations()[:, :nb]) / tol).max())


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
    best_score = worst_scale(best, tol)
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
        score = worst_scale(trial, tol)
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
