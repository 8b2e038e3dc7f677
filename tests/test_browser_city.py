# ruff: noqa: F811  (the browser fixture imported from tests.test_browser)
"""The planner page on a city folder: the sub-district picker, in real headless Chromium.

The city is Berlin-Adlershof (the real extract) in six sub-districts with two
districts each (tests/city_fixtures.py).  Choosing a sub-district must zoom the
map to it and leave in the district table exactly the districts that hold its
grids in the plan (read from plan.csv, not from the page); the picker speaks
both languages, and a one-area folder shows no picker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

from gis.outputs import read_layer
from tests.browser_fixtures import LiveServer, make_build_dir, open_page
from tests.city_fixtures import city_copy
from tests.i18n_check import data_strings, untranslated
from tests.test_browser import _need_browser, browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

REQUESTS: list[str] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _need_browser()
    folder = city_copy(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("served") / "city")
    with LiveServer(folder) as live:
        yield live


def _open(browser: Any, url: str) -> tuple[Any, Any]:
    return open_page(browser, url, REQUESTS, timeout=60_000)


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context, pg = _open(browser, server.url)
    yield pg
    context.close()
    assert not pg.errors, pg.errors


def _table(pg: Any) -> list[str]:
    return pg.eval_on_selector_all(
        "#district-list tbody tr", "(rows) => rows.map((r) => r.dataset.district)"
    )


def _view(pg: Any) -> shapely.Polygon:
    box = "window.gridplan.map.getBounds().toBBoxString().split(',').map(Number)"
    w, s, e, n = pg.evaluate(box)
    return shapely.box(w, s, e, n)


def test_choosing_a_subdistrict_zooms_to_it_and_filters_the_table(
    page: Any, server: LiveServer
) -> None:
    plan = pd.read_csv(server.folder / "plan.csv", dtype={"grid": str})
    subs = read_layer(server.folder, "subdistricts").set_index("subdistrict")
    assert page.locator("#subdistrict-pick").is_visible()
    options = page.eval_on_selector_all(
        "#subdistrict-select option", "(o) => o.map((x) => x.value)"
    )
    assert options == ["", *sorted(subs.index)]
    everything = sorted({str(d) for d in plan["district"]}, key=int)
    assert sorted(_table(page), key=int) == everything
    whole = _view(page)
    for code in ("002", "006"):
        page.select_option("#subdistrict-select", code)
        inner = shapely.buffer(subs.geometry[code], -1e-5).bounds
        # the map moves to the sub-district (animated: wait until the view holds it)
        page.wait_for_function(
            """([c, w, s, e, n]) => window.gridplan.subdistrict === c
                && window.gridplan.map.getBounds().contains([[s, w], [n, e]])""",
            arg=[code, *inner],
            polling=100,
            timeout=30_000,
        )
        wanted = sorted({str(d) for d in plan[plan["grid"].str[6:9] == code]["district"]}, key=int)
        assert len(wanted) == 2
        assert sorted(_table(page), key=int) == wanted
        warned = page.eval_on_selector_all("#warnings li", "(li) => li.map((x) => x.textContent)")
        assert warned and all(any(f" {d} " in w for d in wanted) for w in warned)
        view, poly = _view(page), subs.geometry[code]
        assert view.contains(shapely.buffer(poly, -1e-5))  # the whole sub-district is in view
        assert view.area < whole.area / 2  # and the map zoomed in to it
        assert view.contains(poly.centroid)
    page.select_option("#subdistrict-select", "")
    page.wait_for_function("() => window.gridplan.subdistrict === null")
    assert sorted(_table(page), key=int) == everything


def test_the_table_shows_deviations_from_each_subdistricts_own_ideal(
    page: Any, server: LiveServer
) -> None:
    plan = pd.read_csv(server.folder / "plan.csv", dtype={"grid": str}).set_index("grid")
    grids = read_layer(server.folder, "grids")
    frame = pd.DataFrame(
        {
            "district": grids["code"].astype(str).map(plan["district"]).astype(str),
            "sub": grids["code"].astype(str).str[6:9],
            "population": grids["population"],
        }
    )
    per = frame.groupby("district").agg(sub=("sub", "first"), population=("population", "sum"))
    by_sub = per.groupby("sub")["population"]
    own = per["population"] / (by_sub.transform("sum") / by_sub.transform("size")) - 1
    city_wide = per["population"] / per["population"].mean() - 1
    shown = dict(
        page.eval_on_selector_all(
            "#district-list tbody tr",
            "(rs) => rs.map((r) => [r.dataset.district, r.querySelector('td.dev').textContent])",
        )
    )
    assert sorted(shown) == sorted(per.index)
    for d, text in shown.items():  # as the page writes it: signed, one decimal
        assert text == f"{'+' if own[d] > 0 else ''}{own[d] * 100:.1f}%", d
    assert any(abs(own[d] - city_wide[d]) > 0.01 for d in per.index)  # not the city's ideal
    # the server measures the same (max deviation, district by district)
    page.wait_for_function("() => window.gridplan.serverMetrics !== null")
    metrics = page.evaluate("() => window.gridplan.serverMetrics")
    served = {str(r["district"]): r["deviation"] for r in metrics["districts"]}
    assert all(abs(served[d] - own[d]) < 1e-5 for d in per.index)


@pytest.mark.parametrize(("language", "label"), [("zh", "街道"), ("en", "Sub-district")])
def test_the_picker_speaks_the_pages_language(
    browser: Any, server: LiveServer, language: str, label: str
) -> None:
    context, pg = _open(browser, f"{server.url}&lang={language}")
    text = pg.locator("#subdistrict-pick").inner_text()
    assert label in text
    options = pg.eval_on_selector_all("#subdistrict-select option", "(o) => o.map((x) => x.text)")
    assert untranslated("\n".join([text, *options]), data_strings(server.folder), language) == []
    other = "en" if language == "zh" else "zh"
    pg.select_option("#lang", other)  # switching language re-labels the picker
    first = pg.eval_on_selector("#subdistrict-select option", "(o) => o.text")
    assert untranslated(first, [], other) == [] and first
    context.close()
    assert not pg.errors, pg.errors


def test_a_one_area_folder_has_no_picker(browser: Any, tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path / "town", nx=4, ny=3, k=2)
    with LiveServer(folder) as live:
        context, pg = _open(browser, live.url)
        assert not pg.locator("#subdistrict-pick").is_visible()
        assert len(_table(pg)) == 2
        context.close()


def test_nothing_left_127_0_0_1() -> None:
    assert REQUESTS, "no request recorded"
    hosts = {r.split("/")[2].split(":")[0] for r in REQUESTS if "://" in r}
    assert hosts <= {"127.0.0.1"}, hosts
