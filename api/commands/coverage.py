"""`gridplan coverage DIR`: per-building walking time to service points.

Adds ``walk_s`` / ``walk2_s`` (seconds, null where unreachable) to
``DIR/buildings.geojson`` and the GeoPackage, and writes ``DIR/coverage.json``,
``DIR/isochrones.geojson``, ``DIR/gaps.geojson`` and ``DIR/sites.geojson``.
The flow is :func:`gis.pipeline.measure_coverage`; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.commands._io import emit_json, say


def _minutes(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected minutes like 5,10,15, got {value!r}") from None


@click.command(name="coverage")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--minutes", default="5,10,15", show_default=True, help="Thresholds in minutes.")
@click.option(
    "--services",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Service points (GeoJSON, GeoPackage, ...); default: suitable POIs of the area.",
)
@click.option(
    "--speed",
    default="adult",
    show_default=True,
    help="Speed profile for walk_s: adult (1.25 m/s), elderly (0.97 m/s), or m/s.",
)
@click.option(
    "--standard",
    is_flag=True,
    help="Use the GB 50180 living-circle distances (300/500/1000 m) instead of times.",
)
@click.option("--sites", "n_sites", default=10, show_default=True, help="New sites to suggest.")
@click.option(
    "--join-pieces",
    "join_pieces",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="METRES",
    help="Join pieces of the walk network whose dead ends lie within METRES of another "
    "piece (e.g. 30), by links that cross no barrier; each link is reported. Off by default.",
)
def command(
    folder: Path,
    minutes: str,
    services: Path | None,
    speed: str,
    standard: bool,
    n_sites: int,
    join_pieces: float | None,
) -> None:
    """Walking coverage of service points, per building, for the build folder DIR."""
    from api.commands._progress import steps
    from gis.options import CoverageOptions
    from gis.pipeline import COVERAGE_STEPS, measure_coverage

    options = CoverageOptions(
        minutes=_minutes(minutes),
        services=services,
        speed=speed,
        standard=standard,
        sites=n_sites,
        join_pieces=join_pieces,
    )
    with steps(len(COVERAGE_STEPS), desc="coverage") as advance:
        result = measure_coverage(folder, options, progress=advance)
    figures = result.figures
    kinds = figures["services"]["source"].get("pois")
    if kinds is not None:
        say(
            "service points: "
            + ", ".join(f"{n} {k}" for k, n in kinds.items())
            + " from the area's POIs (pass --services FILE to use others)"
        )
    for warning in result.warnings:
        say(f"warning: {warning}")
    first = next(iter(figures["profiles"]))
    emit_json(
        {
            "folder": str(folder),
            "services": figures["services"]["count"],
            "profile": first,
            "area": figures["profiles"][first]["area"],
            "sites": len(result.sites),
            "pieces_without_service": figures["network"]["pieces_without_service"],
            "links": figures["network"].get("joined", {}).get("links", []),
            "long_legs": figures["access"]["long_legs"],
            "warnings": result.warnings,
        }
    )
