"""Grid build: gridplan against momepy's enclosed tessellation, on the same input.

For each area (Nanjing Xinjiekou, central Helsinki, the Finnish town of the
tests, the compressed Berlin-Adlershof and Dublin Docklands extracts, and a
synthetic town written by :func:`gis.synthetic.write_area`) this times

* **gridplan**: ``gridplan build AREA --out DIR`` end to end in a subprocess
  (wall time: start-up, reading the OSM XML, population, communities, grids,
  writing every file); plus, once, the same build in-process through
  :func:`gis.pipeline.build` with the time of each step;
* **momepy**: in a subprocess as well, reading the same OSM file (GDAL's OSM
  driver through pyogrio, ``/vsigzip/`` for compressed XML), clipping to the
  same study area (the manifest's, else the built-up extent gridplan finds)
  and projecting to the same metric CRS, then ``momepy.enclosures(barriers, limit=boundary)``
  and ``momepy.enclosed_tessellation(buildings, enclosures)`` (``n_jobs`` from
  ``--momepy-jobs``: momepy's default -1, every core, or 1).  The barriers are the lines
  gridplan cuts blocks with (``gis.blocks.BLOCK_HIGHWAYS``, railways, rivers).

Figures are medians over ``--repeats`` runs (``--big-repeats`` for the
synthetic town) and the ratio is momepy ÷ gridplan (above 1: gridplan faster).

Usage::

    .venv/bin/python benchmarks/bench_grids.py              # 100,000-building town
    .venv/bin/python benchmarks/bench_grids.py --quick      # 10,000-building town
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AREAS = {
    "nanjing_xinjiekou": ROOT / "data" / "boundaries" / "nanjing_xinjiekou",
    "helsinki": ROOT / "data" / "boundaries" / "helsinki",
    "finland_town": ROOT / "tests" / "data" / "finland_town.osm.pbf",
    "berlin_adlershof": ROOT / "tests" / "data" / "berlin_adlershof.osm.xml.gz",
    "dublin_docklands": ROOT / "tests" / "data" / "dublin_docklands.osm.xml.gz",
}
GRIDPLAN = Path(sys.executable).parent / "gridplan"


# --------------------------------------------------------------------------- workers


def _momepy_worker(osm: str, study: Path, crs: str, *, n_jobs: int) -> dict[str, Any]:
    """Read the area like gridplan does, then enclosures and tessellation; step times.

    ``osm`` is the extract as GDAL opens it (``/vsigzip/…`` for a compressed
    one), ``study`` a GeoJSON of the study area, ``crs`` the metric CRS.
    """
    t0 = time.perf_counter()
    import geopandas as gpd
    import momepy
    import pandas as pd
    import pyogrio

    from gis.blocks import BLOCK_HIGHWAYS

    t_import = time.perf_counter()
    boundary = gpd.read_file(study).to_crs(crs).union_all()
    lines = pyogrio.read_dataframe(osm, layer="lines", columns=["highway", "waterway", "railway"])
    polys = pyogrio.read_dataframe(
        osm, layer="multipolygons", columns=["building"], on_invalid="ignore"
    )
    keep = (
        lines["highway"].isin(list(BLOCK_HIGHWAYS))
        | lines["railway"].isin(["rail", "light_rail", "subway", "tram", "narrow_gauge"])
        | lines["waterway"].isin(["river", "canal", "stream"])
    )
    barriers = lines[keep].to_crs(crs)
    buildings = polys[polys["building"].notna() & polys.geometry.notna()].to_crs(crs)
    buildings = buildings[buildings.intersects(boundary)]
    buildings = buildings.set_geometry(buildings.geometry.make_valid())
    buildings = buildings[buildings.geom_type.isin(["Polygon", "MultiPolygon"])]
    buildings = buildings[buildings.geometry.area > 0].reset_index(drop=True)
    t_read = time.perf_counter()
    limit = gpd.GeoSeries([boundary], crs=crs)
    enclosures = momepy.enclosures(barriers, limit=limit)
    t_encl = time.perf_counter()
    simplify = True
    try:
        cells = momepy.enclosed_tessellation(buildings, enclosures, n_jobs=n_jobs)
    except TypeError:  # momepy 0.11 fails to simplify some cells (Dublin): do without
        simplify = False
        cells = momepy.enclosed_tessellation(buildings, enclosures, n_jobs=n_jobs, simplify=False)
    t_tess = time.perf_counter()
    return {
        "import_s": t_import - t0,
        "read_s": t_read - t_import,
        "enclosures_s": t_encl - t_read,
        "tessellation_s": t_tess - t_encl,
        "buildings": len(buildings),
        "barriers": len(barriers),
        "enclosures": len(enclosures),
        "cells": int((pd.Index(cells.index) >= 0).sum()),
        "simplify": simplify,
    }


def momepy_inputs(source: Path, tmp: Path) -> tuple[str, Path, str]:
    """What the momepy worker reads for SOURCE: the extract as GDAL names it, the study
    area (the manifest's, else the built-up extent gridplan finds), the metric CRS."""
    from gis.area import load_area
    from gis.sources import osm_format

    if source.is_dir():
        manifest = tomllib.loads((source / "area.toml").read_text(encoding="utf-8"))
        osm, crs = source / manifest["osm"], manifest["crs"]
        study = source / manifest["study_area"]
    else:
        import geopandas as gpd

        area = load_area(source)
        boundary = gpd.GeoSeries([area.boundary], crs=4326)
        osm, crs = source, boundary.estimate_utm_crs().to_string()
        study = tmp / f"{source.name}.study.geojson"
        boundary.to_file(study, driver="GeoJSON")
    prefix = {"osm.gz": "/vsigzip/", "osm.bz2": "/vsibzip2/"}.get(osm_format(osm), "")
    return f"{prefix}{osm}", study, crs


def _gridplan_worker(folder: Path, out: Path) -> dict[str, Any]:
    """gis.pipeline.build in-process, with the time of each step."""
    t0 = time.perf_counter()
    from gis.pipeline import build

    t_import = time.perf_counter()
    marks: list[tuple[str, float]] = []
    result = build(folder, out, progress=lambda name: marks.append((name, time.perf_counter())))
    end = time.perf_counter()
    steps = {}
    for (name, start), (_, stop) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        steps[name] = stop - start
    return {
        "import_s": t_import - t0,
        "build_s": end - t_import,
        "steps": steps,
        "grids": result.summary.get("grids"),
        "buildings": result.summary.get("buildings"),
    }


# --------------------------------------------------------------------------- timing


def _run(cmd: list[str], *, timeout: float) -> tuple[float, str]:
    before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - start
    _CPU.append(_children_cpu() - before)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


_CPU: list[float] = []  # CPU seconds (user + system) of each finished run, in order


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (and their reaped children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_gridplan(folder: Path, *, repeats: int, timeout: float) -> dict[str, Any]:
    """Median wall time of ``gridplan build`` and one in-process step breakdown."""
    walls, cpus, summary = [], [], {}
    with tempfile.TemporaryDirectory(prefix="bench_grids_") as tmp:
        for i in range(repeats):
            wall, stdout = _run(
                [str(GRIDPLAN), "build", str(folder), "--out", f"{tmp}/out{i}"], timeout=timeout
            )
            walls.append(wall)
            cpus.append(_CPU[-1])
            summary = json.loads(stdout)
        _, stdout = _run(
            [sys.executable, __file__, "--worker", "gridplan", str(folder), f"{tmp}/steps"],
            timeout=timeout,
        )
    return {
        "wall_s": statistics.median(walls),
        "walls": walls,
        "cpu_s": statistics.median(cpus),
        "grids": summary.get("grids"),
        "buildings": summary.get("buildings"),
        "detail": json.loads(stdout),
    }


def time_momepy(folder: Path, *, repeats: int, timeout: float, n_jobs: int) -> dict[str, Any]:
    """Median wall time of the momepy worker (reading, enclosures, tessellation)."""
    walls, cpus, details = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench_momepy_") as tmp:
        osm, study, crs = momepy_inputs(folder, Path(tmp))
        for _ in range(repeats):
            wall, stdout = _run(
                [sys.executable, __file__, "--worker", "momepy", osm, str(study), crs,
                 str(n_jobs)],
                timeout=timeout,
            )  # fmt: skip
            walls.append(wall)
            cpus.append(_CPU[-1])
            details.append(json.loads(stdout))
    med = {
        k: statistics.median(d[k] for d in details)
        for k in ("import_s", "read_s", "enclosures_s", "tessellation_s")
    }
    return {
        "wall_s": statistics.median(walls),
        "walls": walls,
        "cpu_s": statistics.median(cpus),
        **details[-1],
        **med,
    }


# --------------------------------------------------------------------------- main


def _synthetic_area(n: int, seed: int, folder: Path) -> Path:
    from gis.synthetic import synthetic_town, write_area

    return write_area(synthetic_town(n, seed=seed), folder, name=f"Synthetic town {n}")


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 10,000-building town")
    parser.add_argument("--n", type=int, default=None, help="buildings in the synthetic town")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per real area")
    parser.add_argument("--big-repeats", type=int, default=1, help="runs on the synthetic town")
    parser.add_argument("--skip-momepy", action="store_true")
    parser.add_argument(
        "--momepy-jobs",
        type=int,
        default=-1,
        help="n_jobs of momepy.enclosed_tessellation (-1, its default: every core)",
    )
    parser.add_argument("--areas", nargs="*", default=[*AREAS, "synthetic"])
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        kind, folder, *rest = args.worker
        sys.path.insert(0, str(ROOT))
        if kind == "momepy":
            result = _momepy_worker(folder, Path(rest[0]), rest[1], n_jobs=int(rest[2]))
        else:
            result = _gridplan_worker(Path(folder), Path(rest[0]))
        print(json.dumps(result))
        return 0

    n = args.n or (10_000 if args.quick else 100_000)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_town_") as tmp:
        for name in args.areas:
            if name == "synthetic":
                start = time.perf_counter()
                folder = _synthetic_area(n, args.seed, Path(tmp) / f"town_{n}")
                print(
                    f"synthetic town of {n} buildings written in "
                    f"{time.perf_counter() - start:.1f} s",
                    file=sys.stderr,
                )
                label, repeats = f"synthetic {n:,} (seed {args.seed})", args.big_repeats
            else:
                folder, label, repeats = AREAS[name], name, args.repeats
            print(f"{label}: gridplan ×{repeats} …", file=sys.stderr)
            ours = time_gridplan(folder, repeats=repeats, timeout=args.timeout)
            print(f"  gridplan {ours['walls']}", file=sys.stderr)
            peer = None
            if not args.skip_momepy:
                print(f"{label}: momepy ×{repeats} …", file=sys.stderr)
                try:
                    peer = time_momepy(
                        folder, repeats=repeats, timeout=args.timeout, n_jobs=args.momepy_jobs
                    )
                except subprocess.TimeoutExpired:
                    peer = {"timeout_s": args.timeout}
                print(f"  momepy {peer.get('walls', peer)}", file=sys.stderr)
            rows.append({"area": label, "repeats": repeats, "gridplan": ours, "momepy": peer})

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"momepy n_jobs={args.momepy_jobs}; load average at the end (1, 5, 15 min): {load}")
    header = (
        "| input | buildings | gridplan build, wall (CPU) s | grids | momepy wall (CPU) s "
        "= read + enclosures + tessellation | cells | ratio momepy ÷ gridplan, wall (CPU) |"
    )
    print(header)
    print("|" + " --- |" * 7)
    for row in rows:
        ours, peer = row["gridplan"], row["momepy"]
        if peer is None:
            peer_cols = ["–"] * 3
        elif "timeout_s" in peer:
            over = peer["timeout_s"]
            peer_cols = [f"> {over:.0f} (timed out)", "–", f"> {over / ours['wall_s']:.1f}"]
        else:
            peer_cols = [
                f"{_fmt(peer['wall_s'])} ({_fmt(peer['cpu_s'])}) = {_fmt(peer['read_s'])} + "
                f"{_fmt(peer['enclosures_s'])} + {_fmt(peer['tessellation_s'])}",
                str(peer["cells"]),
                f"{peer['wall_s'] / ours['wall_s']:.1f} ({peer['cpu_s'] / ours['cpu_s']:.1f})",
            ]
        cells = [
            row["area"],
            str(ours["buildings"]),
            f"{_fmt(ours['wall_s'])} ({_fmt(ours['cpu_s'])})",
            str(ours["grids"]),
        ]
        print("| " + " | ".join(cells + peer_cols) + " |")
    print()
    print("gridplan steps (one in-process run of gis.pipeline.build, seconds):")
    for row in rows:
        steps = row["gridplan"]["detail"]["steps"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
        print(f"- {row['area']}: import {row['gridplan']['detail']['import_s']:.2f}, {parts}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
