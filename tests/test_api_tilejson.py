# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""TileJSON 3.0 for grids, buildings and districts, read the way MapLibre reads it.

A client reads the TileJSON, then fetches every tile it names over its bounds
at its centre zoom and decodes them: every feature a map can show there is
drawn within a pixel, with the fields the TileJSON announces.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely

from api.tiles import EXTENT, SCREEN_PIXELS
from tests.api_fixtures import (  # noqa: F401
    ORIGIN,
    PLANNER_HEADERS,
    STEP,
    build_dir,
    client,
    database_url,
    grid_code,
    settings,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TMS = morecantile.tms.get("WebMercatorQuad")
TYPES = {"Number": (int, float), "String": (str,), "Boolean": (bool,)}


def read_like_maplibre(client, url: str) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Fetch a TileJSON, then every tile over its bounds at its centre zoom, decoded.

    Returns the document and, per vector layer, ``(properties, geometry in
    Web Mercator)`` of every feature piece the tiles hold.
    """
    doc = client.get(url).json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    w, s, e, n = doc["bounds"]
    lon, lat, zoom = doc["center"]
    assert w <= lon <= e and s <= lat <= n and doc["minzoom"] <= zoom <= doc["maxzoom"]
    layers = {layer["id"]: layer["fields"] for layer in doc["vector_layers"]}
    pieces: dict[str, list[Any]] = defaultdict(list)
    for t in TMS.tiles(w, s, e, n, zooms=[zoom]):
        href = doc["tiles"][0].replace("{z}", str(t.z)).replace("{x}", str(t.x))
        r = client.get(href.replace("{y}", str(t.y)))
        assert r.status_code in (200, 204), href
        if r.status_code == 204:
            assert r.content == b""
            continue
        b = TMS.xy_bounds(t)
        for name, layer in mapbox_vector_tile.decode(r.content).items():
            assert name in layers, name
            assert layer["extent"] == EXTENT
            for feature in layer["features"]:
                for key, value in feature["properties"].items():
                    assert isinstance(value, TYPES[layers[name][key]]), (name, key, value)
                geom = shapely.transform(
                    shapely.geometry.shape(feature["geometry"]),
                    lambda xy, b=b: (
                        xy * [(b.right - b.left) / EXTENT, (b.top - b.bottom) / EXTENT]
                        + [b.left, b.bottom]
                    ),
                )
                pieces[name].append((feature["properties"], geom))
    return doc, pieces


def test_collections_link_their_tilejson(client) -> None:
    for name in ("grids", "buildings", "districts"):
        links = client.get(f"/collections/{name}").json()["links"]
        href = next(link["href"] for link in links if link["href"].endswith("/tilejson.json"))
        doc = client.get(href).json()
        assert doc["tilejson"] == "3.0.0" and doc["vector_layers"][0]["id"] == name
    assert client.get("/tiles/streets/tilejson.json").status_code == 404


def _tile_unit(z: int) -> float:
    """Web-Mercator metres of one tile unit at zoom ``z``."""
    b = TMS.xy_bounds(morecantile.Tile(0, 0, z))
    return (b.right - b.left) / EXTENT


@pytest.mark.parametrize("layer, key", [("grids", "code"), ("buildings", "id")])
def test_tiles_named_by_the_tilejson_hold_every_feature_within_a_pixel(
    client, build_dir, layer: str, key: str
) -> None:
    doc, pieces = read_like_maplibre(client, f"/tiles/{layer}/tilejson.json")
    source = gpd.read_file(build_dir / f"{layer}.geojson").to_crs(3857)
    assert set(doc["vector_layers"][0]["fields"]) == set(source.columns) - {"geometry"}
    zoom = doc["center"][2]
    # what a map shows at this zoom: every feature spanning a screen pixel
    b = shapely.bounds(source.geometry.values)
    shown = (
        np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        >= _tile_unit(zoom) * EXTENT / SCREEN_PIXELS
    )
    assert shown.all()  # the synthetic town's grids and buildings all show at the centre zoom
    joined = defaultdict(list)
    for props, geom in pieces[layer]:
        joined[str(props[key])].append(geom)
    assert set(joined) == set(source[key].astype(str))  # every feature, nothing else
    for fid, geom in zip(source[key].astype(str), source.geometry, strict=True):
        drawn = shapely.union_all(joined[fid])
        assert shapely.hausdorff_distance(drawn, geom) <= 2 * _tile_unit(zoom), fid


def _district_at(pieces: list[Any], lon: float, lat: float) -> set[str]:
    x, y = TMS.xy(lon, lat)
    return {str(p["district"]) for p, g in pieces if g.contains(shapely.Point(x, y))}


def test_districts_of_a_plan_version_are_tiles_too(client) -> None:
    plan = client.get("/plans/current")
    moved = grid_code(1)  # column 1 (district 1) of the bottom row, beside column 2 (district 2)
    edit = client.patch(
        "/plans/current",
        headers={**PLANNER_HEADERS, "If-Match": plan.headers["etag"]},
        json={"moves": [{"grid": moved, "district": 2}]},
    )
    assert edit.status_code == 200 and edit.json()["version"] == 2
    lon, lat = ORIGIN[0] + 1.5 * STEP, ORIGIN[1] + 0.5 * STEP  # the moved grid's centre
    seen = {}
    for version in (1, 2):
        url = f"/tiles/districts/tilejson.json?plan=current&version={version}"
        doc, pieces = read_like_maplibre(client, url)
        assert f"version={version}" in doc["tiles"][0]
        assert {str(p["district"]) for p, _g in pieces["districts"]} == {"1", "2", "3", "4"}
        seen[version] = _district_at(pieces["districts"], lon, lat)
    assert seen == {1: {"1"}, 2: {"2"}}
    newest = client.get("/tiles/districts/tilejson.json", params={"plan": "current"}).json()
    assert "version=" not in newest["tiles"][0]  # follows the plan's newest version
    assert client.get("/tiles/districts/tilejson.json?plan=nope").status_code == 404


def test_an_empty_tile_answers_204(client) -> None:
    r = client.get("/tiles/grids/14/0/0.mvt")
    assert r.status_code == 204 and r.content == b"" and r.headers["etag"]
    assert client.get("/tiles/grids/14/13597/6651.mvt").status_code == 200


def test_an_edit_changes_the_districts_tile_etag(client) -> None:
    doc = client.get("/tiles/districts/tilejson.json", params={"plan": "current"}).json()
    lon, lat = ORIGIN[0] + 1.5 * STEP, ORIGIN[1] + 0.5 * STEP  # the grid the edit moves
    t = TMS.tile(lon, lat, doc["center"][2])
    url = doc["tiles"][0].format(z=t.z, x=t.x, y=t.y)
    before = client.get(url)
    assert before.status_code == 200
    assert client.get(url, headers={"If-None-Match": before.headers["etag"]}).status_code == 304
    plan = client.get("/plans/current")
    edit = client.patch(
        "/plans/current",
        headers={**PLANNER_HEADERS, "If-Match": plan.headers["etag"]},
        json={"moves": [{"grid": grid_code(1), "district": 2}]},
    )
    assert edit.status_code == 200
    after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert after.content != before.content  # the client redraws the moved grid
    old = client.get(url.replace("plan=current", "plan=current&version=1"))
    assert old.headers["etag"] == before.headers["etag"]  # version 1 is still version 1
