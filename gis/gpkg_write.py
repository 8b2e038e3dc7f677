"""Writing polygon layers to a GeoPackage in SQLite, with the tables GDAL makes.

GDAL's GeoPackage driver spends most of a part's GeoPackage time converting
each feature to OGR and back (about 30 µs a building).
:func:`write_gpkg_rows` lets GDAL create each layer, empty (so the table, its
column types, the R-tree, the triggers and the registry rows are GDAL's own),
then fills it in SQLite: the geometries as GeoPackage blobs (the standard
header with the envelope, then the WKB GEOS writes, which is GDAL's too), the
attributes as SQLite values, the R-tree bulk-loaded by :mod:`gis.gpkg_rtree`
with the boxes SQLite's R-tree would store, and the layer's extent, feature
count and sequence.  GDAL reads the file as if it had written it
(tests/test_gpkg_write.py compares both files row for row); the one
difference is the last digit of the extent in ``gpkg_contents``, which GDAL
writes through SQLite's printf (16 significant digits, rounded by the SQLite
version GDAL carries) and this module exactly.

Layers it cannot write this way (not polygonal, missing or empty geometries,
an index GDAL would write as a column, a column type other than text, integer,
real or boolean) are written by GDAL as before; :func:`writable` says which.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import GeometryType

from gis.gpkg_merge import record_layer

#: The blob header's flags: little-endian, envelope ``minx, maxx, miny, maxy``.
_FLAGS = 0b0000_0011
#: SQLite's R-tree rounds a box outwards to float32 by these factors (``rtreeValueDown/Up``).
_TOWARDS = 1.0 - 1.0 / 8388608.0
_AWAY = 1.0 + 1.0 / 8388608.0


def writable(gdf: gpd.GeoDataFrame) -> bool:
    """Whether :func:`write_gpkg_rows` can write ``gdf`` (else GDAL writes it).

    It can when every geometry is a non-empty Polygon or MultiPolygon, the
    index is a plain integer one (GDAL does not write it) and every column is
    text, integer, float or boolean, numpy's (no missing integers).
    """
    geoms = np.asarray(gdf.geometry.values)
    if not len(geoms) or gdf.crs is None or gdf.crs.to_epsg() is None:
        return False
    if gdf.index.name is not None or not pd.api.types.is_integer_dtype(gdf.index):
        return False
    types = shapely.get_type_id(geoms)
    polygonal = (types == GeometryType.POLYGON) | (types == GeometryType.MULTIPOLYGON)
    if not polygonal.all() or shapely.is_empty(geoms).any():
        return False
    return all(_plain(gdf[c]) for c in gdf.columns if c != gdf.geometry.name)


def _plain(column: pd.Series) -> bool:
    """A column whose values SQLite stores as GDAL does: numbers, booleans, text."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return str(column.name).lower() != "fid"  # GDAL takes a column named fid as the FID
    return pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")


def write_gpkg_rows(gdf: gpd.GeoDataFrame, target: Path, layer: str) -> None:
    """Add the polygon layer ``gdf`` (see :func:`writable`) to the GeoPackage ``target``.

    Parameters
    ----------
    gdf
        Polygons and MultiPolygons (written as MultiPolygons, as GDAL's
        ``promote_to_multi`` writes them), in a CRS with an EPSG code.
    target
        A GeoPackage (created when missing) without the layer ``layer``.
    layer
        The layer's name.
    """
    # the empty layer, as GDAL creates it
    gdf.iloc[:0].to_file(
        target,
        layer=layer,
        driver="GPKG",
        engine="pyogrio",
        promote_to_multi=True,
        geometry_type="MultiPolygon",
    )
    geoms = np.asarray(gdf.geometry.values)
    bounds = shapely.bounds(geoms)  # minx, miny, maxx, maxy
    srs = int(gdf.crs.to_epsg())
    con = sqlite3.connect(target, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")  # a temporary file, atomic by its rename
        con.execute("PRAGMA synchronous=OFF")  # flushed by its writer
        con.execute("PRAGMA cache_size=-262144")  # up to 256 MB: no page written twice
        con.execute("BEGIN")
        (column,) = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
        ).fetchone()
        triggers = _drop_triggers(con, layer)
        _insert_rows(con, layer, column, gdf, _blobs(geoms, bounds, srs))
        _load_index(con, layer, column, bounds)
        for sql in triggers:
            con.execute(sql)
        _record(con, layer, bounds, len(geoms))
        con.execute("COMMIT")
    finally:
        con.close()


def _drop_triggers(con: sqlite3.Connection, layer: str) -> list[str]:
    """Drop the layer's triggers (they call GDAL's SQL functions); return them, in order."""
    rows = con.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'trigger' AND tbl_name = ? ORDER BY rowid",
        (layer,),
    ).fetchall()
    for name, _ in rows:
        con.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in rows]


def _blobs(geoms: np.ndarray, bounds: np.ndarray, srs: int) -> list[bytes]:
    """GeoPackage geometry blobs of MultiPolygons: header, envelope, little-endian WKB."""
    polygons = shapely.get_type_id(geoms) == GeometryType.POLYGON
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso").tolist()
    one = struct.pack("<BII", 1, GeometryType.MULTIPOLYGON, 1)  # a MultiPolygon of one part
    head = struct.pack("<2sBBi", b"GP", 0, _FLAGS, srs)
    envelopes = np.ascontiguousarray(bounds[:, [0, 2, 1, 3]], dtype="<f8")  # x, x, y, y
    return [
        head + env.tobytes() + (one + w if poly else w)
        for env, w, poly in zip(envelopes, wkb, polygons.tolist(), strict=True)
    ]


def _insert_rows(
    con: sqlite3.Connection, layer: str, column: str, gdf: gpd.GeoDataFrame, blobs: list[bytes]
) -> None:
    """Insert the features with ``fid`` 1…n, the attributes as SQLite values.

    Python's sqlite3 binds only ints, floats, str and bytearray without looking
    for an adapter (a few µs each for None and bytes): the blobs are bound as
    bytearrays and columns wholly missing are left to their default, NULL.
    """
    names = [c for c in gdf.columns if c != gdf.geometry.name]
    values = {c: _sqlite_values(gdf[c]) for c in names}
    names = [c for c in names if any(v is not None for v in values[c])]
    quoted = ", ".join(f'"{c}"' for c in ["fid", column, *names])
    marks = ", ".join("?" * (len(names) + 2))
    con.executemany(
        f'INSERT INTO "{layer}" ({quoted}) VALUES ({marks})',
        zip(
            range(1, len(blobs) + 1),
            map(bytearray, blobs),
            *(values[c] for c in names),
            strict=True,
        ),
    )


def _sqlite_values(column: pd.Series) -> list[object]:
    """A column's values as GDAL stores them: missing and NaN as NULL, booleans 0 and 1,
    text up to a NUL character."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
        values = column.to_numpy(dtype=float)
        out: list[object] = values.tolist()
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = None
        return out
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biu":
        return column.to_numpy().astype(np.int64).tolist()
    values = column.astype(object).where(column.notna(), None).tolist()
    if any("\0" in v for v in values if v is not None):  # GDAL's C strings end at a NUL
        values = [v if v is None else v.split("\0", 1)[0] for v in values]
    return values


def _load_index(con: sqlite3.Connection, layer: str, geometry: str, bounds: np.ndarray) -> None:
    """Fill the layer's (empty) R-tree with each feature's box as SQLite's R-tree stores it."""
    from gis.gpkg_rtree import load_rtree

    boxes = np.column_stack(
        [
            _float32(bounds[:, 0], down=True),
            _float32(bounds[:, 2], down=False),
            _float32(bounds[:, 1], down=True),
            _float32(bounds[:, 3], down=False),
        ]
    )
    load_rtree(con, f"rtree_{layer}_{geometry}", np.arange(1, len(bounds) + 1), boxes)


def _float32(values: np.ndarray, *, down: bool) -> np.ndarray:
    """``values`` in float32, rounded outwards as SQLite's ``rtreeValueDown``/``Up`` round them."""
    f = values.astype(np.float32)
    if down:
        off = f.astype(np.float64) > values
        factor = np.where(values < 0, _AWAY, _TOWARDS)
    else:
        off = f.astype(np.float64) < values
        factor = np.where(values < 0, _TOWARDS, _AWAY)
    f[off] = (values[off] * factor[off]).astype(np.float32)
    return f


def _record(con: sqlite3.Connection, layer: str, bounds: np.ndarray, count: int) -> None:
    """The layer's extent (exact; GDAL's own are printed by SQLite to 16 digits, differing
    in the last) and feature count."""
    extent = [
        float(v)
        for v in (bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())
    ]
    record_layer(con, layer, extent, count)
