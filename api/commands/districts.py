"""`gridplan districts`: group the grids of DIR into k balanced districts.

The flow is :func:`gis.pipeline.draw_plan`; this module parses and prints.
"""

from __future__ import annotations

import click

from api.commands._io import emit_json, say, tolerance_option
from api.commands._options import Balance, Seconds, balance_with


@click.command(name="districts")
@click.argument("folder", metavar="DIR", type=click.Path())
@click.option(
    "--k",
    "k",
    required=True,
    help="Number of districts; with --per subdistrict, per sub-district, or a CSV of "
    "subdistrict,k rows.",
)
@click.option(
    "--per",
    type=click.Choice(["subdistrict"]),
    default=None,
    help="In a city folder: draw districts inside each sub-district (numbers run on).",
)
@click.option(
    "--from",
    "from_plan",
    type=click.Path(exists=True, dir_okay=False),
    help="Existing plan to start from: CSV (grid, district) or GeoJSON of district polygons.",
)
@tolerance_option
@click.option(
    "--nest",
    type=click.Choice(["communities"]),
    default=None,
    help="Keep every district inside one community.",
)
@click.option(
    "--balance",
    type=Balance(),
    default=None,
    help="Quantities to balance, with optional tolerances: population,households:0.05",
)
@click.option(
    "--keep",
    type=click.Choice(["most", "some", "compact"]),
    default="most",
    show_default=True,
    help="With --from: keep the old districts most, some, or draw the most compact plan "
    "(the summary's tradeoff lists all three: people moved, cut edges, Polsby-Popper).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (same seed, same plan).")
@click.option(
    "--time-limit", type=Seconds(), default=30.0, show_default=True, help="Seconds for the search."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=1_000_000),
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
    k: str,
    per: str | None,
    from_plan: str | None,
    tolerance: float,
    nest: str | None,
    balance: dict[str, float | None] | None,
    keep: str,
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
    from gis.options import PlanOptions, StaffOptions
    from gis.pipeline import draw_plan

    if per is not None:
        from api.commands._city import districts_per_subdistrict

        if from_plan or workers is not None:
            raise click.UsageError("--from and --workers do not combine with --per subdistrict yet")
        summary = districts_per_subdistrict(
            folder, k, tolerance=tolerance, nest=nest, balance=balance_with(balance, tolerance),
            seed=seed, time_limit=time_limit,
        )  # fmt: skip
        emit_json(summary)
        return
    if not k.strip().isdigit() or int(k) < 1:
        raise click.BadParameter(f"{k!r} is not a whole number of at least 1", param_hint="--k")
    options = PlanOptions(
        k=int(k),
        tolerance=tolerance,
        nest=nest,
        from_plan=from_plan,
        keep=keep,
        balance=balance_with(balance, tolerance),
        seed=seed,
        time_limit=time_limit,
        staffing=None if workers is None else StaffOptions(workers=workers, method=method),
    )
    result = draw_plan(folder, options, progress=say)
    for note in result.warnings:
        say(f"warning: {note}")
    emit_json(result.summary)
