"""Render the pictures of docs/grids.md: grids over buildings, water and links, per real area.

Each real area (the bundled ones, the Finnish town of the tests, and the
compressed Berlin and Dublin extracts) is built in-process with the default
targets and drawn with matplotlib: grid boundaries in black over the building
footprints, grids filled by their household count (within 300–500 or not),
open water in blue, street links that join grids across water in green, and any
building a grid boundary crosses in red.

Usage::

    .venv/bin/python scripts/grid_pictures.py                 # every area, into docs/grids/
    .venv/bin/python scripts/grid_pictures.py dublin --out /tmp/pics --zoom 0.3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gis.area import AreaInput
    from gis.pipeline import BuildResult

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The real areas: name -> source (as a user passes it to `gridplan build`).
AREAS = {
    "nanjing": ROOT / "data/boundaries/nanjing_xinjiekou",
    "helsinki": ROOT / "data/boundaries/helsinki",
    "finland_town": ROOT / "tests/data/finland_town.osm.pbf",
    "berlin_adlershof": ROOT / "tests/data/berlin_adlershof.osm.xml.gz",
    "dublin_docklands": ROOT / "tests/data/dublin_docklands.osm.xml.gz",
}
COLOURS = {"under": "#fde0c5", "in": "#d7ecd9", "over": "#f7c6c7", "empty": "#f2f2f2"}


def render(
    name: str,
    source: Path,
    out: Path,
    *,
    zoom: float | None = None,
    centre: tuple[float, float] = (0.5, 0.5),
) -> dict:
    """Build one area and draw it; return the figures shown in the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gis.area import load_area
    from gis.pipeline import make_area_grids

    area = load_area(source)
    result = make_area_grids(area)
    s = result.summary
    lo, hi = s["targets"]["households_min"], s["targets"]["households_max"]
    fig, ax = plt.subplots(figsize=(14, 14))
    _draw(ax, area, result, lo, hi)
    if zoom:
        x0, y0, x1, y1 = result.grids.total_bounds
        cx, cy = x0 + centre[0] * (x1 - x0), y0 + centre[1] * (y1 - y0)
        r = max(x1 - x0, y1 - y0) * zoom / 2
        ax.set_xlim(cx - r, cx + r)
        ax.set_ylim(cy - r, cy + r)
    ax.set_title(
        f"{area.name}: {s['buildings']:,} buildings, {s['grids']} grids, {s['grids_in_range']} "
        f"with {lo:g}–{hi:g} households, {s['crossings']['crossed']} buildings crossed",
        fontsize=13,
    )
    _legend(ax, lo, hi)
    _save(fig, out)
    plt.close(fig)
    return {
        "area": area.name,
        "buildings": s["buildings"],
        "grids": s["grids"],
        "grids_in_range": s["grids_in_range"],
        "crossed": s["crossings"]["crossed"],
        "straddling": s["crossings"]["straddling"],
        "links": s["links"],
    }


def _save(fig: Figure, out: Path) -> None:
    """Write ``fig`` as a PNG of at most 128 colours (a map has few: it stays small)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    image = Image.open(buf).convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)


def _draw(ax: Axes, area: AreaInput, result: BuildResult, lo: float, hi: float) -> None:
    """Grids by household count, water, streets, buildings, grid outlines and links."""
    import geopandas as gpd
    import shapely

    grids, buildings = result.grids, result.buildings
    crs = grids.crs
    state = [
        "empty" if h == 0 else "under" if h < lo else "over" if h > hi else "in"
        for h in grids["households"]
    ]
    grids.plot(ax=ax, color=[COLOURS[s] for s in state], linewidth=0)
    if not area.water.is_empty:
        water = gpd.GeoSeries([area.water], crs=4326).to_crs(crs)
        water.plot(ax=ax, color="#a9cbe8", linewidth=0)
    streets = area.layers.streets
    streets.to_crs(crs).plot(ax=ax, color="#b0b0b0", linewidth=0.3)
    crossings = result.summary["crossings"]
    crossed, straddling = set(crossings["crossed_ids"]), set(crossings["straddling_ids"])
    colour = [
        "#d62728" if i in crossed else "#ff9f1c" if i in straddling else "#5b5b5b"
        for i in buildings["id"]
    ]
    buildings.plot(ax=ax, color=colour, linewidth=0)
    grids.boundary.plot(ax=ax, color="black", linewidth=0.9)
    links = result.adjacency.links
    via = {i for link in links for i in link.via}
    joined = streets[streets["id"].isin(via)].to_crs(crs)
    if len(joined):
        joined.plot(ax=ax, color="#2ca02c", linewidth=2.5)
    by_code = grids.set_index("code").geometry
    for link in links:
        if link.kind == "nearest":  # no street joins them: ringed across the gap
            gap = shapely.shortest_line(by_code[link.grid_a], by_code[link.grid_b])
            x, y = gap.buffer(15).exterior.xy
            ax.plot(x, y, color="#9467bd", linewidth=2)
    ax.set_axis_off()
    ax.text(
        0.99,
        0.005,
        "© OpenStreetMap contributors (ODbL)",
        transform=ax.transAxes,
        ha="right",
        fontsize=8,
    )


def _legend(ax: Axes, lo: float, hi: float) -> None:
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=COLOURS["in"], label=f"grid with {lo:g}–{hi:g} households"),
            Patch(color=COLOURS["under"], label=f"under {lo:g}"),
            Patch(color=COLOURS["over"], label=f"over {hi:g} (one building alone)"),
            Patch(facecolor=COLOURS["empty"], edgecolor="#999999", label="no households"),
            Patch(color="#a9cbe8", label="open water (outside the study area)"),
            Patch(color="#2ca02c", label="street link joining grids across water"),
            Patch(color="#9467bd", label="grids joined across a gap no street crosses"),
            Patch(color="#ff9f1c", label="building OSM draws across a street"),
            Patch(color="#d62728", label="building a grid boundary crosses"),
        ],
        loc="upper center",  # below the map, never over it
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        fontsize=10,
        frameon=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Render the named areas (default: all) into ``--out``; print their figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("areas", nargs="*", help="any of " + ", ".join(AREAS) + " (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "grids")
    parser.add_argument("--zoom", type=float, default=None, help="show this share of the extent")
    parser.add_argument(
        "--centre", default="0.5,0.5", help="centre of the zoomed view, as shares of the extent"
    )
    args = parser.parse_args(argv)
    figures = []
    for name in args.areas or list(AREAS):
        suffix = f"_zoom{args.zoom:g}" if args.zoom else ""
        x, y = (float(v) for v in args.centre.split(","))
        path = args.out / f"{name}{suffix}.png"
        figures.append(render(name, AREAS[name], path, zoom=args.zoom, centre=(x, y)))
        print(json.dumps(figures[-1], ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
