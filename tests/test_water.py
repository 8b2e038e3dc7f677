"""Open water out of the study area: water areas, rivers drawn as lines, the sea beside a coast."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.water import MIN_LAND_M2, MIN_WATER_M2, land_only, sea_faces, water_mask

CRS = "EPSG:32650"
AREA = shapely.box(0, 0, 1000, 1000)


def _barriers(rows: list[tuple[str, shapely.Geometry, str | None]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"w{i}" for i in range(len(rows))], "kind": [r[0] for r in rows],
         "width": [r[2] for r in rows]},
        geometry=[r[1] for r in rows],
        crs=CRS,
    )  # fmt: skip


def test_a_coastline_leaves_the_sea_on_its_right():
    # drawn west to east: land on the left (north), sea on the right (south); the way
    # stops 3 m short of the area's edges, as a clipped extract leaves it
    coast = shapely.LineString([(3, 400), (500, 450), (997, 400)])
    sea = sea_faces(AREA, np.array([coast], dtype=object))
    assert len(sea) == 1
    assert sea[0].contains(shapely.Point(500, 100))
    assert not sea[0].contains(shapely.Point(500, 900))
    reverse = sea_faces(AREA, np.array([coast.reverse()], dtype=object))
    assert reverse[0].contains(shapely.Point(500, 900))


def test_rivers_drawn_as_lines_take_their_width_and_ponds_stay_land():
    river = shapely.LineString([(-10, 500), (1010, 500)])
    pond = shapely.box(100, 100, 130, 130)  # 900 m², under the threshold
    lake = shapely.box(600, 600, 700, 700)
    barriers = _barriers([("waterway", river, "30"), ("water", pond, None), ("water", lake, None)])
    water = water_mask(AREA, barriers, np.array([], dtype=object))
    assert water.area == pytest.approx(30 * 1000 + 100 * 100, rel=1e-6)
    assert not water.intersects(shapely.Point(115, 115))
    untagged = water_mask(AREA, _barriers([("waterway", river, None)]), np.array([]))
    assert untagged.area == pytest.approx(10 * 1000, rel=1e-6)  # the default width
    assert pond.area < MIN_WATER_M2 <= lake.area


def test_buildings_in_the_water_stay_land_and_small_cut_off_land_is_dropped():
    lake = shapely.box(300, 300, 700, 700)
    boathouse = shapely.box(480, 690, 500, 710)  # on the shore, half in the lake
    water = water_mask(AREA, _barriers([("water", lake, None)]), np.array([boathouse]))
    assert not water.intersects(boathouse.buffer(-0.01))
    islet = shapely.box(480, 480, 500, 500)  # 400 m² in the middle: too small to keep
    water = water_mask(AREA, _barriers([("water", lake, None)]), np.array([islet]))
    land = land_only(AREA, water)
    assert land.area == pytest.approx(AREA.area - lake.area, rel=1e-9)
    assert islet.area < MIN_LAND_M2


def test_a_river_splits_the_study_area_of_a_bare_extract(tmp_path):
    from gis.area import load_area
    from gis.synthetic import synthetic_town, to_osm_xml

    town = synthetic_town(400, seed=2, block_size_m=120)
    path = to_osm_xml(town, tmp_path / "town.osm")
    area = load_area(path)
    land = gpd.GeoSeries([area.boundary], crs=4326).to_crs(town.crs).iloc[0]
    river = town.streets.loc[town.streets["waterway"] == "river"].geometry.iloc[0]
    assert land.geom_type == "MultiPolygon"  # the river cuts the built-up extent in two
    assert shapely.intersection(land, river).length < 1.0
    assert area.water_m2 > 5_000
