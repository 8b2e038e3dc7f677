"""Vector tiles of grids, buildings, sub-districts and a plan version's districts; TileJSON 3.0."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from api.area import Area, data_etag
from api.deps import AreaDep, BaseUrl, Reader, StoreDep
from api.errors import _problem
from api.routes.collections import layer_index
from api.schemas import VERSION_MAX
from api.tiles import TILE_LAYERS, encode_tile, is_tile, tilejson

router = APIRouter(tags=["layers"])

MVT = "application/vnd.mapbox-vector-tile"
LayerId = Annotated[str, Path(max_length=40)]
PlanQuery = Annotated[str | None, Query(max_length=64, description="districts: the plan [current]")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=VERSION_MAX, description="districts: its version [the newest]")
]


def _check_layer(area: Area, layer: str) -> None:
    """A 404 naming the tiled layers unless ``layer`` is one this area has."""
    if layer not in TILE_LAYERS or layer not in area.available():
        tiled = ", ".join(n for n in TILE_LAYERS if n in area.available())
        raise HTTPException(404, f"no tiles for {layer!r}: tiles exist for {tiled}")


@router.get(
    "/tiles/{layer}/tilejson.json",
    summary="TileJSON 3.0 of a tiled layer",
    responses={
        400: _problem("invalid plan or version"),
        404: _problem("no tiles for this layer, or no such plan or version"),
        409: _problem("districts: the plan's grids were rebuilt: redraw it"),
    },
)
def layer_tilejson(
    base: BaseUrl,
    layer: LayerId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    plan: PlanQuery = None,
    version: VersionQuery = None,
) -> dict[str, Any]:
    """Where the layer's tiles are, their zooms, bounds, centre and fields (MapLibre reads it).

    For ``districts``, ``plan`` and ``version`` choose the plan version the
    tiles draw and go into the tiles' template; without ``version`` the tiles
    follow the plan's newest version.
    """
    _check_layer(area, layer)
    index = layer_index(area, store, layer, plan, version)
    query = {"plan": plan, "version": version} if layer == "districts" else {}
    query = {k: v for k, v in query.items() if v is not None}
    template = f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
    if query:
        template += f"?{urlencode(query)}"
    bbox = area.bbox() if layer == "districts" else index.bbox
    return tilejson(index, template, bbox=bbox)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="Vector tile",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}},
        204: {"description": "nothing in the tile a map could show"},
        304: {"description": "not modified (If-None-Match)"},
        400: _problem("invalid z, x, y, plan or version"),
        404: _problem("no tiles for this layer, no such tile, plan or version"),
        409: _problem("districts: the plan's grids were rebuilt: redraw it"),
    },
)
def tile(
    request: Request,
    layer: LayerId,
    z: Annotated[int, Path(ge=0, le=24)],
    x: Annotated[int, Path(ge=0, le=2**24)],
    y: Annotated[int, Path(ge=0, le=2**24)],
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    plan: PlanQuery = None,
    version: VersionQuery = None,
) -> Response:
    """A Mapbox vector tile (``WebMercatorQuad``, XYZ, extent 4096); 204 when it is empty.

    At low zooms a tile leaves out what is smaller than a screen pixel and
    holds at most 5,000 features, the largest (api/tiles.py).  ``districts``
    are those of ``plan`` (``current``) at ``version`` (the newest): their
    ETag changes with each edit.
    """
    _check_layer(area, layer)
    if not is_tile(z, x, y):
        raise HTTPException(404, f"tile {z}/{x}/{y} does not exist: x and y must be below 2^z")
    index = layer_index(area, store, layer, plan, version)
    key = (index.version, z, x, y)
    tag = data_etag(index.version, key)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = area.tiles.get_or_make(key, lambda: encode_tile(index, z, x, y))
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT, headers=headers)
