# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""No value crashes the server, and work is bounded: each item of issue 10, one test each."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api_fixtures import (  # noqa: F401
    PLANNER,
    PLANNER_HEADERS,
    build_dir,
    client,
    database_url,
    make_build_dir,
    settings,
)
from tests.waiting import wait_for_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
GRID = "320102001001001"
JSON = {**PLANNER_HEADERS, "Content-Type": "application/json"}


def _field(response) -> list[str]:
    """The last element of each invalid field's location."""
    return [str(e["loc"][-1]) for e in response.json()["detail"]]


# -- every bad number is a 4xx ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "method", "body", "field"),
    [
        ("/plans", "POST", b'{"k": 3, "tolerance": NaN}', "tolerance"),
        ("/plans", "POST", b'{"k": 3, "tolerance": Infinity}', "tolerance"),
        ("/plans", "POST", b'{"k": NaN}', "k"),
        (
            "/plans/current",
            "PATCH",
            b'{"moves": [{"grid": "%s", "district": NaN}]}' % GRID.encode(),
            "district",
        ),
        ("/coverage/what-if", "POST", b'{"lon": NaN, "lat": 32.04}', "lon"),
        (
            "/plans",
            "POST",
            b'{"k": 3, "from_plan": "current", "from_version": 9223372036854775808}',
            "from_version",
        ),
        (
            "/plans",
            "POST",
            b'{"k": 4, "assignment": {"%s": 18446744073709551616}}' % GRID.encode(),
            GRID,
        ),
        (
            "/plans/current",
            "PATCH",
            b'{"moves": [{"grid": "%s", "district": 18446744073709551616}]}' % GRID.encode(),
            "district",
        ),
    ],
)
def test_nan_infinity_and_huge_integers_in_bodies_are_422_naming_the_field(
    client, url: str, method: str, body: bytes, field: str
) -> None:
    r = client.request(method, url, content=body, headers={**JSON, "If-Match": '"1"'})
    assert r.status_code == 422, r.text
    assert field in _field(r)
    assert client.get("/plans/current").json()["version"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "/collections/districts/items?version=9223372036854775808",
        "/collections/grids/items?offset=-1",
        "/plans/current/assignment?version=9223372036854775808",
        "/plans/current/compare?a=1&b=9223372036854775808",
        "/plans/current/versions/9223372036854775808",
        "/plans/current/suggestions?tolerance=nan",
        "/tiles/grids/3/9223372036854775808/0.mvt",
    ],
)
def test_huge_or_non_finite_query_values_are_refused(client, url: str) -> None:
    # OGC API - Features routes answer 400 for an invalid value, as the standard says
    ogc = url.startswith(("/collections", "/tiles"))
    assert client.get(url).status_code == (400 if ogc else 422)


def test_a_huge_limit_asks_for_the_most_features(client) -> None:
    r = client.get("/collections/grids/items?limit=9223372036854775808")
    assert r.status_code == 200 and r.json()["numberReturned"] == 24


def test_k_beyond_the_grids_and_nesting_below_the_communities_are_refused_up_front(
    client,
) -> None:
    too_many = client.post("/plans", json={"k": 25}, headers=PLANNER_HEADERS)
    assert too_many.status_code == 422 and "24 grids" in too_many.json()["detail"]
    nested = client.post("/plans", json={"k": 1, "nest": True}, headers=PLANNER_HEADERS)
    assert nested.status_code == 422 and "2 communities" in nested.json()["detail"]


def test_every_k_up_to_the_number_of_grids_is_drawn(client) -> None:
    for k in (12, 23, 24):  # many districts of one or two grids each
        r = client.post("/plans", json={"k": k}, headers=PLANNER_HEADERS)
        assert r.status_code == 202, r.text
        job = wait_for_job(client, r.headers["location"])
        assert job["status"] == "done", job
        plan = client.get(f"/plans/{job['result']['plan']}/assignment").json()["assignment"]
        assert len(plan) == 24 and len(set(plan.values())) == k


def test_empty_districts_do_not_stop_the_contiguity_repair() -> None:
    """The cause of `argmax of an empty sequence` at k >= 53 on Nanjing: an empty district."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from gis.plan import PlanState, grid_graph, repair_contiguity

    squares = [shapely.box(i, j, i + 1, j + 1) for j in range(3) for i in range(3)]
    grids = gpd.GeoDataFrame(
        {"code": [f"g{i}" for i in range(9)], "population": [10.0] * 9},
        geometry=squares,
        crs="EPSG:32650",
    )
    graph = grid_graph(grids)
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 1, 0])  # district 2 empty, district 0 in pieces
    state = PlanState(graph, labels, ["1", "2", "3"])
    notes = repair_contiguity(state)
    assert notes  # the detached piece moved
    counts = np.bincount(state.labels, minlength=3)
    assert counts[2] == 0 and counts.sum() == 9
    assert state.contiguity()[:2].all()


def test_households_upload_refuses_infinite_numbers(client) -> None:
    for value in ("inf", "1e400", "-inf"):
        r = client.post(
            "/uploads/households",
            files={"file": ("h.csv", f"building,households\nw1,3\nw2,{value}\n".encode())},
            headers=PLANNER_HEADERS,
        )
        assert r.status_code == 422, (value, r.text)
        assert "line(s) 3" in r.json()["detail"] or "negative" in r.json()["detail"]


# -- bounded work ---------------------------------------------------------------


def _points(n: int) -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Point", "coordinates": [118.77 + i * 1e-6, 32.03]},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_uploads_are_bounded_by_features_and_unpacked_size(build_dir: Path) -> None:
    s = Settings(
        data_dir=build_dir,
        planner_tokens=PLANNER,
        max_upload_features=50,
        max_unzipped_bytes=10_000,
        warm_up=False,
    )
    with TestClient(create_app(s)) as c:

        def up(data: bytes, name: str):
            return c.post(
                "/uploads/services", files={"file": (name, data)}, headers=PLANNER_HEADERS
            )

        assert up(_points(50), "p.geojson").status_code == 201
        many = up(_points(51), "p.geojson")
        assert many.status_code == 413 and "50" in many.json()["detail"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.shp", b"\0" * 20_000)  # compresses to a few bytes
        bomb = up(buf.getvalue(), "a.zip")
        assert bomb.status_code == 413 and "10000" in bomb.json()["detail"]
        assert len(c.get("/uploads").json()) == 1


def test_upload_checks_run_off_the_event_loop(build_dir: Path, monkeypatch) -> None:
    """While an upload is being checked, other requests are answered."""
    from api import uploads

    started, release = threading.Event(), threading.Event()
    real = uploads.check_layer

    def slow(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "check_layer", slow)
    s = Settings(data_dir=build_dir, planner_tokens=PLANNER, warm_up=False)
    import anyio

    from api.main import create_app as make

    app = make(s)

    async def scenario() -> tuple[int, int]:
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            async with anyio.create_task_group() as tg:
                result: dict[str, int] = {}

                async def upload() -> None:
                    r = await c.post(
                        "/uploads/services",
                        files={"file": ("p.geojson", _points(3))},
                        headers=PLANNER_HEADERS,
                    )
                    result["upload"] = r.status_code

                tg.start_soon(upload)
                while not started.is_set():
                    await anyio.sleep(0.01)
                r = await c.get("/conformance")  # answered while the check still runs
                result["other"] = r.status_code
                release.set()
            return result["upload"], result["other"]

    upload_status, other = anyio.run(scenario)
    assert (upload_status, other) == (201, 200)


def test_the_job_queue_is_bounded_with_429_and_retry_after(build_dir: Path, monkeypatch) -> None:
    from api.routes import _engine

    release = threading.Event()
    real = _engine.draw

    def slow(*args, **kwargs):
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(_engine, "draw", slow)
    s = Settings(data_dir=build_dir, planner_tokens=PLANNER, max_queued_jobs=2, warm_up=False)
    with TestClient(create_app(s)) as c:
        first = [c.post("/plans", json={"k": 2}, headers=PLANNER_HEADERS) for _ in range(2)]
        assert [r.status_code for r in first] == [202, 202]
        full = c.post("/plans", json={"k": 2}, headers=PLANNER_HEADERS)
        assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
        release.set()
        for r in first:
            assert wait_for_job(c, r.headers["location"])["status"] == "done"
        assert c.post("/plans", json={"k": 2}, headers=PLANNER_HEADERS).status_code == 202


def test_a_chunked_body_over_the_limit_is_413(client) -> None:
    def chunks():
        for _ in range(40):
            yield b" " * 10_000  # 400 kB, over the 300 kB limit, without Content-Length

    r = client.post("/plans", content=chunks(), headers={**JSON, "Transfer-Encoding": "chunked"})
    assert r.status_code == 413, r.text


def test_the_response_cache_is_keyed_by_recognised_parameters_and_bounded_by_bytes(
    client,
) -> None:
    area = client.app.state.folder.current()
    first = client.get("/collections/grids/items", params={"limit": 5})
    used = area.responses.used
    for i in range(300):
        r = client.get("/collections/grids/items", params={"limit": 5, f"junk{i}": "x" * 50})
        assert r.headers["etag"] == first.headers["etag"]
        assert "junk" not in r.text
    assert area.responses.used == used
    for limit in range(1, 200):  # different answers: the cache stays under its byte bound
        client.get("/collections/grids/items", params={"limit": limit})
    assert area.responses.used <= area.responses.size


def test_etags_come_from_the_data_version_not_the_body(
    client, build_dir: Path, monkeypatch
) -> None:
    import hashlib

    calls = []
    real = hashlib.blake2b

    def counting(data: bytes = b"", **kw):
        calls.append(len(data))
        return real(data, **kw)

    monkeypatch.setattr(hashlib, "blake2b", counting)
    r = client.get("/collections/buildings/items")
    assert max(calls, default=0) < 500 < len(r.content)  # a short key is hashed, not the body
    same = client.get("/collections/buildings/items", headers={"If-None-Match": r.headers["etag"]})
    assert same.status_code == 304
    (build_dir / "extra.txt").write_text("x")  # any new file: a new data version
    changed = client.get("/collections/buildings/items")
    assert changed.headers["etag"] != r.headers["etag"]


# -- smaller items ----------------------------------------------------------------


def test_if_match_is_strong_only_and_star_matches_the_head(client) -> None:
    body = {"moves": [{"grid": GRID, "district": 2}]}
    weak = client.patch(
        "/plans/current", json=body, headers={**PLANNER_HEADERS, "If-Match": 'W/"1"'}
    )
    assert weak.status_code == 412 and "weak" in weak.json()["detail"]
    star = client.patch("/plans/current", json=body, headers={**PLANNER_HEADERS, "If-Match": "*"})
    assert star.status_code == 200 and star.json()["version"] == 2
    assert (
        client.delete("/plans/current", headers={**PLANNER_HEADERS, "If-Match": "*"}).status_code
        == 204
    )


def test_links_use_the_configured_base_url_and_pages_send_no_referrer(build_dir: Path) -> None:
    s = Settings(data_dir=build_dir, base_url="https://plans.example.gov/gridplan", warm_up=False)
    with TestClient(create_app(s)) as c:
        page = c.get("/collections/grids/items", params={"limit": 5}, headers={"Host": "evil.test"})
        hrefs = [link["href"] for link in page.json()["links"]]
        assert all(h.startswith("https://plans.example.gov/gridplan/") for h in hrefs), hrefs
        plan = c.get("/plans/current").json()
        assert plan["links"][0]["href"] == "https://plans.example.gov/gridplan/plans/current"
        for r in (page, c.get("/"), c.get("/static/index.html")):
            assert r.headers["referrer-policy"] == "no-referrer"


def test_the_openapi_document_lists_the_statuses_and_requires_if_match(client) -> None:
    doc = client.get("/openapi.json").json()
    patch = doc["paths"]["/plans/{plan_id}"]["patch"]
    assert {"400", "404", "409", "412", "428"} <= set(patch["responses"])
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert if_match["required"] is True
    for path, method in [("/plans/{plan_id}/undo", "post"), ("/plans/{plan_id}", "delete"),
                         ("/plans/{plan_id}/suggestions/{rank}/apply", "post")]:
        params = doc["paths"][path][method]["parameters"]
        assert next(p for p in params if p["name"] == "If-Match")["required"] is True
    assert "429" in doc["paths"]["/plans"]["post"]["responses"]
    assert "/builds" in doc["paths"]


def test_commit_version_answers_the_version_it_wrote(tmp_path: Path) -> None:
    """Read back inside the transaction: a writer never sees another writer's version as its own."""
    from api.store import Store
    from gis._errors import ConflictError

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.create_plan(plan_id="p", name="p", k=1, tolerance=0.02, nest=False, assignment={"g": 1})
    answered: list[tuple[int, int]] = []
    lock = threading.Lock()

    def writer(value: int) -> None:
        for _ in range(15):
            while True:
                head = store.get_plan("p").version
                try:
                    row = store.commit_version(
                        "p", expected=head, kind="edit", assignment={"g": value}
                    )
                    break
                except ConflictError:
                    continue
            with lock:
                answered.append((head, row.version))

    threads = [threading.Thread(target=writer, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(new == based + 1 for based, new in answered), answered
    assert sorted(new for _b, new in answered) == list(range(2, 62))
    store.close()
