"""The API over the real bundled Nanjing area, built by the pipeline (slow)."""

from __future__ import annotations

import math
import shutil
import socket
from pathlib import Path

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api_fixtures import PLANNER, PLANNER_HEADERS
from tests.waiting import wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def nanjing(nanjing_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's Nanjing build (this module's server writes state beside it)."""
    return Path(shutil.copytree(nanjing_build, tmp_path_factory.mktemp("served") / "nanjing"))


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    rad = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)


def test_real_area_end_to_end(nanjing: Path) -> None:
    app = create_app(Settings(data_dir=nanjing, planner_tokens=PLANNER))
    with TestClient(app) as c:
        info = c.get("/api/info").json()
        assert info["language"] == "zh" and info["bbox"][0] == pytest.approx(118.76, abs=0.05)
        grids = c.get("/collections/grids/items").json()
        assert grids["numberMatched"] == len(grids["features"]) > 20
        assert all(len(f["id"]) == 15 for f in grids["features"])
        r = c.post("/plans", json={"name": "ten", "k": 10}, headers=PLANNER_HEADERS)
        status = wait_for_job(c, r.headers["location"])
        assert status["status"] == "done", status
        plan_id = status["result"]["plan"]
        plan = c.get(f"/plans/{plan_id}")
        assert plan.json()["metrics"]["max_deviation"] < 0.5
        assignment = c.get(f"/plans/{plan_id}/assignment").json()["assignment"]
        grid, district = next(iter(assignment.items()))
        other = 1 + district % 10
        edit = c.patch(
            f"/plans/{plan_id}",
            headers={**PLANNER_HEADERS, "If-Match": plan.headers["etag"]},
            json={"moves": [{"grid": grid, "district": other}]},
        )
        assert edit.status_code == 200 and edit.json()["version"] == 2
        cmp = c.get(f"/plans/{plan_id}/compare", params={"a": 1, "b": 2}).json()
        assert cmp["grids_moved"] == 1
        found = c.get(f"/plans/{plan_id}/suggestions", params={"tolerance": 0.005}).json()
        assert isinstance(found["suggestions"], list)
        districts = c.get(f"/plans/{plan_id}/districts").json()
        assert len(districts["features"]) == 10
        x, y = _tile(118.78, 32.043, 15)
        tile = c.get(f"/tiles/buildings/15/{x}/{y}.mvt")
        assert tile.status_code == 200
        assert mapbox_vector_tile.decode(tile.content)["buildings"]["features"]
        gcj = c.get(f"/plans/{plan_id}/export", params={"crs": "gcj02"}).json()
        assert len(gcj["features"]) == 10
        what_if = c.post(
            "/coverage/what-if", json={"lon": 118.78, "lat": 32.043}, headers=PLANNER_HEADERS
        )
        assert what_if.status_code == 200, what_if.text
        assert "thresholds" in what_if.json()
        response = c.get("/coverage/1310").json()
        assert set(response["share_households"]) == {"3", "10"}


def test_serve_without_a_folder_builds_and_serves_the_default_area(tmp_path, monkeypatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from api.commands import serve

    seen = {}
    monkeypatch.setattr(serve, "DEFAULT_DIR", tmp_path / "default")

    def run(server, sockets=None) -> None:  # serve's uvicorn, given the socket it bound
        seen.update(app=server.config.app)
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    for name in ("GRIDPLAN_PLANNER_TOKENS", "GRIDPLAN_VIEWER_TOKENS", "GRIDPLAN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(serve.command, ["--port", str(port)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "default" / "grids.geojson").exists()
    assert f"http://127.0.0.1:{port}/?token=" in result.output
    with TestClient(seen["app"]) as c:
        info = c.get("/api/info").json()
        assert info["name"] and info["layers"]
        assert c.get("/collections/grids/items").json()["numberMatched"] > 20
        # the page judges the plan by the tolerance it was drawn with (the manifest's ±5%),
        # not the server's default ±2%: a plan drawn within ±5% must not show red everywhere
        plan = c.get("/plans/current").json()
        assert plan["tolerance"] == pytest.approx(0.05)
        metrics = c.get("/plans/current/metrics").json()
        assert metrics["within_tolerance"] is True, metrics["max_deviation"]
