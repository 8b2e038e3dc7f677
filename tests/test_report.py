"""`gridplan report DIR`: one self-contained HTML file with maps and charts, no network."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest

from api.cli import main
from maps.report import ALLOWED_URL_PREFIXES, check_offline, tally_districts
from tests.browser_fixtures import make_build_dir

_LEAFLET = Path(__file__).resolve().parents[1] / "maps/static/vendor/leaflet/leaflet.js"
# In CI (``CI`` set) a missing vendor folder fails the tests instead of skipping them.
needs_leaflet = pytest.mark.skipif(
    not _LEAFLET.exists() and not os.environ.get("CI"),
    reason="run scripts/setup.sh first (vendors Leaflet from npm)",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_build_dir(tmp_path_factory.mktemp("town"), nx=8, ny=6, k=4)


@needs_leaflet
def test_report_command_writes_offline_html(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(built)]) == 0
    out = json.loads(capsys.readouterr().out)
    page = Path(out["report"]).read_text("utf-8")
    assert Path(out["report"]) == built / "report.html"
    # No resource from the network, and no http(s) URL but namespaces/attribution text.
    for url in re.findall(r"https?://[^\s\"'<>)]+", page):
        assert url.startswith(ALLOWED_URL_PREFIXES), url
    assert not re.search(r"<(script|link|img)\b[^>]*(src|href)=[\"']?(https?:)?//", page)
    # Leaflet inlined, two maps, both charts as PNG, the district table in Chinese.
    assert "L.map(" in page and "leaflet-container" in page
    assert page.count("folium-map") >= 2
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    charts = [p for p in pngs if len(p) > 5000]
    assert len(charts) >= 2
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in charts)
    assert "片区人口均衡" in page and "320102003001001" in page


@needs_leaflet
def test_report_in_english_without_coverage(tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path, nx=4, ny=3, k=2, language="en")
    for name in ("buildings.geojson", "isochrones.geojson", "gaps.geojson", "sites.geojson"):
        (folder / name).unlink()
    assert main(["report", str(folder), "--tolerance", "0.05"]) == 0
    page = (folder / "report.html").read_text("utf-8")
    assert "District population balance" in page and "±5%" in page
    assert "Walking coverage" not in page


def test_check_offline_refuses_cdn_links() -> None:
    with pytest.raises(ValueError, match="network"):
        check_offline('<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script>')
    with pytest.raises(ValueError, match="network"):
        check_offline("<style>.a{background:url(https://example.com/a.png)}</style>")
    check_offline('<a href="https://leafletjs.com">Leaflet</a>')


@needs_leaflet
def test_tally_matches_a_fresh_sum(built: Path) -> None:
    from maps.report import load

    data = load(built, tolerance=0.05, language=None)
    d = tally_districts(data.grids)
    assert d["population"].sum() == data.grids["population"].sum()
    ideal = d["population"].mean()
    assert (d["deviation"] - (d["population"] / ideal - 1)).abs().max() < 1e-12
    assert data.language == "zh"


def test_vendor_fails_clearly_without_node_modules(tmp_path: Path) -> None:
    from maps.vendor import VendorError, vendor

    with pytest.raises(VendorError, match="npm ci"):
        vendor(node_modules=tmp_path / "node_modules", target=tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


def test_vendor_copies_only_the_needed_files(tmp_path: Path) -> None:
    from maps.vendor import vendor

    pkg = tmp_path / "node_modules" / "leaflet"
    (pkg / "dist" / "images").mkdir(parents=True)
    for rel in ("dist/leaflet.js", "dist/leaflet.css", "dist/leaflet-src.js", "LICENSE"):
        (pkg / rel).write_text("x")
    (pkg / "dist" / "images" / "layers.png").write_bytes(b"png")
    (pkg / "package.json").write_text('{"version": "1.9.4"}')
    target = tmp_path / "vendor"
    (target / "stale").mkdir(parents=True)
    vendor(node_modules=tmp_path / "node_modules", target=target)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == [
        "leaflet/LICENSE",
        "leaflet/images/layers.png",
        "leaflet/leaflet.css",
        "leaflet/leaflet.js",
        "versions.json",
    ]
    assert json.loads((target / "versions.json").read_text()) == {"leaflet": "1.9.4"}


def _visible(page: str) -> str:
    """The report's text as a reader sees it: no scripts, styles or tags."""
    import html

    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@needs_leaflet
@pytest.mark.parametrize("language", ["zh", "en"])
def test_report_is_in_one_language_with_its_lang(tmp_path: Path, language: str) -> None:
    from maps.report import write_report
    from tests.i18n_check import data_strings, untranslated

    folder = make_build_dir(tmp_path, nx=8, ny=6, k=4)
    coverage = json.loads((folder / "coverage.json").read_text("utf-8"))
    coverage["profiles"]["elderly"] = {**coverage["profiles"]["adult"], "speed_m_s": 0.97}
    (folder / "coverage.json").write_text(json.dumps(coverage), "utf-8")
    page = write_report(folder, language=language).read_text("utf-8")
    assert re.search(r"<html lang=\"(zh-CN|en)\">", page).group(1) == (
        "zh-CN" if language == "zh" else "en"
    )
    text = _visible(page)
    assert ("老年人" if language == "zh" else "elderly people") in text
    # the maps' scale bars in metres only (Leaflet's default adds feet and miles)
    assert page.count("L.control.scale({imperial: false})") == 2
    assert "L.control.scale()" not in page
    # folium's tooltips and layer names are in the map's script: check them too
    names = " ".join(re.findall(r'"(?:aliases|name)":\s*\[?([^\]\n]*)', page))
    assert untranslated(text + names, data_strings(folder), language) == []


@needs_leaflet
def test_report_rounds_as_the_page(tmp_path: Path) -> None:
    """Sums of fractional people are rounded half away from zero, never truncated."""
    from maps.numbers import whole
    from maps.report import load, render

    folder = make_build_dir(tmp_path, nx=4, ny=3, k=2)
    grids = json.loads((folder / "grids.geojson").read_text("utf-8"))
    for i, f in enumerate(grids["features"]):
        f["properties"]["population"] += 0.75 if i == 0 else 0.0  # the area ends in .75
    (folder / "grids.geojson").write_text(json.dumps(grids), "utf-8")
    data = load(folder, tolerance=0.02, language="en")
    total = float(data.grids["population"].sum())
    assert total % 1 == 0.75
    text = _visible(render(data))
    assert f"Population {whole(total)}" in " ".join(text.split())
    assert f"{int(total):,}" not in text  # the truncated figure


@needs_leaflet
def test_report_colours_districts_by_adjacency(built: Path) -> None:
    from maps.colours import district_graph, grid_colours
    from maps.report import load, render

    data = load(built, tolerance=0.02, language=None)
    page = render(data)
    colours = grid_colours(data.grids)
    assert data.colours == colours
    graph = district_graph(data.grids)
    assert all(colours[a] != colours[b] for a in graph for b in graph[a])
    for d, colour in colours.items():  # the legend shows the map's colours
        assert f'<i style="background:{colour}"></i>{d}</span>' in page


@needs_leaflet
def test_report_shows_uncovered_households_by_cause(tmp_path: Path) -> None:
    from tests.browser_fixtures import ORIGIN
    from tests.coverage_fixtures import add_lonely_piece

    folder = make_build_dir(tmp_path, nx=4, ny=4, k=2, language="en")
    add_lonely_piece(folder, ORIGIN)
    assert main(["coverage", str(folder), "--sites", "0"]) == 0
    figures = json.loads((folder / "coverage.json").read_text("utf-8"))
    assert figures["uncovered_by_cause"]["5"]["no_service_on_piece"]["households"] == 40
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text("utf-8")
    assert 'alt="Uncovered households by cause"' in page
    assert "Network pieces without a service point" in page
    # the piece's row: its number, 1 building, 40 households
    piece = figures["network"]["pieces_without_service"][0]
    assert f"<tr><td>{piece['piece']}</td>" in page and "<td>1</td><td>40</td>" in page
