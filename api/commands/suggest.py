"""`gridplan suggest`: ranked rebalancing moves for a plan of DIR."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="suggest")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Plan CSV (grid, district) or GeoJSON of district polygons [default: DIR/plan.csv].",
)
@click.option(
    "--tolerance",
    type=float,
    default=0.02,
    show_default=True,
    help="Allowed deviation from the ideal, as a fraction (0.02 = ±2%).",
)
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
    from api.commands._io import emit_json, say
    from gis._errors import UnreadableFileError
    from gis.outputs import read_layer, read_meta
    from gis.plan import PlanState, read_plan, repair_contiguity, to_metric
    from gis.rebalance import minimal_rebalance, plan_state, suggest_moves

    out = Path(folder)
    grids = to_metric(read_layer(out, "grids"), crs=read_meta(out).get("crs"))
    path = Path(plan_path) if plan_path else out / "plan.csv"
    if not path.exists():
        raise UnreadableFileError(f"{path} does not exist: give --plan or run gridplan districts")
    assignment, notes = read_plan(path, grids)
    state = plan_state(grids, assignment)
    notes += repair_contiguity(state)
    for note in notes:
        say(f"warning: {note}")
    if minimal:
        new, moves = minimal_rebalance(None, None, state=state, tolerance=tolerance)
        after = PlanState.from_assignment(state.graph, new).evaluate(tolerance=tolerance)
        emit_json(
            {
                "moves": moves,
                "moved_grids": len({m["grid"] for m in moves}),
                "moved_population": sum(m["population"] or 0 for m in moves),
                "max_deviation": after["max_deviation"],
                "contiguous": after["contiguous"],
                "cut_edges": after["cut_edges"],
            }
        )
        return
    emit_json(suggest_moves(None, None, state=state, tolerance=tolerance, limit=limit))
