"""Pictures of walking access over the network of a build folder, to look at.

    .venv/bin/python scripts/plot_walks.py runs/dublin --out /tmp/walks [--join-pieces 30]

Writes ``NAME.png`` (the whole area) and ``NAME_pieceK.png`` (500 m around each
of the four pieces without a service point holding the most households):
buildings coloured by walk (green within 5 minutes, light green 10, orange
beyond, red no walk), the main piece of the network grey and the others in
colour, legs over 100 m purple, legs that went around a barrier pink, legs
that still cross a hard barrier black dotted, barriers (water blue, railways
black, walls brown, fences tan, motorways orange), service points as stars.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import shapely

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gis import outputs
from gis.coverage import CoverageResult, compute_coverage, default_services

_BARRIERS = {
    "water": ("#9ecae1", 1.0),
    "waterway": ("#3182bd", 1.5),
    "railway": ("#252525", 1.2),
    "wall": ("#8c510a", 1.2),
    "fence": ("#d8b365", 0.8),
    "motorway": ("#e6550d", 2.0),
    "trunk": ("#e6550d", 2.0),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--join-pieces", type=float, default=None)
    args = ap.parse_args()
    folder = args.folder
    services, _ = default_services(outputs.read_layer(folder, "pois"))
    res = compute_coverage(
        outputs.read_layer(folder, "buildings"),
        outputs.read_layer(folder, "streets"),
        services,
        crs=outputs.read_meta(folder).get("crs"),
        barriers=outputs.read_layer(folder, "barriers", required=False),
        entrances=outputs.read_layer(folder, "entrances", required=False),
        join_pieces_m=args.join_pieces,
        n_sites=0,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    name = folder.name + ("_join" if args.join_pieces else "")
    crs = res.network.crs
    footprints = np.asarray(res.buildings.to_crs(crs).geometry.values, dtype=object)
    s_xy = shapely.get_coordinates(shapely.point_on_surface(services.to_crs(crs).geometry.values))
    draw(res, footprints, s_xy, args.out / f"{name}.png", None, name)
    net = res.network
    for k, piece in enumerate(res.figures["network"]["pieces_without_service"][:4]):
        x, y = net.xy[net.piece == piece["piece"]].mean(axis=0)
        box = (x - 250, y - 250, x + 250, y + 250)
        draw(
            res,
            footprints,
            s_xy,
            args.out / f"{name}_piece{k}.png",
            box,
            f"{name} piece {piece['piece']}",
        )
    print(f"wrote {args.out}/{name}*.png", file=sys.stderr)


def draw(
    res: CoverageResult,
    footprints: np.ndarray,
    s_xy: np.ndarray,
    path: Path,
    box: tuple[float, float, float, float] | None,
    title: str,
) -> None:
    """One picture of the walks (see the module docstring for the colours)."""
    w, net = res.walks, res.network
    fig, ax = plt.subplots(figsize=(14, 14))
    for kind, (colour, width) in _BARRIERS.items():
        lines = w.barriers.lines[w.barriers.kind == kind]
        if lines.size:
            ax.add_collection(LineCollection(_coords(lines), colors=colour, linewidths=width))
    segments = np.stack([net.xy[net.u], net.xy[net.v]], axis=1)
    main = net.edge_piece == 0
    ax.add_collection(LineCollection(segments[main], colors="#999999", linewidths=0.7))
    cmap = plt.get_cmap("tab20")
    colours = [cmap(p % 20) for p in net.edge_piece[~main]]
    ax.add_collection(LineCollection(segments[~main], colors=colours, linewidths=2.2))
    d = res.buildings["walk_m"].to_numpy(dtype=float, na_value=np.nan)
    radius = res.state.radii
    fill = np.select(
        [np.isnan(d), d <= radius[min(radius)], d <= sorted(radius.values())[1]],
        ["#d7191c", "#1a9641", "#a6d96a"],
        default="#fdae61",
    )
    for geom, colour in zip(footprints, fill, strict=True):
        for part in shapely.get_parts(geom):
            if part.geom_type == "Polygon":
                ax.fill(*part.exterior.xy, color=colour, ec="#333333", lw=0.2)
    _legs(ax, res)
    ax.scatter(s_xy[:, 0], s_xy[:, 1], marker="*", s=220, c="#2c7bb6", edgecolors="k", zorder=5)
    for piece in res.figures["network"]["pieces_without_service"][:15]:
        x, y = net.xy[net.piece == piece["piece"]].mean(axis=0)
        label = f"piece {piece['piece']}: {piece['buildings']:.0f} b, {piece['households']:.0f} hh"
        ax.annotate(label, (x, y), fontsize=8, color="#d7191c", weight="bold")
    x0, y0, x1, y1 = box or tuple(np.add(shapely.total_bounds(footprints), [-100, -100, 100, 100]))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_title(f"{title} · walks over the network · © OpenStreetMap contributors", fontsize=9)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def _legs(ax: Any, res: CoverageResult) -> None:
    """Long legs, legs around a barrier, legs across a hard barrier."""
    w, net = res.walks, res.network
    via = w.walk.via
    snap = w.buildings.snap
    edge = snap.edge[via]
    a = net.xy[net.u[edge]]
    foot = a + (net.xy[net.v[edge]] - a) / net.length[edge][:, None] * snap.t[via][:, None]
    start = w.buildings.start[via]
    ok = np.isfinite(start).all(axis=1)
    long_leg = ok & (snap.access[via] > 100)
    around = ok & w.buildings.legs.avoided[via] & ~long_leg
    across = ok & (w.buildings.legs.hard[via] > 0)
    for mask, colour, width, style in (
        (long_leg, "#7b3294", 1.8, "-"),
        (around, "#c51b7d", 0.8, "-"),
        (across, "#000000", 2.5, ":"),
    ):
        legs = np.stack([start[mask], foot[mask]], axis=1)
        ax.add_collection(LineCollection(legs, colors=colour, linewidths=width, linestyles=style))


def _coords(lines: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(line.coords) for line in shapely.get_parts(lines)]


if __name__ == "__main__":
    main()
