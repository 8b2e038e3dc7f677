"""Redrawing an old plan with a new k: compact pieces of the old districts, few people moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.districting import draw_districts
from gis.plan import PlanState, grid_graph
from gis.redraw import SEAT_MARGIN, make_transfers, seats_and_transfers
from tests.districting_fixtures import lattice, recount_moved


def strips(grids, rows: int, cols: int, n_old: int, seed: int) -> pd.Series:
    """``n_old`` vertical strips of uneven width, as an old plan."""
    rng = np.random.default_rng(seed)
    widths = rng.uniform(0.5, 1.5, n_old)
    edges = np.round(np.cumsum(np.r_[0, widths]) / widths.sum() * cols).astype(int)
    col = np.arange(rows * cols) % cols
    old = np.searchsorted(edges, col, side="right")
    return pd.Series(old.astype(str), index=grids["code"])


def median_pp(result) -> float:
    return float(np.median([d["polsby_popper"] for d in result.summary["districts"]]))


@pytest.mark.parametrize(("size", "n_old", "k"), [(40, 5, 12), (36, 6, 13)])
def test_redraw_is_as_compact_as_a_fresh_plan_and_keeps_most_people(size, n_old, k) -> None:
    grids = lattice(size, size, seed=2)
    old = strips(grids, size, size, n_old, seed=size)
    fresh = draw_districts(grids, k, tolerance=0.02, seed=0)
    redrawn = draw_districts(grids, k, tolerance=0.02, seed=0, from_plan=old)
    s = redrawn.summary
    assert s["within_tolerance"] and s["contiguous"]
    assert s["cut_edges"] <= 1.2 * fresh.summary["cut_edges"]
    assert median_pp(redrawn) >= 0.8 * median_pp(fresh)
    pop = grids.set_index("code")["population"]
    assert s["moved_population"] <= 0.15 * pop.sum()
    # nesting: each new district lies (by population) mostly inside one old district
    before = old.reindex(redrawn.assignment.index)
    table = pd.crosstab(redrawn.assignment, before, pop, aggfunc="sum")
    share = table.max(axis=1) / table.sum(axis=1)
    assert (share >= 0.75).mean() >= 0.9


def test_keep_levels_trade_moved_people_for_compactness() -> None:
    grids = lattice(30, 30, seed=4)
    old = strips(grids, 30, 30, 4, seed=1)
    result = draw_districts(grids, 9, tolerance=0.02, seed=0, from_plan=old, keep="compact")
    rows = {r["keep"]: r for r in result.summary["tradeoff"]}
    assert set(rows) == {"most", "some", "compact"} and rows["compact"]["chosen"]
    assert result.summary["keep"] == "compact"
    # keeping more of the old plan moves fewer people
    assert rows["most"]["moved_population"] <= rows["compact"]["moved_population"]
    # the chosen row is the plan returned
    assert rows["compact"]["cut_edges"] == result.summary["cut_edges"]
    assert rows["compact"]["moved_population"] == result.summary["moved_population"]
    for r in rows.values():
        assert 0 <= r["kept_population_share"] <= 1 and r["median_polsby_popper"] > 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_old=st.integers(2, 6), extra=st.integers(0, 8), seed=st.integers(0, 500))
def test_seats_and_transfers_balance_every_old_district(n_old, extra, seed) -> None:
    grids = lattice(16, 16, seed=seed)
    graph = grid_graph(grids)
    old = strips(grids, 16, 16, n_old, seed=seed)
    groups = np.unique(old.to_numpy(), return_inverse=True)[1]
    k = n_old + extra
    tol = 0.05
    seats, transfers = seats_and_transfers(graph, groups, k, tol)
    assert seats.sum() == k and (seats >= 1).all()
    pop = graph.values[:, 0]
    ideal = pop.sum() / k
    after = np.bincount(groups, weights=pop).astype(float)
    for a, b, f in transfers:
        assert f > 0 and abs(a - b) == 1  # strips: only neighbours exchange people
        after[a] -= f
        after[b] += f
    assert (np.abs(after - seats * ideal) <= SEAT_MARGIN * tol * seats * ideal + 1e-6).all()
    # the bands make the transfers to within a grid each, and keep every old district whole
    adjusted = make_transfers(graph, groups, transfers)
    made = np.bincount(adjusted, weights=pop, minlength=n_old)
    assert (np.abs(made - after) <= len(transfers) * pop.max() + 1e-6).all()
    state = PlanState(graph, adjusted, [str(g) for g in range(n_old)])
    assert state.contiguity().all()


@pytest.mark.parametrize(("n_old", "k"), [(3, 8), (5, 12)])
def test_nested_redraw_keeps_more_people_in_their_old_district_than_a_fresh_nested_plan(
    n_old, k
) -> None:
    # old strips cross the four communities (of equal population: k / 4 seats each can balance);
    # the new plan must nest in them
    grids = lattice(30, 30, seed=5, communities=(2, 2))
    total = grids.groupby("community")["population"].transform("sum")
    grids["population"] = np.round(grids["population"] * total.mean() / total)
    old = strips(grids, 30, 30, n_old, seed=7)
    fresh = draw_districts(grids, k, tolerance=0.03, seed=0, nest="communities")
    redrawn = draw_districts(grids, k, tolerance=0.03, seed=0, nest="communities", from_plan=old)
    s = redrawn.summary
    assert s["within_tolerance"] and s["contiguous"]
    community = grids.set_index("code")["community"]
    assert community.groupby(redrawn.assignment).nunique().max() == 1  # each in one community
    pop = grids.set_index("code")["population"]
    _, moved_fresh = recount_moved(old, fresh.assignment, pop)
    _, moved = recount_moved(old, redrawn.assignment, pop)
    assert s["moved_population"] == pytest.approx(moved, abs=1.0)
    # the old districts kept where the communities allow: fewer people moved than afresh
    assert moved < moved_fresh
