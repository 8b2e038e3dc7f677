"""Time ``gis.city.split_city`` alone, with the code of one checkout.

Usage (old and new code on the same city, e.g. bench_city.py's)::

    /usr/bin/time .venv/bin/python benchmarks/bench_split.py TREE CITY.osm.pbf SUBS.geojson WORK
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path


def main() -> None:
    """Split the city with TREE's gis package into WORK and print the seconds."""
    tree, pbf, subdistricts, folder = sys.argv[1:5]
    sys.path.insert(0, tree)
    from gis.city import read_city, split_city
    from gis.pipeline import BuildOptions

    work = Path(folder)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    city = read_city(pbf, subdistricts)
    started = time.perf_counter()
    tasks = split_city(city, BuildOptions(), work)
    print(f"{tree}: split_city {time.perf_counter() - started:.1f} s, {len(tasks)} parts")


if __name__ == "__main__":
    main()
