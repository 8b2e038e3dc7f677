"""Map layers, OGC API - Features style: landing, conformance, collections, items.

Answers are cached by the parameters the route recognises (junk query
parameters neither make new entries nor appear in links), bounded by bytes;
their ETags come from the data's version; a large page is streamed as its
features are serialised instead of being built whole first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from api import plans, subdistricts
from api.area import CHUNK, LAYERS, Area, FeatureIndex, data_etag
from api.deps import AreaDep, BaseUrl, Reader, SettingsDep, StoreDep, caller_role
from api.errors import _problem
from api.schemas import VERSION_MAX, InfoPublic
from api.store import Store
from api.tiles import TILE_LAYERS

router = APIRouter(tags=["layers"])

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
#: Claimed only when /openapi.json is an OpenAPI 3.0 document (FastAPI writes 3.1).
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"


def _openapi_minor(request: Request) -> str:
    """``3.1`` for the ``3.1.0`` document the app serves at /openapi.json."""
    return ".".join(str(request.app.openapi_version).split(".")[:2])


MAX_LIMIT = 100_000
DEFAULT_LIMIT = 10_000
TOLERANCE_CHOICES = [0.1, 0.05, 0.02, 0.01, 0.005]
#: Pages of more features than this are streamed, not cached whole.
STREAM_ABOVE = 5_000
SUBDISTRICT_DOC = (
    "Only features of one sub-district of a city folder: its 3-digit code (digits 7-9 of the "
    "grid codes) or its 9-digit code; for districts, those with a grid in it. "
    "GET /collections/subdistricts lists them; an unknown code is a 400 naming the known ones."
)


@router.get("/", include_in_schema=True, summary="Planner page or OGC landing page")
def landing(
    request: Request,
    base: BaseUrl,
    _role: Reader,
    f: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The planner page for browsers; the OGC landing page for ``?f=json`` or JSON clients."""
    accept = request.headers.get("accept", "")
    index = request.app.state.static_dir / "index.html"
    if f != "json" and "text/html" in accept and index.is_file():
        return FileResponse(index, media_type="text/html")
    return JSONResponse(
        {
            "title": "gridplan",
            "description": "Community grids, districts and walking coverage",
            "links": [
                {"rel": "self", "href": f"{base}/?f=json", "type": "application/json"},
                {
                    "rel": "service-desc",
                    "href": f"{base}/openapi.json",
                    "type": f"application/vnd.oai.openapi+json;version={_openapi_minor(request)}",
                },
                {"rel": "service-doc", "href": f"{base}/docs", "type": "text/html"},
                {"rel": "conformance", "href": f"{base}/conformance", "type": "application/json"},
                {"rel": "data", "href": f"{base}/collections", "type": "application/json"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request, _role: Reader) -> dict[str, list[str]]:
    """The OGC API - Features conformance classes this server implements.

    The class ``oas30`` is claimed only if the API document is OpenAPI 3.0.
    """
    oas30 = [OAS30] if _openapi_minor(request) == "3.0" else []
    return {"conformsTo": CONFORMANCE + oas30}


@router.get("/api/info", response_model=InfoPublic, summary="Area, language, rights, defaults")
def info(request: Request, area: AreaDep, store: StoreDep, settings: SettingsDep) -> InfoPublic:
    """What the planner page needs at start: area name, language, bbox and the caller's rights."""
    role = caller_role(request)
    try:
        store.get_plan(plans.DEFAULT_PLAN)
        default_plan: str | None = plans.DEFAULT_PLAN
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


def _collection(base: str, area: Area, name: str) -> dict[str, Any]:
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
        out["links"] += [
            {
                "rel": "tiles",
                "href": f"{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt",
                "type": "application/vnd.mapbox-vector-tile",
                "templated": True,
            },
            {
                "rel": "describedby",
                "href": f"{base}/tiles/{name}/tilejson.json",
                "type": "application/json",
                "title": "TileJSON 3.0 of the layer's vector tiles",
            },
        ]
    return out


@router.get("/collections", summary="Every layer")
def list_collections(base: BaseUrl, area: AreaDep, _role: Reader) -> dict[str, Any]:
    """The layers of the served area (those whose file exists, and the core ones)."""
    return {
        "collections": [_collection(base, area, n) for n in area.available()],
        "links": [{"rel": "self", "href": f"{base}/collections", "type": "application/json"}],
    }


CollectionId = Annotated[str, Path(max_length=40)]


def _check_collection(area: Any, name: str) -> None:
    if name not in LAYERS or name not in area.available():
        raise HTTPException(
            404,
            f"no collection {name!r}: GET /collections lists them ({', '.join(area.available())})",
        )


@router.get(
    "/collections/{collection_id}",
    summary="One layer",
    responses={400: _problem("invalid collection id"), 404: _problem("unknown collection")},
)
def get_collection(
    base: BaseUrl, collection_id: CollectionId, area: AreaDep, _role: Reader
) -> dict[str, Any]:
    """One layer's description and links."""
    _check_collection(area, collection_id)
    return _collection(base, area, collection_id)


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


def parse_properties(properties: str | None, index: FeatureIndex) -> list[str] | None:
    """``a,b`` → the property names asked for, or a 400 naming one the layer does not have."""
    if properties is None:
        return None
    asked = [p.strip() for p in properties.split(",") if p.strip()]
    unknown = [p for p in asked if p not in index.fields]
    if unknown:
        raise HTTPException(
            400,
            f"properties: {index.name} has no property {unknown[0]!r}; "
            f"choose from {', '.join(index.fields) or '(none: the layer is empty)'}",
        )
    return asked


def layer_index(
    area: Area, store: Store, name: str, plan: str | None, version: int | None
) -> FeatureIndex:
    if name == "districts":
        return plans.district_index(area, store, plan or plans.DEFAULT_PLAN, version)
    return area.index(name)


ITEM_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("malformed bbox, unknown property or sub-district, another invalid value"),
    404: _problem("unknown collection, feature or plan"),
    409: _problem("the plan's grids were rebuilt: redraw it"),
}


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a layer (GeoJSON)",
    response_class=Response,
    responses={
        200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"},
        304: {"description": "not modified (If-None-Match)"},
        **ITEM_ERRORS,
    },
)
def items(
    request: Request,
    base: BaseUrl,
    collection_id: CollectionId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    bbox: Annotated[
        str | None, Query(max_length=200, examples=["118.77,32.03,118.79,32.05"])
    ] = None,
    limit: Annotated[
        int, Query(ge=1, description=f"at most {MAX_LIMIT} (more asks for the most)")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    properties: Annotated[str | None, Query(max_length=1000)] = None,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
    subdistrict: Annotated[
        str | None, Query(max_length=20, description=SUBDISTRICT_DOC, examples=["001"])
    ] = None,
) -> Response:
    """Features with bbox and sub-district filters, limit/offset paging, properties and links.

    A ``limit`` above the maximum asks for the maximum (OGC API - Features
    7.15.3); ``bbox`` selects the features whose geometry meets the box.
    """
    _check_collection(area, collection_id)
    box = parse_bbox(bbox)
    limit = min(limit, MAX_LIMIT)
    sub = subdistricts.parse(area, subdistrict)
    index = layer_index(area, store, collection_id, plan, version)
    props = parse_properties(properties, index)
    within = subdistricts.rows(area, store, index, sub, plan=plan, version=version)
    page = Page(base, collection_id, index, box, limit, offset, props, plan, version, (sub, within))
    tag = data_etag(index.version, page.key)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    cached = area.responses.get(page.key)
    if cached is not None:
        return Response(cached, media_type=GEOJSON, headers=headers)
    if len(page.rows) > STREAM_ABOVE:  # the first bytes leave before the last are made
        return StreamingResponse(_kept(page, area), media_type=GEOJSON, headers=headers)
    body = area.responses.get_or_make(page.key, lambda: b"".join(page.chunks()))
    return Response(body, media_type=GEOJSON, headers=headers)


def _kept(page: Page, area: Area) -> Iterator[bytes]:
    """Stream a page and keep the whole answer in the (byte-bounded) cache once sent."""
    parts = []
    for part in page.chunks():
        parts.append(part)
        yield part
    area.responses.put(page.key, b"".join(parts))


class Page:
    """One page of a layer: the features matched and the links, from recognised parameters."""

    def __init__(
        self,
        base: str,
        name: str,
        index: FeatureIndex,
        box: list[float] | None,
        limit: int,
        offset: int,
        props: list[str] | None,
        plan: str | None,
        version: int | None,
        subdistrict: tuple[str | None, np.ndarray | None] = (None, None),
    ) -> None:
        self.base, self.name, self.index = base, name, index
        self.limit, self.offset, self.props = limit, offset, props
        self.matched = index.select(box)
        if subdistrict[1] is not None:  # rows of one sub-district (both sorted)
            self.matched = np.intersect1d(self.matched, subdistrict[1], assume_unique=True)
        self.rows = self.matched[offset : offset + limit]
        self.params: dict[str, Any] = {
            k: v
            for k, v in {
                "bbox": ",".join(repr(v) for v in box) if box else None,
                "properties": ",".join(props) if props is not None else None,
                "plan": plan,
                "version": version,
                "subdistrict": subdistrict[0],
            }.items()
            if v is not None
        }
        self.key = (index.version, name, tuple(sorted(self.params.items())), limit, offset)

    def _href(self, **paging: int) -> str:
        query = urlencode({**self.params, **paging})
        return f"{self.base}/collections/{self.name}/items" + (f"?{query}" if query else "")

    def chunks(self) -> Iterator[bytes]:
        """The FeatureCollection's bytes, head first, then features chunk by chunk."""
        head: dict[str, Any] = {
            "type": "FeatureCollection",
            "numberMatched": len(self.matched),
            "numberReturned": len(self.rows),
        }
        if len(self.rows):  # RFC 7946 bbox of the features returned
            b = self.index.bounds[self.rows]
            head["bbox"] = [
                round(float(np.nanmin(b[:, 0])), 7), round(float(np.nanmin(b[:, 1])), 7),
                round(float(np.nanmax(b[:, 2])), 7), round(float(np.nanmax(b[:, 3])), 7),
            ]  # fmt: skip
        yield orjson.dumps(head)[:-1] + b',"features":['
        for start in range(0, len(self.rows), CHUNK):  # one piece per chunk, not per feature
            part = b",".join(self.index.features_at(self.rows[start : start + CHUNK], self.props))
            yield part if start == 0 else b"," + part
        yield b'],"links":' + orjson.dumps(self._links()) + b"}"

    def _links(self) -> list[dict[str, Any]]:
        limit, offset = self.limit, self.offset
        links: list[dict[str, Any]] = [
            {"rel": "self", "href": self._href(limit=limit, offset=offset), "type": GEOJSON},
            {
                "rel": "collection",
                "href": f"{self.base}/collections/{self.name}",
                "type": "application/json",
            },
        ]
        if offset + limit < len(self.matched):
            nxt = self._href(offset=offset + limit, limit=limit)
            links.append({"rel": "next", "href": nxt, "type": GEOJSON})
        if offset > 0:
            prev = self._href(offset=max(0, offset - limit), limit=limit)
            links.append({"rel": "prev", "href": prev, "type": GEOJSON})
        return links


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON Feature"}, **ITEM_ERRORS},
)
def item(
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(max_length=64)],
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> Response:
    """One feature by id (grid code, building id, community code, district number)."""
    _check_collection(area, collection_id)
    index = layer_index(area, store, collection_id, plan, version)
    return Response(index.feature(feature_id), media_type=GEOJSON)
