"""`gridplan run [SOURCE]`: the main job, from area files to a served web map.

The flow is :func:`gis.pipeline.run_all`, then `gridplan serve`.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.commands._io import emit_json, say

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AREA = ROOT / "data" / "boundaries" / "nanjing_xinjiekou"


@click.command(name="run")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="The build folder DIR to write [runs/<area name>].",
)
@click.option(
    "--k",
    type=click.IntRange(min=1),
    default=None,
    help="Number of districts [manifest's districts, else one per four grids].",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Stop after writing the files.")
@click.pass_context
def command(ctx: click.Context, source: Path | None, out_dir: Path | None, k: int | None,
            port: int, no_serve: bool) -> None:  # fmt: skip
    """Build grids, draw districts, compute coverage, then serve the API and web map.

    SOURCE defaults to the bundled Nanjing Xinjiekou area.  The address of the
    web map (with this run's planner token) is printed when the server is up.
    """
    from api.commands import serve
    from api.commands._progress import steps
    from gis.pipeline import run_all

    source = source or DEFAULT_AREA
    if not source.exists():
        from gis._errors import UnreadableFileError

        raise UnreadableFileError(
            f"{source} does not exist: give an area folder or an OSM file "
            "(the bundled areas are in data/boundaries/ of the gridplan repository)"
        )
    out_dir = out_dir or ROOT / "runs" / source.name.split(".")[0]
    with steps(10, desc="run") as advance:
        summary = run_all(source, out_dir, k=k, progress=advance)
    built, plan, coverage = summary["build"], summary["districts"], summary["coverage"]
    say(f"grids: {built['grids']} in {built['communities']} communities -> {out_dir}")
    say(f"districts: {plan.get('k', '?')}, max deviation {plan['max_deviation']:.1%}, "
        f"contiguous: {plan['contiguous']}")  # fmt: skip
    first = next(iter(coverage.get("profiles", {})), None)
    if first:
        say(f"coverage ({first}): {_within(coverage['profiles'][first])}")
    emit_json(summary)
    if not no_serve:
        # the page judges the plan by the tolerance it was drawn with (the manifest's)
        ctx.invoke(serve.command, folder=out_dir, port=port, tolerance=plan["tolerance"])


def _within(profile: dict) -> str:
    within = profile.get("area", {}).get("within", {})
    parts = [f"{m} min {v['population_share']:.0%}" for m, v in within.items()]
    return "residents within " + ", ".join(parts) if parts else "see coverage.json"
