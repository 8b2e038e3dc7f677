"""Layers and plans as files to hand over: GeoJSON, GeoPackage and CSV bytes.

Coordinates go out in WGS 84 (RFC 7946) by default, in CGCS2000
(EPSG:4490) on request, or shifted to GCJ-02 for Chinese web basemaps.
"""

from __future__ import annotations

import io
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
from gis.crs import CGCS2000, wgs84_to_gcj02
from gis.outputs import orient_rfc7946

ExportCRS = Literal["wgs84", "cgcs2000", "gcj02"]
ExportFormat = Literal["geojson", "gpkg", "csv"]
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv; charset=utf-8",
}


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
    """``gdf`` in the export CRS (GCJ-02 is WGS 84 with shifted coordinates)."""
    wgs = orient_rfc7946(gdf)
    if crs == "wgs84":
        return wgs
    if crs == "cgcs2000":
        return wgs.to_crs(CGCS2000)
    if crs == "gcj02":
        out = wgs.copy()
        out[out.geometry.name] = shapely.transform(
            out.geometry.values, lambda xy: _gcj_xy(xy), include_z=False
        )
        return out
    raise InputError(f"unknown crs {crs!r}: use wgs84, cgcs2000 or gcj02")


def _gcj_xy(xy: np.ndarray) -> np.ndarray:
    arr = np.asarray(xy, dtype=float)
    lon, lat = wgs84_to_gcj02(arr[:, 0], arr[:, 1])
    return np.column_stack([lon, lat])


def geojson_bytes(gdf: gpd.GeoDataFrame, *, crs: ExportCRS = "wgs84") -> bytes:
    """A FeatureCollection; non-WGS 84 exports carry a ``crs`` member (pre-RFC 7946)."""
    out = to_crs(gdf, crs)
    payload = orjson.loads(out.to_json(na="null", drop_id=True))
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
            out = to_crs(gdf, crs)
            if crs == "gcj02":  # GCJ-02 has no EPSG code: label as WGS 84, note in the name
                out = out.set_crs("EPSG:4326", allow_override=True)
            out.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def csv_bytes(gdf: gpd.GeoDataFrame, *, crs: ExportCRS = "wgs84") -> bytes:
    """Attributes as CSV with the ``lon``, ``lat`` of a point inside each feature."""
    out = to_crs(gdf, crs)
    points = shapely.point_on_surface(out.geometry.values)
    table = pd.DataFrame(out.drop(columns=out.geometry.name))
    table["lon"] = shapely.get_x(points).round(7)
    table["lat"] = shapely.get_y(points).round(7)
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def plan_csv_bytes(assignment: Mapping[str, int]) -> bytes:
    """The grid → district table of a plan (columns ``grid``, ``district``)."""
    table = pd.DataFrame(sorted(assignment.items()), columns=["grid", "district"])
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")
