"""The coverage panel of the planner page names the walk-network pieces without a
service point and the buildings with long access legs (headless Chromium).

A synthetic town gets a footway of its own, unconnected, with a building
beside it, and a building 230 m from any street
(:func:`tests.coverage_fixtures.add_lonely_piece`); `gridplan coverage` computes
the coverage with the real engine; the page must list both and zoom to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from api.cli import main
from tests.browser_fixtures import CHROMIUM, CHROMIUM_ARGS, ORIGIN, LiveServer, make_build_dir
from tests.coverage_fixtures import add_lonely_piece
from tests.test_browser import _need_browser

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
WHERE: dict[str, list] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _need_browser()
    folder = make_build_dir(tmp_path_factory.mktemp("pieces"), nx=4, ny=4, k=2, language="en")
    WHERE.update(add_lonely_piece(folder, ORIGIN))
    assert main(["coverage", str(folder), "--sites", "0"]) == 0
    figures = json.loads((folder / "coverage.json").read_text("utf-8"))
    assert [p["buildings"] for p in figures["network"]["pieces_without_service"]] == [1]
    assert [leg["id"] for leg in figures["access"]["long_legs"]] == ["far"]
    with LiveServer(folder) as live:
        yield live


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = chromium.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.url)
        pg.wait_for_function("document.body.dataset.ready", timeout=20_000)
        yield pg
        chromium.close()
        assert not errors, errors


def _centre(pg: Any) -> tuple[float, float]:
    c = pg.evaluate("() => window.gridplan.map.getCenter()")
    return c["lng"], c["lat"]


def test_panel_lists_pieces_without_service_and_long_legs(page: Any) -> None:
    page.locator('#panel nav button[data-tab="coverage"]').click()
    pieces = page.locator("#coverage-pieces tbody tr")
    assert pieces.count() == 1
    assert pieces.first.locator("td").nth(1).inner_text() == "40"  # households
    assert (
        "A bridge, tunnel or ferry may be missing" in page.locator("#coverage-figures").inner_text()
    )
    pieces.first.click()
    page.wait_for_timeout(600)
    lon, lat = _centre(page)
    island = WHERE["island"]
    assert island[0][0] <= lon <= island[1][0] and abs(lat - island[0][1]) < 0.001
    legs = page.locator("#coverage-long-legs tbody tr")
    assert legs.count() == 1 and legs.first.locator("td").first.inner_text() == "far"
    legs.first.click()
    page.wait_for_timeout(600)
    lon, lat = _centre(page)
    assert abs(lon - WHERE["far"][0]) < 0.001 and abs(lat - WHERE["far"][1]) < 0.001
