"""`gridplan districts`: group the grids of DIR into k balanced districts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # only for annotations: the engine loads inside the command
    import geopandas as gpd

    from gis.districting import DistrictingResult


def parse_balance(text: str | None, tolerance: float) -> dict[str, float]:
    """``"population,households:0.05"`` → ``{"population": tol, "households": 0.05}``."""
    if not text:
        return {"population": tolerance}
    out: dict[str, float] = {}
    for part in text.split(","):
        name, _, tol = part.strip().partition(":")
        if not name:
            continue
        try:
            out[name] = float(tol) if tol else tolerance
        except ValueError as exc:
            raise click.BadParameter(f"bad tolerance in {part!r}", param_hint="--balance") from exc
    return out or {"population": tolerance}


@click.command(name="districts")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--k", "k", type=int, required=True, help="Number of districts.")
@click.option(
    "--from",
    "from_plan",
    type=click.Path(exists=True, dir_okay=False),
    help="Existing plan to start from: CSV (grid, district) or GeoJSON of district polygons.",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.02,
    show_default=True,
    help="Allowed deviation from the ideal, as a fraction (0.02 = ±2%).",
)
@click.option(
    "--nest",
    type=click.Choice(["communities"]),
    default=None,
    help="Keep every district inside one community.",
)
@click.option(
    "--balance",
    default=None,
    help="Quantities to balance, with optional tolerances: population,households:0.05",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (same seed, same plan).")
@click.option(
    "--time-limit", type=float, default=30.0, show_default=True, help="Seconds for the search."
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Apportion this many workers to districts by load and propose an office per district.",
)
@click.option(
    "--method",
    type=click.Choice(["hamilton", "webster", "jefferson", "adams", "huntington-hill"]),
    default="hamilton",
    show_default=True,
    help="Apportionment method for --workers.",
)
def command(
    folder: str,
    k: int,
    from_plan: str | None,
    tolerance: float,
    nest: str | None,
    balance: str | None,
    seed: int,
    time_limit: float,
    workers: int | None,
    method: str,
) -> None:
    """Group the grids of DIR into K contiguous districts of balanced population.

    Writes DIR/plan.csv (grid, district) and DIR/districts.geojson, and prints
    a JSON summary (max_deviation, contiguous, cut_edges, moved_grids,
    moved_population, best_bound, per-district figures).  With --from, the old
    districts are kept where balance allows, split or merged when K changes.
    """
    from api.commands._io import emit_json, say
    from gis.districting import draw_districts
    from gis.outputs import read_layer, read_meta
    from gis.pipeline import write_plan
    from gis.plan import read_plan, to_metric

    out = Path(folder)
    grids = read_layer(out, "grids")
    meta = read_meta(out)
    gm = to_metric(grids, crs=meta.get("crs"))
    old = None
    if from_plan:
        old, notes = read_plan(from_plan, gm)
        for note in notes:
            say(f"warning: {note}")
    result = draw_districts(
        gm,
        k,
        tolerance=tolerance,
        nest=nest,
        from_plan=old,
        balance=parse_balance(balance, tolerance),
        seed=seed,
        progress=say,
        time_limit=time_limit,
    )
    for note in result.warnings:
        say(f"warning: {note}")
    if workers is not None:
        _staff(result, gm, out, workers, method)
    write_plan(out, result)
    emit_json(result.summary)


def _staff(
    result: DistrictingResult,
    grids_metric: gpd.GeoDataFrame,
    folder: Path,
    workers: int,
    method: str,
) -> None:
    """Add workers per district and proposed offices to the result (summary and polygons)."""
    from gis.outputs import read_layer
    from gis.staffing import apportion, propose_offices

    load_key = next(iter(result.summary["quantities"]))
    col = "population" if load_key == "population" else load_key
    loads = {row["district"]: float(row.get(col) or 0.0) for row in result.summary["districts"]}
    staff = apportion(loads, workers, method=method)
    offices = propose_offices(
        grids_metric,
        result.assignment,
        pois=read_layer(folder, "pois", required=False),
        buildings=read_layer(folder, "buildings", required=False),
    )
    result.summary["staffing"] = {"workers": workers, "method": method, "by_district": staff}
    result.summary["offices"] = offices
    by = {o["district"]: o for o in offices}
    result.districts["workers"] = result.districts["district"].map(staff)
    result.districts["office"] = result.districts["district"].map(
        lambda d: by[d]["name"] or by[d]["kind"] or by[d]["grid"]
    )
    result.districts["office_distance_m"] = result.districts["district"].map(
        lambda d: by[d]["mean_distance_m"]
    )
