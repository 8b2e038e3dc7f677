"""Reading OSM files: gridplan's ``read_osm`` beside the same pyosmium pass without its tag filter.

``gis.sources.read_osm`` skips untagged objects inside osmium (C++,
``osmium.filter.EmptyTagFilter``) instead of handing every way vertex to Python
and returning there.  This script reads each file both ways, interleaved
(A, B, A, B, ...) so that both see the same load on a shared machine, checks
that the four layers are identical, and prints the median wall times and their
ratio.  ``--generate N`` adds a generated city of N buildings as a PBF (the
format large cities come in), as ``benchmarks/bench_city.py`` makes it.  Usage::

    .venv/bin/python benchmarks/bench_read_osm.py tests/data/finland_town.osm.pbf --generate 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYERS = ("buildings", "streets", "barriers", "pois", "entrances", "fences")


def read_unfiltered(path: Path) -> Any:
    """``read_osm`` as it was: every object, tagged or not, goes through Python."""
    import osmium

    from gis import sources

    fmt = "pbf" if path.name.lower().endswith(".pbf") else "osm"
    keys = ("b", "s", "x", "p", "e", "f")  # in the order of LAYERS
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    wkb: dict[str, list[bytes]] = {k: [] for k in keys}
    factory = osmium.geom.WKBFactory()
    processor = osmium.FileProcessor(osmium.io.File(str(path), fmt)).with_locations().with_areas()
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            sources._take_node(obj, factory, rows, wkb)
        elif isinstance(obj, osmium.osm.Way):
            sources._take_way(obj, factory, rows, wkb)
        elif isinstance(obj, osmium.osm.Area):
            sources._take_area(obj, factory, rows, wkb)
    frame = sources._frame
    layers = {n: frame(rows[k], wkb[k]) for n, k in zip(LAYERS, keys, strict=True)}
    return sources.OsmLayers(**layers)


def compare(path: Path, repeats: int) -> None:
    """Read ``path`` both ways ``repeats`` times, interleaved; print medians and the ratio."""
    from gis.sources import read_osm

    mine, theirs = read_osm(path), read_unfiltered(path)
    same = all(
        getattr(mine, n).reset_index(drop=True).equals(getattr(theirs, n).reset_index(drop=True))
        for n in LAYERS
    )
    times: dict[str, list[float]] = {"filtered": [], "unfiltered": []}
    for _ in range(repeats):
        for label, reader in (("filtered", read_osm), ("unfiltered", read_unfiltered)):
            start = time.perf_counter()
            reader(path)
            times[label].append(time.perf_counter() - start)
    a, b = (statistics.median(times[k]) for k in ("filtered", "unfiltered"))
    counts = ", ".join(f"{n} {len(getattr(mine, n)):,}" for n in LAYERS)
    print(
        f"| {path.name} | {counts} | {'yes' if same else 'NO'} | {a:.2f} | {b:.2f} | {b / a:.2f}× |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--generate", type=int, default=0, help="add a generated city's PBF")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = list(args.files)
    with tempfile.TemporaryDirectory() as tmp:
        if args.generate:
            from benchmarks.bench_city import make_city

            files.append(make_city(Path(tmp), args.generate, 1, 1, 0)["pbf"])
        print("| file | features read | same | read_osm s | unfiltered s | ratio |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for path in files:
            compare(path, args.repeats)


if __name__ == "__main__":
    main()
