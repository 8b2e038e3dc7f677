"""The layer server beside pygeoapi on the same 100,000-building folder.

Makes (once) a synthetic build folder of 10,000 grids and 100,000 buildings
near Nanjing, then, for gridplan (this checkout, and optionally another
checkout given with ``--baseline ROOT``, e.g. the main branch) and for
pygeoapi (its Starlette app under uvicorn, GeoJSON provider over the same
``buildings.geojson``; give its Python with ``--pygeoapi-python``):

1. time to first answer: process start to the first 200 of ``/conformance``
   and to the first page of buildings;
2. read latency (median of ``--repeat``): a page of 100 buildings, a bbox of
   about 300 m, one feature by id, the whole buildings layer;
3. memory: the server's RSS before and after 300 whole-layer requests with
   changing ``limit`` values (the answers cached by gridplan).

Prints a Markdown table with the ratio pygeoapi / gridplan and a JSON line.
Usage::

    .venv/bin/python benchmarks/bench_layers.py --pygeoapi-python /tmp/pgv/bin/python \\
        [--baseline /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-planner-token-0123456789"
ORIGIN = (118.70, 32.00)


def make_folder(folder: Path, *, side: int = 100, per_grid: int = 10) -> Path:
    """``side`` × ``side`` grids with ``per_grid`` buildings each, as a build folder."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from gis.outputs import write_geojson

    if (folder / "buildings.geojson").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    step = 0.002
    rows, geoms, b_rows, b_geoms = [], [], [], []
    rng = np.random.default_rng(0)
    for j in range(side):
        for i in range(side):
            n = j * side + i
            code = f"320102001{1 + n // 999:03d}{1 + n % 999:03d}"
            x0, y0 = ORIGIN[0] + i * step, ORIGIN[1] + j * step
            rows.append({"code": code, "community": code[:12], "households": 400,
                         "population": 1040.0})  # fmt: skip
            geoms.append(shapely.box(x0, y0, x0 + step, y0 + step))
            for b in range(per_grid):
                cx = x0 + step * (0.05 + 0.09 * b)
                cy = y0 + step * float(rng.uniform(0.1, 0.8))
                b_rows.append({"id": f"w{n * per_grid + b}", "grid": code, "households": 40,
                               "population": 104.0, "floors": 6})  # fmt: skip
                b_geoms.append(shapely.box(cx, cy, cx + step * 0.05, cy + step * 0.08))
    write_geojson(gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326"), folder / "grids.geojson")
    write_geojson(
        gpd.GeoDataFrame(b_rows, geometry=b_geoms, crs="EPSG:4326"), folder / "buildings.geojson"
    )
    box = [ORIGIN[0], ORIGIN[1], ORIGIN[0] + side * step, ORIGIN[1] + side * step]
    meta = {"name": "bench", "crs": "EPSG:32650", "bbox": box}
    (folder / "build.json").write_text(json.dumps(meta))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """A server process on a random loopback port; records the time to its first answers."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], first_page: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        started = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        self.first_answer_s = self._wait("/conformance", started)
        self.first_page_s = self._wait(first_page, started)

    def _wait(self, path: str, started: float) -> float:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + path, timeout=60).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.02)
        raise RuntimeError(f"{path} did not answer")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def gridplan_server(root: Path, folder: Path, python: str) -> Server:
    work = Path(tempfile.mkdtemp(prefix="gridplan-bench-"))
    copy = work / "dir"
    shutil.copytree(folder, copy)
    env = {**os.environ, "GRIDPLAN_DATA_DIR": str(copy), "GRIDPLAN_PLANNER_TOKENS": TOKEN,
           "GRIDPLAN_WARM_UP": "false"}  # fmt: skip
    argv = [python, "-m", "uvicorn", "--factory", "api.main:create_app", "--host", "127.0.0.1",
            "--port", "{port}", "--log-level", "warning"]  # fmt: skip
    return Server(argv, root, env, "/collections/buildings/items?limit=100")


def pygeoapi_server(folder: Path, python: str) -> Server:
    work = Path(tempfile.mkdtemp(prefix="pygeoapi-bench-"))
    config = work / "config.yml"
    config.write_text(
        f"""server:
  bind: {{host: 127.0.0.1, port: 5000}}
  url: http://127.0.0.1:5000
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 100, max_items: 200000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: "OSM"}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme,
                    terms_of_service: none, url: http://127.0.0.1}}
  license: {{name: ODbL, url: https://opendatacommons.org/licenses/odbl/}}
  provider: {{name: bench, url: http://127.0.0.1}}
  contact: {{name: bench, email: bench@example.com}}
resources:
  buildings:
    type: collection
    title: Buildings
    description: buildings
    keywords: [buildings]
    extents:
      spatial: {{bbox: [-180, -90, 180, 90], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: GeoJSON
        data: {folder / "buildings.geojson"}
        id_field: id
"""
    )
    openapi = work / "openapi.yml"
    with openapi.open("w") as fh:
        cli = str(Path(python).parent / "pygeoapi")  # the command pygeoapi installs
        subprocess.run([cli, "openapi", "generate", str(config)], stdout=fh, check=True,
                       env={**os.environ, "PYGEOAPI_CONFIG": str(config)})  # fmt: skip
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    argv = [python, "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", "127.0.0.1",
            "--port", "{port}", "--log-level", "warning"]  # fmt: skip
    return Server(argv, work, env, "/collections/buildings/items?limit=100&f=json")


def reads(server: Server, *, repeat: int, json_param: str) -> dict[str, float]:
    """Median latency (ms) of four reads; ids and bbox fixed."""
    q = json_param
    cases = {
        "page of 100": f"/collections/buildings/items?limit=100{q}",
        "bbox ~300 m": "/collections/buildings/items?bbox=118.75,32.05,118.753,32.053"
        f"&limit=1000{q}",
        "one feature": f"/collections/buildings/items/w12345{'?f=json' if q else ''}",
        "whole layer": f"/collections/buildings/items?limit=100000{q}",
    }
    out = {}
    with httpx.Client(base_url=server.base, timeout=300) as c:
        for name, path in cases.items():
            times = []
            n = repeat if name != "whole layer" else max(3, repeat // 4)
            for _ in range(n):
                t0 = time.perf_counter()
                r = c.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (name, r.status_code, r.text[:200])
            out[name] = round(statistics.median(times), 1)
    return out


def memory(server: Server, *, requests: int, json_param: str) -> dict[str, float]:
    """RSS before and after ``requests`` whole-layer answers with changing ``limit``."""
    with httpx.Client(base_url=server.base, timeout=300) as c:
        c.get(f"/collections/buildings/items?limit=100{json_param}")
        before = _rss_mb(server.proc.pid)
        for i in range(requests):
            c.get(f"/collections/buildings/items?limit={100_000 - i}{json_param}")
        after = _rss_mb(server.proc.pid)
    return {"rss_before_mb": round(before), "rss_after_mb": round(after)}


def measure(name: str, server: Server, args: argparse.Namespace, json_param: str) -> dict:
    try:
        result = {
            "first_answer_s": round(server.first_answer_s, 2),
            "first_page_s": round(server.first_page_s, 2),
            **reads(server, repeat=args.repeat, json_param=json_param),
            **memory(server, requests=args.requests, json_param=json_param),
        }
    finally:
        server.stop()
    print(f"{name}: {result}", file=sys.stderr)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "runs" / "bench-100k")
    parser.add_argument("--pygeoapi-python", default=None, help="a Python with pygeoapi installed")
    parser.add_argument("--baseline", type=Path, default=None, help="another gridplan checkout")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    folder = make_folder(args.folder)
    ours = gridplan_server(ROOT, folder, sys.executable)
    results = {"gridplan": measure("gridplan", ours, args, "")}
    if args.baseline:
        python = str(args.baseline / ".venv" / "bin" / "python")
        results["gridplan (baseline)"] = measure(
            "baseline", gridplan_server(args.baseline, folder, python), args, ""
        )
    if args.pygeoapi_python:
        results["pygeoapi"] = measure(
            "pygeoapi", pygeoapi_server(folder, args.pygeoapi_python), args, "&f=json"
        )
    keys = list(results["gridplan"])
    names = list(results)
    print("| measure | " + " | ".join(names) + " | pygeoapi / gridplan |")
    print("| --- |" + " ---: |" * (len(names) + 1))
    for key in keys:
        values = [results[n].get(key) for n in names]
        ratio = ""
        if "pygeoapi" in results and results["gridplan"][key]:
            ratio = f"{results['pygeoapi'][key] / results['gridplan'][key]:.1f}×"
        print(f"| {key} | " + " | ".join(str(v) for v in values) + f" | {ratio} |")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
