# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""A city folder over the API: the ``subdistrict`` filter, the sub-districts, city-zoom tiles.

The city is Berlin-Adlershof (the real extract) built in six sub-districts with
two districts each (tests/city_fixtures.py).  What each filtered answer must
hold is read from the folder's files, not from the API: the features whose
code carries the sub-district in digits 7–9, and for districts those holding
one of its grids in the plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely

from api.area import FeatureIndex
from api.tiles import MAX_FEATURES, SCREEN_PIXELS, encode_tile, tile_bounds
from gis.outputs import read_layer
from tests.api_fixtures import (  # noqa: F401
    PLANNER,
    PLANNER_HEADERS,
    build_dir,
    client,
    database_url,
    settings,
)
from tests.city_fixtures import city_copy

#: A tile a map client can take: the size Mapbox's and QGIS's guidance keeps tiles under.
TILE_BYTES = 500_000

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CODES = [f"{i:03d}" for i in range(1, 7)]
#: The layers whose features carry a code, and that code's column.
CODED = {"grids": "code", "communities": "code", "buildings": "grid"}


@pytest.fixture(scope="module")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return city_copy(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("served") / "city")


@pytest.fixture(scope="module")
def city(city_dir: Path) -> Iterator[Any]:
    """A TestClient over the city folder (SQLite state beside it)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(data_dir=city_dir, planner_tokens=PLANNER))) as c:
        yield c


def _ids(client: Any, layer: str, **params: str) -> list[str]:
    r = client.get(f"/collections/{layer}/items", params={"limit": 100_000, **params})
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"])
    return [str(f["id"]) for f in fc["features"]]


@pytest.mark.parametrize("layer", sorted(CODED))
def test_the_filter_keeps_exactly_the_subdistricts_features(
    city: Any, city_dir: Path, layer: str
) -> None:
    frame = read_layer(city_dir, layer)
    ids = frame["code" if layer != "buildings" else "id"].astype(str)
    part = frame[CODED[layer]].astype(str).str[6:9]
    seen: list[str] = []
    for code in CODES:
        got = _ids(city, layer, subdistrict=code)
        assert got, (layer, code)  # every sub-district has grids, communities, buildings
        assert sorted(got) == sorted(ids[part == code]), (layer, code)
        seen += got
    # the sub-districts split the layer: every feature in exactly one
    assert sorted(seen) == sorted(ids)


def test_districts_follow_the_plans_grids(city: Any, city_dir: Path) -> None:
    plan = pd.read_csv(city_dir / "plan.csv", dtype={"grid": str})
    seen: list[str] = []
    for code in CODES:
        got = _ids(city, "districts", subdistrict=code)
        mine = plan[plan["grid"].str[6:9] == code]["district"].astype(str)
        assert sorted(got) == sorted(set(mine)), code
        assert len(got) == 2  # drawn per sub-district, two each
        seen += got
    assert sorted(seen, key=int) == sorted({str(d) for d in plan["district"]}, key=int)


def test_subdistricts_are_a_collection_and_a_nine_digit_code_works(city: Any) -> None:
    ids = {c["id"] for c in city.get("/collections").json()["collections"]}
    assert "subdistricts" in ids
    fc = city.get("/collections/subdistricts/items").json()
    assert sorted(f["id"] for f in fc["features"]) == CODES
    one = city.get("/collections/subdistricts/items/003").json()
    assert one["properties"]["name"] == "Teil 3"
    full = one["properties"]["code"]
    assert len(full) == 9 and full.endswith("003")
    assert _ids(city, "grids", subdistrict=full) == _ids(city, "grids", subdistrict="003")


def test_paging_links_keep_the_filter(city: Any) -> None:
    fc = city.get("/collections/buildings/items", params={"subdistrict": "002", "limit": 50})
    body = fc.json()
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "subdistrict=002" in nxt
    page2 = city.get(nxt).json()
    assert page2["numberMatched"] == body["numberMatched"]
    assert all(f["properties"]["grid"][6:9] == "002" for f in page2["features"])


def test_an_unknown_subdistrict_is_a_400_naming_the_known_ones(city: Any) -> None:
    for bad in ("009", "abc", "000000", "999999001"):
        r = city.get("/collections/grids/items", params={"subdistrict": bad})
        assert r.status_code == 400, bad
        detail = r.json()["detail"]
        assert all(f"{c} (Teil {int(c)})" in detail for c in CODES), detail
    r = city.get("/collections/streets/items", params={"subdistrict": "001"})
    assert r.status_code == 400
    assert "grids" in r.json()["detail"] and "bbox" in r.json()["detail"]


def test_the_filter_is_in_the_openapi_document(city: Any) -> None:
    doc = city.get("/openapi.json").json()
    op = doc["paths"]["/collections/{collection_id}/items"]["get"]
    param = next(p for p in op["parameters"] if p["name"] == "subdistrict")
    assert param["in"] == "query" and not param["required"]
    assert "sub-district" in param["description"]
    assert "400" in op["responses"]


def test_a_one_area_folder_has_one_subdistrict(client) -> None:
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert "subdistricts" not in ids
    everything = _ids(client, "grids")
    assert _ids(client, "grids", subdistrict="001") == everything
    r = client.get("/collections/grids/items", params={"subdistrict": "002"})
    assert r.status_code == 400 and "001" in r.json()["detail"]


def _tiles_over(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    """The XYZ tiles at zoom ``z`` covering lon/lat ``bounds``."""

    def xy(lon: float, lat: float) -> tuple[int, int]:
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
        return int((lon + 180) / 360 * 2**z), int(y * 2**z)

    w, s, e, n = bounds
    (x0, y0), (x1, y1) = xy(w, n), xy(e, s)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _tile_ids(client: Any, layer: str, z: int, bounds: Any, key: str) -> tuple[set[str], int]:
    """The ids of every feature in the tiles over ``bounds``, and the largest tile's bytes."""
    ids: set[str] = set()
    largest = 0
    for x, y in _tiles_over(bounds, z):
        r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
        assert r.status_code in (200, 204), r.text  # 204: nothing in the tile to show
        largest = max(largest, len(r.content))
        if r.content:
            features = mapbox_vector_tile.decode(r.content)[layer]["features"]
            assert len(features) <= MAX_FEATURES
            ids |= {str(f["properties"][key]) for f in features}
    return ids, largest


@pytest.mark.parametrize("z", [10, 11, 12])
def test_a_whole_city_at_city_zooms_shows_every_grid_and_subdistrict(
    city: Any, city_dir: Path, z: int
) -> None:
    subs = read_layer(city_dir, "subdistricts")
    bounds = tuple(subs.total_bounds)
    grids, largest = _tile_ids(city, "grids", z, bounds, "code")
    assert grids == set(read_layer(city_dir, "grids")["code"].astype(str))
    assert largest <= TILE_BYTES
    outlines, _ = _tile_ids(city, "subdistricts", z, bounds, "subdistrict")
    assert outlines == set(CODES)


@pytest.mark.parametrize("z", [10, 11, 12])
def test_city_zoom_building_tiles_hold_what_a_map_can_show(
    city: Any, city_dir: Path, z: int
) -> None:
    buildings = read_layer(city_dir, "buildings")
    bounds = tuple(read_layer(city_dir, "subdistricts").total_bounds)
    got, largest = _tile_ids(city, "buildings", z, bounds, "id")
    # a building shows when it spans a screen pixel (Web Mercator metres at this zoom)
    b = shapely.bounds(buildings.to_crs(3857).geometry.values)
    pixel = (tile_bounds(z, 0, 0)[2] - tile_bounds(z, 0, 0)[0]) / SCREEN_PIXELS
    seen = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= pixel
    assert got == set(buildings["id"][seen].astype(str))
    assert got  # the city's large buildings show even at zoom 10
    assert largest <= TILE_BYTES


def test_a_dense_tile_keeps_the_largest_features_up_to_the_limit() -> None:
    rng = np.random.default_rng(4)
    n = MAX_FEATURES * 3
    tile = _tiles_over((13.53, 52.43, 13.53, 52.43), 12)[0]
    minx, miny, maxx, maxy = tile_bounds(12, *tile)  # Web Mercator
    x = rng.uniform(minx + 1000, maxx - 1000, n)
    y = rng.uniform(miny + 1000, maxy - 1000, n)
    side = rng.uniform(5, 60, n)  # metres of Web Mercator: 3-40 m on the ground
    frame = gpd.GeoDataFrame(
        {"id": [f"b{i}" for i in range(n)]},
        geometry=shapely.box(x, y, x + side, y + side),
        crs="EPSG:3857",
    ).to_crs(4326)
    index = FeatureIndex.from_frame("buildings", frame, "id")
    body = encode_tile(index, 12, *tile)  # the whole layer in one zoom-12 tile
    kept = {f["properties"]["id"] for f in mapbox_vector_tile.decode(body)["buildings"]["features"]}
    assert len(kept) == MAX_FEATURES and len(body) <= TILE_BYTES
    sizes = pd.Series(side, index=frame["id"])
    assert sizes[list(kept)].min() >= sizes.drop(list(kept)).max()  # the largest stayed
    # at a street's zoom nothing is left out
    z16 = (tile[0] * 16 + 8, tile[1] * 16 + 8)  # in the middle of the zoom-12 tile
    w, s, e, n = tile_bounds(16, *z16)
    pad = (e - w) * 16 / 4096  # tiles carry a margin of 16 of their 4096 units
    near = shapely.box(w - pad, s - pad, e + pad, n + pad)
    inside = index.tiles()[1].query(near, predicate="intersects")
    decoded = mapbox_vector_tile.decode(encode_tile(index, 16, *z16))["buildings"]["features"]
    assert len(decoded) == len(inside) > 0


def _own_ideal_deviations(grids: pd.DataFrame, plan: pd.Series) -> pd.Series:
    """Each district's population over its sub-district's ideal (population / districts), - 1."""
    frame = pd.DataFrame(
        {
            "district": grids["code"].map(plan).astype(int),
            "sub": grids["code"].str[6:9],
            "population": grids["population"],
        }
    )
    per = frame.groupby("district").agg(sub=("sub", "first"), population=("population", "sum"))
    ideal = per.groupby("sub")["population"].transform("sum") / per.groupby("sub")[
        "population"
    ].transform("size")
    return per["population"] / ideal - 1


def test_a_per_subdistrict_plan_deviates_from_each_subdistricts_own_ideal(
    city: Any, city_dir: Path
) -> None:
    grids = read_layer(city_dir, "grids")
    grids["code"] = grids["code"].astype(str)
    plan = pd.read_csv(city_dir / "plan.csv", dtype={"grid": str}).set_index("grid")["district"]
    wanted = _own_ideal_deviations(grids, plan)
    r = city.get("/plans/current")
    assert r.status_code == 200, r.text
    metrics = r.json()["metrics"]
    assert metrics["ideal_per"] == "subdistrict"
    got = pd.Series({int(d["district"]): d["deviation"] for d in metrics["districts"]})
    assert np.allclose(got.sort_index(), wanted.sort_index(), atol=1e-5)
    assert metrics["max_deviation"] == pytest.approx(wanted.abs().max(), abs=1e-5)
    # the city-wide ideal would be much further off: the sub-districts differ in size
    city_wide = grids.groupby(grids["code"].map(plan))["population"].sum()
    assert (city_wide / city_wide.mean() - 1).abs().max() > wanted.abs().max() + 0.05
    assert [s["subdistrict"] for s in metrics["subdistricts"]] == CODES
    assert all(s["k"] == 2 for s in metrics["subdistricts"])


def test_a_district_across_a_subdistrict_line_is_measured_city_wide(
    city: Any, city_dir: Path
) -> None:
    grids = read_layer(city_dir, "grids").to_crs(3857)
    grids["code"] = grids["code"].astype(str)
    plan = pd.read_csv(city_dir / "plan.csv", dtype={"grid": str}).set_index("grid")["district"]
    sub = grids["code"].str[6:9]
    # a grid of 001 touching a grid of 002: put it in that grid's district
    a = grids[sub == "001"]
    b = grids[sub == "002"]
    pairs = [(i, j) for i in a.index for j in b.index if a.geometry[i].touches(b.geometry[j])]
    assert pairs, "sub-districts 001 and 002 share a line"
    grid, neighbour = grids["code"][pairs[0][0]], grids["code"][pairs[0][1]]
    head = city.get("/plans/current")
    etag = head.headers["ETag"]

    def move(to: int, tag: str) -> Any:
        r = city.patch(
            "/plans/current",
            json={"moves": [{"grid": grid, "district": to}]},
            headers={"If-Match": tag, **PLANNER_HEADERS},
        )
        assert r.status_code == 200, r.text
        return r

    moved = move(int(plan[neighbour]), etag)
    try:
        metrics = moved.json()["metrics"]
        assert "ideal_per" not in metrics
        after = plan.copy()
        after[grid] = plan[neighbour]
        totals = grids.groupby(grids["code"].map(after))["population"].sum()
        got = {int(d["district"]): d["deviation"] for d in metrics["districts"]}
        for d, total in totals.items():
            assert got[int(d)] == pytest.approx(total / totals.mean() - 1, abs=1e-5)
    finally:
        move(int(plan[grid]), moved.headers["ETag"])  # the other tests read the plan as built
