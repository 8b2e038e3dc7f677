"""The grid invariants on every real area: the bundled ones, the Finnish town never seen in
development, and the compressed Berlin-Adlershof and Dublin Docklands extracts as users have them.

Each area is built (and written) once for the whole module: whole real builds are slow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from api.cli import main
from gis.adjacency import read_adjacency
from gis.area import AreaInput, load_area
from gis.blocks import BLOCK_HIGHWAYS, barrier_lines
from gis.outputs import BuildFolder
from gis.pipeline import BuildResult, build_layers, build_tables, make_area_grids
from tests.conftest import AREAS, TEST_DATA
from tests.districting_fixtures import recount_moved
from tests.grid_invariants import check_grid_invariants, crossed_buildings, mergeable_pairs

REAL = {
    "nanjing": AREAS / "nanjing_xinjiekou",
    "helsinki": AREAS / "helsinki",
    "unseen_pbf": TEST_DATA / "finland_town.osm.pbf",
    "berlin_gz": TEST_DATA / "berlin_adlershof.osm.xml.gz",
    "dublin_gz": TEST_DATA / "dublin_docklands.osm.xml.gz",
}
#: The areas the districting checks run on (the others add nothing to them but time).
DISTRICT_AREAS = ["nanjing", "helsinki", "unseen_pbf", "berlin_gz", "dublin_gz"]


@dataclass
class Built:
    name: str
    area: AreaInput
    result: BuildResult
    boundary: Any  # the study area in the build's metric CRS
    water: Any
    folder: Path


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Build (and write) each real area on first use, once for the module."""
    cache: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in cache:
            area = load_area(REAL[name])
            result = make_area_grids(area)
            crs = result.grids.crs
            shapes = gpd.GeoSeries([area.boundary, area.water], crs=4326).to_crs(crs)
            folder = tmp_path_factory.mktemp(name) / "out"
            BuildFolder(folder).write_build(
                build_layers(result, area), result.summary, build_tables(result)
            )
            cache[name] = Built(name, area, result, shapes.iloc[0], shapes.iloc[1], folder)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_area_grids_keep_every_invariant(builds, name):
    b = builds(name)
    check_grid_invariants(
        b.result.grids,
        b.result.buildings,
        b.result.communities,
        b.boundary,
        area_rtol=1e-7,
        union_rtol=1e-7,
    )


@pytest.mark.parametrize("name", sorted(REAL))
def test_no_grid_boundary_crosses_a_building_osm_does_not_draw_across_a_line(builds, name):
    b = builds(name)
    grids, buildings = b.result.grids, b.result.buildings
    crossed = set(crossed_buildings(grids, buildings))
    # a footprint may straddle only where OSM draws it across a street, railway, river or
    # wall that cuts blocks, or across the study area's edge
    layers = b.area.layers
    crs = grids.crs
    lines = barrier_lines(layers.streets.to_crs(crs), layers.barriers.to_crs(crs), BLOCK_HIGHWAYS)
    edges = np.concatenate([lines, [b.boundary.boundary]])
    footprints = buildings.set_index("id").geometry
    for building in crossed:
        assert shapely.intersects(footprints[building], edges).any(), f"{name}: {building} cut"
    s = b.result.summary["crossings"]
    assert s["crossed"] == 0 and s["worst_outside_share"] == 0.0, name
    assert s["straddling"] == len(crossed), name


@pytest.mark.parametrize("name", sorted(REAL))
def test_grids_stay_on_land_and_neighbours_across_water_need_a_link(builds, name):
    b = builds(name)
    grids = b.result.grids
    water = b.water
    # the extract's own water areas (lakes, rivers, docks drawn as areas), recounted
    barriers = b.area.layers.barriers.to_crs(grids.crs)
    areas = barriers.geometry[(barriers["kind"] == "water") & (barriers.geom_type != "LineString")]
    lakes = shapely.get_parts(shapely.union_all(areas.to_numpy()))
    lakes = shapely.difference(lakes[shapely.area(lakes) >= 2_500], b.boundary.convex_hull.exterior)
    homes = shapely.union_all(b.result.buildings.geometry.values)
    wet = shapely.area(shapely.intersection(grids.geometry.values, shapely.union_all(lakes)))
    wet_homes = shapely.area(shapely.intersection(homes, shapely.union_all(lakes)))
    assert wet.sum() <= wet_homes + 1.0, f"{name}: grids cover {wet.sum():.0f} m² of water"
    table = BuildFolder(b.folder).file("adjacency")
    adjacency = read_adjacency(table, grids["code"].to_numpy())
    geoms = grids.set_index("code").geometry
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    streets = b.area.layers.streets.set_index("id").to_crs(grids.crs).geometry
    for row in frame.itertuples(index=False):
        a, c = geoms[row.grid_a], geoms[row.grid_b]
        if row.link == "":  # on land: the two grids share a boundary, and not over water
            shared = shapely.intersection(a.boundary, c.boundary)
            assert shared.length >= 0.5, (name, row)
            if not water.is_empty:
                assert shapely.intersection(shared, water.buffer(-0.5)).length < 0.5, (name, row)
        elif row.link in ("bridge", "tunnel"):  # a street of the extract crosses the water
            crossing = shapely.union_all(streets[row.via.split(";")].to_numpy())
            assert crossing.intersects(water) or water.is_empty, (name, row)
        else:  # no link at all: reported in the summary
            assert row.link == "nearest", (name, row)
            assert any(row.grid_a in w and row.grid_b in w for w in b.result.summary["warnings"])
    # the graph the districting uses is connected
    from scipy.sparse import csgraph

    assert csgraph.connected_components(adjacency.matrix, directed=False)[0] == 1


@pytest.mark.parametrize("name", sorted(REAL))
def test_the_geopackage_holds_the_same_valid_geometry_as_the_geojson(builds, name):
    import pyogrio

    b = builds(name)
    gpkg = b.folder / "area.gpkg"
    types = dict(pyogrio.list_layers(gpkg))
    for layer in ("grids", "buildings", "communities", "boundary"):
        assert types[layer] == "MultiPolygon", (name, layer)
        back = gpd.read_file(gpkg, layer=layer)
        assert back.is_valid.all() and (back.geom_type == "MultiPolygon").all(), (name, layer)
        geojson = gpd.read_file(b.folder / f"{layer}.geojson")
        assert len(back) == len(geojson), (name, layer)
        crs = b.result.grids.crs
        one, two = back.to_crs(crs).geometry.values, geojson.to_crs(crs).geometry.values
        # the GeoJSON keeps 7 decimals (about 1 cm): the same shapes to that precision
        moved = shapely.area(shapely.symmetric_difference(one, two))
        assert (moved <= 0.02 * shapely.length(one) + 1e-6).all(), (name, layer)


@pytest.mark.parametrize("name", sorted(REAL))
def test_households_are_whole_numbers_that_add_up_in_the_files(builds, name):
    b = builds(name)
    grids = gpd.read_file(b.folder / "grids.geojson")
    buildings = gpd.read_file(b.folder / "buildings.geojson")
    communities = gpd.read_file(b.folder / "communities.geojson")
    for frame in (grids, buildings, communities):
        for column in ("households", "population"):
            values = frame[column].to_numpy(dtype=float)
            assert (values == np.round(values)).all(), (name, column)
    by_grid = buildings.groupby("grid")["households"].sum()
    per_grid = by_grid.reindex(grids["code"], fill_value=0).to_numpy()
    assert (per_grid == grids["households"].to_numpy()).all(), name
    by_community = grids.groupby("community")["households"].sum()
    want = communities.set_index("code")["households"].reindex(by_community.index)
    assert (by_community.to_numpy() == want.to_numpy()).all()
    summary = json.loads((b.folder / "build.json").read_text())
    assert summary["households"] == int(grids["households"].sum())


@pytest.mark.parametrize("name", sorted(REAL))
def test_roofs_and_ruins_are_no_homes_and_no_demand_points(builds, name):
    buildings = builds(name).result.buildings
    kind = buildings["building"].astype(str)
    idle = kind.isin(["roof", "carport", "canopy", "ruins", "construction"])
    assert (~buildings.loc[idle, "demand"]).all()
    assert (buildings.loc[idle, "households"] == 0).all()
    assert buildings.loc[~idle, "demand"].mean() > 0.9


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_area_grids_mostly_hold_the_target_households(builds, name):
    result = builds(name).result
    grids, buildings = result.grids, result.buildings
    hh = grids["households"]
    in_range = ((hh >= 300) & (hh <= 500)).mean()
    # Dublin's docklands are offices and docks: many blocks hold too few homes to fill a grid
    floor = 0.4 if name == "dublin_gz" else 0.5
    assert in_range >= floor, f"{name}: only {in_range:.0%} of grids hold 300-500 households"
    # a grid over the maximum holds a single building with households
    over = grids.loc[hh > 500, "code"]
    homes = buildings[buildings["grid"].isin(over) & (buildings["households"] > 0)]
    assert (homes.groupby("grid").size() == 1).all(), name
    # no two small neighbours of one community that would fit together are left apart
    assert mergeable_pairs(grids, 300, 500, 2500) == [], name


def test_zero_configuration_uses_the_built_up_extent(builds):
    b = builds("unseen_pbf")
    assert b.area.study_area_source == "built-up extent"
    assert b.result.summary["communities_derived"]
    assert len(b.result.buildings) > 2000  # nearly every building of the town is in


@pytest.mark.parametrize("name", ["berlin_gz", "dublin_gz"])
def test_compressed_extracts_are_read_as_they_come_and_split_by_their_river(builds, name):
    b = builds(name)
    assert b.area.study_area_source == "built-up extent" and b.area.language == "en"
    assert len(b.result.buildings) > 1000
    # the Teltowkanal and the Liffey run through the built-up extent: they are left out
    assert b.area.water_m2 > 50_000
    assert b.result.summary["links"]["bridge"] >= 2


def test_build_command_writes_rfc7946_layers_and_a_geopackage(tmp_path: Path, capsys):
    out = tmp_path / "nj"
    assert main(["build", str(REAL["nanjing"]), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grids"] > 50 and summary["communities_derived"] is True
    for name in ("grids", "buildings", "communities", "streets", "pois", "boundary"):
        data = json.loads((out / f"{name}.geojson").read_text(encoding="utf-8"))
        assert "crs" not in data  # RFC 7946: WGS 84 only
        assert data["features"], name
    grids = gpd.read_file(out / "grids.geojson")
    assert {"code", "community", "households", "population", "area_m2"} <= set(grids.columns)
    assert grids["code"].str.fullmatch(r"320104001\d{6}").all()
    lon_lat = shapely.get_coordinates(grids.geometry.values)
    assert ((lon_lat[:, 0] > 118.7) & (lon_lat[:, 0] < 118.9) & (lon_lat[:, 1] > 32.0)).all()
    # right-hand rule: exteriors counter-clockwise
    assert all(shapely.is_ccw(p.exterior) for p in grids.geometry)
    assert grids.is_valid.all()
    boundary = gpd.read_file(out / "boundary.geojson").to_crs(summary["crs"]).geometry.iloc[0]
    metric = grids.to_crs(summary["crs"])
    # the file keeps 7 decimals (about 1 cm): the tiling holds to that precision
    assert abs(metric.area.sum() - boundary.area) <= 0.01 * boundary.length
    buildings = gpd.read_file(out / "buildings.geojson")
    assert {"grid", "households", "population", "demand"} <= set(buildings.columns)
    assert buildings["grid"].isin(grids["code"]).all()
    import pyogrio

    layers = set(pyogrio.list_layers(out / "area.gpkg")[:, 0])
    assert {"grids", "buildings", "communities", "streets", "pois", "boundary"} <= layers
    assert json.loads((out / "build.json").read_text())["grids"] == len(grids)
    assert (out / "adjacency.csv").is_file()


@pytest.mark.parametrize("name", DISTRICT_AREAS)
def test_real_area_25_districts_reach_tolerance_or_the_proven_best(builds, name):
    from gis.districting import draw_districts

    result = builds(name).result
    k = min(25, len(result.grids) // 2)  # central Helsinki holds about 20 grids
    fresh = draw_districts(result.grids, k, tolerance=0.02, seed=0, adjacency=result.adjacency)
    s = fresh.summary
    assert s["contiguous"] and s["k"] == k, name
    if not s["within_tolerance"]:  # too coarse: within a point of a proven bound, said plainly
        assert s["exact"] is not None and s["best_bound"] > 0.02, name
        # the bound is sound, and the plan within a point of it (issue 12's criterion)
        assert s["best_bound"] - 1e-9 <= s["max_deviation"] <= s["best_bound"] + 0.01, name
        bound = f"±{s['best_bound']:.2%}"
        assert any(bound in w for w in fresh.warnings), (name, fresh.warnings)


@pytest.mark.parametrize("name", DISTRICT_AREAS)
def test_real_area_11_to_25_keeps_most_old_boundaries(builds, name):
    from gis.districting import draw_districts

    result = builds(name).result
    grids = result.grids
    k_old, k_new = min(11, len(grids) // 4), min(25, len(grids) // 2)
    old = draw_districts(grids, k_old, tolerance=0.1, seed=0).assignment
    new = draw_districts(grids, k_new, tolerance=0.02, from_plan=old, seed=0)
    s = new.summary
    assert s["contiguous"] and s["from_k"] == k_old, name
    # "moved" recounted from its definition: the new district draws most people elsewhere
    moved, people = recount_moved(old, new.assignment, grids.set_index("code")["population"])
    assert s["moved_grids"] == moved, name
    assert s["moved_population"] == pytest.approx(people, abs=1.0), name
    assert s["moved_share"] < 0.5, f"{name}: {s['moved_share']:.0%} of grids changed district"
