# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Plans: create, read, edit with If-Match, undo/redo, compare, suggestions, delete, jobs."""

from __future__ import annotations

import pytest

from tests.api_fixtures import (  # noqa: F401
    PLANNER_HEADERS,
    build_dir,
    client,
    database_url,
    settings,
)
from tests.waiting import wait_for_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
GRID = "320102001001001"


def _write(client, method: str, url: str, version: int | str, **kwargs):
    headers = {**PLANNER_HEADERS, "If-Match": f'"{version}"'}
    return client.request(method, url, headers=headers, **kwargs)


def test_default_plan_with_metrics_and_etag(client) -> None:
    r = client.get("/plans/current")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    plan = r.json()
    assert plan["version"] == 1 and plan["grids"] == 24 and plan["k"] == 4
    assignment = client.get("/plans/current/assignment").json()["assignment"]
    assert len(assignment) == 24 and set(assignment.values()) == {1, 2, 3, 4}
    # the reported deviation is a fresh recount from the grids' populations
    grids = client.get("/collections/grids/items", params={"limit": 1000}).json()["features"]
    people = {f["id"]: f["properties"]["population"] for f in grids}
    totals = {d: sum(people[g] for g, dg in assignment.items() if dg == d) for d in (1, 2, 3, 4)}
    ideal = sum(totals.values()) / 4
    recount = max(abs(t / ideal - 1) for t in totals.values())
    assert plan["metrics"]["max_deviation"] == pytest.approx(recount, abs=1e-5)
    assert client.get("/plans/nope").status_code == 404


def test_edit_needs_if_match_and_stale_write_gets_412(client) -> None:
    body = {"moves": [{"grid": GRID, "district": 2}]}
    assert client.patch("/plans/current", json=body, headers=PLANNER_HEADERS).status_code == 428
    r = _write(client, "PATCH", "/plans/current", 1, json=body)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    stale = _write(client, "PATCH", "/plans/current", 1, json={"moves": []})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2 and stale.headers["etag"] == '"2"'
    assert client.get("/plans/current/assignment").json()["assignment"][GRID] == 2
    bad = _write(
        client, "PATCH", "/plans/current", 2, json={"moves": [{"grid": "x1", "district": 1}]}
    )
    assert bad.status_code == 422 and "x1" in bad.json()["detail"]
    bad = _write(
        client, "PATCH", "/plans/current", 2, json={"moves": [{"grid": GRID, "district": 99}]}
    )
    assert bad.status_code == 422
    assert _write(client, "PATCH", "/plans/current", "abc", json={}).status_code == 400


def test_undo_redo_versions_and_compare(client) -> None:
    before = client.get("/plans/current/assignment").json()["assignment"]
    _write(client, "PATCH", "/plans/current", 1, json={"moves": [{"grid": GRID, "district": 3}]})
    assert _write(client, "POST", "/plans/current/redo", 2).status_code == 409
    r = _write(client, "POST", "/plans/current/undo", 2)
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["can_redo"]
    assert client.get("/plans/current/assignment").json()["assignment"] == before
    assert _write(client, "POST", "/plans/current/undo", 3).status_code == 409
    r = _write(client, "POST", "/plans/current/redo", 3)
    assert r.status_code == 200 and not r.json()["can_redo"]
    assert client.get("/plans/current/assignment").json()["assignment"][GRID] == 3
    kinds = [v["kind"] for v in client.get("/plans/current/versions").json()]
    assert kinds == ["create", "edit", "undo", "redo"]
    v2 = client.get("/plans/current/versions/2").json()
    assert v2["assignment"][GRID] == 3
    cmp = client.get("/plans/current/compare", params={"a": 1, "b": 2}).json()
    assert cmp["grids_moved"] == 1 and cmp["moves"][0]["grid"] == GRID
    assert cmp["people_moved"] > 0 and "max_deviation" in cmp["delta"]
    assert client.get("/plans/current/compare", params={"a": 1, "b": 99}).status_code == 404


def test_suggestions_and_apply(client) -> None:
    found = client.get("/plans/current/suggestions").json()
    assert found["version"] == 1 and found["suggestions"]
    first = found["suggestions"][0]
    r = _write(client, "POST", "/plans/current/suggestions/1/apply", 1)
    assert r.status_code == 200 and r.json()["version"] == 2
    assignment = client.get("/plans/current/assignment").json()["assignment"]
    assert all(assignment[g] == first["to"] for g in first["grids"])
    assert client.get("/plans/current/versions").json()[-1]["kind"] == "suggestion"
    assert _write(client, "POST", "/plans/current/suggestions/1/apply", 1).status_code == 412


def test_create_plan_as_job_and_from_assignment(client) -> None:
    r = client.post("/plans", json={"name": "three", "k": 3}, headers=PLANNER_HEADERS)
    assert r.status_code == 202 and r.headers["location"].startswith("/jobs/")
    job = wait_for_job(client, r.headers["location"])
    assert job["status"] == "done", job
    assert 0 <= job["progress"] <= 1
    plan = client.get(f"/plans/{job['result']['plan']}").json()
    assert plan["k"] == 3 and plan["grids"] == 24
    # redraw from an existing plan with a new k
    r = client.post("/plans", json={"k": 5, "from_plan": "current"}, headers=PLANNER_HEADERS)
    assert r.status_code == 202
    # a given assignment is stored at once
    given = client.get("/plans/current/assignment").json()["assignment"]
    r = client.post("/plans", json={"k": 4, "assignment": given}, headers=PLANNER_HEADERS)
    assert r.status_code == 201 and r.json()["version"] == 1
    r = client.post("/plans", json={"k": 4, "assignment": {"x": 1}}, headers=PLANNER_HEADERS)
    assert r.status_code == 422
    assert client.post("/plans", json={"k": 500}, headers=PLANNER_HEADERS).status_code == 422
    assert (
        client.post(
            "/plans", json={"k": 2, "from_plan": "nope"}, headers=PLANNER_HEADERS
        ).status_code
        == 404
    )
    assert client.get("/jobs/j-nope").status_code == 404


def test_delete_needs_current_version(client) -> None:
    _write(client, "PATCH", "/plans/current", 1, json={"name": "renamed"})
    assert client.get("/plans/current").json()["name"] == "renamed"
    assert _write(client, "DELETE", "/plans/current", 1).status_code == 412
    assert _write(client, "DELETE", "/plans/current", 2).status_code == 204
    assert client.get("/plans/current").status_code == 404
    assert _write(client, "DELETE", "/plans/current", 2).status_code == 404


def test_districts_geojson_follows_versions(client) -> None:
    fc = client.get("/plans/current/districts").json()
    assert len(fc["features"]) == 4
    _write(client, "PATCH", "/plans/current", 1, json={"moves": [{"grid": GRID, "district": 4}]})
    v1 = client.get("/plans/current/districts", params={"version": 1}).json()
    v2 = client.get("/plans/current/districts").json()
    grids = {f["id"]: f["properties"]["grids"] for f in v2["features"]}
    assert grids != {f["id"]: f["properties"]["grids"] for f in v1["features"]}
