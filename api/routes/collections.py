"""Map layers, OGC API - Features style: landing, conformance, collections, items, tiles."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.deps import AreaDep, Reader, SettingsDep, StoreDep, caller_role
from api.routes import _plans
from api.routes._area import LAYERS, TILE_LAYERS, Area, FeatureIndex, encode_tile, tagged
from api.schemas import InfoPublic
from api.store import Store

router = APIRouter(tags=["layers"])

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
MAX_LIMIT = 100_000
DEFAULT_LIMIT = 10_000
TOLERANCE_CHOICES = [0.1, 0.05, 0.02, 0.01, 0.005]


@router.get("/", include_in_schema=True, summary="Planner page or OGC landing page")
def landing(
    request: Request, _role: Reader, f: Annotated[str | None, Query(max_length=10)] = None
) -> Response:
    """The planner page for browsers; the OGC landing page for ``?f=json`` or JSON clients."""
    accept = request.headers.get("accept", "")
    index = request.app.state.static_dir / "index.html"
    if f != "json" and "text/html" in accept and index.is_file():
        return FileResponse(index, media_type="text/html")
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "title": "gridplan",
            "description": "Community grids, districts and walking coverage",
            "links": [
                {"rel": "self", "href": f"{base}/?f=json", "type": "application/json"},
                {
                    "rel": "service-desc",
                    "href": f"{base}/openapi.json",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                },
                {"rel": "service-doc", "href": f"{base}/docs", "type": "text/html"},
                {"rel": "conformance", "href": f"{base}/conformance", "type": "application/json"},
                {"rel": "data", "href": f"{base}/collections", "type": "application/json"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
def conformance(_role: Reader) -> dict[str, list[str]]:
    """The OGC API - Features conformance classes this server implements."""
    return {"conformsTo": CONFORMANCE}


@router.get("/api/info", response_model=InfoPublic, summary="Area, language, rights, defaults")
def info(request: Request, area: AreaDep, store: StoreDep, settings: SettingsDep) -> InfoPublic:
    """What the planner page needs at start: area name, language, bbox and the caller's rights."""
    role = caller_role(request)
    try:
        store.get_plan(_plans.DEFAULT_PLAN)
        default_plan: str | None = _plans.DEFAULT_PLAN
    except KeyError:
        default_plan = None
    return InfoPublic(
        name=str(area.meta.get("name") or area.data_dir.name),
        language=str(area.meta.get("language") or "en"),
        bbox=area.bbox(),
        crs=area.meta.get("crs"),
        role=role,
        can_edit=role == "planner",
        tolerance={"default": settings.tolerance, "choices": TOLERANCE_CHOICES},
        default_plan=default_plan,
        layers=area.available(),
        storage=store.backend,
        tile_url=settings.tile_url,
        tile_crs=settings.tile_crs,
        tile_attribution=settings.tile_attribution,
        tile_subdomains=settings.tile_subdomains,
    )


def _collection(request: Request, area: Area, name: str) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    bbox = area.bbox() if name == "districts" else area.index(name).bbox
    out: dict[str, Any] = {
        "id": name,
        "title": LAYERS[name][1],
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"rel": "self", "href": f"{base}/collections/{name}", "type": "application/json"},
            {"rel": "items", "href": f"{base}/collections/{name}/items", "type": GEOJSON},
        ],
    }
    if bbox:
        out["extent"] = {"spatial": {"bbox": [bbox]}}
    if name in TILE_LAYERS:
        out["links"].append(
            {
                "rel": "tiles",
                "href": f"{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt",
                "type": "application/vnd.mapbox-vector-tile",
            }
        )
    return out


@router.get("/collections", summary="Every layer")
def list_collections(request: Request, area: AreaDep, _role: Reader) -> dict[str, Any]:
    """The layers of the served area (those whose file exists, and the core ones)."""
    base = str(request.base_url).rstrip("/")
    return {
        "collections": [_collection(request, area, n) for n in area.available()],
        "links": [{"rel": "self", "href": f"{base}/collections", "type": "application/json"}],
    }


CollectionId = Annotated[str, Path(max_length=40)]


def _check_collection(area: Area, name: str) -> None:
    if name not in LAYERS or name not in area.available():
        raise HTTPException(
            404,
            f"no collection {name!r}: GET /collections lists them ({', '.join(area.available())})",
        )


@router.get("/collections/{collection_id}", summary="One layer")
def get_collection(
    request: Request, collection_id: CollectionId, area: AreaDep, _role: Reader
) -> dict[str, Any]:
    """One layer's description and links."""
    _check_collection(area, collection_id)
    return _collection(request, area, collection_id)


def parse_bbox(bbox: str | None) -> list[float] | None:
    """``minlon,minlat,maxlon,maxlat`` → four floats, or a 400 naming the problem."""
    if bbox is None:
        return None
    try:
        values = [float(v) for v in bbox.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or any(v != v for v in values):
        raise HTTPException(400, "bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    w, s, e, n = values
    inside = -180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90
    if w > e or s > n or not inside:
        raise HTTPException(400, "bbox must be minlon,minlat,maxlon,maxlat within WGS 84 bounds")
    return values


def _layer_index(
    area: Area, store: Store, name: str, plan: str | None, version: int | None
) -> FeatureIndex:
    if name == "districts":
        return _plans.district_index(area, store, plan or _plans.DEFAULT_PLAN, version)
    return area.index(name)


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a layer (GeoJSON)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def items(
    request: Request,
    collection_id: CollectionId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    bbox: Annotated[
        str | None, Query(max_length=200, examples=["118.77,32.03,118.79,32.05"])
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    properties: Annotated[str | None, Query(max_length=1000)] = None,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Features with bbox filter, limit/offset paging, property selection and links."""
    _check_collection(area, collection_id)
    box = parse_bbox(bbox)
    props = [p for p in properties.split(",") if p] if properties is not None else None
    index = _layer_index(area, store, collection_id, plan, version)
    key = (collection_id, str(request.url), index.token)
    body, tag = area.responses.get_or_make(
        key, lambda: tagged(_page(request, index, collection_id, box, limit, offset, props))
    )
    return _conditional(request, body, tag, GEOJSON)


def _conditional(request: Request, body: bytes, tag: str, media_type: str) -> Response:
    """The body, or 304 when the client already holds it (``If-None-Match``)."""
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _page(
    request: Request,
    index: FeatureIndex,
    name: str,
    box: list[float] | None,
    limit: int,
    offset: int,
    props: list[str] | None,
) -> bytes:
    rows = index.select(box)
    page = rows[offset : offset + limit]
    features = b",".join(index.feature_with(int(i), props) for i in page)
    url = request.url
    links: list[dict[str, Any]] = [
        {"rel": "self", "href": str(url), "type": GEOJSON},
        {
            "rel": "collection",
            "href": str(url.replace(path=f"/collections/{name}", query="")),
            "type": "application/json",
        },
    ]
    if offset + limit < len(rows):
        nxt = url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "href": str(nxt), "type": GEOJSON})
    if offset > 0:
        prev = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "href": str(prev), "type": GEOJSON})
    head_fields: dict[str, Any] = {
        "type": "FeatureCollection",
        "numberMatched": len(rows),
        "numberReturned": len(page),
    }
    if len(page):  # RFC 7946 bbox of the features returned
        b = index.bounds[page]
        head_fields["bbox"] = [
            round(float(np.nanmin(b[:, 0])), 7), round(float(np.nanmin(b[:, 1])), 7),
            round(float(np.nanmax(b[:, 2])), 7), round(float(np.nanmax(b[:, 3])), 7),
        ]  # fmt: skip
    head = orjson.dumps(head_fields)[:-1]
    return b"".join((head, b',"features":[', features, b'],"links":', orjson.dumps(links), b"}"))


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON Feature"}},
)
def item(
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(max_length=64)],
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """One feature by id (grid code, building id, community code, district number)."""
    _check_collection(area, collection_id)
    index = _layer_index(area, store, collection_id, plan, version)
    return Response(index.feature(feature_id), media_type=GEOJSON)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="Vector tile",
    response_class=Response,
    responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}}},
)
def tile(
    request: Request,
    layer: Annotated[str, Path(max_length=40)],
    z: Annotated[int, Path(ge=0, le=24)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    area: AreaDep,
    _role: Reader,
) -> Response:
    """A Mapbox vector tile of ``grids`` or ``buildings`` (XYZ scheme, extent 4096)."""
    if layer not in TILE_LAYERS:
        raise HTTPException(
            404, f"no tiles for {layer!r}: tiles exist for {', '.join(TILE_LAYERS)}"
        )
    if x >= (1 << z) or y >= (1 << z):
        raise HTTPException(404, f"tile {z}/{x}/{y} does not exist: x and y must be below 2^z")
    index = area.index(layer)
    body, tag = area.tiles.get_or_make(
        (layer, z, x, y, index.token), lambda: tagged(encode_tile(index, z, x, y))
    )
    return _conditional(request, body, tag, "application/vnd.mapbox-vector-tile")
