"""Golden summaries: what the commands tell a planner about the bundled areas.

Each bundled area (Nanjing Xinjiekou, Central Helsinki) is run through the
command line as a planner would: ``gridplan run`` (build, districts, coverage),
then ``respond``, ``suggest`` (ranked and ``--minimal``), ``districts --from``
with a new k and ``--workers``, and ``coverage --standard``.  What a planner
relies on — counts, sums, deviations, coverage shares, grid codes and the
plan — is kept in ``tests/data/golden/<area>.json``; run times and paths are
left out.  ``tests/test_golden.py`` compares a fresh run with those files,
floats within a tolerance.

When a change is meant to change the outputs (grids, districts, coverage),
regenerate the files deliberately, look at the diff, and commit it with the
change::

    .venv/bin/python -m tests.golden
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
AREAS = {
    "nanjing_xinjiekou": ROOT / "data" / "boundaries" / "nanjing_xinjiekou",
    "helsinki": ROOT / "data" / "boundaries" / "helsinki",
}
GOLDEN_DIR = ROOT / "tests" / "data" / "golden"
#: Keys whose plain values are run times or paths of this run, not results.
VOLATILE = frozenset({"seconds", "source", "folder", "plan", "out", "outside_file"})
#: The exact search's steps, which depend on the time it had (kept out of ``exact``).
EXACT_VOLATILE = frozenset({"candidates"})
#: Floats are equal within these tolerances (outputs are rounded to 4–7 digits).
REL_TOL = 1e-6
ABS_TOL = 1.5e-4
#: Extra workers for the staffing run, per district.
WORKERS_PER_DISTRICT = 9


def golden_path(name: str) -> Path:
    """Where the golden summary of area ``name`` is kept."""
    return GOLDEN_DIR / f"{name}.json"


def collect(source: Path, folder: Path) -> dict[str, Any]:
    """Run the commands on ``source`` into ``folder``; what a planner relies on."""
    defaults = tomllib.loads((source / "area.toml").read_text(encoding="utf-8"))["defaults"]
    k = int(defaults["districts"])
    tol = str(defaults["tolerance"])
    out: dict[str, Any] = {}
    out["run"] = _cli("run", str(source), "--out", str(folder), "--no-serve")
    out["grids"] = _grids(folder)
    out["run_plan"] = _plan(folder)
    out["respond"] = _cli("respond", str(folder))
    out["suggest"] = _cli("suggest", str(folder), "--tolerance", tol, "--limit", "10")
    out["suggest_minimal"] = _cli("suggest", str(folder), "--tolerance", tol, "--minimal")
    redraw = [str(folder), "--k", str(k + 2), "--from", str(folder / "plan.csv")]
    staff = ["--workers", str(WORKERS_PER_DISTRICT * (k + 2)), "--tolerance", tol]
    out["districts_from"] = _cli("districts", *redraw, *staff)
    out["districts_from_plan"] = _plan(folder)
    out["coverage_standard"] = _cli("coverage", str(folder), "--standard")
    return strip(out)


def _cli(*args: str) -> Any:
    """Run ``gridplan ARGS`` in-process; its JSON result (stdout)."""
    from click.testing import CliRunner

    from api.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"gridplan {' '.join(args)} exited {result.exit_code}: {result.stderr}")
    return json.loads(result.stdout)


def _grids(folder: Path) -> dict[str, dict[str, Any]]:
    from gis.outputs import read_layer

    grids = read_layer(folder, "grids")
    assert grids is not None
    cols = ["community", "households", "population", "buildings", "area_m2"]
    return {
        str(row["code"]): {c: row[c] for c in cols}
        for row in pd.DataFrame(grids.drop(columns="geometry")).to_dict(orient="records")
    }


def _plan(folder: Path) -> dict[str, int]:
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    return {str(g): int(d) for g, d in zip(plan["grid"], plan["district"], strict=True)}


def _strip_exact(value: dict[str, Any]) -> dict[str, Any]:
    return {str(k): strip(v) for k, v in value.items() if k not in EXACT_VOLATILE | VOLATILE}


def strip(value: Any) -> Any:
    """``value`` without run times and paths, as plain JSON types."""
    if isinstance(value, dict):
        return {
            str(k): strip(v) if k != "exact" or not isinstance(v, dict) else _strip_exact(v)
            for k, v in value.items()
            if k not in VOLATILE or isinstance(v, dict | list)
        }
    if isinstance(value, list | tuple):
        return [strip(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def differences(expected: Any, actual: Any, where: str = "") -> Iterator[str]:
    """Every place where ``actual`` differs from ``expected`` (floats within tolerance)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield f"{where}/{key}: missing"
            elif key not in expected:
                yield f"{where}/{key}: unexpected"
            else:
                yield from differences(expected[key], actual[key], f"{where}/{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{where}: {len(actual)} items, expected {len(expected)}"
            return
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            yield from differences(e, a, f"{where}[{i}]")
    elif _number(expected) and _number(actual):
        if not math.isclose(float(expected), float(actual), rel_tol=REL_TOL, abs_tol=ABS_TOL):
            yield f"{where}: {actual!r}, expected {expected!r}"
    elif expected != actual:
        yield f"{where}: {actual!r}, expected {expected!r}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def main() -> int:
    """Regenerate every golden file from the current code."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name, source in AREAS.items():
        with tempfile.TemporaryDirectory() as tmp:
            summary = collect(source, Path(tmp) / name)
        text = json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True)
        golden_path(name).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {golden_path(name)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
