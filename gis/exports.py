"""Layers and plans as files to hand over: GeoJSON, GeoPackage and CSV bytes.

Coordinates go out in WGS 84 (RFC 7946) by default, in CGCS2000
(EPSG:4490) on request, or shifted to GCJ-02 for Chinese web basemaps; in
every system they are rounded to 7 decimals (about 1 cm).  A GeoPackage in
GCJ-02 carries a spatial reference entry of its own that says what it is
(never EPSG:4326), and :func:`file_name` puts the system in every file name.
CSV is UTF-8 with a byte-order mark, so that Excel on Chinese Windows reads
the Chinese in it instead of guessing GBK.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from gis._errors import InputError
from gis.crs import CGCS2000, GCJ02, GCJ02_DESCRIPTION, wgs84_to_gcj02
from gis.outputs import GEOJSON_GRID_DEG, orient_rfc7946, round_quantities

ExportCRS = Literal["wgs84", "cgcs2000", "gcj02"]
ExportFormat = Literal["geojson", "gpkg", "csv"]
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv; charset=utf-8",
}
#: File name suffix of each format.
SUFFIXES = {"geojson": "geojson", "gpkg": "gpkg", "csv": "csv"}
#: Decimals of exported coordinates (the build files' 1e-7 degree grid).
DECIMALS = round(-np.log10(GEOJSON_GRID_DEG))
#: What Excel needs to read a CSV file as UTF-8.
UTF8_BOM = "\ufeff"


def district_layer(grids: gpd.GeoDataFrame, assignment: Mapping[str, int]) -> gpd.GeoDataFrame:
    """Dissolve ``grids`` into one feature per district of ``assignment``.

    Parameters
    ----------
    grids
        Grids with ``code`` (and, when present, ``population``, ``households``).
    assignment
        Grid code → district.

    Returns
    -------
    GeoDataFrame
        ``district``, ``grids``, ``population``, ``households`` and the union
        geometry, in the CRS of ``grids``, sorted by district.
    """
    frame = grids[["code", grids.geometry.name]].copy()
    frame["district"] = grids["code"].astype(str).map(assignment)
    for column in ("population", "households"):
        frame[column] = pd.to_numeric(grids[column], errors="coerce") if column in grids else 0.0
    frame = frame.dropna(subset=["district"])
    frame["district"] = frame["district"].astype(int)
    out = frame.dissolve(
        by="district",
        aggfunc={"code": "count", "population": "sum", "households": "sum"},
    ).rename(columns={"code": "grids"})
    out = out.reset_index()
    out[out.geometry.name] = shapely.make_valid(out.geometry.values)
    return out[["district", "grids", "population", "households", out.geometry.name]]


def to_crs(gdf: gpd.GeoDataFrame, crs: ExportCRS) -> gpd.GeoDataFrame:
    """``gdf`` in the export CRS, coordinates rounded to :data:`DECIMALS`.

    GCJ-02 is WGS 84 with shifted coordinates; the result is labelled
    :data:`gis.crs.GCJ02`, never EPSG:4326.
    """
    wgs = _rounded(round_quantities(orient_rfc7946(gdf)))
    if crs == "wgs84":
        return wgs
    if crs == "cgcs2000":
        return _rounded(wgs.to_crs(CGCS2000))
    if crs == "gcj02":  # the WGS 84 export shifted, so the two files agree to the last digit
        out = wgs.copy()
        out[out.geometry.name] = shapely.transform(out.geometry.values, _gcj_xy)
        return _rounded(out).set_crs(GCJ02, allow_override=True)
    raise InputError(f"unknown crs {crs!r}: use wgs84, cgcs2000 or gcj02")


def _rounded(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every coordinate rounded to :data:`DECIMALS`, rings that rounding broke snapped again."""
    geoms = gdf.geometry.values
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))
    broken = ~shapely.is_valid(rounded) & shapely.is_valid(geoms)
    out = gdf.copy()
    out[out.geometry.name] = rounded
    if broken.any():  # a sliver thinner than the grid: orient_rfc7946 snaps and repairs it
        out.loc[broken, out.geometry.name] = orient_rfc7946(gdf.loc[broken]).geometry.values
    return out


def file_name(stem: str, crs: ExportCRS, fmt: ExportFormat) -> str:
    """A download's file name, named after its CRS: ``grids-gcj02.gpkg``."""
    return f"{stem}-{crs}.{SUFFIXES[fmt]}"


def _gcj_xy(xy: np.ndarray) -> np.ndarray:
    arr = np.asarray(xy, dtype=float)
    lon, lat = wgs84_to_gcj02(arr[:, 0], arr[:, 1])
    return np.column_stack([lon, lat])


def geojson_bytes(gdf: gpd.GeoDataFrame, *, crs: ExportCRS = "wgs84") -> bytes:
    """A FeatureCollection; non-WGS 84 exports carry a ``crs`` member (pre-RFC 7946)."""
    payload = to_crs(gdf, crs).to_geo_dict(na="null", drop_id=True)
    if crs == "cgcs2000":
        payload["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
    if crs == "gcj02":
        payload["crs_note"] = "GCJ-02 offset coordinates for Chinese web basemaps"
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def gpkg_bytes(layers: Mapping[str, gpd.GeoDataFrame], *, crs: ExportCRS = "wgs84") -> bytes:
    """A GeoPackage holding every layer of ``layers``."""
    if not layers:
        raise InputError("nothing to export: give at least one layer")
    with tempfile.TemporaryDirectory(prefix="gridplan-export-") as tmp:
        path = Path(tmp) / "export.gpkg"
        for name, gdf in layers.items():
            to_crs(gdf, crs).to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        if crs == "gcj02":
            _describe_gcj02(path)
        return path.read_bytes()


def _describe_gcj02(path: Path) -> None:
    """Say in the GeoPackage's spatial reference table what its GCJ-02 entry is."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE gpkg_spatial_ref_sys SET description = ? WHERE srs_name = ?",
            (GCJ02_DESCRIPTION, GCJ02.name),
        )


def csv_bytes(gdf: gpd.GeoDataFrame, *, crs: ExportCRS = "wgs84") -> bytes:
    """Attributes as CSV (UTF-8, BOM) with the ``lon``, ``lat`` of a point inside each feature.

    Estimated households and residents are written to one decimal
    (:data:`gis.outputs.QUANTITY_DECIMALS`), not as ``334.26982605892255``.
    """
    out = to_crs(gdf, crs)
    points = shapely.point_on_surface(out.geometry.values)
    table = pd.DataFrame(out.drop(columns=out.geometry.name))
    table["lon"] = shapely.get_x(points).round(DECIMALS)
    table["lat"] = shapely.get_y(points).round(DECIMALS)
    return _excel_csv(table)


def plan_csv_bytes(assignment: Mapping[str, int]) -> bytes:
    """The grid → district table of a plan (columns ``grid``, ``district``)."""
    return _excel_csv(pd.DataFrame(sorted(assignment.items()), columns=["grid", "district"]))


def _excel_csv(table: pd.DataFrame) -> bytes:
    """``table`` as UTF-8 CSV with a byte-order mark (Excel reads it as UTF-8; pandas skips it)."""
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    return (UTF8_BOM + buf.getvalue()).encode("utf-8")
