"""`gridplan respond DIR`: the "1310" check, who is reached within 3 and 10 minutes.

Times are walked (or cycled) over the street network of the build folder from
worker bases to every building (:func:`gis.response.check_1310`).  The bases
are, as in the API, the folder's service points unless ``--bases`` names a
file.  Nothing is written to DIR; ``--out FILE.json`` writes the full result
and, next to it, ``FILE_outside.geojson`` with the buildings beyond the
largest threshold, both atomically.  The flow is :func:`gis.pipeline.respond`;
this module parses and prints.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from api.commands._io import emit_json, say


def parse_minutes(text: str) -> tuple[float, ...]:
    """``"3,10"`` → ``(3.0, 10.0)``: positive, finite, sorted, without repeats."""
    from gis._errors import InputError

    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        values = sorted({float(p) for p in parts})
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(
            f"--minutes {text!r} is not a list of positive numbers: give thresholds "
            "in minutes separated by commas, e.g. --minutes 3,10"
        )
    return tuple(values)


@click.command(name="respond")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--bases",
    "bases_path",
    metavar="FILE",
    type=click.Path(path_type=Path),
    default=None,
    help="Worker bases: a GeoJSON or GeoPackage of points (polygons count at a point "
    "inside) with a CRS.  [default: DIR/services.geojson, else the area's community "
    "centres, clinics and government offices among its POIs, as the API does]",
)
@click.option(
    "--mode",
    type=click.Choice(["walk", "bicycle"]),
    default="walk",
    show_default=True,
    help="How workers travel: walk (1.25 m/s) or bicycle (4.2 m/s, on the walk network, "
    "one-way streets not enforced, so a lower bound).",
)
@click.option(
    "--minutes",
    metavar="LIST",
    default="3,10",
    show_default=True,
    help="Thresholds in minutes, comma-separated; the largest decides which buildings "
    "count as outside.",
)
@click.option(
    "--plan",
    "plan_path",
    metavar="PLAN",
    type=click.Path(path_type=Path),
    default=None,
    help="Plan CSV (grid, district) or GeoJSON of district polygons, for the figures per "
    "district.  [default: DIR/plan.csv when it exists]",
)
@click.option(
    "--out",
    "out_path",
    metavar="FILE.json",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the full result to this .json file (every building's response time, "
    "every building outside, worst case per grid) and the buildings outside as points "
    "to NAME_outside.geojson beside it, each atomically.",
)
def command(
    folder: Path,
    bases_path: Path | None,
    mode: str,
    minutes: str,
    plan_path: Path | None,
    out_path: Path | None,
) -> None:
    """The "1310" check: share of households a worker reaches within 3 and 10 minutes.

    DIR is a build folder (written by `gridplan build`).  Response times are
    walked or cycled over its street network from the nearest worker base to
    every building; bases farther than 250 m from a street are left out.

    \b
    Prints JSON on stdout:
      share_households   share of households within each threshold
      worst_case_s       longest response time to a building with households
                         (null when some cannot be reached at all)
      outside_buildings  buildings with households beyond the largest
                         threshold (outside_households: their households)
      per_district       households, shares and worst case per district,
                         when a plan is given or DIR/plan.csv exists

    Errors (not a build folder, no bases, a bases file without points, bad
    --minutes, ...) exit with status 2 and one line saying what to do.

    \b
    Examples:
      gridplan respond runs/nj
      gridplan respond runs/nj --mode bicycle --minutes 3,5,10
      gridplan respond runs/nj --bases offices.geojson --out runs/nj/response.json
    """
    from gis.options import RespondOptions
    from gis.pipeline import respond

    options = RespondOptions(
        bases=bases_path,
        mode=mode,
        minutes=parse_minutes(minutes),
        plan=plan_path,
        out=out_path,
    )
    report = respond(folder, options, progress=say)
    for note in report.warnings:
        say(f"warning: {note}")
    if out_path is not None:
        say(f"wrote {report.summary['out']} and {report.summary['outside_file']}")
    emit_json(report.summary)
