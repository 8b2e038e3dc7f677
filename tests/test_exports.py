# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Exports: GeoJSON (WGS 84, CGCS2000, GCJ-02), GeoPackage and CSV, as functions and endpoints."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis import exports
from gis.crs import wgs84_to_gcj02
from tests.api_fixtures import build_dir, client, database_url, settings  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    geoms = [shapely.box(118.77 + i * 0.01, 32.03, 118.78 + i * 0.01, 32.04) for i in range(4)]
    return gpd.GeoDataFrame(
        {"code": [f"g{i}" for i in range(4)], "population": [10.0, 20.0, 30.0, 40.0]},
        geometry=geoms,
        crs="EPSG:4326",
    )


def test_district_layer_dissolves_and_sums(squares) -> None:
    out = exports.district_layer(squares, {"g0": 1, "g1": 1, "g2": 2, "g3": 2})
    assert list(out["district"]) == [1, 2]
    assert list(out["population"]) == [30.0, 70.0] and list(out["grids"]) == [2, 2]
    assert out.geometry.iloc[0].area == pytest.approx(0.0002)


def test_geojson_in_three_systems(squares) -> None:
    wgs = json.loads(exports.geojson_bytes(squares))
    assert "crs" not in wgs
    assert wgs["features"][0]["geometry"]["coordinates"][0][0][0] == pytest.approx(118.77)
    cgcs = json.loads(exports.geojson_bytes(squares, crs="cgcs2000"))
    assert cgcs["crs"]["properties"]["name"].endswith("4490")
    gcj = json.loads(exports.geojson_bytes(squares, crs="gcj02"))
    x, y = gcj["features"][0]["geometry"]["coordinates"][0][0]
    ox, oy = wgs["features"][0]["geometry"]["coordinates"][0][0]
    ex, ey = wgs84_to_gcj02(ox, oy)
    assert (x, y) == (pytest.approx(float(ex)), pytest.approx(float(ey)))


def test_gpkg_and_csv(squares, tmp_path) -> None:
    data = exports.gpkg_bytes({"grids": squares, "again": squares}, crs="cgcs2000")
    path = tmp_path / "x.gpkg"
    path.write_bytes(data)
    back = gpd.read_file(path, layer="grids")
    assert len(back) == 4 and back.crs.to_epsg() == 4490
    table = pd.read_csv(io.BytesIO(exports.csv_bytes(squares)))
    assert list(table.columns) == ["code", "population", "lon", "lat"]
    plan = pd.read_csv(io.BytesIO(exports.plan_csv_bytes({"b": 2, "a": 1})), dtype=str)
    assert plan.to_dict("list") == {"grid": ["a", "b"], "district": ["1", "2"]}


def test_export_endpoints(client, tmp_path) -> None:
    r = client.get("/exports/grids", params={"format": "geojson", "crs": "gcj02"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert len(r.json()["features"]) == 24
    r = client.get("/exports/buildings", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv") and r.text.count("\n") == 73
    r = client.get("/plans/current/export", params={"format": "csv"})
    assert r.text.startswith("grid,district") and r.text.count("\n") == 25
    r = client.get("/plans/current/export", params={"format": "gpkg", "crs": "cgcs2000"})
    (tmp_path / "p.gpkg").write_bytes(r.content)
    assert len(gpd.read_file(tmp_path / "p.gpkg", layer="districts")) == 4
    assert len(gpd.read_file(tmp_path / "p.gpkg", layer="grids")) == 24
    r = client.get("/plans/current/export", params={"format": "geojson"})
    assert len(r.json()["features"]) == 4
    assert client.get("/exports/nope").status_code == 404
    assert client.get("/exports/grids", params={"format": "shp"}).status_code == 422
    assert client.get("/exports/districts", params={"plan": "nope"}).status_code == 404
