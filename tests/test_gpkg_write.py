"""A polygon layer written in SQLite is the GeoPackage GDAL writes, row for row.

:func:`gis.gpkg_write.write_gpkg_rows` lets GDAL create the empty layer and
fills it itself; these tests compare its file with GDAL's own bulk write of the
same frame: every table's rows (geometry blobs, attributes, registry, sequence,
the R-tree's boxes), the schema, SQLite's and the R-tree's integrity checks,
GDAL's reading of the layer and its answer to a bounding-box query.
"""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis import outputs
from gis.gpkg_write import writable, write_gpkg_rows

#: Rows that hold the time they were written.
_CHANGED = "last_change"


@st.composite
def layers(draw: st.DrawFn) -> gpd.GeoDataFrame:
    """Polygons (some with holes, some MultiPolygons) anywhere, with the build's column types."""
    n = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x0, y0 = draw(st.floats(-179.0, 178.0)), draw(st.floats(-80.0, 79.0))
    x = x0 + rng.uniform(0, 0.5, n)
    y = y0 + rng.uniform(0, 0.5, n)
    size = rng.uniform(1e-5, 1e-3, n)
    geoms = []
    for i in range(n):
        shell = shapely.box(x[i], y[i], x[i] + size[i], y[i] + size[i] * 0.7)
        kind = rng.integers(3)
        if kind == 1:  # a courtyard
            shell = shell.difference(shell.centroid.buffer(size[i] * 0.2, 3))
        if kind == 2:  # two parts
            shell = shapely.MultiPolygon([shell, shapely.affinity.translate(shell, size[i] * 2)])
        geoms.append(shell)
    text = st.one_of(st.none(), st.text(max_size=6))
    frame = {
        "id": [f"w{i}" for i in range(n)],
        "households": rng.integers(0, 500, n),
        "floors": np.where(rng.random(n) < 0.3, np.nan, rng.uniform(1, 30, n)),
        "demand": rng.random(n) < 0.5,
        "name": draw(st.lists(text, min_size=n, max_size=n)),
        "levels": pd.array(draw(st.lists(text, min_size=n, max_size=n)), dtype="string"),
        "landuse": [None] * n,
    }
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as con:
        names = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].endswith(("_node", "_rowid", "_parent"))  # an R-tree's own layout
        ]
        out = {}
        for name in names:
            cursor = con.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cursor.description]
            rows = [
                tuple(v for c, v in zip(columns, row, strict=True) if c != _CHANGED)
                for row in cursor
            ]
            out[name] = sorted(rows, key=repr)
        out["schema"] = sorted(con.execute("SELECT type, name, sql FROM sqlite_master"))
        return out


def _checks(path: Path, layer: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return [
            *con.execute("PRAGMA integrity_check"),
            *con.execute(f"SELECT rtreecheck('rtree_{layer}_geom')"),
        ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(gdf=layers())
def test_a_layer_written_in_sqlite_is_the_one_gdal_writes(
    tmp_path_factory: pytest.TempPathFactory, gdf: gpd.GeoDataFrame
) -> None:
    folder = tmp_path_factory.mktemp("gpkg")
    theirs, mine = folder / "gdal.gpkg", folder / "mine.gpkg"
    gdf.to_file(theirs, layer="buildings", driver="GPKG", engine="pyogrio", promote_to_multi=True)
    assert writable(gdf)
    write_gpkg_rows(gdf, mine, "buildings")

    got_tables, want_tables = _tables(mine), _tables(theirs)
    got_extent, want_extent = (t.pop("gpkg_contents") for t in (got_tables, want_tables))
    assert got_tables == want_tables
    # the extent: exact here, printed to 16 digits by GDAL's SQLite there
    assert [r[:4] + r[8:] for r in got_extent] == [r[:4] + r[8:] for r in want_extent]
    assert np.allclose([r[4:8] for r in got_extent], [r[4:8] for r in want_extent], rtol=1e-15)
    assert _checks(mine, "buildings") == [("ok",), ("ok",)]
    expected = pyogrio.read_dataframe(theirs, layer="buildings", fid_as_index=True)
    got = pyogrio.read_dataframe(mine, layer="buildings", fid_as_index=True)
    pd.testing.assert_frame_equal(got, expected)
    box = tuple(expected.total_bounds * np.array([1, 1, 1, 1]) - np.array([0, 0, 0.2, 0.2]))
    hits = pyogrio.read_dataframe(mine, layer="buildings", bbox=box, fid_as_index=True)
    assert sorted(hits.index) == sorted(expected.index[expected.intersects(shapely.box(*box))])


def test_layers_it_cannot_write_are_left_to_gdal(tmp_path: Path) -> None:
    square = shapely.box(13.0, 52.0, 13.001, 52.001)
    good = gpd.GeoDataFrame({"id": ["a"]}, geometry=[square], crs=4326)
    refused = {
        "points": good.set_geometry([shapely.Point(13, 52)], crs=4326),
        "missing geometry": good.set_geometry([None], crs=4326),
        "empty geometry": good.set_geometry([shapely.Polygon()], crs=4326),
        "a date": good.assign(day=[datetime.date(2026, 12, 2)]),
        "mixed objects": good.assign(value=[[1, 2]]),
        "a named index": good.rename_axis("code"),
        "a column named fid": good.assign(fid=[7]),
        "no features": good.iloc[:0],
    }
    assert writable(good)
    for why, gdf in refused.items():
        assert not writable(gdf), why
    target = tmp_path / "area.gpkg"
    outputs.write_gpkg_layers({"good": good, "points": refused["points"]}, target)
    outputs.write_gpkg_layers({"good": good.assign(id=["b"])}, target)  # replaced: by GDAL
    assert list(pyogrio.read_dataframe(target, layer="good")["id"]) == ["b"]
    assert len(pyogrio.read_dataframe(target, layer="points")) == 1
