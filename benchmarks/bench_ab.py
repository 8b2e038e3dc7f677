"""Two gridplan checkouts side by side on one folder, requests interleaved (A, B, A, B...).

On a shared, noisy machine, interleaving gives both servers the same load, so
the ratio of their medians means something even when the absolute times do
not.  Usage::

    .venv/bin/python benchmarks/bench_ab.py --baseline /work/main --folder runs/bench-100k
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

from benchmarks.bench_layers import ROOT, gridplan_server, make_folder

READS = {
    "page of 100": "/collections/buildings/items?limit=100",
    "bbox ~300 m": "/collections/buildings/items?bbox=118.75,32.05,118.753,32.053&limit=1000",
    "one feature": "/collections/buildings/items/w12345",
    "whole layer": "/collections/buildings/items?limit=100000",
    "revalidate whole layer (304)": None,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "runs" / "bench-100k")
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    folder = make_folder(args.folder)
    servers = {
        "this": gridplan_server(ROOT, folder, sys.executable),
        "baseline": gridplan_server(args.baseline, folder, str(args.baseline / ".venv/bin/python")),
    }
    times: dict[str, dict[str, list[float]]] = {n: {k: [] for k in READS} for n in servers}
    try:
        clients = {n: httpx.Client(base_url=s.base, timeout=300) for n, s in servers.items()}
        tags = {n: c.get(READS["whole layer"]).headers.get("etag", "") for n, c in clients.items()}
        for _ in range(args.rounds):
            for name, path in READS.items():
                for server, c in clients.items():
                    headers = {}
                    if path is None:
                        path_, headers = READS["whole layer"], {"If-None-Match": tags[server]}
                    else:
                        path_ = path
                    t0 = time.perf_counter()
                    r = c.get(path_, headers=headers)
                    times[server][name].append((time.perf_counter() - t0) * 1000)
                    assert r.status_code in (200, 304), (server, name, r.status_code)
    finally:
        for s in servers.values():
            s.stop()
    print("| read (median ms) | this | baseline | baseline / this |")
    print("| --- | ---: | ---: | ---: |")
    out = {}
    for name in READS:
        a = statistics.median(times["this"][name])
        b = statistics.median(times["baseline"][name])
        out[name] = {"this": round(a, 1), "baseline": round(b, 1)}
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.1f}× |")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
