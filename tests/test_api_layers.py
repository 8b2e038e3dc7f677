# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Map layers: landing, conformance, collections, items (bbox, paging, properties), tiles."""

from __future__ import annotations

import itertools

import mapbox_vector_tile
import pytest

from tests.api_fixtures import (  # noqa: F401
    VIEWER_HEADERS,
    build_dir,
    client,
    database_url,
    settings,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_landing_conformance_and_collections(client) -> None:
    landing = client.get("/", params={"f": "json"}).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = client.get("/conformance").json()["conformsTo"]
    assert any(c.endswith("/conf/geojson") for c in conf)
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert {"grids", "buildings", "communities", "districts"} <= ids
    assert client.get("/collections/grids").json()["extent"]["spatial"]["bbox"][0][0] < 119
    assert client.get("/collections/nope").status_code == 404
    assert client.get("/collections/nope/items").status_code == 404


def test_items_are_rfc7946_with_paging_and_links(client) -> None:
    r = client.get("/collections/grids/items", params={"limit": 5, "offset": 5})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == 24 and fc["numberReturned"] == 5
    assert fc["bbox"][0] < fc["bbox"][2] and fc["bbox"][1] < fc["bbox"][3]
    assert {link["rel"] for link in fc["links"]} >= {"self", "next", "prev", "collection"}
    feature = fc["features"][0]
    assert feature["id"] == feature["properties"]["code"] and len(feature["id"]) == 15
    ring = feature["geometry"]["coordinates"][0]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area2 > 0  # counter-clockwise outer ring (right-hand rule)
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    assert client.get(nxt).json()["features"][0]["id"] != feature["id"]


def test_bbox_properties_and_single_feature(client) -> None:
    fc = client.get(
        "/collections/grids/items",
        params={"bbox": "118.770,32.030,118.7715,32.0315", "properties": "code,population"},
    ).json()
    assert fc["numberMatched"] == 1
    assert set(fc["features"][0]["properties"]) == {"code", "population"}
    fid = fc["features"][0]["id"]
    one = client.get(f"/collections/grids/items/{fid}").json()
    assert one["type"] == "Feature" and one["id"] == fid
    assert client.get("/collections/grids/items/999").status_code == 404
    for bad in ("1,2,3", "a,b,c,d", "10,10,0,0", "0,0,200,1"):
        r = client.get("/collections/grids/items", params={"bbox": bad})
        assert r.status_code == 400, bad
    assert client.get("/collections/grids/items", params={"limit": 0}).status_code == 400


def test_buildings_communities_and_districts_of_a_plan(client) -> None:
    assert client.get("/collections/buildings/items").json()["numberMatched"] == 72
    names = {f["properties"]["name"] for f in client.get("/collections/communities/items").json()
             ["features"]}  # fmt: skip
    assert names == {"社区一", "社区二"}
    districts = client.get("/collections/districts/items", params={"plan": "current"}).json()
    assert districts["numberMatched"] == 4
    assert sum(f["properties"]["grids"] for f in districts["features"]) == 24
    assert client.get("/collections/districts/items", params={"plan": "x"}).status_code == 404


def test_layers_and_tiles_revalidate_with_etags(client) -> None:
    first = client.get("/collections/grids/items")
    tag = first.headers["etag"]
    again = client.get("/collections/grids/items", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag
    tile = client.get("/tiles/grids/14/13597/6651.mvt")
    cached = client.get(
        "/tiles/grids/14/13597/6651.mvt", headers={"If-None-Match": tile.headers["etag"]}
    )
    assert cached.status_code == 304


def test_vector_tiles(client) -> None:
    r = client.get("/tiles/grids/14/13597/6651.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(r.content)
    assert decoded["grids"]["features"]
    assert client.get("/tiles/buildings/16/54390/26605.mvt").status_code == 200
    world = client.get("/tiles/grids/0/0/0.mvt")  # the town is below one pixel of the world
    assert world.status_code == 204 and world.content == b""
    assert client.get("/tiles/grids/2/4/0.mvt").status_code == 404
    assert client.get("/tiles/streets/2/0/0.mvt").status_code == 404


def test_info_page_and_roles(client) -> None:
    info = client.get("/api/info").json()
    assert info["name"] == "Synthetic town" and info["language"] == "zh"
    assert info["can_edit"] is False and info["default_plan"] == "current"
    viewer = client.get("/api/info", headers=VIEWER_HEADERS).json()
    assert viewer["role"] == "viewer" and viewer["can_edit"] is False
    assert (
        client.get("/api/info", headers={"Authorization": "Bearer wrong-token-123"}).status_code
        == 401
    )


def test_browsers_get_the_planner_page(client) -> None:
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    if (client.app.state.static_dir / "index.html").is_file():
        assert page.headers["content-type"].startswith("text/html")
        assert client.get("/static/index.html").status_code == 200
    as_json = client.get("/", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")


def test_coverage_figures(client) -> None:
    assert client.get("/coverage").json()["covered_share"] == 0.9
    assert client.get("/coverage/1310").status_code == 404  # no street network here
