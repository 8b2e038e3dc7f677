"""Uploads: boundaries, community boundaries, service points and household tables.

Each file is size-limited while it streams in, checked by content (never by
the name the client sent), stored under a generated name in ``DIR/uploads``
and read back to validate it; problems come back as 4xx naming them.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import APIRouter, HTTPException, UploadFile
from fastapi import Path as PathParam

from api.deps import AreaDep, Planner, Reader, SettingsDep, StoreDep
from api.schemas import Problem, UploadPublic
from gis._errors import GridplanError

router = APIRouter(prefix="/uploads", tags=["uploads"])

GEO_KINDS = {
    "boundary": ("study area boundary", {"Polygon", "MultiPolygon"}),
    "communities": ("community boundaries", {"Polygon", "MultiPolygon"}),
    "services": ("service points", {"Point", "MultiPoint", "Polygon", "MultiPolygon"}),
}
KINDS = (*GEO_KINDS, "households")
HOUSEHOLD_KEYS = ("building", "building_id", "id", "grid", "address")
HOUSEHOLD_VALUES = ("households", "population", "residents")


async def _read_limited(file: UploadFile, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(1 << 16):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413, f"the file is larger than the {limit // (1024 * 1024)} MB limit: split it"
            )
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    return data


def _sniff(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return "shapefile-zip"
    if data.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if data.lstrip()[:1] == b"{":
        return "geojson"
    raise HTTPException(
        415, "unknown file type: send GeoJSON, a GeoPackage (.gpkg) or a zipped Shapefile (.zip)"
    )


def _check_geojson(data: bytes) -> None:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, f"the file is not valid JSON: {exc}") from exc
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in ("FeatureCollection", "Feature", "Polygon", "MultiPolygon", "Point"):
        raise HTTPException(
            422, 'not GeoJSON: the top level must have "type": "FeatureCollection" (or a Feature)'
        )
    if kind == "FeatureCollection" and not isinstance(doc.get("features"), list):
        raise HTTPException(422, 'not GeoJSON: a FeatureCollection needs a "features" list')


def _validate_geo(path: Path, kind: str, area_bbox: list[float] | None) -> dict[str, Any]:
    from gis.sources import read_vector

    what, allowed = GEO_KINDS[kind]
    try:
        gdf = read_vector(path, what=what)
    except GridplanError as exc:
        raise HTTPException(422, str(exc).replace(str(path), "the uploaded file")) from exc
    types = set(gdf.geom_type.dropna())
    wrong = types - allowed
    if wrong or not types:
        raise HTTPException(
            422,
            f"the {what} must be {' or '.join(sorted(allowed))} geometries, "
            f"found {', '.join(sorted(wrong)) or 'none'}",
        )
    warnings = []
    invalid = int((~gdf.geometry.is_valid).sum())
    if invalid:
        warnings.append(f"{invalid} invalid geometries will be repaired")
    w, s, e, n = (float(v) for v in gdf.total_bounds)
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(422, f"the {what} lie outside longitude/latitude bounds")
    if area_bbox and (e < area_bbox[0] or w > area_bbox[2] or n < area_bbox[1] or s > area_bbox[3]):
        warnings.append("the features do not overlap the served area")
    columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    return {"features": len(gdf), "bbox": [w, s, e, n], "columns": columns, "warnings": warnings}


def _validate_households(data: bytes) -> dict[str, Any]:
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise HTTPException(422, f"the household table is not a UTF-8 CSV: {exc}") from exc
    columns = [str(c).strip().lower() for c in table.columns]
    if not any(k in columns for k in HOUSEHOLD_KEYS):
        raise HTTPException(
            422, f"the household table needs one key column of {', '.join(HOUSEHOLD_KEYS)}"
        )
    value = next((v for v in HOUSEHOLD_VALUES if v in columns), None)
    if value is None:
        raise HTTPException(
            422, f"the household table needs a column {' or '.join(HOUSEHOLD_VALUES)}"
        )
    numbers = pd.to_numeric(table.iloc[:, columns.index(value)], errors="coerce")
    bad = int(numbers.isna().sum())
    if bad == len(table):
        raise HTTPException(422, f"the column {value!r} holds no numbers")
    if (numbers < 0).any():
        raise HTTPException(422, f"the column {value!r} holds negative numbers")
    warnings = [f"{bad} rows without a number in {value!r} are ignored"] if bad else []
    return {"features": len(table), "bbox": None, "columns": columns, "warnings": warnings}


@router.post(
    "/{kind}",
    status_code=201,
    response_model=UploadPublic,
    summary="Upload a layer or table",
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
        413: {"model": Problem},
        415: {"model": Problem},
    },
)
async def upload(
    kind: Annotated[str, PathParam(max_length=40)],
    file: UploadFile,
    area: AreaDep,
    store: StoreDep,
    settings: SettingsDep,
    _role: Planner,
) -> UploadPublic:
    """Validate and keep an uploaded boundary, community, service or household file."""
    if kind not in KINDS:
        raise HTTPException(404, f"no upload kind {kind!r}: use one of {', '.join(KINDS)}")
    data = await _read_limited(file, settings.max_upload_bytes)
    folder = area.data_dir / "uploads"
    folder.mkdir(exist_ok=True)
    upload_id = f"u-{uuid.uuid4().hex[:12]}"
    if kind == "households":
        fmt, suffix = "csv", ".csv"
        summary = _validate_households(data)
        path = folder / f"{upload_id}{suffix}"
        path.write_bytes(data)
    else:
        fmt = _sniff(data)
        if fmt == "geojson":
            _check_geojson(data)
        suffix = {"geojson": ".geojson", "gpkg": ".gpkg", "shapefile-zip": ".zip"}[fmt]
        path = folder / f"{upload_id}{suffix}"
        path.write_bytes(data)
        try:
            summary = _validate_geo(path, kind, area.bbox())
        except HTTPException:
            path.unlink(missing_ok=True)
            raise
    store.add_upload(upload_id, kind, path.name, {"format": fmt, **summary})
    return UploadPublic(id=upload_id, kind=kind, format=fmt, **summary)


@router.get("", summary="Uploaded files")
def list_uploads(store: StoreDep, _role: Reader) -> list[dict[str, Any]]:
    """Every validated upload, oldest first."""
    return store.list_uploads()
