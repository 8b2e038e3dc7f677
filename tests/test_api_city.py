# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""A city folder over the API: the ``subdistrict`` filter, the sub-districts, city-zoom tiles.

The city is Berlin-Adlershof (the real extract) built in six sub-districts with
two districts each (tests/city_fixtures.py).  What each filtered answer must
hold is read from the folder's files, not from the API: the features whose
code carries the sub-district in digits 7–9, and for districts those holding
one of its grids in the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gis.outputs import read_layer
from tests.api_fixtures import build_dir, client, database_url, settings  # noqa: F401
from tests.city_fixtures import city_copy

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

    with TestClient(create_app(Settings(data_dir=city_dir))) as c:
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
