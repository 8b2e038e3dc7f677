"""Load the gridplan HTTP API on loopback and report latency and throughput.

Measures, against a running server (``--url``) or one it starts itself on a
copy of a build folder (``--dir``, default ``runs/nanjing``):

1. the full grid layer (``GET /collections/grids/items``);
2. a rebalancing suggestion computed afresh (``GET /plans/{id}/suggestions``
   with a new tolerance each time, so no cached answer is reused);
3. a plan edit (``PATCH /plans/{id}`` with ``If-Match``);
4. 50 concurrent clients mixing the three (edits retry on 412, which is the
   expected answer to a stale write, not an error).

Each phase is bounded in time (``--seconds``).  Prints a Markdown table and
a JSON line.  Usage::

    .venv/bin/python benchmarks/bench_api.py --dir runs/nanjing --seconds 8
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
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-planner-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[str, subprocess.Popen, Path]:
    """uvicorn over a copy of ``folder`` (fresh SQLite) on a random loopback port."""
    work = Path(tempfile.mkdtemp(prefix="gridplan-bench-"))
    copy = work / "dir"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("gridplan.db*", "uploads"))
    port = _free_port()
    env = {**os.environ, "GRIDPLAN_DATA_DIR": str(copy), "GRIDPLAN_PLANNER_TOKENS": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/conformance", timeout=1).status_code == 200:
                return base, proc, work
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start")


def make_plan(c: httpx.Client, k: int) -> str:
    """Create a plan with ``k`` districts through the API and wait for its job."""
    r = c.post("/plans", json={"name": "bench", "k": k, "tolerance": 0.1})
    r.raise_for_status()
    job = r.headers["location"]
    for _ in range(1200):
        status = c.get(job).json()
        if status["status"] == "done":
            return status["result"]["plan"]
        if status["status"] == "failed":
            raise RuntimeError(status["message"])
        time.sleep(0.1)
    raise RuntimeError("districting job did not finish")


def timed(call: Callable[[], httpx.Response], seconds: float, max_n: int) -> dict[str, float]:
    """Call repeatedly for up to ``seconds``; latency percentiles in ms."""
    lat, errors = [], 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and len(lat) < max_n:
        t0 = time.perf_counter()
        r = call()
        lat.append((time.perf_counter() - t0) * 1000)
        errors += r.status_code >= 400
    return summary(lat, errors, time.perf_counter() - start)


def summary(lat: list[float], errors: int, elapsed: float) -> dict[str, float]:
    """p50, p99, mean latency (ms), throughput (req/s) and errors."""
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] if lat else float("nan")
    return {
        "n": len(lat),
        "p50_ms": round(statistics.median(lat), 2) if lat else float("nan"),
        "p99_ms": round(p99, 2),
        "rps": round(len(lat) / elapsed, 1) if elapsed else 0.0,
        "errors": errors,
    }


def concurrent(base: str, plans: list[str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads mixing layer reads, suggestions and edits (retrying 412)."""
    lock = threading.Lock()
    lat: list[float] = []
    counts = {"errors": 0, "conflicts": 0, "edits": 0}
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        plan = plans[i % len(plans)]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            grids = list(c.get(f"/plans/{plan}/assignment").json()["assignment"].items())
            n = 0
            while time.perf_counter() < deadline:
                kind = n % 3
                t0 = time.perf_counter()
                try:
                    if kind == 0:
                        r = c.get("/collections/grids/items")
                    elif kind == 1:
                        r = c.get(f"/plans/{plan}/suggestions")
                    else:
                        grid, district = grids[(i * 7 + n) % len(grids)]
                        version = c.get(f"/plans/{plan}").headers["etag"]
                        r = c.patch(
                            f"/plans/{plan}",
                            headers={"If-Match": version},
                            json={"moves": [{"grid": grid, "district": district}]},
                        )
                except httpx.TransportError:
                    with lock:
                        counts["errors"] += 1
                    continue
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat.append(ms)
                    if r.status_code == 412:
                        counts["conflicts"] += 1
                    elif r.status_code >= 400:
                        counts["errors"] += 1
                    elif kind == 2:
                        counts["edits"] += 1
                n += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = summary(lat, counts["errors"], time.perf_counter() - start)
    out.update(conflicts_412=counts["conflicts"], edits=counts["edits"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "runs" / "nanjing")
    parser.add_argument("--url", default=None, help="a running server (else one is started)")
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--seconds", type=float, default=8.0, help="time bound per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    proc, work = None, None
    base = args.url
    if base is None:
        base, proc, work = start_server(args.dir)
    headers = {"Authorization": f"Bearer {args.token}"}
    results: dict[str, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            grids = c.get("/collections/grids/items").json()
            plans = [make_plan(c, args.k) for _ in range(5)]
            plan = plans[0]
            results["grids layer (full)"] = timed(
                lambda: c.get("/collections/grids/items"), args.seconds, 5000
            )
            sample = c.get(f"/plans/{plan}/suggestions", params={"tolerance": 0.005}).json()
            tol = iter(0.005 + i * 1e-6 for i in range(100_000))
            results["suggestions (fresh)"] = timed(
                lambda: c.get(f"/plans/{plan}/suggestions", params={"tolerance": next(tol)}),
                args.seconds,
                2000,
            )
            assignment = c.get(f"/plans/{plan}/assignment").json()["assignment"]
            items = list(assignment.items())
            state = {"etag": c.get(f"/plans/{plan}").headers["etag"], "i": 0}
            districts = sorted(set(assignment.values()))

            def edit() -> httpx.Response:
                grid, district = items[state["i"] % len(items)]
                other = districts[
                    (districts.index(district) + state["i"] // len(items) + 1) % len(districts)
                ]
                r = c.patch(
                    f"/plans/{plan}",
                    headers={"If-Match": state["etag"]},
                    json={"moves": [{"grid": grid, "district": other}]},
                )
                state["etag"] = r.headers.get("etag", state["etag"])
                state["i"] += 1
                return r

            results["plan edit (PATCH)"] = timed(edit, args.seconds, 2000)
        results[f"mixed, {args.clients} clients"] = concurrent(
            base, plans, args.clients, args.seconds
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"grids: {len(grids['features'])}; k={args.k}; {args.seconds:.0f} s per phase; "
        f"suggestions per answer: {len(sample['suggestions'])}"
    )
    print("| request | n | p50 ms | p99 ms | req/s | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        extra = f" ({r['conflicts_412']} stale writes got 412)" if "conflicts_412" in r else ""
        print(
            f"| {name} | {r['n']} | {r['p50_ms']} | {r['p99_ms']} | {r['rps']} | "
            f"{r['errors']}{extra} |"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
