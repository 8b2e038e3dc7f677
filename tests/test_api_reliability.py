# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Reliability: no 5xx on schema-generated requests, bad input is 4xx, no edit is lost.

The server tests run uvicorn in a subprocess on a random loopback port, kill
it with SIGKILL in the middle of writes, restart it and check that every
acknowledged edit is there.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import zipfile
from collections import Counter
from pathlib import Path

import httpx
import openpyxl
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api_fixtures import (  # noqa: F401
    PLANNER,
    PLANNER_HEADERS,
    build_dir,
    client,
    database_url,
    make_build_dir,
    server,
    settings,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROOT = Path(__file__).resolve().parent.parent
GRIDS = [f"320102001{1 + (i % 2):03d}{i + 1:03d}" for i in range(24)]


# -- schema-driven: no 5xx --------------------------------------------------


def test_no_server_errors_and_no_undocumented_status(tmp_path: Path, database_url) -> None:
    """Schemathesis cases for every operation of the OpenAPI schema, as a planner.

    No answer is a 5xx, and every status an operation answers is one its
    OpenAPI document lists, for valid and invalid requests alike (bounded
    examples per operation and mode, the same every run).
    """
    from api.main import create_app
    from api.settings import Settings

    app = create_app(
        Settings(
            data_dir=make_build_dir(tmp_path / "b"),
            database_url=database_url,
            planner_tokens=PLANNER,
            max_upload_bytes=100_000,
            warm_up=False,
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        for mode in GenerationMode:  # valid and invalid requests
            _fuzz(operation, mode, failures, statuses)
    assert not failures, failures
    assert len(statuses) >= 100 and sum(200 <= c < 300 for c in statuses) >= 10
    print(f"schemathesis: {len(operations)} operations, {len(statuses)} calls, "
          f"statuses {sorted(Counter(statuses).items())}")  # fmt: skip


def _fuzz(operation, mode: GenerationMode, failures: list[str], statuses: list[int]) -> None:
    """Call one operation with bounded examples; record 5xx and undocumented statuses."""
    documented = {str(code) for code in operation.definition.raw["responses"]}

    @given(operation.as_strategy(mode))
    @hsettings(
        max_examples=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:
        response = case.call(headers=PLANNER_HEADERS)
        statuses.append(response.status_code)
        where = f"{case.method} {case.formatted_path} {case.query or ''}"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:200]}")
        elif str(response.status_code) not in documented and "default" not in documented:
            failures.append(f"{where}: undocumented {response.status_code}")

    try:
        run()
    except Unsatisfiable:  # an operation without parameters has no invalid request
        assert mode is GenerationMode.NEGATIVE


# -- bad input is 4xx ---------------------------------------------------------


def test_malformed_bodies_and_unknown_ids(client) -> None:
    h = {**PLANNER_HEADERS, "If-Match": '"1"', "Content-Type": "application/json"}
    assert client.patch("/plans/current", content=b"{not json", headers=h).status_code == 422
    assert client.patch("/plans/current", json={"moves": "x"}, headers=h).status_code == 422
    assert (
        client.patch("/plans/current", json={"moves": [{"grid": 5}]}, headers=h).status_code == 422
    )
    assert client.patch("/plans/current", json={"bogus": 1}, headers=h).status_code == 422
    assert client.post("/plans", json={"k": "many"}, headers=PLANNER_HEADERS).status_code == 422
    huge = b'{"moves": [' + b'{"grid": "1", "district": 1},' * 20_000 + b"]}"
    assert client.patch("/plans/current", content=huge, headers=h).status_code == 413
    assert client.patch("/plans/nope", json={}, headers=h).status_code == 404
    assert client.get("/plans/current/versions/77").status_code == 404
    assert client.get("/jobs/zzz").status_code == 404
    assert client.get("/collections/grids/items/nope").status_code == 404
    assert client.get("/plans/current").json()["version"] == 1


def _upload(client, kind: str, data: bytes, name: str = "f.geojson"):
    return client.post(f"/uploads/{kind}", files={"file": (name, data)}, headers=PLANNER_HEADERS)


def _square_fc(geometry_type: str = "Polygon") -> bytes:
    if geometry_type == "Point":
        geom = {"type": "Point", "coordinates": [118.775, 32.035]}
    else:
        geom = {
            "type": "Polygon",
            "coordinates": [[[118.77, 32.03], [118.78, 32.03], [118.78, 32.04], [118.77, 32.03]]],
        }
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"name": "a"}, "geometry": geom}],
        }
    ).encode()


def test_uploads_are_validated(client, build_dir: Path) -> None:
    ok = _upload(client, "boundary", _square_fc(), name="../../../../tmp/evil.geojson")
    assert ok.status_code == 201, ok.text
    assert ok.json()["features"] == 1 and ok.json()["format"] == "geojson"
    stored = list((build_dir.with_name("build.state") / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].name.startswith("u-")
    assert not Path("/tmp/evil.geojson").exists()
    assert _upload(client, "services", _square_fc("Point")).status_code == 201
    wrong = _upload(client, "boundary", _square_fc("Point"))
    assert wrong.status_code == 422 and "Polygon" in wrong.json()["detail"]
    assert _upload(client, "boundary", b"{not json").status_code == 422
    assert _upload(client, "boundary", b'{"type": "Nope"}').status_code == 422
    assert _upload(client, "boundary", b"\x00\x01binary").status_code == 415
    assert _upload(client, "boundary", b"").status_code == 400
    assert _upload(client, "boundary", b"{" + b" " * 250_000 + b"}").status_code == 413
    assert _upload(client, "nonsense", _square_fc()).status_code == 404
    broken_zip = b"PK\x03\x04" + b"junk" * 10
    r = _upload(client, "boundary", broken_zip, name="x.zip")
    assert r.status_code == 422 and "/uploads/" not in r.json()["detail"]
    csv = b"building,households\nw1,3\nw2,4\n"
    r = _upload(client, "households", csv, name="h.csv")
    assert r.status_code == 201 and r.json()["features"] == 2
    assert _upload(client, "households", b"a,b\n1,2\n", name="h.csv").status_code == 422
    assert _upload(client, "households", b"id,households\nx,-3\n", name="h.csv").status_code == 422
    book = io.BytesIO()
    sheet_book = openpyxl.Workbook()
    for row in (["building", "households"], ["w1", 3]):
        sheet_book.active.append(row)
    sheet_book.save(book)
    r = _upload(client, "households", book.getvalue(), name="h.xlsx")
    assert r.status_code == 201 and r.json()["format"] == "xlsx", r.text
    assert _upload(client, "households", broken_zip, name="h.xlsx").status_code == 422
    assert len(client.get("/uploads").json()) == 4
    kept = sorted(p.suffix for p in (build_dir.with_name("build.state") / "uploads").iterdir())
    assert kept == [".csv", ".geojson", ".geojson", ".xlsx"]


def test_zipped_shapefile_and_geopackage_uploads(client, tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[shapely.box(118.77, 32.03, 118.78, 32.04)], crs="EPSG:4326"
    )
    shp = tmp_path / "shp"
    shp.mkdir()
    gdf.to_file(shp / "area.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in shp.iterdir():
            zf.write(part, part.name)
    r = _upload(client, "communities", buf.getvalue(), name="area.zip")
    assert r.status_code == 201 and r.json()["format"] == "shapefile-zip", r.text
    gdf.to_file(tmp_path / "a.gpkg", driver="GPKG", engine="pyogrio")
    r = _upload(client, "boundary", (tmp_path / "a.gpkg").read_bytes(), name="a.gpkg")
    assert r.status_code == 201 and r.json()["format"] == "gpkg", r.text


# -- a real server on loopback ------------------------------------------------


def test_two_clients_editing_at_once_lose_nothing(build_dir: Path, database_url) -> None:
    with server(build_dir, database_url) as (base, _proc):
        results: dict[str, int] = {}

        def planner(grids: list[str], district: int) -> None:
            conflicts = 0
            with httpx.Client(base_url=base, headers=PLANNER_HEADERS, timeout=30) as c:
                for grid in grids:
                    while True:
                        version = c.get("/plans/current").json()["version"]
                        r = c.patch(
                            "/plans/current",
                            headers={"If-Match": f'"{version}"'},
                            json={"moves": [{"grid": grid, "district": district}]},
                        )
                        if r.status_code == 200:
                            break
                        assert r.status_code == 412, r.text
                        assert r.json()["current_version"] > version
                        conflicts += 1
            results[grids[0]] = conflicts

        a = threading.Thread(target=planner, args=(GRIDS[0:12:2], 1))
        b = threading.Thread(target=planner, args=(GRIDS[1:12:2], 4))
        a.start(), b.start()
        a.join(60), b.join(60)
        final = httpx.get(f"{base}/plans/current/assignment").json()
        assert final["version"] == 13
        assert all(final["assignment"][g] == 1 for g in GRIDS[0:12:2])
        assert all(final["assignment"][g] == 4 for g in GRIDS[1:12:2])


def test_killed_server_keeps_every_acknowledged_edit(build_dir: Path, database_url) -> None:
    acked: dict[int, tuple[str, int]] = {}
    stop = threading.Event()
    with server(build_dir, database_url) as (base, proc):

        def writer() -> None:
            with httpx.Client(base_url=base, headers=PLANNER_HEADERS, timeout=5) as c:
                version, i = 1, 0
                while not stop.is_set():
                    grid, district = GRIDS[i % 24], 1 + (i % 4)
                    try:
                        r = c.patch(
                            "/plans/current",
                            headers={"If-Match": f'"{version}"'},
                            json={"moves": [{"grid": grid, "district": district}]},
                        )
                    except httpx.TransportError:
                        return  # the server died mid-request: not acknowledged
                    assert r.status_code == 200, r.text
                    version = r.json()["version"]
                    acked[version] = (grid, district)
                    i += 1

        t = threading.Thread(target=writer)
        t.start()
        wait_until(
            lambda: len(acked) >= 15 or not t.is_alive(), what="15 acknowledged edits", every=0.02
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        t.join(timeout=10)
    assert len(acked) >= 15
    if database_url is None:
        import sqlite3

        with sqlite3.connect(build_dir.with_name("build.state") / "gridplan.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with server(build_dir, database_url) as (base, _proc):
        head = httpx.get(f"{base}/plans/current").json()
        assert head["version"] >= max(acked)
        for version, (grid, district) in acked.items():
            v = httpx.get(f"{base}/plans/current/versions/{version}").json()
            assert v["assignment"][grid] == district, version
        r = httpx.patch(
            f"{base}/plans/current",
            headers={**PLANNER_HEADERS, "If-Match": f'"{head["version"]}"'},
            json={"moves": []},
        )
        assert r.status_code == 200
