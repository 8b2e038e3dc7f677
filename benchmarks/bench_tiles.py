"""City-folder vector tiles at every zoom: gridplan's tile rules beside the same tiles without them.

For each zoom, every tile over the folder's bounds is encoded twice,
interleaved: with ``api.tiles`` as it is (nothing smaller than a screen pixel,
at most ``MAX_FEATURES`` a tile) and with every feature meeting the tile (what
the tiles held before the rules).  Prints features, the largest tile, the
bytes of all tiles and the median encoding time per tile (warm: each layer's
features are prepared once before timing).  Usage::

    .venv/bin/python benchmarks/bench_tiles.py runs/city --zooms 10,11,12,13,14
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tiles_over(bounds: list[float], z: int) -> list[tuple[int, int]]:
    """The XYZ tiles at zoom ``z`` covering lon/lat ``bounds``."""

    def xy(lon: float, lat: float) -> tuple[int, int]:
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
        return int((lon + 180) / 360 * 2**z), int(y * 2**z)

    w, s, e, n = bounds
    (x0, y0), (x1, y1) = xy(w, n), xy(e, s)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def measure(encode: Callable[..., bytes], index: Any, z: int, tiles: list[tuple[int, int]]) -> dict:
    """Features, bytes and times of the tiles of one layer at one zoom."""
    import mapbox_vector_tile

    sizes, times, features = [], [], 0
    for x, y in tiles:
        start = time.perf_counter()
        body = encode(index, z, x, y)
        times.append(time.perf_counter() - start)
        sizes.append(len(body))
        if body:
            features += len(mapbox_vector_tile.decode(body)[index.name]["features"])
    return {
        "features": features,
        "max": max(sizes),
        "sum": sum(sizes),
        "ms": statistics.median(times) * 1e3,
    }


def main() -> None:
    from api import tiles
    from api.area import Area

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--zooms", default="10,11,12,13,14")
    parser.add_argument("--layers", default="grids,buildings")
    args = parser.parse_args()
    area = Area(args.folder)
    bounds = area.bbox()
    assert bounds is not None, f"{args.folder} has no grids"
    every = tiles.visible

    def unlimited(index: Any, z: int, x: int, y: int) -> bytes:
        tiles.visible = lambda _geoms, hits, _pixel: hits  # type: ignore[assignment]
        try:
            return tiles.encode_tile(index, z, x, y)
        finally:
            tiles.visible = every

    print(
        "| layer | zoom | tiles | features: rules / all | largest KB: rules / all "
        "| all tiles KB: rules / all | ms a tile: rules / all |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.layers.split(","):
        index = area.index(name)
        index.properties_at(list(range(len(index))))  # every feature's properties made once
        index.tiles()
        for z in (int(v) for v in args.zooms.split(",")):
            over = tiles_over(bounds, z)
            ruled = measure(tiles.encode_tile, index, z, over)
            full = measure(unlimited, index, z, over)
            print(
                f"| {name} | {z} | {len(over)} | {ruled['features']:,} / {full['features']:,} "
                f"| {ruled['max'] / 1024:,.1f} / {full['max'] / 1024:,.1f} "
                f"| {ruled['sum'] / 1024:,.1f} / {full['sum'] / 1024:,.1f} "
                f"| {ruled['ms']:,.0f} / {full['ms']:,.0f} |"
            )


if __name__ == "__main__":
    main()
