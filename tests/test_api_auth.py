# ruff: noqa: F811  (pytest fixtures imported from tests.api_fixtures)
"""Access: every write route answers 401 without a token and 403 with a viewer token."""

from __future__ import annotations

import re
import socket

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api_fixtures import (  # noqa: F401
    PLANNER,
    PLANNER_HEADERS,
    VIEWER_HEADERS,
    build_dir,
    client,
    database_url,
    settings,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
SAMPLE = {"plan_id": "current", "rank": "1", "kind": "services"}


def _write_routes(app) -> list[tuple[str, str]]:
    """Every write operation of the OpenAPI schema, with sample path values."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if method.upper() in WRITE_METHODS:
                sample = re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)
                out.append((method.upper(), sample))
    return sorted(out)


def test_every_write_route_is_guarded(client) -> None:
    routes = _write_routes(client.app)
    assert len(routes) >= 8  # create, patch, delete, undo, redo, apply, what-if, upload
    for method, path in routes:
        anonymous = client.request(method, path, headers={"If-Match": '"1"'}, json={})
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers.get("www-authenticate") == "Bearer"
        viewer = client.request(
            method, path, headers={**VIEWER_HEADERS, "If-Match": '"1"'}, json={}
        )
        assert viewer.status_code == 403, (method, path, viewer.text)
        assert "viewer" in viewer.json()["detail"]
    assert client.get("/plans/current").json()["version"] == 1  # nothing changed


def test_unknown_token_is_refused(client) -> None:
    r = client.patch(
        "/plans/current", json={}, headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert r.status_code == 401


def test_reads_can_require_a_token(build_dir) -> None:
    s = Settings(data_dir=build_dir, planner_tokens=PLANNER, open_read=False)
    with TestClient(create_app(s)) as c:
        assert c.get("/collections/grids/items").status_code == 401
        assert c.get("/collections/grids/items", headers=PLANNER_HEADERS).status_code == 200


def test_no_tokens_configured_means_no_writes(build_dir) -> None:
    with TestClient(create_app(Settings(data_dir=build_dir))) as c:
        assert c.get("/plans/current").status_code == 200
        r = c.patch("/plans/current", json={}, headers={"If-Match": '"1"'})
        assert r.status_code == 401


def test_placeholder_tokens_are_refused(build_dir) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Settings(data_dir=build_dir, planner_tokens="changeme")


def test_cors_closed_by_default_and_open_when_configured(build_dir) -> None:
    origin = {"Origin": "http://evil.example", "Access-Control-Request-Method": "PATCH"}
    with TestClient(create_app(Settings(data_dir=build_dir))) as c:
        r = c.options("/plans/current", headers=origin)
        assert "access-control-allow-origin" not in r.headers
    s = Settings(data_dir=build_dir, cors_origins="http://city.example")
    with TestClient(create_app(s)) as c:
        ok = c.get("/api/info", headers={"Origin": "http://city.example"})
        assert ok.headers["access-control-allow-origin"] == "http://city.example"
        bad = c.get("/api/info", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_serve_prints_a_token_address(build_dir, monkeypatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from api.commands import serve

    seen = {}

    def run(server, sockets=None) -> None:  # serve's uvicorn, given the socket it bound
        seen.update(app=server.config.app, address=sockets[0].getsockname())
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    for name in ("GRIDPLAN_PLANNER_TOKENS", "GRIDPLAN_VIEWER_TOKENS", "GRIDPLAN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(serve.command, [str(build_dir), "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert seen["address"] == ("127.0.0.1", port)
    match = re.search(rf"http://127\.0\.0\.1:{port}/\?token=(\S+)", result.output)
    assert match
    token = match.group(1)
    with TestClient(seen["app"]) as c:
        r = c.patch("/plans/current", json={"name": "mine"},
                    headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'})  # fmt: skip
        assert r.status_code == 200
        assert c.patch("/plans/current", json={}, headers={"If-Match": '"2"'}).status_code == 401
