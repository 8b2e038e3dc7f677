"""Downloads: layers and plans as GeoJSON, GeoPackage or CSV, in WGS 84, CGCS2000 or GCJ-02."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response

from api import plans
from api.area import LAYERS, Area
from api.deps import AreaDep, Reader, StoreDep
from api.errors import _problem
from api.schemas import VERSION_MAX
from api.store import Store
from gis import exports

router = APIRouter(prefix="/exports", tags=["exports"])

Format = Annotated[str, Query(pattern="^(geojson|gpkg|csv)$")]
Crs = Annotated[str, Query(pattern="^(wgs84|cgcs2000|gcj02)$")]


def _download(body: bytes, fmt: str, stem: str, crs: str) -> Response:
    name = exports.file_name(stem, crs, fmt)  # type: ignore[arg-type]
    return Response(
        body,
        media_type=exports.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _encode(layers: dict[str, Any], fmt: str, crs: str) -> bytes:
    if fmt == "gpkg":
        return exports.gpkg_bytes(layers, crs=crs)  # type: ignore[arg-type]
    first = next(iter(layers.values()))
    if fmt == "csv":
        return exports.csv_bytes(first, crs=crs)  # type: ignore[arg-type]
    return exports.geojson_bytes(first, crs=crs)  # type: ignore[arg-type]


@router.get(
    "/{layer}",
    summary="Download a layer",
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}, "text/csv": {}}},
        404: _problem("unknown or empty layer, unknown plan"),
        409: _problem("the plan's grids were rebuilt: redraw it"),
    },
)
def export_layer(
    layer: Annotated[str, Path(max_length=40)],
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    format: Format = "geojson",
    crs: Crs = "wgs84",
    plan: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> Response:
    """One layer of the area (``districts`` of a plan) as a file."""
    if layer not in LAYERS or layer not in area.available():
        raise HTTPException(404, f"no layer {layer!r}: GET /collections lists them")
    if layer == "districts":
        frame = plans.district_index(area, store, plan or plans.DEFAULT_PLAN, version).frame
    else:
        frame = area.index(layer).frame
    if frame.empty:
        raise HTTPException(404, f"the layer {layer!r} is empty in this area: nothing to export")
    key = ("export", layer, plan, version, format, crs, area.version)
    body = area.exports.get_or_make(key, lambda: _encode({layer: frame}, format, crs))
    return _download(body, format, layer, crs)


def plan_download(
    area: Area, store: Store, plan_id: str, version: int | None, *, fmt: str, crs: str
) -> Response:
    """A plan version as districts GeoJSON, a GeoPackage (districts, grids) or a CSV table."""
    row = store.get_version(plan_id, version)
    name = f"{plan_id}-v{row.version}"
    if fmt == "csv":
        return _download(exports.plan_csv_bytes(row.assignment or {}), "csv", name, crs)
    districts = plans.district_index(area, store, plan_id, row.version).frame
    if fmt == "geojson":
        body = exports.geojson_bytes(districts, crs=crs)  # type: ignore[arg-type]
        return _download(body, "geojson", name, crs)
    grids = area.grids.copy()
    grids["district"] = grids["code"].astype(str).map(row.assignment or {})
    body = exports.gpkg_bytes({"districts": districts, "grids": grids}, crs=crs)  # type: ignore[arg-type]
    return _download(body, "gpkg", name, crs)
