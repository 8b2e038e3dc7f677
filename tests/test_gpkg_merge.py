"""The city's GeoPackage: parts appended in SQLite give what one bulk write of them gives.

Synthetic parts (hypothesis: sizes, empty parts, missing values) are written
as GeoPackages by :func:`gis.outputs.write_gpkg_layers`, appended to a city
file by :func:`gis.gpkg_merge.append_gpkg_layers`, and compared with one write
of the concatenated layers: the same features in the same order with the same
fids, the same tables and triggers, the same extents and feature counts, a
spatial index GDAL uses, and a file SQLite finds sound.  A city folder built
from the real Adlershof extract is checked the same way against its GeoJSON.
"""

from __future__ import annotations

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

from gis._errors import UnreadableFileError
from gis.gpkg_merge import append_gpkg_layers
from gis.gpkg_rtree import load_rtree, read_rtree
from gis.outputs import write_gpkg_layers


def _part(seed: int, rows: int, x0: float) -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 0.01, size=(rows, 2)) + np.array([x0, 52.0])
    size = rng.uniform(1e-5, 1e-4, size=rows)
    cells = gpd.GeoDataFrame(
        {
            "code": [f"{seed:03d}{i:04d}" for i in range(rows)],
            "households": rng.uniform(0, 500, rows),
            "name": [None if i % 3 else f"n{i}" for i in range(rows)],
        },
        geometry=shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + size, xy[:, 1] + size),
        crs="EPSG:4326",
    )
    return {"grids": cells, "buildings": cells.iloc[::2].reset_index(drop=True)}


def _city_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"kind": ["street"]}, geometry=[shapely.LineString([(13, 52), (13.1, 52.1)])], crs=4326
    )


def _master(path: Path, names: tuple[str, ...]) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    return [r for r in rows if any(n in r[1] for n in names)]


def _registry(path: Path, name: str) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as con:
        return {
            "contents": con.execute(
                "SELECT table_name, data_type, identifier, srs_id FROM gpkg_contents "
                "WHERE table_name = ?",
                (name,),
            ).fetchall(),
            "extent": con.execute(
                "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
                (name,),
            ).fetchall(),
            "geometry": con.execute(
                "SELECT * FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
            ).fetchall(),
            "extensions": con.execute(
                "SELECT * FROM gpkg_extensions WHERE table_name = ?", (name,)
            ).fetchall(),
            "count": con.execute(
                "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (name,)
            ).fetchall(),
            "rtree": con.execute(f'SELECT * FROM "rtree_{name}_geom" ORDER BY id').fetchall(),
            "sequence": con.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)
            ).fetchall(),
            "check": con.execute("PRAGMA integrity_check").fetchall(),
            "rtreecheck": con.execute(f"SELECT rtreecheck('rtree_{name}_geom')").fetchall(),
        }


def _shadow(path: Path | str, rtree: str, con: sqlite3.Connection | None = None) -> list[object]:
    """The rows of an R-tree's shadow tables: its nodes' bytes, each entry's leaf, each parent."""
    con = con or sqlite3.connect(path)
    return [
        con.execute(f'SELECT * FROM "{rtree}_{table}" ORDER BY 1').fetchall()
        for table in ("node", "rowid", "parent")
    ]


def _one_load(sources: list[Path], name: str) -> list[object]:
    """The R-tree one bulk load of the parts' entries gives: each part's in the order a scan
    of its R-tree gives them, renumbered after the parts before it."""
    entries, offset = [], 0
    for source in sources:
        with sqlite3.connect(source) as con:
            rows = con.execute(f'SELECT * FROM "rtree_{name}_geom"').fetchall()
            entries += [(i + offset, *box) for i, *box in rows]
            (count,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            offset += count
    con = sqlite3.connect(":memory:")  # pages of 4096 bytes, as GDAL's
    con.execute("CREATE VIRTUAL TABLE one USING rtree(id, minx, maxx, miny, maxy)")
    table = np.array(entries, dtype=np.float64).reshape(-1, 5)
    load_rtree(con, "one", table[:, 0].astype(np.int64), table[:, 1:])
    return _shadow(":memory:", "one", con)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5), seed=st.integers(0, 999))
def test_appended_parts_equal_one_bulk_write(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], seed: int
) -> None:
    folder = tmp_path_factory.mktemp("merge")
    parts = [_part(seed + i, n, 13.0 + 0.02 * ((i * 2 + 3) % 5)) for i, n in enumerate(sizes)]
    sources = []
    for i, layers in enumerate(parts):
        sources.append(folder / f"part{i}.gpkg")
        write_gpkg_layers(layers, sources[-1])
    names = ("grids", "buildings")
    whole = {
        n: gpd.GeoDataFrame(pd.concat([p[n] for p in parts], ignore_index=True), crs=4326)
        for n in names
    }
    bulk, merged = folder / "bulk.gpkg", folder / "merged.gpkg"
    write_gpkg_layers({"streets": _city_layer(), **whole}, bulk)
    write_gpkg_layers({"streets": _city_layer()}, merged)
    append_gpkg_layers(merged, sources, names)

    assert [tuple(x) for x in pyogrio.list_layers(merged)] == [
        tuple(x) for x in pyogrio.list_layers(bulk)
    ]
    if sum(sizes) and all(sizes):  # an empty first part gives its table no geometry type
        assert _master(merged, names) == _master(bulk, names)
    for name in names:
        expected = pyogrio.read_dataframe(bulk, layer=name, fid_as_index=True)
        got = pyogrio.read_dataframe(merged, layer=name, fid_as_index=True)
        pd.testing.assert_frame_equal(got, expected)
        mine, theirs = _registry(merged, name), _registry(bulk, name)
        assert mine["check"] == [("ok",)]
        assert mine["rtreecheck"] == [("ok",)]
        for key in ("contents", "geometry", "extensions", "count", "rtree", "sequence"):
            assert mine[key] == theirs[key], key
        assert np.allclose(mine["extent"], theirs["extent"]) if len(expected) else True
        assert _shadow(merged, f"rtree_{name}_geom") == _one_load(sources, name), name
        if len(expected):  # GDAL answers a bounding-box query from the index
            box = tuple(expected.total_bounds - np.array([0, 0, 0.005, 0]))
            hits = pyogrio.read_dataframe(merged, layer=name, bbox=box, fid_as_index=True)
            want = expected[expected.intersects(shapely.box(*box))]
            assert sorted(hits.index) == sorted(want.index)


def test_parts_with_other_columns_are_refused(tmp_path: Path) -> None:
    one, other = _part(1, 5, 13.0), _part(2, 5, 13.1)
    other["grids"] = other["grids"].assign(extra=1.0)
    write_gpkg_layers(one, tmp_path / "a.gpkg")
    write_gpkg_layers(other, tmp_path / "b.gpkg")
    write_gpkg_layers({"streets": _city_layer()}, tmp_path / "city.gpkg")
    with pytest.raises(UnreadableFileError, match="other columns"):
        append_gpkg_layers(
            tmp_path / "city.gpkg", [tmp_path / "a.gpkg", tmp_path / "b.gpkg"], ("grids",)
        )


@pytest.mark.parametrize("step", [1, 3])  # ids without gaps (a layer's rows), with gaps
@pytest.mark.parametrize("n", [1, 51, 52, 6000])
def test_a_bulk_loaded_rtree_is_sound_and_answers_as_one_filled_by_inserts(
    n: int, step: int
) -> None:
    rng = np.random.default_rng(n)
    lo = rng.uniform(0, 100, size=(n, 2)).astype(np.float32)
    hi = lo + rng.uniform(0, 2, size=(n, 2)).astype(np.float32)
    boxes = np.column_stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]]).astype(np.float64)
    ids = rng.permutation(n).astype(np.int64) * step + 1
    con = sqlite3.connect(":memory:")
    for table in ("bulk", "inserted"):
        con.execute(f"CREATE VIRTUAL TABLE {table} USING rtree(id, minx, maxx, miny, maxy)")
    load_rtree(con, "bulk", ids, boxes)
    con.executemany(
        "INSERT INTO inserted VALUES (?, ?, ?, ?, ?)", np.column_stack([ids, boxes]).tolist()
    )
    assert con.execute("SELECT rtreecheck('bulk')").fetchone() == ("ok",)
    assert (
        con.execute("SELECT * FROM bulk ORDER BY id").fetchall()
        == con.execute("SELECT * FROM inserted ORDER BY id").fetchall()
    )
    for x, y in rng.uniform(0, 100, size=(20, 2)):
        query = "SELECT id FROM {} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ? "
        query += "ORDER BY id"
        args = (x, x + 10, y, y + 10)
        assert (
            con.execute(query.format("bulk"), args).fetchall()
            == con.execute(query.format("inserted"), args).fetchall()
        )
    con.execute("INSERT INTO bulk VALUES (-5, 1, 2, 1, 2)")  # SQLite keeps it up afterwards
    con.executemany("DELETE FROM bulk WHERE id = ?", [(int(i),) for i in ids[:30]])
    assert con.execute("SELECT rtreecheck('bulk')").fetchone() == ("ok",)


@pytest.mark.parametrize("n", [0, 1, 52, 3000])
def test_an_rtree_is_read_in_the_order_a_scan_gives(n: int) -> None:
    rng = np.random.default_rng(n)
    lo = rng.uniform(0, 100, size=(n, 2))
    hi = lo + rng.uniform(0, 2, size=(n, 2))
    rows = np.column_stack([rng.permutation(n) + 1, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]])
    con = sqlite3.connect(":memory:")
    for table in ("inserted", "bulk"):  # split node by node; packed by load_rtree
        con.execute(f"CREATE VIRTUAL TABLE {table} USING rtree(id, minx, maxx, miny, maxy)")
    con.executemany("INSERT INTO inserted VALUES (?, ?, ?, ?, ?)", rows.tolist())
    load_rtree(con, "bulk", rows[:, 0].astype(np.int64), rows[:, 1:].astype(np.float32))
    for table in ("inserted", "bulk"):
        ids, boxes = read_rtree(con, table)
        got = np.column_stack([ids, boxes]).tolist() if n else []
        assert got == [list(r) for r in con.execute(f"SELECT * FROM {table}")], table
