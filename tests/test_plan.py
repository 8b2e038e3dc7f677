"""Plan model: incremental metrics against a fresh recount, reading and repairing plans."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import PlanError, UnknownIdError
from gis.plan import PlanState, evaluate_plan, grid_graph, read_plan, repair_contiguity
from tests.districting_fixtures import lattice


@pytest.fixture(scope="module")
def graph15():
    g = lattice(15, 15, seed=2, communities=(3, 3))
    g["workload"] = np.arange(len(g)) % 7 + 1.0
    return g, grid_graph(g, quantities=("population", "workload"), tallied=("households",))


def stripes(n_rows: int, n_cols: int, k: int) -> np.ndarray:
    return (np.arange(n_rows * n_cols) % n_cols) * k // n_cols


def test_incremental_metrics_match_fresh_recount_over_random_moves(graph15) -> None:
    _, graph = graph15
    state = PlanState(graph, stripes(15, 15, 5), ["1", "2", "3", "4", "5"])
    rng = np.random.default_rng(12345)
    for step in range(3000):
        i = int(rng.integers(graph.n))
        d = int(rng.integers(state.k))
        state.move_index(i, d)
        fresh = state.recount()
        assert np.allclose(state.totals, fresh["totals"]), step
        assert np.allclose(state.area, fresh["area"]), step
        assert np.allclose(state.perimeter, fresh["perimeter"]), step
        assert np.array_equal(state.count, fresh["count"]), step
        assert state.cut_edges == fresh["cut_edges"], step
        assert state.communities_split == fresh["communities_split"], step


def test_move_by_code_and_unknowns(graph15) -> None:
    _, graph = graph15
    state = PlanState(graph, stripes(15, 15, 3), ["A", "B", "C"])
    code = str(graph.codes[0])
    state.move(code, "C")
    assert state.assignment()[code] == "C"
    with pytest.raises(UnknownIdError):
        state.move("999999999999999", "A")
    with pytest.raises(UnknownIdError):
        state.move(code, "Z")


def brute_contiguous(state: PlanState, removed: list[int]) -> bool:
    a = state.labels[removed[0]]
    members = [i for i in np.flatnonzero(state.labels == a) if i not in removed]
    if not members:
        return False
    g = state.graph
    m = sparse.csr_matrix((g.shared, g.indices, g.indptr), shape=(g.n, g.n))[members][:, members]
    return csgraph.connected_components(m, directed=False)[0] == 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_keeps_contiguous_matches_brute_force(graph15, seed: int) -> None:
    _, graph = graph15
    rng = np.random.default_rng(seed)
    state = PlanState(graph, stripes(15, 15, 4), ["1", "2", "3", "4"])
    for _ in range(60):  # random but contiguity-keeping moves make ragged districts
        i = int(rng.integers(graph.n))
        nbrs = sorted(state.neighbour_districts(i))
        if nbrs and state.keeps_contiguous([i]):
            state.move_index(i, nbrs[int(rng.integers(len(nbrs)))])
    assert state.contiguity().all()
    for i in rng.integers(graph.n, size=25):
        assert state.keeps_contiguous([int(i)]) == brute_contiguous(state, [int(i)])


def test_evaluate_plan_is_json_and_complete(graph15) -> None:
    grids, _ = graph15
    plan = pd.Series(stripes(15, 15, 3).astype(str), index=grids["code"])
    out = evaluate_plan(grids, plan, tolerance=0.05, quantities=("population", "workload"))
    json.dumps(out)
    for key in ("max_deviation", "deviation_range", "contiguous", "cut_edges", "ideal"):
        assert key in out
    assert out["communities_split"] == 0  # stripes of 5 columns follow the 5 x 5 communities
    row = out["districts"][0]
    for key in ("district", "population", "households", "area_m2", "deviation", "polsby_popper"):
        assert key in row
    assert "workload_deviation" in row
    assert sum(r["population"] for r in out["districts"]) == pytest.approx(grids.population.sum())
    assert sum(r["area_m2"] for r in out["districts"]) == pytest.approx(15 * 15 * 100 * 100)
    assert out["contiguous"] is True
    # a square district of 5 x 15 cells: Polsby-Popper 4 pi A / P^2
    assert row["polsby_popper"] == pytest.approx(4 * np.pi * 750_000 / 4000**2, rel=1e-3)
    four = pd.Series(stripes(15, 15, 4).astype(str), index=grids["code"])
    assert evaluate_plan(grids, four)["communities_split"] > 0


def test_read_plan_csv_roundtrip_and_errors(tmp_path, graph15) -> None:
    grids, _ = graph15
    plan = pd.DataFrame({"grid": grids["code"], "district": stripes(15, 15, 3).astype(str)})
    path = tmp_path / "plan.csv"
    plan.to_csv(path, index=False)
    assignment, warnings = read_plan(path, grids)
    assert warnings == []
    assert (assignment.to_numpy() == plan["district"].to_numpy()).all()

    bad = pd.concat([plan, pd.DataFrame({"grid": ["320106999999999"], "district": ["1"]})])
    with pytest.raises(UnknownIdError, match="not in the grids"):
        read_plan(bad, grids)
    with pytest.raises(PlanError, match="columns"):
        read_plan(plan.rename(columns={"district": "zone"}), grids)
    twice = pd.concat([plan, pd.DataFrame({"grid": [plan.grid.iloc[0]], "district": ["2"]})])
    with pytest.raises(PlanError, match="more than once"):
        read_plan(twice, grids)

    partial, warnings = read_plan(plan.iloc[5:], grids)
    assert len(partial) == len(grids) and partial.notna().all()
    assert warnings and "missing" in warnings[0]


def test_plan_csv_with_repeated_rows_or_spreadsheet_codes_names_the_lines(
    tmp_path, graph15
) -> None:
    grids, _ = graph15
    plan = pd.DataFrame({"grid": grids["code"], "district": stripes(15, 15, 3).astype(str)})
    # the same row twice (same district): still refused, with both file lines
    repeated = pd.concat([plan.iloc[:10], plan.iloc[[3]], plan.iloc[10:]])
    path = tmp_path / "repeated.csv"
    repeated.to_csv(path, index=False)
    with pytest.raises(PlanError, match=f"{plan.grid.iloc[3]} on lines 5, 12"):
        read_plan(path, grids)
    # a spreadsheet turned two codes into numbers (line 4 and line 8 of the file)
    mangled = plan.copy()
    mangled.loc[2, "grid"] = f"{float(plan.grid.iloc[2]):.5E}"
    mangled.loc[6, "grid"] = f"{plan.grid.iloc[6]}.0"
    path = tmp_path / "mangled.csv"
    mangled.to_csv(path, index=False)
    with pytest.raises(PlanError, match=r"line\(s\) 4, 8 were changed by a spreadsheet"):
        read_plan(path, grids)
    # codes that lost their leading zeros (admin code unknown: 000000…)
    zeros = plan.assign(grid=["000000" + c[6:] for c in plan["grid"]])
    zgrids = grids.assign(code=zeros["grid"].to_numpy())
    path = tmp_path / "zeros.csv"
    zeros.assign(grid=zeros["grid"].str.lstrip("0")).to_csv(path, index=False)
    with pytest.raises(PlanError, match="leading zeros"):
        read_plan(path, zgrids)


def test_read_plan_from_district_polygons(tmp_path, graph15) -> None:
    grids, _ = graph15
    grids = grids.assign(district=stripes(15, 15, 3).astype(str))
    polys = grids.dissolve("district").reset_index()[["district", "geometry"]]
    polys["geometry"] = polys.buffer(-1.0)  # slightly off, as hand-drawn polygons are
    path = tmp_path / "districts.geojson"
    polys.to_crs("EPSG:4326").to_file(path)
    assignment, _ = read_plan(path, grids)
    assert (assignment.to_numpy() == grids["district"].to_numpy()).all()


def test_repair_contiguity_moves_detached_pieces(graph15) -> None:
    _, graph = graph15
    labels = stripes(15, 15, 3)
    labels[0] = 2  # a lone grid of district 3 in the far corner of district 1
    state = PlanState(graph, labels, ["1", "2", "3"])
    assert not state.contiguity().all()
    notes = repair_contiguity(state)
    assert state.contiguity().all()
    assert state.labels[0] == 0
    assert notes and "district 3" in notes[0]


def test_sort_ids_natural() -> None:
    from gis.plan import sort_ids

    assert sort_ids(["10", "2", "1", "D01"]) == ["1", "2", "10", "D01"]
