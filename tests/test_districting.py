"""Districting: invariants on synthetic lattices and an irregular grid set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis._errors import InfeasibleError, PlanError
from gis.districting import draw_districts
from gis.partition import allot_seats
from gis.plan import PlanState, grid_graph
from tests.districting_fixtures import lattice, voronoi_grids


def assert_valid(result, grids, k: int) -> None:
    a = result.assignment
    assert len(a) == len(grids) and a.notna().all()
    assert set(a.index) == set(grids["code"])
    assert a.nunique() == k
    assert result.summary["contiguous"] is True
    assert all(d["contiguous"] for d in result.summary["districts"])
    assert result.summary["max_deviation"] >= result.summary["best_bound"] - 1e-9
    assert len(result.districts) == k
    assert result.districts.crs.to_epsg() == 4326


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(6, 24),
    cols=st.integers(6, 24),
    k=st.integers(2, 12),
    seed=st.integers(0, 1000),
)
def test_fresh_plans_are_complete_contiguous_and_bounded(rows, cols, k, seed) -> None:
    grids = lattice(rows, cols, seed=seed)
    result = draw_districts(grids, k, tolerance=0.05, seed=seed, time_limit=5)
    assert_valid(result, grids, k)
    per_district = rows * cols / k
    if per_district >= 20:  # enough grids per district: the tolerance must be met
        assert result.summary["max_deviation"] <= 0.05


def test_tight_tolerance_on_fine_lattice() -> None:
    grids = lattice(40, 40, seed=4)
    result = draw_districts(grids, 16, tolerance=0.005, seed=1)
    assert_valid(result, grids, 16)
    assert result.summary["max_deviation"] <= 0.005
    assert result.summary["within_tolerance"] is True


def test_same_seed_same_plan() -> None:
    grids = lattice(20, 20, seed=5)
    a = draw_districts(grids, 7, tolerance=0.01, seed=3).assignment
    b = draw_districts(grids, 7, tolerance=0.01, seed=3).assignment
    assert a.equals(b)


def test_irregular_unseen_grid_set_with_island() -> None:
    grids = voronoi_grids(300, seed=11)
    result = draw_districts(grids, 10, tolerance=0.02, seed=0)
    assert_valid(result, grids, 10)
    assert result.summary["max_deviation"] <= 0.02
    assert result.summary["bridges"]
    assert any("joined to their nearest grid" in w for w in result.warnings)


def test_coarse_grids_report_best_bound() -> None:
    grids = lattice(5, 6, seed=1)
    grids.loc[0, "population"] = grids["population"].sum() / 5  # one huge grid
    result = draw_districts(grids, 8, tolerance=0.005, seed=0)
    assert_valid(result, grids, 8)
    bound = result.summary["best_bound"]
    assert bound > 0.005
    assert result.summary["max_deviation"] >= bound
    assert any("too coarse" in w for w in result.warnings)


def test_several_quantities_with_their_own_tolerance() -> None:
    grids = lattice(30, 30, seed=6)
    grids["workload"] = np.random.default_rng(0).gamma(2.0, 5.0, len(grids))
    result = draw_districts(grids, 9, balance={"population": 0.02, "workload": 0.04}, seed=0)
    assert_valid(result, grids, 9)
    q = result.summary["quantities"]
    assert q["population"]["max_deviation"] <= 0.02
    assert q["workload"]["max_deviation"] <= 0.04


def test_nesting_keeps_districts_inside_communities() -> None:
    grids = lattice(24, 24, seed=2, communities=(2, 2))
    result = draw_districts(grids, 8, tolerance=0.03, nest="communities", seed=0)
    assert_valid(result, grids, 8)
    per = pd.DataFrame({"c": grids["community"].to_numpy(), "d": result.assignment.to_numpy()})
    assert (per.groupby("d")["c"].nunique() == 1).all()


def test_nesting_errors() -> None:
    grids = lattice(10, 10, communities=(2, 3))
    with pytest.raises(InfeasibleError, match="one district per community"):
        draw_districts(grids, 5, nest="communities")
    with pytest.raises(PlanError, match="community"):
        draw_districts(lattice(5, 5), 2, nest="communities")


def test_k_out_of_range() -> None:
    grids = lattice(3, 3)
    with pytest.raises(InfeasibleError, match="larger than the number of grids"):
        draw_districts(grids, 10)
    with pytest.raises(InfeasibleError):
        draw_districts(grids, 0)


def test_redraw_11_to_25_keeps_most_old_boundaries() -> None:
    grids = lattice(50, 50, seed=7)
    old = draw_districts(grids, 11, tolerance=0.02, seed=0).assignment
    result = draw_districts(grids, 25, tolerance=0.02, from_plan=old, seed=0)
    assert_valid(result, grids, 25)
    s = result.summary
    assert s["max_deviation"] <= 0.02
    assert s["from_k"] == 11
    assert 0 <= s["moved_share"] < 0.25
    assert s["moved_grids"] == round(s["moved_share"] * len(grids))
    # each new district lies mostly inside one old district
    table = pd.crosstab(result.assignment.to_numpy(), old.to_numpy())
    assert (table.max(axis=1) / table.sum(axis=1)).median() > 0.9


def test_same_k_from_balanced_plan_moves_nothing_and_keeps_ids() -> None:
    grids = lattice(20, 20, seed=8)
    old = draw_districts(grids, 5, tolerance=0.02, seed=0).assignment
    old = old.map(lambda d: f"D{int(d):02d}")
    result = draw_districts(grids, 5, tolerance=0.02, from_plan=old, seed=0)
    assert result.summary["moved_grids"] == 0
    assert set(result.assignment) == set(old)


def test_fewer_districts_from_plan_merges() -> None:
    grids = lattice(20, 20, seed=9)
    old = draw_districts(grids, 8, tolerance=0.02, seed=0).assignment
    result = draw_districts(grids, 5, tolerance=0.02, from_plan=old, seed=0)
    assert_valid(result, grids, 5)
    assert result.summary["max_deviation"] <= 0.02


def test_non_contiguous_input_plan_is_repaired_with_warning() -> None:
    grids = lattice(12, 12, seed=1)
    labels = ((np.arange(144) % 12) // 4).astype(str)
    labels[0] = "2"  # a detached grid of district 2
    old = pd.Series(labels, index=grids["code"])
    result = draw_districts(grids, 3, tolerance=0.05, from_plan=old, seed=0)
    assert_valid(result, grids, 3)
    assert any("not contiguous" in w for w in result.warnings)


def test_allot_seats_minimises_worst_deviation() -> None:
    grids = lattice(10, 10, seed=0, communities=(1, 3))
    graph = grid_graph(grids)
    seats = allot_seats(graph, graph.community, 9)
    assert seats.sum() == 9 and (seats >= 1).all()
    state = PlanState(graph, graph.community, ["a", "b", "c"])
    assert state.k == 3


def test_the_plan_says_which_neighbours_a_bridge_joins_and_which_only_nearness():
    # a town cut by a river, and an island: both joined to the rest without a land boundary
    from dataclasses import replace

    import geopandas as gpd

    from gis.adjacency import Adjacency, grid_adjacency

    grids = lattice(2, 6, seed=3)
    east, island = grids.iloc[[4, 5, 10, 11]].copy(), grids.iloc[[3]].copy()
    east.geometry, island.geometry = east.translate(300.0), island.translate(0.0, 400.0)
    apart = gpd.GeoDataFrame(pd.concat([grids.iloc[[0, 1, 2, 6, 7, 8]], east, island]))
    found = grid_adjacency(apart)
    assert [link.kind for link in found.links] == ["nearest", "nearest"]  # no street was given
    # the river crossing has a street bridge (as a build's link_pairs would find)
    links = [replace(found.links[0], kind="bridge", via=("w1",)), found.links[1]]
    adjacency = Adjacency(found.codes, found.matrix, found.bridges, links)
    warnings = " | ".join(
        draw_districts(apart, 2, tolerance=0.5, seed=0, adjacency=adjacency).warnings
    )
    assert "1 pair(s) of grids are neighbours across water only over a bridge" in warnings
    assert "1 island(s) or enclave(s) with no street link joined to their nearest grid" in warnings
