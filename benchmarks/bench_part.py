"""One city part's grids: wall and CPU seconds of :func:`gis.pipeline.make_area_grids`.

The largest part of a city build (its tasks pickled from :func:`gis.city.split_city`)
is read as :func:`gis.city.build_part` reads it; then ``make_area_grids`` runs once
to warm and ``--repeats`` times timed, and a digest of the grids (codes, WKB, grid and
building tables) is printed so that two versions of the code can be seen to agree.
To compare two versions, run the script with ``PYTHONPATH`` set to each checkout in
turn, alternating, from a folder that holds no ``gis`` package (e.g. ``cd /tmp``).
The part's files are read where the tasks say; copy them first if they are not yours.

Usage::

    .venv/bin/python benchmarks/bench_part.py TASKS.pickle [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def largest_area(tasks_path: Path) -> tuple[Any, Any]:
    """The area input and options of the largest part of the pickled tasks."""
    from gis.city import part_area, part_bytes

    with tasks_path.open("rb") as f:
        tasks = pickle.load(f)  # the user's own tasks file
    task = max(tasks, key=lambda t: part_bytes(t.part))
    return part_area(task), task.options


def digest(result: Any) -> str:
    """A short hash of the grids' codes and shapes and the grid and building tables."""
    import shapely

    h = hashlib.sha256()
    for code, geom in zip(result.grids.iloc[:, 0].astype(str), result.grids.geometry, strict=True):
        h.update(code.encode())
        h.update(shapely.to_wkb(geom))
    h.update(result.grids.drop(columns="geometry").to_csv().encode())
    h.update(result.buildings.drop(columns="geometry").to_csv().encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", type=Path, help="a pickled list of gis.city.PartTask")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from gis.pipeline import make_area_grids

    area, options = largest_area(args.tasks)
    make_area_grids(area, options=options)  # warm
    walls, cpus = [], []
    for _ in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = make_area_grids(area, options=options)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    import gis

    print(
        f"{len(area.layers.buildings)} buildings, {len(result.grids)} grids, digest "
        f"{digest(result)}; make_area_grids wall s {', '.join(f'{t:.2f}' for t in walls)} "
        f"(median {statistics.median(walls):.2f}), CPU s {', '.join(f'{t:.2f}' for t in cpus)} "
        f"(median {statistics.median(cpus):.2f}); gis from {Path(gis.__file__).parent}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
