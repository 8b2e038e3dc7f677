"""Compare two build folders file by file: are the grids the same, byte for byte?

A speed change to cutting or writing must leave every build as it was.  This
compares the files of two ``gridplan build --out`` folders: text files
(GeoJSON layers, adjacency.csv, …) byte for byte, ``build.json`` without its
timings, and the GeoPackage layer by layer (a GeoPackage's bytes hold its
write time).  For a GeoJSON layer that differs it says how many features and
which property or geometry differs first, so a difference can be found.

Usage::

    .venv/bin/python scripts/compare_builds.py OLD_DIR NEW_DIR [OLD_DIR2 NEW_DIR2 …]

Exit status 0 when every pair is the same, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: build.json keys that hold timings or paths, not results.
VOLATILE = frozenset({"seconds", "steps", "elapsed_s", "out", "started", "finished"})


def compare(old: Path, new: Path) -> list[str]:
    """The differences between build folders ``old`` and ``new`` (empty when the same)."""
    problems: list[str] = []
    names = sorted({p.name for p in old.iterdir()} | {p.name for p in new.iterdir()})
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            problems.append(f"{name}: only in {old if a.exists() else new}")
        elif a.is_dir() or b.is_dir():
            problems.extend(f"{name}/{p}" for p in compare(a, b))
        elif name == "build.json":
            problems.extend(_compare_manifest(a, b))
        elif name.endswith(".gpkg"):
            problems.extend(_compare_gpkg(a, b))
        elif a.read_bytes() != b.read_bytes():
            problems.append(_describe(a, b))
    return problems


def _compare_manifest(a: Path, b: Path) -> list[str]:
    ma, mb = (_strip(json.loads(p.read_text(encoding="utf-8"))) for p in (a, b))
    return [] if ma == mb else [f"{a.name}: {_first_difference(ma, mb)}"]


def _strip(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _first_difference(a: object, b: object, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path or '/'}: {str(a)[:80]} != {str(b)[:80]}"


def _compare_gpkg(a: Path, b: Path) -> list[str]:
    import pyogrio

    problems = []
    layers_a = [name for name, _ in pyogrio.list_layers(a)]
    layers_b = [name for name, _ in pyogrio.list_layers(b)]
    if layers_a != layers_b:
        return [f"{a.name}: layers {layers_a} != {layers_b}"]
    for layer in layers_a:
        x = pyogrio.read_dataframe(a, layer=layer)
        y = pyogrio.read_dataframe(b, layer=layer)
        if list(x.columns) != list(y.columns) or len(x) != len(y):
            problems.append(f"{a.name}:{layer}: columns or row count differ")
            continue
        if not x.drop(columns="geometry").equals(y.drop(columns="geometry")):
            problems.append(f"{a.name}:{layer}: attributes differ")
        if list(x.geometry.to_wkb()) != list(y.geometry.to_wkb()):
            problems.append(f"{a.name}:{layer}: geometries differ")
    return problems


def _describe(a: Path, b: Path) -> str:
    if not a.name.endswith(".geojson"):
        return f"{a.name}: bytes differ"
    fa = json.loads(a.read_text(encoding="utf-8")).get("features", [])
    fb = json.loads(b.read_text(encoding="utf-8")).get("features", [])
    if len(fa) != len(fb):
        return f"{a.name}: {len(fa)} features != {len(fb)}"
    for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
        if x.get("properties") != y.get("properties"):
            return f"{a.name}: feature {i} properties differ: {_first_difference(x, y)}"
        if x.get("geometry") != y.get("geometry"):
            return f"{a.name}: feature {i} ({x.get('properties', {})}) geometry differs"
    return f"{a.name}: same features, bytes differ (formatting)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="OLD NEW [OLD NEW …]")
    args = parser.parse_args(argv)
    if len(args.folders) % 2:
        parser.error("give build folders in pairs: OLD NEW")
    same = True
    for old, new in zip(args.folders[::2], args.folders[1::2], strict=True):
        problems = compare(old, new)
        print(f"{old} vs {new}: {'same' if not problems else f'{len(problems)} differences'}")
        for line in problems:
            print(f"  {line}")
        same = same and not problems
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
