"""A whole city: sub-districts on dask (1 and 2 workers) beside today's single build.

Generates a synthetic city (:func:`gis.synthetic.synthetic_town`, default
1,000,000 buildings), writes it as one OSM PBF and as an area folder, cuts its
extent into ``--columns`` × ``--rows`` rectangular sub-districts (default 8 × 5
= 40), then runs, each in a subprocess, end to end:

* ``gridplan build city.osm.pbf --subdistricts subs.geojson --workers N`` for
  each N of ``--workers`` (reading the PBF once, splitting it, building the
  sub-districts on a dask LocalCluster, merging, writing the city folder);
* today's single build, ``gridplan build AREA --out DIR``, of the same
  buildings (``--skip-single`` leaves it out).

It records wall time, the CPU seconds of each kind of process (the
command, the dask workers: steadier than wall time on a shared machine), the
time of each step the command reports on stderr
(start-up, reading sub-districts, splitting the extract, building the
sub-districts, merging, writing files), and the peak resident memory of every
process in the run's process tree (the command, and for dask the nannies and
workers, osmium-tool's passes of the split), sampled every 0.2 s with psutil (a
process's CPU seconds as last sampled: up to 0.2 s of a short one is missed).
Figures are medians over ``--repeats`` runs.

Usage::

    .venv/bin/python benchmarks/bench_city.py                       # 1,000,000 buildings
    .venv/bin/python benchmarks/bench_city.py --buildings 100000 --columns 4 --rows 2
    # the same city with the code of another checkout (before/after a change):
    .venv/bin/python benchmarks/bench_city.py ... --reuse --checkout /tmp/old-tree
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRIDPLAN = Path(sys.executable).parent / "gridplan"
#: Issue 14's target for 1,000,000 buildings on 2 workers (seconds, wall).
TARGET_S = 90.0


def make_city(folder: Path, n: int, columns: int, rows: int, seed: int) -> dict[str, Path]:
    """Write the city as an area folder, a PBF and a sub-district file."""
    import geopandas as gpd
    import numpy as np
    import osmium
    import shapely

    from gis.synthetic import synthetic_town, write_area

    town = synthetic_town(n, seed=seed)
    area = write_area(town, folder / "area", name=f"Synthetic city ({n:,} buildings)")
    pbf = folder / "city.osm.pbf"
    with osmium.SimpleWriter(str(pbf), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(area / "town.osm")):
            writer.add(obj)
    w, s, e, nn = gpd.GeoSeries([town.boundary], crs=town.crs).to_crs(4326).total_bounds
    xs, ys = np.linspace(w, e, columns + 1), np.linspace(nn, s, rows + 1)
    subs = gpd.GeoDataFrame(
        [
            {
                "code": f"{j * columns + i + 1:03d}",
                "name": f"Sub-district {j * columns + i + 1}",
                "geometry": shapely.box(xs[i], ys[j + 1], xs[i + 1], ys[j]),
            }
            for j in range(rows)
            for i in range(columns)
        ],
        crs=4326,
    )
    subs.to_file(folder / "subdistricts.geojson", driver="GeoJSON")
    return {"area": area, "pbf": pbf, "subdistricts": folder / "subdistricts.geojson"}


def run(cmd: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall time, its steps and the peak RSS of each process of its tree (MB)."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    steps: list[tuple[float, str]] = [(started, "start-up")]
    reader = threading.Thread(target=_read_steps, args=(proc.stderr, steps), daemon=True)
    reader.start()
    # stdout read as it comes: a summary larger than the pipe's buffer would block the command
    chunks: list[str] = []
    collector = threading.Thread(target=_read_all, args=(proc.stdout, chunks), daemon=True)
    collector.start()
    root = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, float]] = {}
    cpu: dict[int, tuple[str, float]] = {}
    roles: dict[int, str] = {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                rss = p.memory_info().rss / 2**20
                # sticky: an exiting worker's command line reads empty, it stays a worker
                role = roles.get(p.pid) or _role(p, root.pid)
                if role != "other":
                    roles[p.pid] = role
                times = p.cpu_times()
            except psutil.Error:
                continue
            cpu[p.pid] = (role, times.user + times.system)
            if rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (role, rss)
        time.sleep(0.2)
    proc.wait()
    wall = time.perf_counter() - started
    reader.join()
    collector.join()
    out = "".join(chunks)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    summary = json.loads(out)
    by_role: dict[str, float] = {}
    for role, rss in peaks.values():
        by_role[role] = max(by_role.get(role, 0.0), rss)
    cpu_s: dict[str, float] = {}  # CPU seconds (user + system) by role, as last sampled
    for role, seconds in cpu.values():
        cpu_s[role] = round(cpu_s.get(role, 0.0) + seconds, 1)
    ends = [t for t, _ in steps[1:]] + [started + wall]
    phases = {name: round(end - t, 2) for (t, name), end in zip(steps, ends, strict=True)}
    return {"wall_s": wall, "phases_s": phases, "cpu_s": cpu_s, "peak_mb": by_role,
            "grids": summary["grids"],
            "buildings": summary["buildings"]}  # fmt: skip


def _read_all(stream: Any, chunks: list[str]) -> None:
    chunks.append(stream.read())


def _read_steps(stream: Any, steps: list[tuple[float, str]]) -> None:
    """Note when each ``build: STEP`` line of the command's stderr arrives."""
    for line in stream:
        if line.startswith("build: "):
            steps.append((time.perf_counter(), line.strip().split(" ", 1)[1]))


def _role(p: Any, root: int) -> str:
    if p.pid == root:
        return "command"
    argv = p.cmdline()
    if argv and Path(argv[0]).name == "osmium":  # the split's C++ passes (gis.split)
        return "osmium-tool"
    line = " ".join(argv)
    if "resource_tracker" in line:
        return "other"
    return "dask worker" if "spawn_main" in line else "other"


def main() -> None:
    """Parse arguments, generate the city, run every variant, print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep files here")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the city already in --work")
    parser.add_argument(
        "--checkout", type=Path, default=None, help="run the gridplan of this source tree"
    )
    args = parser.parse_args()
    gridplan = [str(GRIDPLAN)]
    if args.checkout is not None:  # python -m api.cli there imports that tree's code first
        gridplan = [sys.executable, "-m", "api.cli"]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_city."))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.reuse and (work / "city.osm.pbf").is_file():
        paths = {"area": work / "area", "pbf": work / "city.osm.pbf",
                 "subdistricts": work / "subdistricts.geojson"}  # fmt: skip
    else:
        paths = make_city(work, args.buildings, args.columns, args.rows, args.seed)
    made = time.perf_counter() - t0
    print(f"city of {args.buildings:,} buildings written in {made:.1f} s", file=sys.stderr)
    variants: dict[str, list[str]] = {}
    for n in [int(w) for w in args.workers.split(",") if w]:
        variants[f"city, {n} worker(s)"] = [
            *gridplan, "build", str(paths["pbf"]), "--subdistricts",
            str(paths["subdistricts"]), "--workers", str(n), "--out", str(work / f"city{n}"),
        ]  # fmt: skip
    if not args.skip_single:
        variants["single build (today)"] = [
            *gridplan, "build", str(paths["area"]), "--out", str(work / "single")
        ]  # fmt: skip
    results: dict[str, Any] = {}
    for name, cmd in variants.items():
        runs = []
        for _ in range(args.repeats):
            runs.append(run(cmd, cwd=args.checkout))
            print(f"{name}: {runs[-1]}", file=sys.stderr)
        results[name] = {
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "runs_s": [round(r["wall_s"], 1) for r in runs],
            "phases_s": {
                phase: statistics.median(r["phases_s"].get(phase, 0.0) for r in runs)
                for phase in runs[0]["phases_s"]
            },
            "cpu_s": {
                role: statistics.median(r["cpu_s"].get(role, 0.0) for r in runs)
                for role in runs[0]["cpu_s"]
            },
            "peak_mb": {
                role: statistics.median(r["peak_mb"].get(role, 0.0) for r in runs)
                for role in runs[0]["peak_mb"]
            },
            "grids": runs[0]["grids"],
            "buildings": runs[0]["buildings"],
        }
    single = results.get("single build (today)")
    ratios = {
        name: round(single["wall_s"] / r["wall_s"], 2)
        for name, r in results.items()
        if single is not None and r is not single
    }
    for name, ratio in ratios.items():  # the peer: today's single build, same run
        print(f"{name}: single build wall / this wall = {ratio:.2f}", file=sys.stderr)
    for name, r in results.items():
        if name.startswith("city") and args.buildings >= 1_000_000:
            verdict = "met" if r["wall_s"] < TARGET_S else "not met"
            line = f"{name}: {r['wall_s']:.1f} s, target {TARGET_S:.0f} s {verdict}"
            print(line, file=sys.stderr)
    report = {"buildings": args.buildings, "subdistricts": args.columns * args.rows,
              "checkout": str(args.checkout or ROOT),
              "generate_s": round(made, 1), "results": results,
              "faster_than_single": ratios}  # fmt: skip
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
