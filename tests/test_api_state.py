# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Plans are never lost: the state folder, rebuilds of a served folder, POST /builds.

What planners make (plans, versions, jobs, uploads) lives in ``DIR.state``
beside the build folder; a rebuild replaces ``DIR`` whole and the server
serves the new layers, keeps every plan and version, and marks the plans
whose grids changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from api.store import Store
from tests.api_fixtures import (  # noqa: F401
    PLANNER,
    PLANNER_HEADERS,
    database_url,
    make_build_dir,
)
from tests.waiting import wait_for_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
GRID = "320102001001001"


def _edit(c: TestClient, plan: str, version: int, grid: str, district: int) -> int:
    r = c.patch(
        f"/plans/{plan}",
        headers={**PLANNER_HEADERS, "If-Match": f'"{version}"'},
        json={"moves": [{"grid": grid, "district": district}]},
    )
    assert r.status_code == 200, r.text
    return r.json()["version"]


def _replace(folder: Path, new: Path) -> None:
    """Swap ``new`` in for ``folder`` the way a build does (two renames)."""
    old = folder.with_name(f".{folder.name}.old")
    os.replace(folder, old)
    os.replace(new, folder)
    shutil.rmtree(old)


def _settings(folder: Path, url: str | None, **kw) -> Settings:
    return Settings(data_dir=folder, database_url=url, planner_tokens=PLANNER, warm_up=False, **kw)


def test_a_rebuild_of_a_served_folder_keeps_every_plan_and_serves_the_new_grids(
    tmp_path: Path, database_url
) -> None:
    folder = make_build_dir(tmp_path / "b", nx=6, ny=4)
    with TestClient(create_app(_settings(folder, database_url))) as c:
        version = 1
        for i, district in enumerate((2, 3, 2, 4)):
            version = _edit(c, "current", version, f"320102001{1 + i % 2:03d}{i + 1:03d}", district)
        history = c.get("/plans/current/versions").json()
        assert [v["version"] for v in history] == [1, 2, 3, 4, 5]
        assert c.get("/plans/current").json()["valid"] is True

        # the same grids rebuilt (new files, same codes): the plan stays valid and editable
        _replace(folder, make_build_dir(tmp_path / "same", nx=6, ny=4, seed=1))
        plan = c.get("/plans/current").json()
        assert plan["valid"] is True and plan["version"] == 5 and plan["metrics"] is not None
        version = _edit(c, "current", 5, GRID, 1)

        # a rebuild with fewer grids (the east column is gone) and no plan.csv
        smaller = make_build_dir(tmp_path / "small", nx=5, ny=4)
        (smaller / "plan.csv").unlink()
        _replace(folder, smaller)
        grids = c.get("/collections/grids/items").json()
        assert grids["numberMatched"] == 20  # the new layers, at once
        listed = {p["id"]: p for p in c.get("/plans").json()}
        marked = listed["current"]
        assert marked["valid"] is False and marked["version"] == version
        changes = marked["grids_changed"]
        assert changes["removed"] == 4 and changes["added"] == 0  # grids 21..24 are gone
        assert "no longer exist" in changes["message"]
        assert len(c.get("/plans/current/versions").json()) == version  # every version kept
        for v in range(1, version + 1):
            assert c.get(f"/plans/current/versions/{v}").status_code == 200
        # marked, not editable; a rename is still fine; a redraw from it works
        move = c.patch(
            "/plans/current",
            headers={**PLANNER_HEADERS, "If-Match": f'"{version}"'},
            json={"moves": [{"grid": GRID, "district": 2}]},
        )
        assert move.status_code == 409 and "rebuilt" in move.json()["detail"]
        rename = c.patch(
            "/plans/current",
            headers={**PLANNER_HEADERS, "If-Match": f'"{version}"'},
            json={"name": "before the rebuild"},
        )
        assert rename.status_code == 200 and rename.json()["valid"] is False
        r = c.post("/plans", json={"k": 4, "from_plan": "current"}, headers=PLANNER_HEADERS)
        job = wait_for_job(c, r.headers["location"])
        assert job["status"] == "done", job
        assert any("no longer exist" in w for w in job["result"]["warnings"])
        redrawn = c.get(f"/plans/{job['result']['plan']}").json()
        assert redrawn["valid"] is True and redrawn["grids"] == 20
        last = rename.json()["version"]
    with TestClient(create_app(_settings(folder, database_url))) as again:  # a restart
        assert again.get("/plans/current").json()["version"] == last  # every edit acknowledged
        assert len(again.get("/plans/current/versions").json()) == last


def test_an_old_folder_database_and_uploads_move_to_the_state_folder(
    tmp_path: Path,
) -> None:
    folder = make_build_dir(tmp_path / "b")
    legacy = Store(f"sqlite:///{folder / 'gridplan.db'}")  # as gridplan kept it before
    legacy.create_plan(
        plan_id="mine", name="mine", k=2, tolerance=0.02, nest=False, assignment={GRID: 1}
    )
    legacy.commit_version("mine", expected=1, kind="edit", assignment={GRID: 2}, moved=1)
    legacy.add_upload("u-1", "households", "u-1.csv", {"format": "csv", "features": 1})
    legacy.close()
    (folder / "uploads").mkdir()
    (folder / "uploads" / "u-1.csv").write_text("building,households\nw1,3\n")

    with TestClient(create_app(_settings(folder, None))) as c:
        assert c.get("/plans/mine").json()["version"] == 2
        assert [u["id"] for u in c.get("/uploads").json()] == ["u-1"]
    state = tmp_path / "b.state"
    assert (state / "gridplan.db").exists() and (state / "uploads" / "u-1.csv").exists()
    assert not (folder / "gridplan.db").exists() and not (folder / "uploads").exists()


def test_state_folder_inside_the_build_folder_is_refused(tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path / "b")
    with pytest.raises(OSError, match="inside the build folder"):
        create_app(_settings(folder, None, state_dir=folder / "state"))


def test_gridplan_build_over_a_folder_with_plans_keeps_them(tmp_path: Path) -> None:
    from api.cli import cli
    from gis.synthetic import synthetic_town, write_area

    source = write_area(synthetic_town(120, seed=2), tmp_path / "town")
    out = tmp_path / "runs" / "town"
    runner = CliRunner()
    assert runner.invoke(cli, ["build", str(source), "--out", str(out)]).exit_code == 0
    legacy = Store(f"sqlite:///{out / 'gridplan.db'}")  # a folder served by an older gridplan
    legacy.create_plan(plan_id="p", name="p", k=1, tolerance=0.02, nest=False, assignment={GRID: 1})
    legacy.close()
    leftover = out.parent / ".town.build-999999999-abc"  # a killed build's staging folder
    leftover.mkdir()
    result = runner.invoke(cli, ["build", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "moved the plans database" in result.output
    assert not leftover.exists()
    again = Store(f"sqlite:///{tmp_path / 'runs' / 'town.state' / 'gridplan.db'}")
    assert again.get_plan("p").version == 1
    again.close()
    assert not (out / "gridplan.db").exists()


# -- POST /builds ---------------------------------------------------------------


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gis.synthetic import synthetic_town, write_area

    return write_area(synthetic_town(300, seed=4), tmp_path_factory.mktemp("town") / "area")


def _built(tmp_path: Path, town: Path) -> Path:
    from gis.pipeline import build

    build(town, tmp_path / "dir")
    return tmp_path / "dir"


def test_post_builds_rebuilds_as_a_job_and_reports_what_changed(
    tmp_path: Path, town: Path, database_url
) -> None:
    folder = _built(tmp_path, town)
    with TestClient(create_app(_settings(folder, database_url))) as c:
        codes = [f["id"] for f in c.get("/collections/grids/items").json()["features"]]
        r = c.post("/plans", json={"name": "three", "k": 3}, headers=PLANNER_HEADERS)
        plan = wait_for_job(c, r.headers["location"])["result"]["plan"]
        edited = _edit(c, plan, 1, codes[0], 2)

        # larger grids: fewer of them, some codes vanish
        body = {"targets": {"households_min": 600, "households_max": 1200}}
        r = c.post("/builds", json=body, headers=PLANNER_HEADERS)
        assert r.status_code == 202 and r.headers["location"].startswith("/jobs/")
        job = wait_for_job(c, r.headers["location"])
        assert job["status"] == "done", job
        report = job["result"]
        after = [f["id"] for f in c.get("/collections/grids/items").json()["features"]]
        assert report["grids_before"] == len(codes) and report["grids_after"] == len(after)
        assert len(after) < len(codes)
        assert set(report["grids_removed"]) == set(codes) - set(after)
        assert set(report["grids_added"]) == set(after) - set(codes)
        assert report["plans_marked"] == [plan]
        marked = c.get(f"/plans/{plan}").json()
        assert marked["valid"] is False and marked["version"] == edited
        assert marked["grids_changed"]["removed"] == len(report["grids_removed"])
        assert len(c.get(f"/plans/{plan}/versions").json()) == edited


def test_a_failed_build_changes_nothing(tmp_path: Path, town: Path) -> None:
    folder = _built(tmp_path, town)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with TestClient(create_app(_settings(folder, None))) as c:
        grids = c.get("/collections/grids/items").json()["numberMatched"]
        # a household table keyed by grid: the build cannot match it to buildings
        up = c.post(
            "/uploads/households",
            files={"file": ("h.csv", b"grid,households\n320000000000001,5\n")},
            headers=PLANNER_HEADERS,
        )
        assert up.status_code == 201, up.text
        r = c.post("/builds", json={"households": up.json()["id"]}, headers=PLANNER_HEADERS)
        job = wait_for_job(c, r.headers["location"])
        assert job["status"] == "failed" and job["message"]
        assert c.get("/collections/grids/items").json()["numberMatched"] == grids
        bad = c.post("/builds", json={"communities": "u-nope"}, headers=PLANNER_HEADERS)
        assert bad.status_code == 404
        wrong_kind = c.post(
            "/builds", json={"communities": up.json()["id"]}, headers=PLANNER_HEADERS
        )
        assert wrong_kind.status_code == 404
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".dir.")]


def test_builds_need_a_source(tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path / "b")  # made elsewhere: build.json names no source
    with TestClient(create_app(_settings(folder, None))) as c:
        r = c.post("/builds", json={}, headers=PLANNER_HEADERS)
        assert r.status_code == 409 and "source" in r.json()["detail"]
