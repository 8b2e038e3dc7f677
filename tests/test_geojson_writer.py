"""The GeoJSON writer writes what GDAL's RFC 7946 driver writes, value for value.

gridplan writes its layers with its own writer (GEOS for geometries, :mod:`json`
for properties) because GDAL's is several times slower on a city's buildings;
these tests hold it to GDAL's output on generated frames: the same parsed JSON,
and the same frame when read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis import outputs

lon = st.floats(min_value=-179.0, max_value=179.0, allow_nan=False)
lat = st.floats(min_value=-80.0, max_value=80.0, allow_nan=False)


@st.composite
def geometries(draw: st.DrawFn) -> shapely.Geometry | None:
    kind = draw(st.sampled_from(["point", "line", "polygon", "none"]))
    x, y = draw(lon), draw(lat)
    if kind == "none":
        return None
    if kind == "point":
        return shapely.Point(x, y)
    dx = draw(st.floats(min_value=1e-6, max_value=0.5))
    dy = draw(st.floats(min_value=1e-6, max_value=0.5))
    if kind == "line":
        return shapely.LineString([(x, y), (x + dx, y + dy), (x + 2 * dx, y)])
    return shapely.Polygon([(x, y), (x, y + dy), (x + dx, y + dy), (x + dx, y)])  # clockwise


# quotes, newlines, any script; not NUL, which GDAL's C strings end at (gridplan writes it)
texts = st.one_of(
    st.none(), st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12)
)
numbers = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def frames(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(min_value=0, max_value=12))
    data = {
        "code": draw(
            st.lists(
                st.text(alphabet="0123456789", min_size=15, max_size=15), min_size=n, max_size=n
            )
        ),
        "count": draw(
            st.lists(st.integers(min_value=-(2**53), max_value=2**53), min_size=n, max_size=n)
        ),
        "share": draw(st.lists(numbers, min_size=n, max_size=n)),
        "name": draw(st.lists(texts, min_size=n, max_size=n)),
        "open": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    }
    geoms = draw(st.lists(geometries(), min_size=n, max_size=n))
    keep = draw(st.lists(st.sampled_from(sorted(data)), unique=True))  # any columns, or none
    return gpd.GeoDataFrame({k: data[k] for k in keep}, geometry=geoms, crs="EPSG:4326")


def _gdal(gdf: gpd.GeoDataFrame, path: Path) -> None:
    outputs.orient_rfc7946(gdf).to_file(
        path, layer="layer", driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES"}
    )


def _same_json(ours: object, gdal: object) -> bool:
    """Equal parsed JSON, but where GDAL leaves out a property (a missing or non-finite
    number) gridplan writes null: every feature lists every property."""
    if isinstance(ours, dict) and isinstance(gdal, dict):
        if ours.get("type") == "Feature" and "properties" in ours:
            props = {k: v for k, v in ours["properties"].items() if v is not None}
            given = {k: v for k, v in gdal["properties"].items() if v is not None}
            rest = {k: v for k, v in ours.items() if k != "properties"}
            return _same_json(props, given) and _same_json(
                rest, {k: v for k, v in gdal.items() if k != "properties"}
            )
        return ours.keys() == gdal.keys() and all(_same_json(ours[k], gdal[k]) for k in ours)
    a, b = ours, gdal
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(gdf=frames())
def test_the_writer_writes_what_gdal_writes(tmp_path: Path, gdf: gpd.GeoDataFrame) -> None:
    ours, theirs = tmp_path / "ours.geojson", tmp_path / "gdal.geojson"
    outputs.to_geojson_file(gdf, ours, layer="layer")
    _gdal(gdf, theirs)
    doc, gdal = json.loads(ours.read_text("utf-8")), json.loads(theirs.read_text("utf-8"))
    for f in doc["features"] + gdal["features"]:
        f["geometry"] = f["geometry"] and f["geometry"]["type"]  # coordinates compared below
    assert _same_json(doc, gdal)
    names = [c for c in gdf.columns if c != "geometry"]
    assert all(list(f["properties"]) == names for f in doc["features"])
    a = gpd.read_file(ours, engine="pyogrio")
    b = gpd.read_file(theirs, engine="pyogrio")
    # a property GDAL never wrote (a column of missing numbers) reads back as no column
    extra = [c for c in a.columns if c not in b.columns]
    assert a[extra].isna().all().all()
    pd.testing.assert_frame_equal(a.drop(columns=[*extra, "geometry"]), b.drop(columns="geometry"))
    # coordinates: exactly the oriented ones at 7 decimals; GDAL's within 1e-6 degree
    # (it prints -10.9999990 as -11.0: a run of nines makes it drop digits)
    expected = outputs._as_written(outputs.orient_rfc7946(gdf)).geometry.values
    has = ~shapely.is_missing(expected)
    assert (a.geometry.isna().to_numpy() == ~has).all()
    assert (b.geometry.isna().to_numpy() == ~has).all()
    assert shapely.equals_exact(a.geometry.values[has], expected[has], 0).all()
    assert shapely.equals_exact(b.geometry.values[has], expected[has], 1.01e-6).all()


def test_the_writer_keeps_seven_decimals_and_the_right_hand_rule(tmp_path: Path) -> None:
    square = shapely.Polygon([(118.0, 32.0), (118.0, 32.001), (118.001, 32.001), (118.001, 32.0)])
    point = shapely.Point(118.123456789, 32.987654321)
    gdf = gpd.GeoDataFrame({"households": [350.25, np.nan]}, geometry=[square, point], crs=4326)
    path = tmp_path / "grids.geojson"
    outputs.to_geojson_file(gdf, path, layer="grids")
    doc = json.loads(path.read_text("utf-8"))
    assert "crs" not in doc and doc["name"] == "grids"
    ring = np.array(doc["features"][0]["geometry"]["coordinates"][0])
    assert shapely.LinearRing(ring).is_ccw  # exterior counter-clockwise (RFC 7946 §3.1.6)
    assert doc["features"][1]["geometry"]["coordinates"] == [118.1234568, 32.9876543]
    assert doc["features"][1]["properties"]["households"] is None  # NaN is not JSON
