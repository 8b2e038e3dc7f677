# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""OGC API - Features habits: limit, 400s, properties, HEAD, bbox by geometry, one type a layer."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pytest
import shapely
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api.area import one_geometry_type
from api.routes.collections import MAX_LIMIT, OAS30
from gis.outputs import write_geojson
from tests.api_fixtures import (  # noqa: F401
    ORIGIN,
    PLANNER_HEADERS,
    build_dir,
    client,
    database_url,
    settings,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def diagonal_streets(folder: Path) -> gpd.GeoDataFrame:
    """Streets crossing the synthetic town diagonally, one as a MultiLineString."""
    x0, y0 = ORIGIN
    lines = [
        shapely.LineString([(x0 + 0.001 * i, y0), (x0 + 0.001 * i + 0.008, y0 + 0.008)])
        for i in range(6)
    ]
    lines[2] = shapely.MultiLineString([lines[2], shapely.LineString([(x0, y0), (x0, y0 + 1e-3)])])
    streets = gpd.GeoDataFrame(
        {"id": [f"s{i}" for i in range(6)], "name": [f"Street {i}" for i in range(6)]},
        geometry=lines,
        crs="EPSG:4326",
    )
    if not (folder / "streets.geojson").exists():
        write_geojson(streets, folder / "streets.geojson")
    return streets


def test_limit_above_the_maximum_asks_for_the_maximum(client) -> None:
    r = client.get("/collections/grids/items", params={"limit": MAX_LIMIT * 10})
    assert r.status_code == 200
    fc = r.json()
    assert fc["numberReturned"] == fc["numberMatched"] == 24
    self_link = next(link["href"] for link in fc["links"] if link["rel"] == "self")
    assert parse_qs(urlsplit(self_link).query)["limit"] == [str(MAX_LIMIT)]


def test_invalid_values_answer_400_on_the_ogc_routes_only(client) -> None:
    for params in ({"limit": "many"}, {"limit": 0}, {"offset": -1}, {"version": 0}):
        r = client.get("/collections/grids/items", params=params)
        assert r.status_code == 400, params
        assert r.json()["detail"], params
    assert client.get("/collections/" + "x" * 41).status_code == 400
    assert client.get("/tiles/grids/a/0/0.mvt").status_code == 400
    assert client.get("/tiles/grids/99/0/0.mvt").status_code == 400
    # the rest of the API keeps FastAPI's 422 for a body or value it cannot use
    assert client.post("/plans", json={"k": "many"}, headers=PLANNER_HEADERS).status_code == 422


def test_unknown_properties_answer_400_naming_them(client) -> None:
    r = client.get("/collections/grids/items", params={"properties": "code,nosuch"})
    assert r.status_code == 400
    assert "'nosuch'" in r.json()["detail"] and "households" in r.json()["detail"]
    ok = client.get("/collections/grids/items", params={"properties": "code, households"})
    assert ok.status_code == 200
    assert set(ok.json()["features"][0]["properties"]) == {"code", "households"}
    districts = client.get(
        "/collections/districts/items", params={"plan": "current", "properties": "grids"}
    )
    assert districts.status_code == 200
    assert (
        client.get(
            "/collections/districts/items", params={"plan": "current", "properties": "nosuch"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    "path",
    [
        "/?f=json",
        "/conformance",
        "/collections",
        "/collections/grids",
        "/collections/grids/items?limit=3",
        "/collections/districts/items?plan=current",
        "/tiles/grids/14/13597/6651.mvt",
        "/collections/nope",
    ],
)
def test_head_answers_like_get_without_a_body(client, path: str) -> None:
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "etag"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_bbox_matches_by_geometry_not_by_bounding_box(client, build_dir: Path) -> None:
    diagonal_streets(build_dir)
    x0, y0 = ORIGIN
    # the box sits inside every street's bounding box, far below each diagonal
    box = f"{x0 + 0.0075},{y0 + 0.0001},{x0 + 0.0079},{y0 + 0.0004}"
    fc = client.get("/collections/streets/items", params={"bbox": box}).json()
    assert fc["numberMatched"] == 0 and fc["features"] == []


@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    w=st.floats(0, 0.014), s=st.floats(0, 0.009), dx=st.floats(1e-5, 0.006),
    dy=st.floats(1e-5, 0.006),
)  # fmt: skip
def test_bbox_selects_exactly_the_features_whose_geometry_meets_it(
    client, build_dir: Path, w: float, s: float, dx: float, dy: float
) -> None:
    diagonal_streets(build_dir)
    streets = gpd.read_file(build_dir / "streets.geojson")  # as served: coordinates rounded
    box = (ORIGIN[0] + w, ORIGIN[1] + s, ORIGIN[0] + w + dx, ORIGIN[1] + s + dy)
    fc = client.get("/collections/streets/items", params={"bbox": ",".join(map(repr, box))}).json()
    expected = set(streets.loc[streets.intersects(shapely.box(*box)), "id"])
    assert {f["id"] for f in fc["features"]} == expected
    assert fc["numberMatched"] == len(expected)


def test_openapi_version_agrees_with_the_landing_link_and_conformance(client) -> None:
    doc_version = client.get("/openapi.json").json()["openapi"]
    landing = client.get("/", params={"f": "json"}).json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    minor = ".".join(doc_version.split(".")[:2])
    assert desc["type"].endswith(f";version={minor}")
    conforms = client.get("/conformance").json()["conformsTo"]
    assert (OAS30 in conforms) == (minor == "3.0")


def test_districts_and_isochrones_are_multipolygons_throughout(client, build_dir: Path) -> None:
    x0, y0 = ORIGIN
    square = shapely.box(x0, y0, x0 + 0.004, y0 + 0.004)
    two = shapely.MultiPolygon([shapely.box(x0, y0, x0 + 0.001, y0 + 0.001),
                                shapely.box(x0 + 0.002, y0, x0 + 0.003, y0 + 0.001)])  # fmt: skip
    iso = gpd.GeoDataFrame({"minutes": [5, 10]}, geometry=[square, two], crs="EPSG:4326")
    write_geojson(iso, build_dir / "isochrones.geojson")
    for path, params in (
        ("/collections/isochrones/items", {}),
        ("/collections/districts/items", {"plan": "current"}),
    ):
        features = client.get(path, params=params).json()["features"]
        assert features, path
        assert {f["geometry"]["type"] for f in features} == {"MultiPolygon"}, path
    served = client.get("/collections/isochrones/items").json()["features"]
    areas = [shapely.geometry.shape(f["geometry"]).area for f in served]
    assert areas == pytest.approx([square.area, two.area])


def test_a_layer_mixing_single_and_multi_parts_is_made_multi(build_dir: Path) -> None:
    streets = diagonal_streets(build_dir)
    fixed = one_geometry_type(streets)
    assert set(fixed.geom_type) == {"MultiLineString"}
    assert shapely.length(fixed.geometry.values) == pytest.approx(
        shapely.length(streets.geometry.values)
    )
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)] * 2, crs="EPSG:4326")
    assert one_geometry_type(points) is points  # one type already: left alone
