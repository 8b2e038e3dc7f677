"""`gridplan suggest`: ranked rebalancing moves for a plan of DIR.

The flow is :func:`gis.pipeline.suggest_plan`; this module parses and prints.
"""

from __future__ import annotations

import click

from api.commands._io import emit_json, say, tolerance_option


@click.command(name="suggest")
@click.argument("folder", metavar="DIR", type=click.Path())
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Plan CSV (grid, district) or GeoJSON of district polygons [default: DIR/plan.csv].",
)
@tolerance_option
@click.option("--limit", type=int, default=20, show_default=True, help="Most moves to list.")
@click.option(
    "--minimal",
    is_flag=True,
    help="Instead, rebalance to the tolerance moving the fewest people; print those moves.",
)
def command(
    folder: str, plan_path: str | None, tolerance: float, limit: int, minimal: bool
) -> None:
    """Print ranked moves (a grid or a chain of two) that reduce imbalance.

    Every move keeps all districts contiguous and lowers the deviation of
    the two districts it touches.  With --minimal, prints the moves of the
    minimal-change rebalance and the resulting plan figures instead.
    """
    from gis.options import SuggestOptions
    from gis.pipeline import suggest_plan

    options = SuggestOptions(plan=plan_path, tolerance=tolerance, limit=limit, minimal=minimal)
    report = suggest_plan(folder, options)
    for note in report.warnings:
        say(f"warning: {note}")
    emit_json(report.summary)
