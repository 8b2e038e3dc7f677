"""Writing GeoJSON layers: gridplan's writer beside GDAL's RFC 7946 driver (pyogrio).

``gis.outputs.to_geojson_file`` orients and rounds a layer, then writes it with
GEOS (geometries) and :mod:`json` (properties) instead of GDAL's GeoJSON driver.
This script writes every layer of a build folder both ways, interleaved
(A, B, A, B, ...) so that both see the same load on a shared machine, checks
that both files read back to the same properties, and prints the median wall
times and their ratio.  ``--generate N`` first builds a generated town of N
buildings (``gis.synthetic``) and uses its folder.  Usage::

    .venv/bin/python benchmarks/bench_geojson.py runs/nanjing --reps 3
    .venv/bin/python benchmarks/bench_geojson.py --generate 100000 --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_gdal(gdf, path: Path, layer: str) -> None:  # type: ignore[no-untyped-def]
    """What gridplan did before: orient and round, then GDAL's driver with RFC7946=YES."""
    from gis.outputs import orient_rfc7946

    orient_rfc7946(gdf).to_file(
        path, layer=layer, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES"}
    )


def generated_folder(n: int, work: Path) -> Path:
    """A build folder of a generated town of ``n`` buildings."""
    from gis.synthetic import synthetic_town, write_area

    source = write_area(synthetic_town(n, seed=1), work / "town", name=f"Synthetic town {n}")
    out = work / "build"
    gridplan = ROOT / ".venv" / "bin" / "gridplan"
    subprocess.run([str(gridplan), "build", str(source), "--out", str(out)], check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, help="a build folder")
    ap.add_argument("--generate", type=int, default=None, help="build a town of N buildings")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    import geopandas as gpd
    import pandas as pd

    from gis.outputs import to_geojson_file

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = generated_folder(args.generate, work) if args.generate else args.folder
        if folder is None:
            ap.error("give a build folder or --generate N")
        print("| layer | features | gridplan s | GDAL s | GDAL ÷ gridplan |")
        print("| --- | ---: | ---: | ---: | ---: |")
        totals = {"ours": 0.0, "gdal": 0.0}
        for path in sorted(folder.glob("*.geojson")):
            gdf = gpd.read_file(path, engine="pyogrio")
            times: dict[str, list[float]] = {"ours": [], "gdal": []}
            for _ in range(args.reps):
                for name, write in (("ours", to_geojson_file), ("gdal", write_gdal)):
                    start = time.perf_counter()
                    write(gdf, work / f"{name}.geojson", layer=path.stem)
                    times[name].append(time.perf_counter() - start)
            a = gpd.read_file(work / "ours.geojson", engine="pyogrio").drop(columns="geometry")
            b = gpd.read_file(work / "gdal.geojson", engine="pyogrio").drop(columns="geometry")
            pd.testing.assert_frame_equal(a, b)
            ours, gdal = statistics.median(times["ours"]), statistics.median(times["gdal"])
            totals["ours"] += ours
            totals["gdal"] += gdal
            ratio = gdal / ours if ours > 0 else float("nan")
            print(f"| {path.stem} | {len(gdf):,} | {ours:.2f} | {gdal:.2f} | {ratio:.1f}× |")
        ratio = totals["gdal"] / totals["ours"]
        print(f"| all layers | | {totals['ours']:.2f} | {totals['gdal']:.2f} | {ratio:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
