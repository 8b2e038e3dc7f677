"""Balancing several quantities at once: boundary moves chosen together by a MILP.

One grid at a time, a local search stalls when two quantities pull apart: a
district over on population but under on workload needs grids rich in
workload and poor in people, and any single move that helps one quantity
hurts the other.  Here all boundary moves are weighed at once: a MILP
(HiGHS through :func:`scipy.optimize.milp`) picks, among every move of a
boundary grid into a neighbouring district, the set that brings every
district closest to its tolerances, moving as little as possible.  Moves
are then made one by one, each only if its district stays contiguous and
the grid still touches the district it joins; moves that cannot be made
are left out of the next round.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint

from gis.groups import FREE, Groups
from gis.plan import PlanState
from gis.solver import milp

#: Rounds of (solve, apply) at most per call.
ROUNDS = 6
#: Weight of the worst excess against the sum of excesses.
WORST_WEIGHT = 10.0
#: Branch-and-bound nodes one MILP solve may take: a count, not seconds, so that the plan
#: does not depend on the machine's load (the caller's deadline still caps the solve).
SOLVE_NODES = 200
#: Cost of one move, in units of tolerance (keeps the change small).
MOVE_COST = 1e-3


def transfer_balance(
    state: PlanState,
    tol: np.ndarray,
    *,
    groups: Groups = FREE,
    deadline: float | None = None,
    rounds: int = ROUNDS,
) -> int:
    """Move boundary grids chosen jointly so every quantity nears its tolerance.

    Parameters
    ----------
    state
        The plan, changed in place.
    tol
        Tolerance per balanced quantity.
    groups
        Groups of grids and districts; with nesting, no move leaves its group.
    deadline
        ``time.monotonic()`` value at which to stop.
    rounds
        Rounds of solving and applying at most.

    Returns
    -------
    int
        Number of grids moved.
    """
    g = state.graph
    nb = g.n_balanced
    tol = np.asarray(tol, dtype=float)
    ideal = np.where(state.ideal[:nb] > 0, state.ideal[:nb], 1.0)
    v = g.values[:, :nb] / (ideal * tol)  # value of each grid in units of tolerance
    src, dst = g.edges()
    banned: set[tuple[int, int]] = set()
    moved = 0
    for _ in range(rounds):
        x = state.deviations()[:, :nb] / tol
        if np.abs(x).max() <= 1.0 + 1e-9:
            break
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left < 0.2:
            break
        lab = state.labels
        cross = lab[src] != lab[dst]
        key = np.unique(src[cross] * state.k + lab[dst[cross]])
        i, b = np.divmod(key, state.k)
        keep = np.array([(int(p), int(q)) not in banned for p, q in zip(i, b, strict=True)], bool)
        keep &= groups.allowed(i, b)
        i, b = i[keep], b[keep]
        safe = {int(p): state.keeps_contiguous([int(p)]) for p in np.unique(i)}
        keep = np.fromiter((safe[int(p)] for p in i), bool, len(i))
        i, b = i[keep], b[keep]
        if len(i) == 0:
            break
        chosen = _choose(x, v, lab[i], i, b, state.k, graph_edges=(src, dst), limit=left)
        if chosen is None or len(chosen) == 0:
            break
        applied = 0
        # grids leaving the worst districts first, each move checked against the live plan
        for m in chosen[np.argsort(-np.abs(x[lab[i[chosen]]]).max(axis=1), kind="stable")]:
            gi, to = int(i[m]), int(b[m])
            if to in state.neighbour_districts(gi) and state.keeps_contiguous([gi]):
                state.move_index(gi, to)
                applied += 1
            else:
                banned.add((gi, to))
        moved += applied
        if applied == 0:
            break
    return moved


def _choose(
    x: np.ndarray,
    v: np.ndarray,
    a: np.ndarray,
    i: np.ndarray,
    b: np.ndarray,
    k: int,
    *,
    graph_edges: tuple[np.ndarray, np.ndarray],
    limit: float | None,
) -> np.ndarray | None:
    """Indices of the candidate moves (``i``: ``a`` → ``b``) the MILP picks.

    Variables: one binary per move, one excess ``e ≥ 0`` per district and
    quantity, and the worst excess ``w``.  For each district ``d`` and
    quantity ``q``: ``-1 - e ≤ x_dq + Σ_in v - Σ_out v ≤ 1 + e``, and
    ``e ≤ w``; each grid moves at most once, and no two neighbouring
    grids move in the same round (so a moving grid still touches the
    district it joins, and districts rarely lose their links).  Minimise
    ``WORST_WEIGHT·w + Σ e + MOVE_COST·moves``.
    """
    m, q = len(i), x.shape[1]
    n_e = k * q
    # district-change matrix: flow[d, move] = +1 into d, -1 out of d
    rows = np.r_[b, a]
    cols = np.r_[np.arange(m), np.arange(m)]
    signs = np.r_[np.ones(m), -np.ones(m)]
    flow = sparse.csr_matrix((signs, (rows, cols)), shape=(k, m))
    blocks = []
    for qi in range(q):
        blocks.append(flow.multiply(v[i, qi][None, :]).tocsr())
    change = sparse.vstack(blocks).tocsr()  # (k*q) x m, row = qi * k + d
    eye = sparse.identity(n_e, format="csr")
    zero_w = sparse.csr_matrix((n_e, 1))
    xs = x.T.ravel()  # qi * k + d
    upper = sparse.hstack([change, -eye, zero_w])  # x + change - e <= 1
    lower = sparse.hstack([change, eye, zero_w])  # x + change + e >= -1
    worst = sparse.hstack([sparse.csr_matrix((n_e, m)), eye, -np.ones((n_e, 1))])
    grids, once = np.unique(i, return_inverse=True)
    per_grid = sparse.csr_matrix(
        (np.ones(m), (once, np.arange(m))), shape=(len(grids), m + n_e + 1)
    )
    # neighbouring moving grids exclude each other: y_g + y_h <= 1 summed per grid
    src, dst = graph_edges
    pos = np.full(int(max(src.max(), dst.max())) + 1, -1)
    pos[grids] = np.arange(len(grids))
    pair = (pos[src] >= 0) & (pos[dst] >= 0) & (src < dst)
    ga, gb = pos[src[pair]], pos[dst[pair]]
    n_pairs = len(ga)
    grid_moves = per_grid[:, :m].tocsr()
    conflict = sparse.hstack(
        [
            sparse.csr_matrix(
                (
                    np.ones(2 * n_pairs),
                    (np.r_[np.arange(n_pairs), np.arange(n_pairs)], np.r_[ga, gb]),
                ),
                shape=(n_pairs, len(grids)),
            )
            @ grid_moves,
            sparse.csr_matrix((n_pairs, n_e + 1)),
        ]
    )
    cons = [
        LinearConstraint(conflict, -np.inf, 1.0),
        LinearConstraint(upper, -np.inf, 1.0 - xs),
        LinearConstraint(lower, -1.0 - xs, np.inf),
        LinearConstraint(worst, -np.inf, 0.0),
        LinearConstraint(per_grid, 0.0, 1.0),
    ]
    cost = np.r_[np.full(m, MOVE_COST), np.ones(n_e), WORST_WEIGHT]
    integrality = np.r_[np.ones(m), np.zeros(n_e + 1)]
    bounds = Bounds(np.zeros(m + n_e + 1), np.r_[np.ones(m), np.full(n_e + 1, np.inf)])
    options: dict[str, float | bool] = {
        "disp": False,
        "mip_rel_gap": 0.02,
        "node_limit": SOLVE_NODES,
    }
    if limit is not None:
        options["time_limit"] = max(0.1, limit)
    res = milp(cost, constraints=cons, integrality=integrality, bounds=bounds, options=options)
    if res.x is None:
        return None
    return np.flatnonzero(res.x[:m] > 0.5)
