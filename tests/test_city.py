"""Whole cities: a real extract split into sub-districts, built in process and on dask.

The real extract is Berlin-Adlershof as users download it (gzip-compressed OSM
XML, bundled in tests/data), split into six sub-districts.  The same city
is built in this process, on a one-worker and on a two-worker LocalCluster: the
files must be byte for byte the same, the grids must nest in their sub-district
and carry its code, the grid invariants must hold on the merged city, and
walking coverage on the merged city must equal a computation over the whole
extract's network (walks cross sub-district lines).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

from api.cli import main
from gis._errors import InputError, ManifestError
from gis.adjacency import (
    adjacency_frame,
    frame_adjacency,
    grid_adjacency,
    link_lines,
    read_adjacency,
)
from gis.city import build_city
from gis.cityadjacency import within
from gis.outputs import QUANTITY_DECIMALS, read_layer
from gis.pipeline import measure_coverage
from tests.city_fixtures import ADLERSHOF, ADLERSHOF_BOUNDS, box_subdistricts
from tests.grid_invariants import check_grid_invariants

pytestmark = pytest.mark.slow

LAYERS = ("grids", "buildings", "communities", "streets", "pois", "boundary", "subdistricts")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Adlershof in six sub-districts, built in process, on 1 and on 2 dask workers.

    Each split with osmium-tool, and once more in process with the pyosmium
    split a user without osmium-tool gets ("fallback", its progress lines kept).
    """
    import gis.split

    assert gis.split.osmium_tool() is not None, "osmium-tool is installed by scripts/setup.sh"
    base = tmp_path_factory.mktemp("city")
    subs = base / "subdistricts.geojson"
    box_subdistricts(ADLERSHOF_BOUNDS, 3, 2).to_file(subs, driver="GeoJSON")
    source = ADLERSHOF
    out: dict[str, Any] = {}
    for label, workers in (("process", None), ("one", 1), ("two", 2)):
        out[label] = base / label
        out[f"{label}_result"] = build_city(source, out[label], subdistricts=subs, workers=workers)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gis.split, "osmium_tool", lambda: None)
        steps: list[str] = []
        out["fallback"], out["fallback_steps"] = base / "fallback", steps
        build_city(source, out["fallback"], subdistricts=subs, progress=steps.append)
    out["subdistricts"] = subs
    out["source"] = source
    return out


def test_the_same_city_whatever_the_number_of_workers(city: dict[str, Any]) -> None:
    for name in LAYERS:
        reference = (city["process"] / f"{name}.geojson").read_bytes()
        for label in ("one", "two"):
            assert (city[label] / f"{name}.geojson").read_bytes() == reference, (label, name)
    for label in ("one", "two"):
        assert (city[label] / "adjacency.csv").read_bytes() == (
            city["process"] / "adjacency.csv"
        ).read_bytes()
    grids = read_layer(city["two"], "grids")
    assert len(grids) > 20  # a real build, not an empty one


def test_the_same_city_whichever_split(city: dict[str, Any]) -> None:
    # without osmium-tool the pyosmium split runs, says so, and the city is the same
    assert any("install osmium-tool" in step for step in city["fallback_steps"])
    for name in LAYERS:
        reference = (city["process"] / f"{name}.geojson").read_bytes()
        assert (city["fallback"] / f"{name}.geojson").read_bytes() == reference, name
    assert (city["fallback"] / "adjacency.csv").read_bytes() == (
        city["process"] / "adjacency.csv"
    ).read_bytes()


def test_grids_nest_in_their_subdistrict_and_carry_its_code(city: dict[str, Any]) -> None:
    grids = read_layer(city["process"], "grids").to_crs(32633)
    subs = read_layer(city["process"], "subdistricts").to_crs(32633)
    assert sorted(subs["subdistrict"]) == [f"{i:03d}" for i in range(1, 7)]
    by_code = subs.set_index("subdistrict").geometry
    owner = by_code.loc[grids["code"].str[6:9]].values
    # GeoJSON keeps 7 decimals (about 1 cm): a grid may stick out of its sub-district by that
    outside = shapely.area(shapely.difference(grids.geometry.values, shapely.buffer(owner, 0.05)))
    assert (outside <= 1e-3).all()
    # each sub-district is tiled by its own grids
    for code, poly in by_code.items():
        mine = grids[grids["code"].str[6:9] == code]
        assert abs(mine.geometry.area.sum() - poly.area) <= 1e-5 * poly.area
    # sub-district totals are the sums of their grids
    totals = grids.groupby(grids["code"].str[6:9])[["households", "population"]].sum()
    listed = subs.set_index("subdistrict")[["households", "population"]]
    assert np.allclose(totals.loc[listed.index].to_numpy(), listed.to_numpy(), atol=0.2)


def test_grid_invariants_hold_on_the_merged_city(city: dict[str, Any]) -> None:
    folder, result = city["process"], city["process_result"]
    assert result.grids.crs == result.subdistricts.crs  # one metric CRS for the whole city
    boundary = shapely.union_all(result.subdistricts.geometry.values)
    buildings = read_layer(folder, "buildings").to_crs(result.grids.crs)  # written by workers
    check_grid_invariants(  # the file's counts are to one decimal
        result.grids, buildings, result.communities, boundary, count_decimals=QUANTITY_DECIMALS
    )
    assert buildings["id"].is_unique
    meta = json.loads((folder / "build.json").read_text())
    assert meta["subdistricts"] == 6
    assert meta["buildings"] == len(read_layer(folder, "buildings"))


def test_the_city_adjacency_is_the_one_a_build_of_the_merged_grids_computes(
    city: dict[str, Any],
) -> None:
    folder, result = city["process"], city["process_result"]
    crs = result.grids.crs
    links = link_lines(
        read_layer(folder, "streets").to_crs(crs), read_layer(folder, "barriers").to_crs(crs)
    )
    water = gpd.GeoSeries([result.water], crs="EPSG:4326").to_crs(crs).iloc[0]
    whole = adjacency_frame(grid_adjacency(result.grids, links=links, water=water))
    merged = pd.read_csv(folder / "adjacency.csv", dtype={"grid_a": str, "grid_b": str})
    merged = merged.fillna({"link": "", "via": ""})
    # the same pairs, lengths, kinds and gaps; a part lists a pair's links in its own order
    for frame in (merged, whole):
        frame["via"] = [";".join(sorted(v.split(";"))) for v in frame["via"]]
    pd.testing.assert_frame_equal(merged, whole, check_dtype=False)
    # the lines matter: pairs on land and over the canal's bridges join sub-districts
    across = merged["grid_a"].str[6:9] != merged["grid_b"].str[6:9]
    assert (across & (merged["link"] == "")).sum() > 0
    assert (merged["link"] == "bridge").sum() > 0
    meta = json.loads((folder / "build.json").read_text())
    assert meta["links"]["bridge"] == (merged["link"] == "bridge").sum()


def test_no_city_pair_crosses_water_without_a_link(city: dict[str, Any]) -> None:
    folder, result = city["process"], city["process_result"]
    crs = result.grids.crs
    water = gpd.GeoSeries([result.water], crs="EPSG:4326").to_crs(crs).iloc[0]
    assert water.area > 50_000  # the Teltow canal runs through the city
    grids = result.grids.set_index("code").geometry
    assert shapely.area(shapely.intersection(grids.values, water)).max() < 1.0  # grids on land
    # no sliver of clipping along a line across the canal joins its banks
    assert shapely.area(grids.values).min() > 100.0
    graph = read_adjacency(folder / "adjacency.csv", grids.index.to_numpy())
    rows = pd.read_csv(folder / "adjacency.csv", dtype=str).fillna("")
    land = rows[rows["link"] == ""]
    common = shapely.intersection(
        shapely.boundary(grids.loc[land["grid_a"]].values),
        shapely.buffer(grids.loc[land["grid_b"]].values, 0.05),
    )
    # a pair on land shares its boundary on land, not across the water
    assert shapely.length(shapely.intersection(common, shapely.buffer(water, -0.5))).max() < 0.5
    # every "nearest" bridge is needed: without them the graph falls apart into one more piece each
    nearest = rows["link"] == "nearest"
    without = frame_adjacency(
        rows[~nearest].astype({"shared_m": float, "gap_m": float}), graph.codes
    )
    pieces = csgraph.connected_components(without.matrix, directed=False)[0]
    assert pieces == nearest.sum() + 1
    assert csgraph.connected_components(graph.matrix, directed=False)[0] == 1


def test_districts_on_a_city_folder_follow_its_adjacency(
    city: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "city"
    shutil.copytree(city["process"], folder)
    grids = read_layer(folder, "grids")
    codes = grids["code"].to_numpy()
    # a spanning tree of the city's graph: far fewer pairs than the grids' own neighbours
    rows = pd.read_csv(folder / "adjacency.csv", dtype={"grid_a": str, "grid_b": str})
    tree = csgraph.minimum_spanning_tree(read_adjacency(folder / "adjacency.csv", codes).matrix)
    m = tree.tocoo()
    kept = {tuple(sorted((codes[i], codes[j]))) for i, j in zip(m.row, m.col, strict=True)}
    rows = rows[[(a, b) in kept for a, b in zip(rows["grid_a"], rows["grid_b"], strict=True)]]
    rows.to_csv(folder / "adjacency.csv", index=False)
    graph = read_adjacency(folder / "adjacency.csv", codes)
    for args in (["--k", "4"], ["--k", "2", "--per", "subdistrict"]):
        cmd = ["districts", str(folder), *args, "--tolerance", "0.5", "--time-limit", "5"]
        assert main(cmd) == 0
        plan = pd.read_csv(folder / "plan.csv", dtype=str).set_index("grid")["district"]
        for district in plan.unique():
            members = np.flatnonzero(plan.reindex(codes).to_numpy() == district)
            if args[-1] == "subdistrict":  # drawn on its sub-district's part of the tree
                sub = np.flatnonzero(pd.Series(codes).str[6:9] == codes[members[0]][6:9])
                part = within(graph, sub, grids.to_crs(32633).geometry.values[sub])
                members = np.flatnonzero(np.isin(part.codes, codes[members]))
                matrix = part.matrix
            else:
                matrix = graph.matrix
            inside = matrix[members][:, members]
            assert csgraph.connected_components(inside, directed=False)[0] == 1, (args, district)


def test_walks_across_subdistrict_lines_match_the_whole_network(city: dict[str, Any]) -> None:
    from gis.area import _clip_layers
    from gis.coverage import compute_coverage, default_services
    from gis.split import read_part, split_osm

    folder = city["process"]
    assert len(read_layer(folder, "barriers")) and len(read_layer(folder, "entrances"))
    measure_coverage(folder)
    merged = read_layer(folder, "buildings").set_index("id")
    # the whole extract's network, as one build of the city's territory would keep it
    boundary = shapely.union_all(read_layer(folder, "subdistricts").geometry.values)
    work = folder.parent / "whole"
    split = split_osm(city["source"], [boundary], work, margin_deg=[0.0])
    whole = read_part(split.parts[0], boundary)
    layers = _clip_layers(whole, boundary)
    services, _ = default_services(read_layer(folder, "pois"))
    truth = compute_coverage(
        read_layer(folder, "buildings").drop(columns=["walk_s", "walk2_s"]),
        layers.streets,
        services,
        crs="EPSG:32633",
        # the same barriers and entrances as the city's coverage walks by
        barriers=read_layer(folder, "barriers", required=False),
        entrances=read_layer(folder, "entrances", required=False),
    ).buildings.set_index("id")
    ours = merged["walk_s"].astype(float)
    expected = truth.loc[merged.index, "walk_s"].astype(float)
    assert np.allclose(ours.fillna(-1), expected.fillna(-1), atol=0.05)
    # and the lines matter: some buildings' nearest service is in another sub-district
    sub_of_service = _subdistrict_of(services, read_layer(folder, "subdistricts"))
    nearest_elsewhere = _nearest_service_elsewhere(merged, services, sub_of_service, layers)
    assert nearest_elsewhere > 0


def _subdistrict_of(points: gpd.GeoDataFrame, subs: gpd.GeoDataFrame) -> pd.Series:
    joined = gpd.sjoin(points[["geometry"]], subs[["subdistrict", "geometry"]], how="left")
    return joined.groupby(level=0)["subdistrict"].first()


def _nearest_service_elsewhere(
    buildings: gpd.GeoDataFrame, services: gpd.GeoDataFrame, sub_of: pd.Series, layers: object
) -> int:
    """How many buildings get a shorter walk from a service of another sub-district."""
    from gis.coverage import compute_coverage

    count = 0
    for code in sorted(sub_of.dropna().unique()):
        own = services[sub_of.reindex(services.index).to_numpy() == code]
        mine = buildings[buildings["grid"].str[6:9] == code]
        if own.empty or mine.empty:
            continue
        alone = compute_coverage(
            mine.reset_index().drop(columns=["walk_s", "walk2_s"]),
            layers.streets,  # type: ignore[attr-defined]
            own,
            crs="EPSG:32633",
        ).buildings.set_index("id")["walk_s"]
        walk = mine["walk_s"].astype(float)
        count += int((walk < alone.loc[mine.index].astype(float).fillna(np.inf) - 1).sum())
    return count


def test_the_command_builds_a_city_on_two_workers(
    city: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    code = main(
        ["build", str(city["source"]), "--subdistricts", str(city["subdistricts"]),
         "--workers", "2", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["subdistricts"] == 6
    assert (out / "grids.geojson").read_bytes() == (city["process"] / "grids.geojson").read_bytes()


def test_bad_subdistricts_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    source = ADLERSHOF
    subs = box_subdistricts((13.5114, 52.4223, 13.5588, 52.4379), 2, 1)
    overlapping = subs.copy()
    overlapping.loc[1, "geometry"] = shapely.box(13.52, 52.4223, 13.5588, 52.4379)
    overlapping.to_file(tmp_path / "overlap.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match="overlap"):
        build_city(source, tmp_path / "o", subdistricts=tmp_path / "overlap.geojson")
    bad = subs.assign(code=["01", "002"])
    bad.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    with pytest.raises(ManifestError, match="3 or 9 digits"):
        build_city(source, tmp_path / "b", subdistricts=tmp_path / "bad.geojson")
    twice = subs.assign(code=["320104005", "005"])
    twice.to_file(tmp_path / "twice.geojson", driver="GeoJSON")
    with pytest.raises(ManifestError, match="repeats"):
        build_city(source, tmp_path / "t", subdistricts=tmp_path / "twice.geojson")
    assert not any(p.name.startswith((".o", ".b", ".t")) for p in tmp_path.iterdir())
    assert main(["build", str(source), "--workers", "2", "--out", str(tmp_path / "w")]) == 2
    assert not (tmp_path / "w").exists()


def test_nine_digit_codes_set_the_admin_part(tmp_path: Path) -> None:
    source = ADLERSHOF
    subs = box_subdistricts((13.5114, 52.4223, 13.5588, 52.4379), 2, 1)
    subs["code"] = ["110105007", "110105012"]
    subs.to_file(tmp_path / "subs.geojson", driver="GeoJSON")
    from gis.pipeline import BuildOptions
    from gis.split import read_part, split_osm

    box = shapely.box(13.5, 52.4, 13.6, 52.5)
    whole = split_osm(source, [box], tmp_path / "w", margin_deg=[0])
    ids = read_part(whole.parts[0], box).buildings["id"].head(400).tolist()[::40]  # ten
    table = tmp_path / "households.csv"
    pd.DataFrame({"building_id": ids, "households": [7] * len(ids)}).to_csv(table, index=False)
    options = BuildOptions(households=table)
    result = build_city(
        source, tmp_path / "out", subdistricts=tmp_path / "subs.geojson", options=options
    )
    report = result.summary["household_table"]
    assert report["rows"] == len(ids) and report["matched_rows"] <= len(ids)
    built = read_layer(tmp_path / "out", "buildings").set_index("id")
    hits = [i for i in ids if i in built.index]
    assert report["matched_rows"] == len(hits) > 0
    assert (built.loc[hits, "households"] == 7).all()
    with pytest.raises(InputError, match="calibrates one area"):
        build_city(source, tmp_path / "p", subdistricts=tmp_path / "subs.geojson",
                   options=BuildOptions(population_total=1000.0))  # fmt: skip
    prefixes = set(result.grids["code"].str[:9])
    assert prefixes == {"110105007", "110105012"}
    assert os.path.exists(tmp_path / "out" / "subdistricts.geojson")


def test_districts_per_subdistrict_stay_inside_it(city: dict[str, Any], tmp_path: Path) -> None:
    folder = city["one"]
    assert main(["districts", str(folder), "--k", "2", "--per", "subdistrict"]) == 0
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    grids = read_layer(folder, "grids")
    assert set(plan["grid"]) == set(grids["code"])  # every grid in the plan, once
    assert plan["grid"].is_unique
    subs_of = plan.groupby("district")["grid"].agg(lambda g: set(g.str[6:9]))
    assert (subs_of.map(len) == 1).all()  # no district crosses a sub-district line
    per_sub = plan.assign(sub=plan["grid"].str[6:9]).groupby("sub")["district"].nunique()
    assert (per_sub == 2).all()
    assert sorted(plan["district"].astype(int).unique()) == list(range(1, 13))
    # a k per sub-district from a CSV
    table = tmp_path / "k.csv"
    table.write_text("subdistrict,k\n001,1\n002,3\n003,2\n004,1\n005,2\n006,1\n")
    assert main(["districts", str(folder), "--k", str(table), "--per", "subdistrict"]) == 0
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    per_sub = plan.assign(sub=plan["grid"].str[6:9]).groupby("sub")["district"].nunique()
    assert per_sub.to_dict() == {"001": 1, "002": 3, "003": 2, "004": 1, "005": 2, "006": 1}
    table.write_text("subdistrict,k\n001,1\n")
    assert main(["districts", str(folder), "--k", str(table), "--per", "subdistrict"]) == 2


def test_an_unreachable_scheduler_is_said_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subs = tmp_path / "subs.geojson"
    box_subdistricts((13.5114, 52.4223, 13.5588, 52.4379), 2, 1).to_file(subs, driver="GeoJSON")
    source = str(ADLERSHOF)
    address = f"tcp://127.0.0.1:{port}"
    out = str(tmp_path / "out")
    code = main(
        ["build", source, "--subdistricts", str(subs), "--scheduler", address, "--out", out]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach the dask scheduler" in err
    assert "splitting the extract" not in err  # said before the split, not after it
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["subs.geojson"]  # no part files left


def test_the_largest_subdistricts_are_built_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts start largest first, whichever split made them, so no worker is left with the
    biggest at the end (an osmium-tool part is a folder: its size is its files')."""
    from types import SimpleNamespace

    import gis.city

    tasks = []
    for i, size in enumerate([10, 300, 20, 5000, 40]):
        if i % 2:  # osmium-tool's parts: folders
            part = tmp_path / f"part-{i:03d}.split"
            part.mkdir()
            (part / "buildings.pbf").write_bytes(b"x" * size)
        else:  # the pyosmium pass's: one file
            part = tmp_path / f"part-{i:03d}.pickle"
            part.write_bytes(b"x" * size)
        tasks.append(SimpleNamespace(index=i, part=part, subdistrict=SimpleNamespace(code=f"{i}")))
    built: list[int] = []

    def fake_build(task: Any) -> Any:
        built.append(task.index)
        return SimpleNamespace(index=task.index, code=task.subdistrict.code)

    monkeypatch.setattr(gis.city, "build_part", fake_build)
    parts = gis.city.run_parts(tasks)  # type: ignore[arg-type]
    assert built == [3, 1, 4, 2, 0]
    assert [p.index for p in parts] == [0, 1, 2, 3, 4]  # results in task order


def test_a_household_table_of_some_subdistricts_fills_those_and_estimates_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An office's table often covers only its own sub-districts: the others are estimated,
    the rows count once for the city, and a table that matches nothing anywhere is refused."""
    from gis.pipeline import BuildOptions
    from gis.split import read_part, split_osm

    subs = box_subdistricts((13.5114, 52.4223, 13.5588, 52.4379), 2, 1)
    subs.to_file(tmp_path / "subs.geojson", driver="GeoJSON")
    west = subs.geometry.iloc[0]
    whole = split_osm(ADLERSHOF, [west], tmp_path / "w", margin_deg=[0])
    ids = read_part(whole.parts[0], west).buildings["id"].head(400).tolist()[::40]
    table = tmp_path / "households.csv"
    pd.DataFrame({"building_id": [*ids, "w1"], "households": [7] * len(ids) + [3]}).to_csv(
        table, index=False
    )
    result = build_city(
        ADLERSHOF, tmp_path / "out", subdistricts=tmp_path / "subs.geojson", workers=2,
        options=BuildOptions(households=table),
    )  # fmt: skip
    report = result.summary["household_table"]
    assert report["rows"] == len(ids) + 1
    assert report["unmatched"] == ["w1"] and report["unmatched_rows"] == 1
    assert report["matched_rows"] == len(ids)
    built = read_layer(tmp_path / "out", "buildings").set_index("id")
    assert (built.loc[ids, "households"] == 7).all()
    assert (built.loc[ids, "population_source"] == "table").all()
    east = built[built["population_source"] == "estimate"]
    assert len(east) and (east["households"] > 0).any()  # the rest estimated, not zero
    assert not (built["population_source"] == "table").sum() > len(ids)

    strangers = tmp_path / "strangers.csv"
    pd.DataFrame({"building_id": ["w1", "w2"], "households": [3, 4]}).to_csv(strangers, index=False)
    with pytest.raises(InputError, match="matches a building of the city by building_id"):
        build_city(ADLERSHOF, tmp_path / "x", subdistricts=tmp_path / "subs.geojson",
                   options=BuildOptions(households=strangers))  # fmt: skip
    assert not (tmp_path / "x").exists()

    import gis.city

    def no_split(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the table must be checked before the extract is split")

    monkeypatch.setattr(gis.city, "split_city", no_split)
    broken = tmp_path / "broken.csv"
    pd.DataFrame({"building_id": ids, "note": ["x"] * len(ids)}).to_csv(broken, index=False)
    with pytest.raises(InputError, match="households"):
        build_city(ADLERSHOF, tmp_path / "y", subdistricts=tmp_path / "subs.geojson",
                   options=BuildOptions(households=broken))  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    lines=st.integers(1, 4),
)
def test_the_grids_along_the_lines_are_those_a_distance_test_finds(seed: int, lines: int) -> None:
    """The city graph looks across sub-district lines only at the grids beside them: those
    must be every grid within SNAP of a line (long, slanted and bent lines included)."""
    from gis.adjacency import SNAP
    from gis.cityadjacency import _near

    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 2000, (300, 2))
    cells = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + rng.uniform(1, 60, 300),
                        corners[:, 1] + rng.uniform(1, 60, 300))  # fmt: skip
    paths = [shapely.LineString(rng.uniform(0, 2000, (int(rng.integers(2, 6)), 2)))
             for _ in range(lines)]  # fmt: skip
    # some cells on a line, some whose corner lies on it
    on = shapely.get_coordinates(
        shapely.line_interpolate_point(paths[0], rng.uniform(0, paths[0].length, 20))
    )
    cells = np.r_[cells, shapely.buffer(shapely.points(on), 1.0), shapely.box(*on.T, *(on + 5).T)]
    union = shapely.union_all(paths)
    expect = np.flatnonzero(shapely.distance(cells, union) <= SNAP)
    assert _near(cells, union, SNAP).tolist() == expect.tolist()


def test_a_subdistrict_without_buildings_is_left_out_and_named(tmp_path: Path) -> None:
    """Dublin Docklands' box cuts an electoral division to a strip with no building:
    the city is built from the others, and the one left out is named."""
    source = Path(__file__).parent / "data" / "dublin_docklands.osm.xml.gz"
    out = tmp_path / "city"
    result = build_city(source, out, subdistricts="osm")
    built = set(result.subdistricts["subdistrict"])
    left = [w for w in result.summary["warnings"] if "left out of the city" in w]
    assert len(left) == 1
    code = left[0].split(" ", 1)[0]
    assert code not in built and len(built) == result.summary["subdistricts"] >= 2
    assert set(result.grids["code"].str[6:9]) == built  # every grid in a built sub-district
    saved = json.loads((out / "build.json").read_text())
    assert saved["warnings"][0] == left[0]


def test_a_table_row_matched_in_two_subdistricts_is_named_as_counted_twice(
    tmp_path: Path,
) -> None:
    """An address held by buildings on both sides of a sub-district line gets its households
    in each part: the city report names that row and the build's warnings say so."""
    from types import SimpleNamespace

    from gis.city import _household_report, _several_note

    table = pd.DataFrame(
        {"addr:street": ["Rudower Ch", "Rudower Ch", "Dörpfeldstr"],
         "addr:housenumber": ["1", "2", "7"], "households": [5, 6, 7]}
    )  # fmt: skip
    path = tmp_path / "households.csv"
    table.to_csv(path, index=False)

    def part(rows: list[int]) -> Any:
        return SimpleNamespace(
            summary={"household_table": {"key": "address", "rows": 3, "matched": rows}}
        )

    once = _household_report(path, [part([0]), part([2])])
    assert once is not None and once["matched_in_several_subdistricts"] == []
    assert once["unmatched"] == ["Rudower Ch 2"] and _several_note(once) == []
    twice = _household_report(path, [part([0, 2]), part([2])])
    assert twice is not None and twice["matched_in_several_subdistricts"] == ["Dörpfeldstr 7"]
    assert twice["matched_rows"] == 2
    (note,) = _several_note(twice)
    assert note.startswith("1 row of the household table matched") and "Dörpfeldstr 7" in note


def test_an_address_on_both_sides_of_a_line_is_warned_in_build_json(tmp_path: Path) -> None:
    """Adlershof with one eastern building given a western building's address: the
    city's report and build.json's warnings name that address (counted in both halves)."""
    import gzip
    import re
    from xml.sax.saxutils import quoteattr

    from gis.pipeline import BuildOptions
    from gis.split import read_part, split_osm

    subs = box_subdistricts((13.5114, 52.4223, 13.5588, 52.4379), 2, 1)
    subs.to_file(tmp_path / "subs.geojson", driver="GeoJSON")
    halves = []
    for i, half in enumerate(subs.geometry):
        whole = split_osm(ADLERSHOF, [half], tmp_path / f"h{i}", margin_deg=[0])
        halves.append(read_part(whole.parts[0], half).buildings)
    west = halves[0].dropna(subset=["addr_street", "addr_housenumber"]).iloc[0]
    east = halves[1][halves[1]["id"].str.startswith("w")].iloc[0]
    street, number = west["addr_street"], west["addr_housenumber"]
    text = gzip.decompress(ADLERSHOF.read_bytes()).decode("utf-8")
    block = re.search(rf'<way id="{east["id"][1:]}".*?</way>', text, flags=re.S)
    assert block is not None
    way = re.sub(r'\s*<tag k="addr:[^"]*" v="[^"]*"/>', "", block[0])
    tags = f'<tag k="addr:street" v={quoteattr(street)}/><tag k="addr:housenumber" v="{number}"/>'
    source = tmp_path / "adlershof.osm"
    source.write_text(text.replace(block[0], way.replace("</way>", f"{tags}</way>")), "utf-8")
    table = tmp_path / "households.csv"
    pd.DataFrame(
        {"addr:street": [street], "addr:housenumber": [number], "households": [10]}
    ).to_csv(table, index=False)

    result = build_city(
        source, tmp_path / "out", subdistricts=tmp_path / "subs.geojson",
        options=BuildOptions(households=table),
    )  # fmt: skip
    report = result.summary["household_table"]
    assert report["matched_rows"] == 1
    assert report["matched_in_several_subdistricts"] == [f"{street} {number}"]
    saved = json.loads((tmp_path / "out" / "build.json").read_text())
    assert any("more than one sub-district" in w and street in w for w in saved["warnings"])
    built = read_layer(tmp_path / "out", "buildings").set_index("id")
    assert (built.loc[[west["id"], east["id"]], "population_source"] == "table").all()
