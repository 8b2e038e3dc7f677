"""The planner page in real headless Chromium (Debian's), against the real app.

One server and one browser per module, over a synthetic town of 48 grids in 4
districts. Every request any page makes is recorded; the last test asserts
that none left 127.0.0.1. Tests change the plan, so each reads the state it
starts from instead of assuming a version number.

Chromium comes from the system (``/usr/bin/chromium``, installed by
``scripts/setup.sh --system``), never downloaded. In CI a missing Chromium
fails these tests; elsewhere it skips them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser_fixtures import CHROMIUM, CHROMIUM_ARGS, LiveServer, make_build_dir
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[1]
REQUESTS: list[str] = []


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium; scripts/setup.sh --system)")
    if not (ROOT / "maps/static/vendor/leaflet/leaflet.js").exists():
        missing.append("maps/static/vendor (bash scripts/setup.sh: npm ci + python -m maps.vendor)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[test]')")
    if missing:
        message = "browser tests need " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _need_browser()
    folder = make_build_dir(tmp_path_factory.mktemp("town"), nx=8, ny=6, k=4)
    with LiveServer(folder) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh page on the planner, loaded and ready, at 1280×800."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("request", lambda r: REQUESTS.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url)
    pg.wait_for_function("document.body.dataset.ready", timeout=20_000)
    assert pg.evaluate("document.body.dataset.ready") == "1", errors
    yield pg
    context.close()
    assert not errors, errors


def _api(server: LiveServer, path: str, **kwargs: Any) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {server.token}", **kwargs.pop("headers", {})}
    return httpx.request(kwargs.pop("method", "GET"), server.base + path, headers=headers, **kwargs)


def _assignment(server: LiveServer) -> tuple[int, dict[str, str]]:
    data = _api(server, "/plans/current/assignment").json()
    return data["version"], {g: str(d) for g, d in data["assignment"].items()}


def _wait_settled(page: Any) -> None:
    """Wait until the page has handled the last input: two frames drawn, nothing left to save."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_function("() => !window.gridplan.saving && window.gridplan.queue.length === 0")


def _grid_point(page: Any, code: str) -> tuple[float, float]:
    """Page coordinates of a grid's centre."""
    x, y = page.evaluate(
        """(code) => {
            const app = window.gridplan;
            const p = app.map.latLngToContainerPoint(app.grids.centres.get(code));
            const r = app.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        code,
    )
    return x, y


def _tally(page: Any, district: str) -> int:
    """Population shown in the panel for ``district``."""
    cell = page.locator(f'#district-list tr[data-district="{district}"] td.n').first
    return int(cell.inner_text().replace(",", ""))


def _wait_tally(page: Any, district: str, population: int) -> None:
    """Wait until the panel shows ``population`` for ``district`` (it refreshes ~12 times/s)."""
    page.wait_for_function(
        """([d, pop]) => {
            const cell = document.querySelector(`#district-list tr[data-district="${d}"] td.n`);
            return cell && Number(cell.textContent.replace(/[^0-9]/g, "")) === pop;
        }""",
        arg=[district, population],
        timeout=5000,
    )


def _wait_saved(page: Any, version: int) -> None:
    page.wait_for_function(
        "(v) => window.gridplan.version >= v && !window.gridplan.saving "
        "&& window.gridplan.queue.length === 0",
        arg=version,
        timeout=10_000,
    )


def _border_grid(server: LiveServer, page: Any, src: str, dst: str) -> str:
    """A grid of district ``src`` that touches district ``dst``."""
    return page.evaluate(
        """([src, dst]) => {
            const m = window.gridplan.model;
            for (const [code, d] of m.assignment) {
                if (d !== src) continue;
                for (const n of m.neighbours.get(code))
                    if (m.assignment.get(n) === dst) return code;
            }
            return null;
        }""",
        [src, dst],
    )


def test_page_loads_in_chinese_with_tallies(page: Any) -> None:
    assert page.locator("#panel nav button").first.inner_text() == "片区"
    rows = page.locator("#district-list tbody tr")
    assert rows.count() == 4
    assert page.locator("#area-name").inner_text() == "合成小镇"
    # the page's live tallies start equal to the server's metrics
    server_rows = page.evaluate("window.gridplan.serverMetrics?.districts ?? null")
    assert server_rows
    pieces = page.evaluate("Object.fromEntries(window.gridplan.pieces)")
    for row in server_rows:
        assert _tally(page, str(row["district"])) == round(row["population"])
        assert (pieces[str(row["district"])] == 1) == row["contiguous"]


def test_adjacency_needs_a_shared_piece_of_boundary(page: Any) -> None:
    """T-junctions count (no shared vertex needed), corner-only contact does not."""
    result = page.evaluate(
        """async () => {
            const { adjacencyFromPolygons } = await import('/static/js/plan.js');
            const sq = (code, x0, y0, x1, y1) => ({ properties: { code }, geometry: {
                type: "Polygon",
                coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] } });
            const d = 0.001;  // about 100 m
            const nbrs = adjacencyFromPolygons([
                sq("A", 118, 32, 118 + 2 * d, 32 + d),          // no vertex at the T
                sq("B", 118, 32 + d, 118 + d, 32 + 2 * d),
                sq("C", 118 + d, 32 + d, 118 + 2 * d, 32 + 2 * d),
                sq("D", 118 + 2 * d, 32 + 2 * d, 118 + 3 * d, 32 + 3 * d),  // corner of C only
            ]);
            return Object.fromEntries([...nbrs].map(([k, v]) => [k, [...v].sort()]));
        }"""
    )
    assert result == {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"], "D": []}


def test_click_paints_a_grid_and_the_tally_changes(page: Any, server: LiveServer) -> None:
    version, before = _assignment(server)
    code = _border_grid(server, page, "2", "1")
    grid_pop = page.evaluate("(c) => window.gridplan.model.grids.get(c).population", code)
    pop1, pop2 = _tally(page, "1"), _tally(page, "2")
    page.locator('#district-list tr[data-district="1"] .swatch').click()
    page.mouse.click(*_grid_point(page, code))
    _wait_tally(page, "1", pop1 + grid_pop)  # the page's own live tally
    _wait_tally(page, "2", pop2 - grid_pop)
    _wait_saved(page, version + 1)
    new_version, after = _assignment(server)
    assert new_version == version + 1
    assert after[code] == "1" and before[code] == "2"
    assert page.locator("#server-note").inner_text().startswith("✓")


def test_drag_paints_a_stroke_as_one_version_and_ctrl_z_undoes_it(
    page: Any, server: LiveServer
) -> None:
    version, before = _assignment(server)
    # a column of grids in district 3, next to district 4
    codes = page.evaluate(
        """() => {
            const m = window.gridplan.model;
            const out = [];
            for (const [code, d] of m.assignment)
                if (d === "3"
                    && [...m.neighbours.get(code)].some((n) => m.assignment.get(n) === "4"))
                    out.push(code);
            return out.slice(0, 3);
        }"""
    )
    assert len(codes) == 3
    page.locator('#district-list tr[data-district="4"] .swatch').click()
    points = [_grid_point(page, c) for c in codes]
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()
    _wait_saved(page, version + 1)
    new_version, after = _assignment(server)
    assert new_version == version + 1  # one stroke, one version
    assert all(after[c] == "4" for c in codes)
    # the warnings and figures follow the stroke
    assert page.locator("#warnings").inner_text()
    page.keyboard.press("Control+z")
    _wait_saved(page, version + 2)
    _, undone = _assignment(server)
    assert all(undone[c] == before[c] for c in codes)
    page.wait_for_function(
        "(c) => window.gridplan.model.districtOf(c) === '3'", arg=codes[0], timeout=5000
    )
    page.keyboard.press("Control+Shift+z")
    _wait_saved(page, version + 3)
    _, redone = _assignment(server)
    assert all(redone[c] == "4" for c in codes)
    page.wait_for_function(
        "(c) => window.gridplan.model.districtOf(c) === '4'", arg=codes[0], timeout=5000
    )


def test_locked_district_refuses_paint(page: Any, server: LiveServer) -> None:
    version, _ = _assignment(server)
    code = _border_grid(server, page, "1", "2")
    page.locator('#district-list tr[data-district="1"] button.lock').click()
    page.locator('#district-list tr[data-district="2"] .swatch').click()
    page.mouse.click(*_grid_point(page, code))
    page.wait_for_function("document.querySelector('#status').className === 'error'")
    _wait_settled(page)
    assert page.evaluate("(c) => window.gridplan.model.districtOf(c)", code) == "1"
    assert _assignment(server)[0] == version
    assert "1" in page.locator("#status").inner_text()


def test_conflict_is_shown_and_the_edit_kept(page: Any, server: LiveServer) -> None:
    version, _ = _assignment(server)
    # someone else saves a change first
    other = _border_grid(server, page, "4", "3")
    res = _api(
        server,
        "/plans/current",
        method="PATCH",
        json={"moves": [{"grid": other, "district": 3}]},
        headers={"If-Match": f'"{version}"'},
    )
    assert res.status_code == 200, res.text
    mine = _border_grid(server, page, "2", "3")
    page.locator('#district-list tr[data-district="3"] .swatch').click()
    page.mouse.click(*_grid_point(page, mine))
    banner = page.locator("#banner")
    banner.wait_for(state="visible", timeout=5000)
    assert str(version + 1) in banner.inner_text()
    assert page.evaluate("(c) => window.gridplan.model.districtOf(c)", mine) == "3"  # kept
    page.locator("#conflict-reapply").click()
    _wait_saved(page, version + 2)
    final_version, final = _assignment(server)
    assert final_version == version + 2
    assert final[mine] == "3" and final[other] == "3"  # both edits survive
    assert banner.is_hidden()


def test_suggestion_previews_on_hover_and_applies(page: Any, server: LiveServer) -> None:
    version, _ = _assignment(server)
    page.locator('#panel nav button[data-tab="suggestions"]').click()
    item = page.locator("ol.suggestions li").first
    item.wait_for(timeout=10_000)
    item.hover()
    previewed = page.evaluate(
        "() => [...window.gridplan.grids.byCode.values()]"
        ".filter((l) => l.options.weight === 3).length"
    )
    assert previewed >= 1
    rank = int(item.get_attribute("data-rank"))
    suggestion = next(
        s
        for s in _api(server, "/plans/current/suggestions?tolerance=0.02").json()["suggestions"]
        if s["rank"] == rank
    )
    item.locator("button.apply").click()
    _wait_saved(page, version + 1)
    new_version, after = _assignment(server)
    assert new_version == version + 1
    assert all(after[str(g)] == str(suggestion["to"]) for g in suggestion["grids"])
    page.wait_for_function(
        "(g) => window.gridplan.model.districtOf(g[0]) === String(g[1])",
        arg=[str(suggestion["grids"][0]), suggestion["to"]],
        timeout=5000,
    )


def test_new_plan_with_k_runs_as_a_job_with_progress(page: Any, server: LiveServer) -> None:
    before = {p["id"] for p in _api(server, "/plans").json()}
    page.locator('#panel nav button[data-tab="suggestions"]').click()
    page.locator('#new-plan input[name="k"]').fill("3")
    page.locator("#new-plan button").click()
    # the page switches to the new plan when the job is done
    page.wait_for_function(
        "(ids) => window.gridplan.planId && !ids.includes(window.gridplan.planId)",
        arg=sorted(before),
        timeout=60_000,
    )
    page.wait_for_function("window.gridplan.model.districts.length === 3", timeout=10_000)
    plan_id = page.evaluate("window.gridplan.planId")
    assert page.locator("#plan-select").input_value() == plan_id
    page.locator("#district-list tbody tr").nth(2).wait_for(state="attached", timeout=5000)
    assert page.locator("#district-list tbody tr").count() == 3
    assert page.locator("#job").is_hidden()
    # back to the plan the other tests use
    page.locator("#plan-select").select_option("current")
    page.wait_for_function("window.gridplan.model.districts.length === 4", timeout=10_000)


def test_history_compares_two_versions(page: Any, server: LiveServer) -> None:
    versions = _api(server, "/plans/current/versions").json()
    assert len(versions) >= 2  # earlier tests saved edits
    page.locator('#panel nav button[data-tab="history"]').click()
    page.locator("#history-list tbody tr").first.wait_for(timeout=5000)
    assert page.locator("#history-list tbody tr").count() == len(versions)
    page.locator("#compare").click()
    result = page.locator("#compare-result p")
    result.wait_for(timeout=5000)
    assert "→" in result.inner_text()


def test_read_only_without_token(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.on("request", lambda r: REQUESTS.append(r.url))
    pg.goto(server.base + "/")
    pg.wait_for_function("document.body.dataset.ready === '1'", timeout=20_000)
    assert pg.locator("#mode").is_disabled()
    version, _ = _assignment(server)
    code = _border_grid(server, pg, "2", "1")
    pg.mouse.click(*_grid_point(pg, code))
    _wait_settled(pg)
    assert pg.evaluate("(c) => window.gridplan.model.districtOf(c)", code) == "2"
    assert _assignment(server)[0] == version
    context.close()


def test_the_token_leaves_the_address_bar_and_lasts_for_the_tab(page: Any) -> None:
    assert "token" not in page.evaluate("location.href")
    assert page.evaluate("window.gridplan.canEdit") is True
    page.reload()
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=20_000)
    assert "token" not in page.evaluate("location.href")
    assert page.evaluate("window.gridplan.canEdit") is True  # kept for this tab


def test_a_plan_of_rebuilt_grids_is_marked_and_not_painted(page: Any, server: LiveServer) -> None:
    import json as _json

    def stale(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body.update(valid=False, metrics=None, grids_changed={
            "added": 3, "removed": 5, "added_examples": [], "removed_examples": [], "message": "",
        })  # fmt: skip
        route.fulfill(response=response, body=_json.dumps(body))

    page.route("**/plans/current", stale)
    page.evaluate("window.gridplan.reloadAssignment()")
    page.wait_for_selector("#stale:not([hidden])", timeout=5000)
    text = page.locator("#stale-text").inner_text()
    assert "5" in text and "3" in text
    version, _ = _assignment(server)
    code = _border_grid(server, page, "2", "1")
    page.evaluate("window.gridplan.setActive('1')")
    page.mouse.click(*_grid_point(page, code))
    assert page.evaluate("(c) => window.gridplan.model.districtOf(c)", code) == "2"
    assert _assignment(server)[0] == version
    page.unroute("**/plans/current")


def test_the_rebuild_form_reports_why_a_folder_cannot_be_rebuilt(page: Any) -> None:
    page.click("#panel nav button[data-tab=suggestions]")
    page.fill("#rebuild input[name=households_min]", "200")
    page.click("#rebuild button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#rebuild-status').textContent.includes('source')", timeout=10_000
    )


def test_coverage_toggles_and_building_info(page: Any) -> None:
    page.locator("#mode").click()  # pan mode: clicks go to buildings, not paint
    page.locator('#panel nav button[data-tab="coverage"]').click()
    # per-district coverage shares from coverage.json
    assert page.locator("#coverage-districts tbody tr").count() == 4
    page.locator('input[data-layer="iso-5"]').check()
    page.locator('input[data-layer="walk"]').check()
    page.locator('input[data-layer="gaps"]').check()
    on_map = page.evaluate(
        "() => ['iso-5', 'gaps'].map((k) => window.gridplan.map.hasLayer("
        "window.gridplan.coverage.layers.get(k)))"
    )
    assert on_map == [True, True]
    page.locator('input[data-layer="iso-5"]').uncheck()
    assert not page.evaluate(
        "() => window.gridplan.map.hasLayer(window.gridplan.coverage.layers.get('iso-5'))"
    )
    # click the middle of a building: its grid, district and walking time appear
    x, y = page.evaluate(
        """() => {
            const app = window.gridplan;
            const layer = app.coverage.buildings.layer.getLayers()[9];
            const p = app.map.latLngToContainerPoint(layer.getBounds().getCenter());
            const r = app.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }"""
    )
    page.mouse.click(x, y)
    table = page.locator("#building-table")
    table.wait_for(timeout=5000)
    text = table.inner_text()
    assert "320102003" in text
    assert ("服务站" in text and "分钟" in text) or "不可达" in text  # service point by name


def test_export_geojson_downloads_the_plan(page: Any) -> None:
    page.locator('#panel nav button[data-tab="export"]').click()
    with page.expect_download(timeout=15_000) as info:
        page.locator('button.export[data-format="geojson"]').click()
    download = info.value
    data = json.loads(Path(download.path()).read_text("utf-8"))
    assert data["type"] == "FeatureCollection" and data["features"]
    with page.expect_download(timeout=15_000) as info:
        page.locator('button.export[data-format="csv"]').click()
    header = Path(info.value.path()).read_text("utf-8").splitlines()[0]
    assert "grid" in header and "district" in header
    with page.expect_download(timeout=15_000) as info:
        page.locator('button.export[data-format="gpkg"]').click()
    assert Path(info.value.path()).read_bytes()[:16] == b"SQLite format 3\x00"


def test_language_switch_and_tablet_layout(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True)
    pg = context.new_page()
    pg.on("request", lambda r: REQUESTS.append(r.url))
    pg.goto(server.url)
    pg.wait_for_function("document.body.dataset.ready === '1'", timeout=20_000)
    pg.locator("#lang").select_option("en")
    assert pg.locator("#panel nav button").first.inner_text() == "Districts"
    assert pg.locator("#district-list th").nth(1).inner_text() == "District"
    # the panel sits under the map and nothing overflows sideways
    map_box = pg.locator("#map").bounding_box()
    panel_box = pg.locator("#panel").bounding_box()
    assert panel_box["y"] >= map_box["y"] + map_box["height"] - 1
    assert pg.evaluate("document.documentElement.scrollWidth") <= 768
    # a finger paints too (pointer events)
    version = pg.evaluate("window.gridplan.version")
    code = _border_grid(server, pg, "2", "1")
    pg.locator('#district-list tr[data-district="1"] .swatch').tap()
    pg.touchscreen.tap(*_grid_point(pg, code))
    _wait_saved(pg, version + 1)
    assert pg.evaluate("(c) => window.gridplan.model.districtOf(c)", code) == "1"
    context.close()


def test_configured_gcj02_tiles_shift_the_layers(browser: Any, tmp_path: Path) -> None:
    """A tile URL from settings replaces the local basemap; GCJ-02 tiles shift every layer."""
    folder = make_build_dir(tmp_path / "town", nx=4, ny=3, k=2)
    tiles = "{base}/tile-test/{z}/{x}/{y}.png"  # loopback: the test stays offline
    with LiveServer(folder, settings={"tile_url": tiles, "tile_crs": "gcj02"}) as live:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = context.new_page()
        seen: list[str] = []
        pg.on("request", lambda r: seen.append(r.url))
        pg.goto(live.url)
        pg.wait_for_function("document.body.dataset.ready === '1'", timeout=20_000)
        assert any("/tile-test/" in u for u in seen)
        assert not any("/collections/streets/" in u for u in seen)  # no local street basemap
        shift = pg.evaluate(
            """() => {
                const app = window.gridplan;
                const [code, layer] = [...app.grids.byCode][0];
                const ll = layer.getLatLngs()[0][0];
                const raw = layer.feature.geometry.coordinates[0][0];
                return [ll.lng - raw[0], ll.lat - raw[1]];
            }"""
        )
        context.close()
    REQUESTS.extend(seen)
    # GCJ-02 moves central Nanjing by roughly +0.005° longitude and -0.002° latitude
    assert 0.003 < shift[0] < 0.007 and -0.004 < shift[1] < -0.001


def test_incremental_tallies_match_a_recount(page: Any) -> None:
    """GerryChain's tally test, in the browser: 1,000 random moves, recount after each."""
    bad = page.evaluate(
        """async () => {
            const { PlanModel } = await import('/static/js/plan.js');
            const app = window.gridplan;
            const m = new PlanModel([...app.model.grids.values()], app.model.neighbours);
            m.load(Object.fromEntries(app.model.assignment));
            const codes = [...m.assignment.keys()];
            let seed = 6;
            const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
            for (let i = 0; i < 1000; i++) {
                const code = codes[Math.floor(rand() * codes.length)];
                m.move(code, m.districts[Math.floor(rand() * m.districts.length)]);
                const fresh = m.recount();
                for (const d of m.districts) {
                    const a = m.tally.get(d);
                    const b = fresh.get(d) || {population: 0, households: 0, grids: 0};
                    if (a.population !== b.population || a.households !== b.households
                        || a.grids !== b.grids) return {i, d};
                }
            }
            return null;
        }"""
    )
    assert bad is None


def test_screenshot_and_no_request_left_127_0_0_1(
    page: Any, tmp_path: Path, server: LiveServer
) -> None:
    page.locator('#panel nav button[data-tab="coverage"]').click()
    page.locator('input[data-layer="iso-10"]').check()
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("GRIDPLAN_SAVE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")
    assert REQUESTS, "no request was recorded"
    outside = sorted(
        {u for u in REQUESTS if urlsplit(u).scheme not in ("blob", "data")}
        - {u for u in REQUESTS if urlsplit(u).hostname == "127.0.0.1"}
    )
    assert outside == []


def test_gridplan_serve_prints_an_address_that_opens_the_page(browser: Any, tmp_path: Path) -> None:
    """The README flow: `gridplan serve DIR`, open the printed address, paint."""
    import re
    import socket
    import subprocess
    import sys
    import time

    from playwright.sync_api import Error as PlaywrightError

    folder = make_build_dir(tmp_path / "town", nx=4, ny=3, k=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPLAN_")}
    cmd = [sys.executable, "-m", "api.cli", "serve", str(folder), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            address = found.group(1) if found else None
        assert address, "gridplan serve printed no address"
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = context.new_page()
        pg.on("request", lambda r: REQUESTS.append(r.url))
        # the address is printed just before uvicorn listens: connection refused until then
        wait_until(lambda: pg.goto(address), what="the served page", ignoring=(PlaywrightError,))
        pg.wait_for_function("document.body.dataset.ready === '1'", timeout=30_000)
        version = pg.evaluate("window.gridplan.version")
        code = pg.evaluate(
            """() => {
                const m = window.gridplan.model;
                for (const [code, d] of m.assignment)
                    if (d === "2" && [...m.neighbours.get(code)].some(
                        (n) => m.assignment.get(n) === "1")) return code;
            }"""
        )
        pg.locator('#district-list tr[data-district="1"] .swatch').click()
        pg.mouse.click(*_grid_point(pg, code))
        _wait_saved(pg, version + 1)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
