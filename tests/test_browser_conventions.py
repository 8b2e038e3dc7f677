# ruff: noqa: F811  (pytest fixtures imported from tests.test_browser)
"""Users' conventions on the planner page, in real headless Chromium against the real app.

Colours by adjacency (the same as the report's, stable across edits), every
visible string translated in Chinese and English, the area name kept when the
language changes, the district table inside the panel, and numbers rounded
as the report rounds them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pytest

from maps.colours import colour_districts, grid_colours, palette
from maps.numbers import percent, whole
from tests.browser_fixtures import LiveServer, make_build_dir, open_page
from tests.i18n_check import data_strings, untranslated
from tests.test_browser import _api, _grid_point, _need_browser, _wait_saved, browser  # noqa: F401
from tests.test_colours import graph_of, lattice_plan

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REQUESTS: list[str] = []
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _need_browser()
    folder = make_build_dir(tmp_path_factory.mktemp("town"), nx=8, ny=6, k=4)
    with LiveServer(folder) as live:
        yield live


def _open(browser: Any, url: str, *, width: int = 1280, height: int = 800) -> tuple[Any, Any]:
    return open_page(browser, url, REQUESTS, width=width, height=height, timeout=30_000)


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context, pg = _open(browser, server.url)
    yield pg
    context.close()
    assert not pg.errors, pg.errors


def _page_colours(pg: Any) -> dict[str, str]:
    return pg.evaluate(
        """async () => {
            const { districtColour } = await import('/static/js/colours.js');
            const ids = window.gridplan.model.districts;
            return Object.fromEntries(ids.map((d) => [d, districtColour(d)]));
        }"""
    )


def _python_colours(folder: Path, assignment: dict[str, Any]) -> dict[str, str]:
    grids = gpd.read_file(folder / "grids.geojson")
    grids["district"] = grids["code"].astype(str).map(assignment).astype(int)
    return {str(d): c for d, c in grid_colours(grids).items()}


# ----------------------------------------------------------------------------- colours
def test_page_colours_are_the_reports_and_follow_the_map(page: Any, server: LiveServer) -> None:
    assignment = _api(server, "/plans/current/assignment").json()["assignment"]
    assert _page_colours(page) == _python_colours(server.folder, assignment)
    # every grid drawn in its district's colour, at the shared fill opacity
    drawn = page.evaluate(
        """async () => {
            const { districtColour } = await import('/static/js/colours.js');
            const app = window.gridplan;
            return [...app.grids.byCode].map(([code, l]) => [l.options.fillColor,
                districtColour(app.model.districtOf(code)), l.options.fillOpacity]);
        }"""
    )
    assert all(a == b and o == palette()["fill_opacity"] for a, b, o in drawn)


def _text_keys(previous: dict[int, int] | None) -> dict[str, int] | None:
    return None if previous is None else {str(d): c for d, c in previous.items()}


def test_js_colouring_is_the_python_algorithm(page: Any) -> None:
    """colours.js and maps/colours.py give the same colours on the same graphs, fresh or not."""
    n = len(palette()["districts"])
    cases = []
    for seed in range(40):
        nx, ny, k = 4 + seed % 9, 4 + seed % 7, 2 + (seed * 7) % 38
        graph = graph_of(lattice_plan(seed, nx, ny, min(k, nx * ny)), nx, ny)
        rng = np.random.default_rng(seed)
        previous = (
            None
            if seed % 2
            else {d: int(rng.integers(n)) for d in graph if rng.random() < 0.7}  # with clashes
        )
        cases.append((graph, previous))
    for rim in (7, 8, 9, 12, 16, 17):  # a hub ringed by every colour: hand-over and DSATUR
        graph = {d: {rim + 1, 1 + d % rim, 1 + (d - 2) % rim} for d in range(1, rim + 1)}
        cases.append(({**graph, rim + 1: set(range(1, rim + 1))}, None))
    payload = [
        [{str(d): sorted(map(str, m)) for d, m in g.items()}, _text_keys(p)] for g, p in cases
    ]
    got = page.evaluate(
        """async ([cases, n]) => {
            const { colourDistricts } = await import('/static/js/colours.js');
            return cases.map(([g, p]) => Object.fromEntries(colourDistricts(
                new Map(Object.entries(g).map(([d, m]) => [d, new Set(m)])),
                p ? new Map(Object.entries(p)) : null, n)));
        }""",
        [payload, n],
    )
    for (graph, previous), js in zip(cases, got, strict=True):
        expected = colour_districts(graph, previous, n_colours=n)
        assert {int(d): c for d, c in js.items()} == expected


def test_painting_keeps_colours_unless_a_clash_forces(browser: Any, tmp_path: Path) -> None:
    """Nine one-grid districts; painting a grid next to district 9 into district 1 (same
    home colour) makes them neighbours: 9 changes colour, every other district keeps its own."""
    folder = make_build_dir(tmp_path / "town", nx=3, ny=3, k=3)
    grids = gpd.read_file(folder / "grids.geojson")
    centre = grids.to_crs(grids.estimate_utm_crs()).geometry.centroid
    col = np.argsort(np.argsort(centre.x.round(6).to_numpy())) // 3
    row = 2 - np.argsort(np.argsort(centre.y.round(6).to_numpy())) // 3
    district = 1 + row * 3 + col  # 1 2 3 / 4 5 6 / 7 8 9, north to south
    (folder / "plan.csv").write_text(
        "grid,district\n"
        + "".join(f"{c},{d}\n" for c, d in zip(grids["code"], district, strict=True))
    )
    (folder / "districts.geojson").unlink()
    code_of = {int(d): str(c) for c, d in zip(grids["code"], district, strict=True)}
    with LiveServer(folder) as live:
        context, pg = _open(browser, live.url)
        before = _page_colours(pg)
        assert before["1"] == before["9"] == palette()["districts"][0]  # home colours
        version = pg.evaluate("window.gridplan.version")
        pg.locator('#district-list tr[data-district="1"] .swatch').click()
        pg.mouse.click(*_grid_point(pg, code_of[6]))  # district 6 touches 9
        _wait_saved(pg, version + 1)
        after = _page_colours(pg)
        neighbours = pg.evaluate(
            """async () => {
                const { districtGraph } = await import('/static/js/colours.js');
                const app = window.gridplan;
                const g = districtGraph(app.touching, (c) => app.model.districtOf(c),
                                        app.model.districts);
                return Object.fromEntries([...g].map(([d, s]) => [d, [...s]]));
            }"""
        )
        context.close()
    assert "9" in neighbours["1"]
    assert after["9"] != before["9"]
    assert {d: c for d, c in after.items() if d != "9"} == {
        d: c for d, c in before.items() if d != "9" and d in after
    }
    assert all(after[a] != after[b] for a in neighbours for b in neighbours[a])


# ----------------------------------------------------------------------------- languages
def _visible_text(pg: Any) -> str:
    """Text of every tab of the panel, the bar, the map's controls and every tooltip."""
    chunks = []
    for tab in ("districts", "suggestions", "coverage", "history", "export"):
        pg.locator(f'#panel nav button[data-tab="{tab}"]').click()
        if tab == "suggestions":
            pg.locator("ol.suggestions li, #suggestion-list p").first.wait_for(timeout=10_000)
        if tab == "history":
            pg.locator("#history-list tbody tr").first.wait_for(timeout=10_000)
            pg.locator("#compare").click()
            pg.locator("#compare-result p").wait_for(timeout=5000)
        if tab == "coverage":  # a building's figures and the 1310 check of a real run
            pg.locator('input[data-layer="walk"]').check()
        chunks.append(pg.evaluate("document.body.innerText"))
    chunks.append(
        pg.evaluate(
            """() => [...document.querySelectorAll('[title], [placeholder]')]
                .map((e) => `${e.title || ''} ${e.placeholder || ''}`).join('\\n')"""
        )
    )
    return "\n".join(chunks)


#: A /coverage/1310 answer in the shape gis.response and the API give it.
RESPONSE_1310 = {
    "mode": "walk",
    "bases_from": "service points",
    "speed_m_s": 1.25,
    "bases": 2,
    "bases_off_network": 0,
    "households": 17672.0,
    "share_households": {"3": 0.4121, "10": 0.9630},
    "worst_case_s": 731.5,
    "unreachable_buildings": 0,
    "without_grid": [],
    "outside_count": 3,
    "outside": [{"id": "w1", "grid": "320102003001001", "response_s": 731.5, "households": 9}],
    "worst_case_s_per_grid": {"320102003001001": 731.5},
    "per_district": {
        "1": {"households": 4434.0, "share_households": {"3": 0.5, "10": 1.0}, "worst_case_s": 420},
        "2": {"households": 4249.0, "share_households": {"3": 0.3, "10": 0.9}, "worst_case_s": 731},
    },
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_visible_string_is_translated(browser: Any, server: LiveServer, language) -> None:
    context, pg = _open(browser, f"{server.url}&lang={language}")
    pg.evaluate(
        """async (data) => {
            const panels = await import('/static/js/panels.js');
            window.gridplan.coverage.r1310 = data;
            panels.render1310(data);
        }""",
        RESPONSE_1310,
    )
    # a building's panel, the way a click shows it
    pg.evaluate(
        """async () => {
            const panels = await import('/static/js/panels.js');
            panels.renderBuildingInfo({id: 'b1', grid: '320102003001001', district: '1',
                                       walk_s: 250, service: '服务站1 (p0)'});
        }"""
    )
    text = _visible_text(pg)
    assert "1310" in text and "320102003001001" in text
    context.close()
    assert untranslated(text, data_strings(server.folder), language) == []
    assert not pg.errors, pg.errors


def test_translation_dictionaries_cover_every_key_the_page_uses() -> None:
    static = ROOT / "maps" / "static"
    zh = json.loads((static / "i18n" / "zh.json").read_text("utf-8"))
    en = json.loads((static / "i18n" / "en.json").read_text("utf-8"))
    assert set(zh) == set(en)
    html = (static / "index.html").read_text("utf-8")
    used = set(re.findall(r'data-i18n(?:-title)?="(\w+)"', html))
    for js in (static / "js").glob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*["'](\w+)["']""", js.read_text("utf-8")))
    used |= {f"kind_{k}" for k in ("create", "edit", "suggestion", "undo", "redo")}
    used |= {f"profile_{p}" for p in ("adult", "elderly")} | {"mode_walk", "mode_bicycle"}
    assert sorted(used - set(zh)) == []
    assert all(zh[k] != en[k] or k in {"speed"} for k in used & set(zh) if zh[k].strip())


def test_english_keeps_the_area_name_and_the_table_fits(browser: Any, server: LiveServer) -> None:
    for width in (1280, 1024, 768):
        context, pg = _open(browser, server.url, width=width, height=900)
        pg.locator("#lang").select_option("en")
        assert pg.locator("#area-name").inner_text() == "合成小镇"
        assert pg.locator("#panel nav button").first.inner_text() == "Districts"
        panel = pg.locator("#panel").bounding_box()
        for i in range(pg.locator("#district-list button.lock").count()):
            lock = pg.locator("#district-list button.lock").nth(i).bounding_box()
            assert lock["x"] + lock["width"] <= panel["x"] + panel["width"], (width, lock)
        table = pg.evaluate(
            "(() => { const t = document.querySelector('#district-list table');"
            " return [t.scrollWidth, t.parentElement.clientWidth]; })()"
        )
        assert table[0] <= table[1], (width, table)
        pg.locator("#lang").select_option("zh")
        assert pg.locator("#area-name").inner_text() == "合成小镇"
        context.close()


def test_export_in_gcj02_from_the_page(page: Any, tmp_path: Path) -> None:
    """The export tab offers the three systems; a GCJ-02 GeoPackage is named and labelled so."""
    import sqlite3

    page.locator('#panel nav button[data-tab="export"]').click()
    page.locator("#export-crs").select_option("gcj02")
    with page.expect_download(timeout=15_000) as info:
        page.locator('button.export[data-format="gpkg"]').click()
    assert info.value.suggested_filename.endswith("-gcj02.gpkg")
    path = tmp_path / "plan.gpkg"
    info.value.save_as(path)
    with sqlite3.connect(path) as db:
        names = {r[0] for r in db.execute(
            "SELECT s.srs_name FROM gpkg_contents c JOIN gpkg_spatial_ref_sys s USING (srs_id)"
        )}  # fmt: skip
    assert len(names) == 1 and "GCJ-02" in names.pop()
    assert "GCJ-02" in page.locator("#export-status").inner_text() or "gcj02" in (
        page.locator("#export-status").inner_text()
    )


# ----------------------------------------------------------------------------- numbers
NUMBERS = [
    0.0, 0.4, 0.5, 1.5, 2.5, 90741.5, 90741.49999, 90742.5, 1234.5, 999.5, 1e6 + 0.5,
    334.26982605892255, 17672.0, 45945.0, 7.0000001,
]  # fmt: skip
FRACTIONS = [
    0.0, 0.0213, -0.038, 0.00025, 0.00075, -0.00025, 0.0125, 0.0135, -0.0135, 0.09425,
    0.5, 0.123456, -0.2, 1.0, 0.96301,
]  # fmt: skip


def test_numbers_round_as_the_report_rounds(page: Any) -> None:
    """One rounding: i18n.js (page) and maps/numbers.py (report) write the same text."""
    got = page.evaluate(
        """async ([numbers, fractions]) => {
            const { num, pct } = await import('/static/js/i18n.js');
            return [numbers.map(num), fractions.map((f) => pct(f)),
                    fractions.map((f) => pct(f, false))];
        }""",
        [NUMBERS, FRACTIONS],
    )
    assert got[0] == [whole(x) for x in NUMBERS]
    assert got[1] == [percent(f) for f in FRACTIONS]
    assert got[2] == [percent(f, signed=False) for f in FRACTIONS]
    assert whole(90741.5) == "90,742"  # the report once truncated to 90,741


# ----------------------------------------------------------------------------- screenshots
def test_screenshots_in_both_languages_and_nothing_leaves_127_0_0_1(
    browser: Any, server: LiveServer, tmp_path: Path
) -> None:
    for language in ("zh", "en"):
        context, pg = _open(browser, f"{server.url}&lang={language}")
        shot = tmp_path / f"screenshot-{language}.png"
        pg.screenshot(path=str(shot))
        context.close()
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert REQUESTS
    outside = sorted(
        {u for u in REQUESTS if urlsplit(u).scheme not in ("blob", "data")}
        - {u for u in REQUESTS if urlsplit(u).hostname == "127.0.0.1"}
    )
    assert outside == []
