"""Checks of the files planners hand in: boundaries, communities, service points, households.

One set of checks for the API's uploads and the command line's options
(``gridplan build --communities``): a file is read by its content, its size
once unpacked and its number of features are bounded, its geometries must
be of the kind asked for and lie in longitude/latitude bounds, and a
household table must hold finite, non-negative numbers.  Problems raise
:mod:`gis._errors` errors naming them (HTTP 413/415/422, CLI exit 2).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from gis._errors import GridplanError, InputError, TooLargeError, UnreadableFileError
from gis.population import canonical_column
from gis.tables import is_workbook, read_table

GEO_KINDS = {
    "boundary": ("study area boundary", {"Polygon", "MultiPolygon"}),
    "communities": ("community boundaries", {"Polygon", "MultiPolygon"}),
    "services": ("service points", {"Point", "MultiPoint", "Polygon", "MultiPolygon"}),
}
KINDS = (*GEO_KINDS, "households")
HOUSEHOLD_KEYS = ("building", "building_id", "id", "grid", "address")
HOUSEHOLD_VALUES = ("households", "population", "residents")
SUFFIX = {
    "geojson": ".geojson",
    "gpkg": ".gpkg",
    "shapefile-zip": ".zip",
    "csv": ".csv",
    "xlsx": ".xlsx",
}


class UnknownTypeError(UnreadableFileError):
    """The content is none of the accepted file types (HTTP 415)."""


def sniff(data: bytes) -> str:
    """The format of a geodata file from its first bytes."""
    if data.startswith(b"PK\x03\x04"):
        return "shapefile-zip"
    if data.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if data.lstrip()[:1] == b"{":
        return "geojson"
    raise UnknownTypeError(
        "unknown file type: send GeoJSON, a GeoPackage (.gpkg) or a zipped Shapefile (.zip)"
    )


def check_bytes(data: bytes, fmt: str, *, max_unzipped: int, max_features: int) -> None:
    """Checks that need no parsing by GDAL: the archive's unpacked size, GeoJSON's shape."""
    if fmt in ("shapefile-zip", "xlsx"):  # both are zip archives
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile as exc:
            raise UnreadableFileError(f"the zip file cannot be read: {exc}") from exc
        if unpacked > max_unzipped:
            raise TooLargeError(
                f"the zip file unpacks to {unpacked} bytes, more than the limit of "
                f"{max_unzipped} bytes (GRIDPLAN_MAX_UNZIPPED_BYTES): send a smaller area"
            )
    if fmt == "geojson":
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"the file is not valid JSON: {exc}") from exc
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind not in ("FeatureCollection", "Feature", "Polygon", "MultiPolygon", "Point"):
            raise InputError(
                'not GeoJSON: the top level must have "type": "FeatureCollection" (or a Feature)'
            )
        features = doc.get("features")
        if kind == "FeatureCollection" and not isinstance(features, list):
            raise InputError('not GeoJSON: a FeatureCollection needs a "features" list')
        if isinstance(features, list) and len(features) > max_features:
            raise TooLargeError(_too_many(len(features), max_features))


def _too_many(n: int, limit: int) -> str:
    return (
        f"the file holds {n} features, more than the limit of {limit} "
        "(GRIDPLAN_MAX_UPLOAD_FEATURES): split it or simplify it"
    )


def check_layer(
    path: Path,
    kind: str,
    *,
    area_bbox: list[float] | None = None,
    max_features: int | None = None,
) -> dict[str, Any]:
    """Read a geodata file and check it is usable as ``kind``; its summary.

    Returns
    -------
    dict
        ``features``, ``bbox``, ``columns`` and ``warnings``.
    """
    from gis.sources import read_vector

    what, allowed = GEO_KINDS[kind]
    try:
        gdf = read_vector(path, what=what)
    except GridplanError as exc:
        message = str(exc).replace(f" file {path}", " file").replace(str(path), "the file")
        raise type(exc)(message) from exc
    if max_features is not None and len(gdf) > max_features:
        raise TooLargeError(_too_many(len(gdf), max_features))
    types = set(gdf.geom_type.dropna())
    wrong = types - allowed
    if wrong or not types:
        raise InputError(
            f"the {what} must be {' or '.join(sorted(allowed))} geometries, "
            f"found {', '.join(sorted(wrong)) or 'none'}"
        )
    warnings = []
    invalid = int((~gdf.geometry.is_valid).sum())
    if invalid:
        warnings.append(f"{invalid} invalid geometries will be repaired")
    w, s, e, n = (float(v) for v in gdf.total_bounds)
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InputError(
            f"the {what} lie outside longitude/latitude bounds ({w:.1f}, {s:.1f}, {e:.1f}, "
            f"{n:.1f}): are they projected coordinates without a CRS? Set the file's CRS"
        )
    if area_bbox and (e < area_bbox[0] or w > area_bbox[2] or n < area_bbox[1] or s > area_bbox[3]):
        warnings.append("the features do not overlap the served area")
    columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    return {"features": len(gdf), "bbox": [w, s, e, n], "columns": columns, "warnings": warnings}


def households_format(data: bytes) -> str:
    """``"xlsx"`` for an Excel workbook (a zip archive), else ``"csv"``."""
    return "xlsx" if is_workbook(data) else "csv"


def check_households(data: bytes, *, max_rows: int | None = None) -> dict[str, Any]:
    """Check a household table (CSV or .xlsx): a key column and finite, non-negative numbers."""
    table = read_table(data, what="household table").rename(columns=canonical_column)
    if max_rows is not None and len(table) > max_rows:
        raise TooLargeError(_too_many(len(table), max_rows))
    columns = [str(c).strip().lower() for c in table.columns]
    if not any(k in columns for k in HOUSEHOLD_KEYS):
        raise InputError(f"the household table needs one key column of {', '.join(HOUSEHOLD_KEYS)}")
    value = next((v for v in HOUSEHOLD_VALUES if v in columns), None)
    if value is None:
        raise InputError(f"the household table needs a column {' or '.join(HOUSEHOLD_VALUES)}")
    numbers = pd.to_numeric(table.iloc[:, columns.index(value)], errors="coerce")
    bad = int(numbers.isna().sum())
    if bad == len(table):
        raise InputError(f"the column {value!r} holds no numbers")
    given = numbers.dropna().to_numpy(dtype=float)
    if not np.isfinite(given).all():
        rows = [int(i) + 2 for i in np.flatnonzero(~np.isfinite(numbers.to_numpy(dtype=float)))]
        rows = [r for r in rows if not np.isnan(numbers.iloc[r - 2])][:5]
        raise InputError(
            f"the column {value!r} holds numbers too large to be counts (inf, 1e400) "
            f"on line(s) {', '.join(map(str, rows))}: write the real counts"
        )
    if (given < 0).any():
        raise InputError(f"the column {value!r} holds negative numbers")
    warnings = [f"{bad} rows without a number in {value!r} are ignored"] if bad else []
    return {"features": len(table), "bbox": None, "columns": columns, "warnings": warnings}
