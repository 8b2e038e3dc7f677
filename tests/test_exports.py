# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Exports: GeoJSON (WGS 84, CGCS2000, GCJ-02), GeoPackage and CSV, as functions and endpoints."""

from __future__ import annotations

import io
import json
import sqlite3
from decimal import Decimal

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis import exports
from gis.crs import GCJ02, wgs84_to_gcj02
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
    assert r.content.decode("utf-8-sig").startswith("grid,district")
    assert r.text.count("\n") == 25
    r = client.get("/plans/current/export", params={"format": "gpkg", "crs": "cgcs2000"})
    (tmp_path / "p.gpkg").write_bytes(r.content)
    assert len(gpd.read_file(tmp_path / "p.gpkg", layer="districts")) == 4
    assert len(gpd.read_file(tmp_path / "p.gpkg", layer="grids")) == 24
    r = client.get("/plans/current/export", params={"format": "geojson"})
    assert len(r.json()["features"]) == 4
    assert client.get("/exports/nope").status_code == 404
    assert client.get("/exports/grids", params={"format": "shp"}).status_code == 422
    assert client.get("/exports/districts", params={"plan": "nope"}).status_code == 404


def _coordinates(geometry: dict) -> list[float]:
    """Every coordinate number of a GeoJSON geometry."""
    out: list[float] = []

    def walk(c: object) -> None:
        if isinstance(c, float | int):
            out.append(float(c))
        else:
            for x in c:  # type: ignore[attr-defined]
                walk(x)

    walk(geometry["coordinates"])
    return out


def _decimals(x: float) -> int:
    return max(0, -Decimal(repr(x)).as_tuple().exponent)


@pytest.fixture
def mixed() -> gpd.GeoDataFrame:
    """A polygon, a street and a point with coordinates of 15 decimals."""
    x, y = 118.771234567891234, 32.041234567891234
    geoms = [
        shapely.box(x, y, x + 0.00312345678912, y + 0.00212345678912),
        shapely.LineString([(x, y), (x + 0.001234567891234, y + 0.000987654321987)]),
        shapely.Point(x + 0.000555555555555, y + 0.000444444444444),
    ]
    return gpd.GeoDataFrame({"kind": ["grid", "street", "poi"]}, geometry=geoms, crs="EPSG:4326")


@pytest.mark.parametrize("crs", ["wgs84", "cgcs2000", "gcj02"])
def test_every_export_has_7_decimals_and_gcj02_stays_exact(mixed, crs) -> None:
    payload = json.loads(exports.geojson_bytes(mixed, crs=crs))
    wgs = json.loads(exports.geojson_bytes(mixed))
    for feature, plain in zip(payload["features"], wgs["features"], strict=True):
        numbers = _coordinates(feature["geometry"])
        assert max(_decimals(v) for v in numbers) <= 7, feature["geometry"]
        if crs == "gcj02":  # the shift itself is not rounded away: within half a unit of 1e-7
            lon, lat = wgs84_to_gcj02(
                _coordinates(plain["geometry"])[0::2], _coordinates(plain["geometry"])[1::2]
            )
            assert max(abs(a - b) for a, b in zip(numbers[0::2], lon, strict=True)) <= 5.01e-8
            assert max(abs(a - b) for a, b in zip(numbers[1::2], lat, strict=True)) <= 5.01e-8
    assert shapely.from_geojson(json.dumps(payload["features"][0]["geometry"])).is_valid
    table = pd.read_csv(io.BytesIO(exports.csv_bytes(mixed, crs=crs)))
    assert max(_decimals(v) for v in [*table["lon"], *table["lat"]]) <= 7


def test_gcj02_geopackage_has_its_own_spatial_reference(mixed, tmp_path) -> None:
    path = tmp_path / "gcj.gpkg"
    path.write_bytes(exports.gpkg_bytes({"grids": mixed, "again": mixed}, crs="gcj02"))
    with sqlite3.connect(path) as db:
        used = {r[0] for r in db.execute("SELECT srs_id FROM gpkg_contents")}
        ((srs_id, name, org, description),) = db.execute(
            "SELECT srs_id, srs_name, organization, description FROM gpkg_spatial_ref_sys "
            f"WHERE srs_id IN ({','.join(map(str, used))})"
        ).fetchall()
    assert srs_id not in (0, 4326) and org.upper() != "EPSG"  # one entry, not plain WGS 84
    assert "GCJ-02" in name and "GCJ-02" in description and "not" in description.lower()
    back = gpd.read_file(path, layer="grids")
    assert back.crs.to_epsg() is None and not back.crs.equals("EPSG:4326")
    assert back.crs.name == GCJ02.name
    lon, lat = wgs84_to_gcj02(*mixed.geometry.iloc[2].coords[0])
    assert back.geometry.iloc[2].x == pytest.approx(float(lon), abs=5.01e-8)
    assert back.geometry.iloc[2].y == pytest.approx(float(lat), abs=5.01e-8)
    # the WGS 84 and CGCS2000 files keep their EPSG codes
    for crs, epsg in (("wgs84", 4326), ("cgcs2000", 4490)):
        path.write_bytes(exports.gpkg_bytes({"grids": mixed}, crs=crs))
        assert gpd.read_file(path, layer="grids").crs.to_epsg() == epsg


def test_csv_opens_in_excel_on_chinese_windows(mixed) -> None:
    """UTF-8 with a byte-order mark: Excel reads it as UTF-8 instead of the ANSI code page."""
    mixed["name"] = ["新街口社区", "中山路", "服务站"]
    data = exports.csv_bytes(mixed)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "kind,name,lon,lat" and "新街口社区" in text
    assert pd.read_csv(io.BytesIO(data)).columns[0] == "kind"  # pandas skips the mark
    plan = exports.plan_csv_bytes({"320102001001001": 1})
    assert plan.startswith(b"\xef\xbb\xbf") and plan.decode("utf-8-sig").startswith("grid,")


def test_every_download_is_named_after_its_crs(client) -> None:
    for fmt in ("geojson", "gpkg", "csv"):
        for crs in ("wgs84", "cgcs2000", "gcj02"):
            for path in ("/exports/grids", "/exports/districts", "/plans/current/export"):
                r = client.get(path, params={"format": fmt, "crs": crs})
                assert r.status_code == 200, r.text
                name = r.headers["content-disposition"].split("filename=")[1].strip('"')
                assert name.endswith(f"-{crs}.{fmt}"), (path, name)
                if fmt == "csv":
                    assert r.content.startswith(b"\xef\xbb\xbf")
