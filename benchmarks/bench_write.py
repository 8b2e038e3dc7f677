"""Writing a build's files: a city part's (``write_part_layers``) or a single build's.

Writing is timed apart from building: the layers a build writes are captured
once (pickled), then written ``--reps`` times in one process (the first write
pays the libraries' start-up, as a worker does once), and the median printed.
Run it with another checkout's code first on the path to compare before and
after a change on the same layers::

    # capture: the largest part of a city split (tasks pickled from gis.city.split_city) ...
    .venv/bin/python benchmarks/bench_write.py capture-part TASKS.pickle PART.pickle
    # ... or a whole area (an area folder or OSM file) for a single build
    .venv/bin/python benchmarks/bench_write.py capture-area /tmp/g4/town TOWN.pickle
    # ... or every part of the city, merged: what write_city_folder takes
    .venv/bin/python benchmarks/bench_write.py capture-city TASKS.pickle CITY.pickle \
        --city city.osm.pbf --subdistricts subdistricts.geojson
    # time: write_part_layers of the part, BuildFolder.write_build of the area, or
    # write_city_folder of the city (the serial "writing files" step)
    PYTHONPATH=CHECKOUT .venv/bin/python benchmarks/bench_write.py part PART.pickle --reps 3
    PYTHONPATH=CHECKOUT .venv/bin/python benchmarks/bench_write.py build TOWN.pickle --reps 3
    PYTHONPATH=CHECKOUT .venv/bin/python benchmarks/bench_write.py city CITY.pickle --reps 3

``capture-part`` builds the part with the largest buildings file, from a copy
of its folder (the tasks' work folder is left as it is).  ``capture-city``
builds every part in this process, into the tasks' work folder (the parts'
files are then read by each ``city`` write).  CPU seconds are the process's,
all threads.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def capture_part(tasks_file: Path, out: Path) -> None:
    """Build the largest part of a city's tasks and pickle the layers it writes."""
    import gis.city as city

    tasks = pickle.loads(tasks_file.read_bytes())
    task = max(tasks, key=lambda t: (t.part / "buildings.pbf").stat().st_size)
    work = Path(tempfile.mkdtemp(prefix="bench_write."))
    for name in (task.part.name, "ids", "extract.json"):  # the part, and what it reads beside it
        source = task.part.parent / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        elif source.exists():
            shutil.copy(source, work / name)
    captured: dict[str, Any] = {}
    write = city.write_part_layers

    def keep(layers: dict[str, Any], folder: Path) -> None:
        captured.update(layers)
        write(layers, folder)

    city.write_part_layers = keep  # type: ignore[assignment]
    city.build_part(replace(task, part=work / task.part.name))
    out.write_bytes(pickle.dumps({"layers": captured}))
    shutil.rmtree(work, ignore_errors=True)
    print({name: len(layer) for name, layer in captured.items()})


def capture_area(source: str, out: Path) -> None:
    """Build an area up to its layers and pickle what ``BuildFolder.write_build`` takes."""
    from gis.pipeline import build_layers, build_tables, load_area, make_area_grids

    area = load_area(source)
    result = make_area_grids(area)
    layers = build_layers(result, area)
    out.write_bytes(
        pickle.dumps({"layers": layers, "meta": result.summary, "tables": build_tables(result)})
    )
    print({name: len(layer) for name, layer in layers.items()})


def capture_city(tasks_file: Path, out: Path, source: str, subdistricts: str) -> None:
    """Build every part of a city's tasks, merge them, and pickle what write_city_folder takes."""
    from gis.adjacency import adjacency_frame
    from gis.city import build_part, merge_parts, read_city

    tasks = pickle.loads(tasks_file.read_bytes())
    parts = [build_part(task) for task in tasks]
    merged, layers = merge_parts(read_city(source, subdistricts), tasks, parts)
    tables = {"adjacency": adjacency_frame(merged.adjacency)} if merged.adjacency else {}
    folders = [p.folder for p in parts]
    out.write_bytes(
        pickle.dumps(
            {"folders": folders, "layers": layers, "meta": merged.summary, "tables": tables}
        )
    )
    print({name: len(layer) for name, layer in layers.items()}, len(folders), "parts")


def time_writes(what: str, captured: Path, reps: int) -> list[float]:
    """Seconds of each of ``reps`` writes of the captured layers."""
    import gis
    from gis.cityfolder import write_city_folder, write_part_layers
    from gis.outputs import BuildFolder

    data = pickle.loads(captured.read_bytes())
    seconds, cpu = [], []
    for _ in range(reps):
        folder = Path(tempfile.mkdtemp(prefix="bench_write.")) / "out"
        started, used = time.perf_counter(), time.process_time()
        if what == "part":
            write_part_layers(data["layers"], folder)
        elif what == "city":
            write_city_folder(folder, data["folders"], data["layers"], data["meta"], data["tables"])
        else:
            BuildFolder(folder).write_build(data["layers"], data["meta"], data["tables"])
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        shutil.rmtree(folder.parent, ignore_errors=True)
    print(
        f"{what} from {Path(gis.__file__).parent}: "
        + " ".join(f"{s:.2f}" for s in seconds)
        + f" s, median {statistics.median(seconds):.2f} s; CPU "
        + " ".join(f"{s:.2f}" for s in cpu)
        + f" s, median {statistics.median(cpu):.2f} s"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "what", choices=["capture-part", "capture-area", "capture-city", "part", "build", "city"]
    )
    parser.add_argument("source", help="tasks pickle, area, or captured layers")
    parser.add_argument("out", nargs="?", type=Path, help="where a capture goes")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--city", help="capture-city: the city's OSM file or area folder")
    parser.add_argument("--subdistricts", help="capture-city: its sub-district polygons")
    args = parser.parse_args()
    if args.what == "capture-part":
        capture_part(Path(args.source), args.out)
    elif args.what == "capture-city":
        capture_city(Path(args.source), args.out, args.city, args.subdistricts)
    elif args.what == "capture-area":
        capture_area(args.source, args.out)
    else:
        time_writes(args.what, Path(args.source), args.reps)


if __name__ == "__main__":
    main()
