"""Web map: is the planner page responsive with 5,000 grids? Canvas (ours) against SVG.

Writes a synthetic build folder of ``--nx × --ny`` grids (default 100 × 50 =
5,000 grids, one building each, 25 districts), serves it with the real app on
127.0.0.1, and drives Debian's headless Chromium through Playwright. For each
renderer, the page as shipped (Leaflet canvas, ``preferCanvas``) and Leaflet's
default SVG renderer (what folium and most Leaflet pages use; ``?renderer=svg``)
it measures, in the browser:

* **ready**: navigation start → page ready (layers fetched and drawn, plan
  loaded, panels filled);
* **stroke**: a real mouse drag across ``--stroke`` grids; the longest gap
  between animation frames while dragging, the long tasks (> 50 ms) the page
  ran, and the median time of the per-frame live update (tallies, contiguity,
  panel);
* **save**: end of stroke → server-confirmed version (PATCH round trip);
* **zoom**: one zoom step in → the next frame after ``zoomend`` (redraw).

Figures are medians over ``--repeats`` fresh page loads; the ratio is
SVG ÷ canvas (above 1: ours faster). Timings are not asserted anywhere; the
results go to BENCHMARKS.md by hand.

Usage::

    .venv/bin/python benchmarks/bench_map.py                 # 5,000 grids, 3 repeats
    .venv/bin/python benchmarks/bench_map.py --nx 40 --ny 25 --repeats 1
    .venv/bin/python benchmarks/bench_map.py --screenshot docs/screenshot.png --dir runs/nanjing
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_fixtures import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    make_build_dir,
)

STROKE_JS = """
async ({ codes }) => {
    // Record frame gaps and long tasks while the caller drags the mouse.
    const app = window.gridplan;
    window.__bench = { frames: [], long: [] };
    let last = performance.now();
    let running = true;
    const tick = (t) => {
        window.__bench.frames.push(t - last);
        last = t;
        if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__bench.long.push(e.duration);
    });
    obs.observe({ type: "longtask", buffered: false });
    window.__bench.stop = () => { running = false; obs.disconnect(); };
    app.timings.live_ms = [];
    return codes.map((code) => {
        const p = app.map.latLngToContainerPoint(app.grids.centres.get(code));
        const r = app.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    });
}
"""

ZOOM_JS = """
() => new Promise((resolve) => {
    const app = window.gridplan;
    const t0 = performance.now();
    app.map.once("zoomend", () => requestAnimationFrame(() => resolve(performance.now() - t0)));
    app.map.setZoom(app.map.getZoom() + 1, { animate: false });
})
"""


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def _row_codes(page: Any, count: int) -> list[str]:
    """``count`` grids in a west → east line through the map's middle row that is visible."""
    return page.evaluate(
        """(count) => {
            const app = window.gridplan;
            const size = app.map.getSize();
            const y = size.y / 2;
            const out = [];
            for (let x = 40; x < size.x - 40 && out.length < count; x += 3) {
                const code = app.grids.hit(app.map.containerPointToLatLng([x, y]));
                if (code && out[out.length - 1] !== code) out.push(code);
            }
            return out;
        }""",
        count,
    )


def measure_once(browser: Any, server: LiveServer, renderer: str, stroke: int) -> dict[str, float]:
    """One fresh page load: ready, stroke, save and zoom figures."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(server.base) else None,
    )
    url = server.url + ("&renderer=svg" if renderer == "svg" else "")
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
    timings = page.evaluate("window.gridplan.timings")
    version = page.evaluate("window.gridplan.version")
    # paint into the district of the left-most grid of the row
    codes = _row_codes(page, stroke)
    page.evaluate("(c) => window.gridplan.setActive(window.gridplan.model.districtOf(c))", codes[0])
    points = page.evaluate(STROKE_JS, {"codes": codes})
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=2)
    page.wait_for_timeout(100)
    page.mouse.up()
    t_up = page.evaluate("performance.now()")
    page.wait_for_function(
        "(v) => window.gridplan.version > v && window.gridplan.queue.length === 0",
        arg=version,
        timeout=120_000,
    )
    t_saved = page.evaluate("performance.now()")
    bench = page.evaluate("() => { window.__bench.stop(); return window.__bench; }")
    live = page.evaluate("window.gridplan.timings.live_ms")
    # undo the stroke so every run starts from the same plan
    page.keyboard.press("Control+z")
    page.wait_for_function("(v) => window.gridplan.version > v + 1", arg=version, timeout=120_000)
    zoom_ms = page.evaluate(ZOOM_JS)
    context.close()
    if outside:
        raise RuntimeError(f"the page reached outside 127.0.0.1: {outside[:3]}")
    frames = bench["frames"][1:]
    return {
        "ready_ms": timings["ready_since_navigation_ms"],
        "draw_ms": timings["draw_ms"],
        "adjacency_ms": timings["adjacency_ms"],
        "painted": len(codes),
        "max_frame_gap_ms": max(frames) if frames else float("nan"),
        "long_tasks": len(bench["long"]),
        "longest_task_ms": max(bench["long"], default=0.0),
        "live_update_median_ms": statistics.median(live) if live else float("nan"),
        "save_ms": t_saved - t_up,
        "zoom_redraw_ms": zoom_ms,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the folder, serve it, measure both renderers ``repeats`` times."""
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        folder = (
            Path(args.dir)
            if args.dir
            else make_build_dir(Path(tmp) / "town", nx=args.nx, ny=args.ny, k=args.k, cell_m=60.0)
        )
        grids = json.loads((folder / "grids.geojson").read_text("utf-8"))["features"]
        results["folder"] = str(args.dir) if args.dir else f"synthetic {args.nx}×{args.ny}"
        results["grids"] = len(grids)
        with LiveServer(folder) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            if args.screenshot:
                shoot(browser, server, Path(args.screenshot))
                results["screenshot"] = args.screenshot
            for renderer in args.renderers:
                runs = [
                    measure_once(browser, server, renderer, args.stroke)
                    for _ in range(args.repeats)
                ]
                results[renderer] = {key: _median([r[key] for r in runs]) for key in runs[0]}
                print(renderer, json.dumps(results[renderer]), file=sys.stderr)
            browser.close()
    if "canvas" in results and "svg" in results:
        results["ratio_svg_over_canvas"] = {
            key: round(results["svg"][key] / results["canvas"][key], 2)
            for key in ("ready_ms", "max_frame_gap_ms", "zoom_redraw_ms")
            if results["canvas"][key]
        }
    return results


def shoot(browser: Any, server: LiveServer, target: Path) -> None:
    """Save a 1280×800 screenshot of the page (districts tab, labels, balance chart)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
    page.wait_for_timeout(500)
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    context.close()


def main() -> int:
    """Command line: print the results as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nx", type=int, default=100)
    parser.add_argument("--ny", type=int, default=50)
    parser.add_argument("--k", type=int, default=25)
    parser.add_argument("--stroke", type=int, default=40, help="grids crossed by the drag")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--renderers", nargs="+", default=["canvas", "svg"])
    parser.add_argument("--dir", help="serve this build folder instead of a synthetic one")
    parser.add_argument(
        "--screenshot", help="also save a screenshot here (e.g. docs/screenshot.png)"
    )
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
