"""Districts across a river join only over its bridge, on every districting path.

A synthetic river runs between two columns of a lattice: the grids on its
banks touch on the map, but the adjacency given (as a build's
``adjacency.csv`` gives it) joins the banks only at one bridge.  Every
district drawn, redrawn, re-cut, searched exactly, suggested or repaired
must be connected in that adjacency, not merely on the map.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from gis.adjacency import Adjacency, grid_adjacency
from gis.districting import draw_districts
from gis.exact import solve_exact
from gis.groups import FREE
from gis.plan import grid_graph, repair_contiguity, to_metric
from gis.rebalance import minimal_rebalance, plan_state, suggest_moves
from gis.recombine import recombine
from tests.districting_fixtures import lattice

#: The river runs between these lattice columns; the bridge crosses it on this row.
LEFT_BANK, BRIDGE_ROW = 4, 3


def river(rows: int, cols: int, seed: int = 0):
    """A lattice split by a river after column :data:`LEFT_BANK`, one bridge; its adjacency."""
    grids = lattice(rows, cols, seed=seed)
    land = grid_adjacency(to_metric(grids))
    col = np.arange(rows * cols) % cols
    row = np.arange(rows * cols) // cols
    m = land.matrix.tocoo()
    across = (col[m.row] <= LEFT_BANK) != (col[m.col] <= LEFT_BANK)
    bridge = across & (row[m.row] == BRIDGE_ROW) & (row[m.col] == BRIDGE_ROW)
    keep = ~across | bridge
    assert bridge.sum() == 2 and across.sum() > 2  # one bridge, both directions; a real river
    matrix = sparse.csr_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=m.shape)
    return grids, Adjacency(land.codes, matrix, [])


def joined_only_by_land_or_bridge(adjacency: Adjacency, assignment: pd.Series) -> bool:
    """Whether every district is connected in ``adjacency`` (not merely touching on the map)."""
    labels = assignment.reindex(adjacency.codes).to_numpy()
    for d in np.unique(labels):
        members = np.flatnonzero(labels == d)
        sub = adjacency.matrix[members][:, members]
        if csgraph.connected_components(sub, directed=False)[0] != 1:
            return False
    return True


def test_fresh_plans_and_redraws_cross_only_at_the_bridge() -> None:
    grids, adjacency = river(8, 10)
    fresh = draw_districts(grids, 4, tolerance=0.05, seed=0, adjacency=adjacency, time_limit=20)
    assert fresh.summary["contiguous"]
    assert joined_only_by_land_or_bridge(adjacency, fresh.assignment)
    for keep in ("most", "compact"):
        redrawn = draw_districts(
            grids,
            7,
            tolerance=0.05,
            seed=0,
            adjacency=adjacency,
            from_plan=fresh.assignment,
            keep=keep,
            time_limit=20,
        )
        assert joined_only_by_land_or_bridge(adjacency, redrawn.assignment), keep


def test_exact_search_and_recuts_cross_only_at_the_bridge() -> None:
    # 24 coarse grids into 4 districts at ±0.5%: the exact search decides
    grids, adjacency = river(4, 6, seed=2)
    result = draw_districts(grids, 4, tolerance=0.005, seed=0, adjacency=adjacency, time_limit=20)
    assert result.summary["exact"] is not None
    assert joined_only_by_land_or_bridge(adjacency, result.assignment)
    graph = grid_graph(grids, adjacency=adjacency)
    found = solve_exact(graph, 4, np.array([0.005]), upper=1e6, time_limit=20)
    assert found is not None and found.labels is not None
    plan = pd.Series(found.labels, index=adjacency.codes)
    assert joined_only_by_land_or_bridge(adjacency, plan)
    # the exact re-cut of the worst district with its neighbours
    state = plan_state(grids, result.assignment, adjacency=adjacency)
    recombine(state, np.array([0.005]), groups=FREE, deadline=time.monotonic() + 20)
    assert joined_only_by_land_or_bridge(adjacency, state.assignment())


def test_suggestions_and_repairs_cross_only_at_the_bridge() -> None:
    grids, adjacency = river(8, 10, seed=1)
    # a plan split by rows: each district spans both banks, joined only on the bridge row
    row = np.arange(len(grids)) // 10
    bank = np.arange(len(grids)) % 10 > LEFT_BANK
    plan = pd.Series(np.where(row < 4, "1", "2"), index=grids["code"].to_numpy())
    plan[bank & (row < 2)] = "3"
    plan[bank & (row >= 6)] = "4"
    # rows 4-5 of district 2 on the east bank reach the rest of it only over water
    state = plan_state(grids, plan, adjacency=adjacency)
    assert not joined_only_by_land_or_bridge(adjacency, state.assignment())
    assert repair_contiguity(state)  # it says what it repaired
    assert joined_only_by_land_or_bridge(adjacency, state.assignment())
    start = state.assignment()
    for move in suggest_moves(None, None, tolerance=0.02, adjacency=adjacency, state=state):
        after = start.copy()
        after[move["grids"]] = move["to"]
        assert joined_only_by_land_or_bridge(adjacency, after), move
    balanced, _ = minimal_rebalance(None, None, tolerance=0.02, state=state)
    assert joined_only_by_land_or_bridge(adjacency, balanced)
