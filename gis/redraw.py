"""Redrawing an old plan with a new number of districts: keep the old ones where balance allows.

The main flow is :func:`redraw`.  At ``keep="most"`` (the default):

1. *Groups.*  The old districts (merged down to ``k`` when there are more).
2. *Seats and transfers.*  A small MILP (HiGHS) gives each old district its
   number of new districts and plans how many people cross each old
   boundary so that every old district holds its seats' share, moving the
   fewest people (:func:`seats_and_transfers`).
3. *Bands.*  Each transfer is made as a band of grids along the old
   boundary (:func:`gis.rebalance.peel_band`), so the old boundaries move
   only where balance needs it.
4. *Pieces.*  Each old district, as adjusted, is split into its seats with
   METIS (compact, contiguous parts of equal population).

``keep="compact"`` ignores the old boundaries and draws the most compact
plan (a fresh one); ``keep="some"`` sits between: one METIS partition of
the whole area in which cutting along an old boundary costs a fraction
(:data:`SOME_WEIGHT`) of cutting elsewhere.  Nesting in communities
(:func:`redraw_nested`): each community is redrawn on its own, from the
pieces of the old districts inside it, into the seats it is given.
:func:`gis.districting.draw_districts` balances and smooths whatever this
module returns, and reports the three levels side by side (moved people
against cut edges and Polsby-Popper), so the planner can choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse import csgraph

from gis._errors import PlanError
from gis.partition import allot_seats, merge_groups, partition_groups, weighted_partition
from gis.plan import GridGraph, PlanState
from gis.rebalance import peel_band
from gis.recombine import subgraph
from gis.solver import milp

#: The trade-off levels, from keeping the old districts most to the most compact plan.
KEEP_LEVELS = ("most", "some", "compact")
#: Weight of an edge on an old boundary against any other edge at ``keep="some"``.
SOME_WEIGHT = 0.3
#: Old districts hold their seats' share within this share of the tolerance after
#: the transfers (the rest is room for splitting into pieces of whole grids).
SEAT_MARGIN = 0.5
#: Extra cost per person of a transfer across an old boundary of ``L`` grid edges:
#: this divided by ``L`` (short boundaries would need deep bulges).
BOUNDARY_COST = 1.0


@dataclass(frozen=True)
class Draft:
    """A first redrawn plan, before balancing.

    Attributes
    ----------
    labels
        District index per grid (``0 .. k-1``).
    groups
        Old district (merged when needed) per grid: where each grid came from.
    district_group
        The old district each new district draws most of its population from.
    seats
        New districts per old district (``keep="most"``), else ``None``.
    """

    labels: np.ndarray
    groups: np.ndarray
    district_group: np.ndarray
    seats: np.ndarray | None


def redraw(
    graph: GridGraph,
    old: PlanState,
    k: int,
    tol: float,
    *,
    keep: str = "most",
    seed: int = 0,
) -> Draft:
    """A first plan of ``k`` districts drawn from the old plan ``old``.

    Parameters
    ----------
    graph
        The grids as numbers.
    old
        The old plan (contiguous) over ``graph``.
    k
        Number of new districts.
    tol
        Tolerance of the first balanced quantity (fraction).
    keep
        ``"most"``, ``"some"`` or ``"compact"`` (see the module docstring).
    seed
        METIS seed.

    Returns
    -------
    Draft
        The new labels, and the old district of each grid and new district.
    """
    if keep not in KEEP_LEVELS:
        raise PlanError(f"unknown keep level {keep!r}: use one of {', '.join(KEEP_LEVELS)}")
    # 1. groups: the old districts, merged down to k
    groups = merge_groups(graph, old.labels.copy(), k)
    if keep == "compact":
        labels = weighted_partition(graph, k, old_boundary=None, seed=seed)
        return _draft(graph, labels, groups, None)
    if keep == "some":
        labels = weighted_partition(graph, k, old_boundary=(groups, SOME_WEIGHT), seed=seed)
        return _draft(graph, labels, groups, None)
    # 2. seats per old district and the people crossing each old boundary
    seats, transfers = seats_and_transfers(graph, groups, k, tol)
    # 3. the transfers as bands along the old boundaries
    adjusted = make_transfers(graph, groups, transfers)
    # 4. each old district, as adjusted, split into its seats
    labels, _ = partition_groups(graph, adjusted, seats, seed=seed)
    return _draft(graph, labels, groups, seats)


def redraw_nested(
    graph: GridGraph,
    old: PlanState,
    communities: np.ndarray,
    seats: np.ndarray,
    tol: float,
    *,
    keep: str = "most",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A redraw that nests in communities: :func:`redraw` inside each one.

    Each community is redrawn on its own into its seats, its old plan being
    the connected pieces of the old districts inside it, so the new districts
    keep the old ones (at the ``keep`` level) as far as the communities allow.

    Parameters
    ----------
    graph
        The grids as numbers.
    old
        The old plan over ``graph`` (it need not nest in the communities).
    communities
        Community per grid (``0 .. c-1``).
    seats
        New districts per community (their sum is the new k).
    tol
        Tolerance of the first balanced quantity (fraction).
    keep
        ``"most"``, ``"some"`` or ``"compact"`` within each community.
    seed
        METIS seed.

    Returns
    -------
    labels, district_community
        District index per grid (``0 .. k-1``, each community's districts
        numbered together), and the community of each district.
    """
    labels = np.zeros(graph.n, dtype=np.int64)
    offset = 0
    for c, s in enumerate(seats):
        members = np.flatnonzero(communities == c)
        if s > 1:
            sub = subgraph(graph, members)
            pieces = _pieces(sub, old.labels[members])
            before = PlanState(sub, pieces, [str(p) for p in range(int(pieces.max()) + 1)])
            labels[members] = offset + redraw(sub, before, int(s), tol, keep=keep, seed=seed).labels
        else:
            labels[members] = offset
        offset += int(s)
    return labels, np.repeat(np.arange(len(seats)), seats)


def _pieces(graph: GridGraph, labels: np.ndarray) -> np.ndarray:
    """The connected pieces of each district of ``labels`` (``0 .. p-1``)."""
    src, dst = graph.edges()
    same = labels[src] == labels[dst]
    inside = sparse.csr_matrix(
        (np.ones(int(same.sum())), (src[same], dst[same])), shape=(graph.n, graph.n)
    )
    return csgraph.connected_components(inside, directed=False)[1].astype(np.int64)


def _draft(
    graph: GridGraph, labels: np.ndarray, groups: np.ndarray, seats: np.ndarray | None
) -> Draft:
    k = int(labels.max()) + 1
    table = np.zeros((k, int(groups.max()) + 1))
    np.add.at(table, (labels, groups), graph.values[:, 0] + 1e-9)
    return Draft(labels, groups, table.argmax(axis=1), seats)


def seats_and_transfers(
    graph: GridGraph, groups: np.ndarray, k: int, tol: float
) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """New districts per group and the transfers between neighbouring groups.

    A MILP: integer seats ``s_g`` (at least one, at most one per grid,
    summing to ``k``) and transfers ``f_gh ≥ 0`` across each shared
    boundary such that every group ends within ``SEAT_MARGIN × tol`` of
    ``s_g`` ideal districts; it minimises the people transferred, each
    costing ``1 + BOUNDARY_COST / L`` (``L`` the boundary in grid edges).

    Returns
    -------
    seats, transfers
        Seats per group, and ``(from, to, people)`` per transfer.
    """
    n_groups = int(groups.max()) + 1
    pop = graph.values[:, 0]
    total = np.bincount(groups, weights=pop, minlength=n_groups)
    cap = np.bincount(groups, minlength=n_groups)
    ideal = float(pop.sum()) / k
    src, dst = graph.edges()
    cross = groups[src] != groups[dst]
    pairs, length = np.unique(
        np.column_stack([groups[src[cross]], groups[dst[cross]]]), axis=0, return_counts=True
    )
    pairs = pairs.reshape(-1, 2)
    m = len(pairs)
    # variables: seats (n_groups), then one transfer per directed pair (m)
    flow_in = sparse.csr_matrix(
        (np.r_[np.ones(m), -np.ones(m)], (np.r_[pairs[:, 1], pairs[:, 0]], np.r_[0:m, 0:m])),
        shape=(n_groups, m),
    )
    band = SEAT_MARGIN * tol * ideal
    seat_cols = sparse.identity(n_groups, format="csr")
    # total + in - out - s * ideal within ±band * s
    upper = sparse.hstack([-(ideal + band) * seat_cols, flow_in])
    lower = sparse.hstack([-(ideal - band) * seat_cols, flow_in])
    count = sparse.hstack([np.ones((1, n_groups)), sparse.csr_matrix((1, m))])
    cost = np.r_[np.zeros(n_groups), 1.0 + BOUNDARY_COST / np.maximum(length, 1)]
    res = milp(
        cost,
        constraints=[
            LinearConstraint(upper, -np.inf, -total),
            LinearConstraint(lower, -total, np.inf),
            LinearConstraint(count, k, k),
        ],
        integrality=np.r_[np.ones(n_groups), np.zeros(m)],
        bounds=Bounds(np.r_[np.ones(n_groups), np.zeros(m)], np.r_[cap, np.full(m, np.inf)]),
        options={"time_limit": 10.0, "disp": False},
    )
    if res.x is None:  # e.g. groups in separate parts of the graph: seats by population only
        return allot_seats(graph, groups, k), []
    seats = np.round(res.x[:n_groups]).astype(np.int64)
    flows = res.x[n_groups:]
    keep = flows > 1e-6 * ideal
    transfers = [
        (int(a), int(b), float(f)) for (a, b), f in zip(pairs[keep], flows[keep], strict=True)
    ]
    return seats, transfers


def make_transfers(
    graph: GridGraph, groups: np.ndarray, transfers: list[tuple[int, int, float]]
) -> np.ndarray:
    """Groups after each transfer is made as a band of grids along the shared boundary.

    Largest transfers first; no grid moves twice; every group stays contiguous.
    """
    n_groups = int(groups.max()) + 1
    state = PlanState(graph, groups, [str(g) for g in range(n_groups)])
    used = np.zeros(graph.n, dtype=bool)
    values = graph.values[:, 0]
    log: list[int] = []
    for a, b, amount in sorted(transfers, key=lambda t: (-t[2], t[0], t[1])):
        peel_band(state, a, b, amount, values, used, log)
    return state.labels.copy()
