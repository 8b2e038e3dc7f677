"""`gridplan build SOURCE --out DIR`: grids, buildings and communities from an area.

The flow is :func:`gis.pipeline.build`; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.commands._io import emit_json, say
from api.commands._options import LayerFile, MetricCRS, state_option


@click.command(name="build")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    metavar="DIR",
    type=click.Path(path_type=Path),
    help="The build folder DIR to write (replaced as a whole when the build succeeds).",
)
@click.option(
    "--households-min",
    type=click.FloatRange(min=1),
    default=None,
    help="Fewest households a grid should hold [manifest, else 300].",
)
@click.option(
    "--households-max",
    type=click.FloatRange(min=1),
    default=None,
    help="Most households a grid should hold [manifest, else 500].",
)
@click.option(
    "--residents-max",
    type=click.FloatRange(min=1),
    default=None,
    help="Most residents a grid should hold [manifest, else 2500].",
)
@click.option(
    "--households",
    "household_table",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV of households keyed by building_id or address; replaces the estimate.",
)
@click.option(
    "--communities",
    type=LayerFile("communities"),
    default=None,
    help="Community boundaries (GeoJSON, GeoPackage, Shapefile) to nest grids in.",
)
@click.option(
    "--population-total",
    type=click.FloatRange(min=0),
    default=None,
    help="Known total population to calibrate the estimate to.",
)
@click.option(
    "--crs", type=MetricCRS(), default=None, help="Metric CRS to compute in, e.g. EPSG:32650."
)
@click.option(
    "--subdistricts",
    default=None,
    help="Build a whole city: sub-district polygons (file with code and name), or 'osm' "
    "(or osm:LEVEL) for the extract's administrative boundaries.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="With --subdistricts: build on a local dask cluster of N processes.",
)
@click.option(
    "--scheduler",
    default=None,
    help="With --subdistricts: use a running dask scheduler, e.g. tcp://10.0.0.5:8786.",
)
@state_option
def command(
    source: Path,
    out_dir: Path,
    households_min: float | None,
    households_max: float | None,
    residents_max: float | None,
    household_table: Path | None,
    communities: Path | None,
    population_total: float | None,
    crs: str | None,
    subdistricts: str | None,
    workers: int | None,
    scheduler: str | None,
    state_dir: Path | None,
) -> None:
    """Build unit grids for SOURCE into the build folder DIR (--out DIR).

    SOURCE is an area folder with an area.toml (see data/boundaries/), a bare
    OSM file (.osm, .osm.xml, .osm.pbf: the study area is then the extract's
    built-up extent) or a GeoPackage with 'buildings' and 'streets' layers.

    Writes DIR/grids.geojson, buildings.geojson, communities.geojson,
    streets.geojson, pois.geojson, boundary.geojson, area.gpkg and build.json,
    and prints the build summary as JSON.

    With --subdistricts, each sub-district is built as one area (its code in
    digits 7-9 of every grid code), on dask with --workers or --scheduler, and
    DIR holds the merged city plus subdistricts.geojson.
    """
    from api import state
    from api.commands._progress import steps
    from gis.pipeline import BuildOptions, build

    # plans and uploads an older gridplan kept inside DIR move out before DIR is replaced
    for note in state.prepare(out_dir, state_dir or state.default_state_dir(out_dir)):
        say(f"note: {note}")
    options = BuildOptions(
        households_min=households_min,
        households_max=households_max,
        residents_max=residents_max,
        households=household_table,
        communities=communities,
        population_total=population_total,
        crs=crs,
    )
    if subdistricts is None and (workers is not None or scheduler is not None):
        raise click.UsageError("--workers and --scheduler need --subdistricts")
    if subdistricts is not None:
        from api.commands._city import build_city_with_progress

        result = build_city_with_progress(
            source, out_dir, subdistricts, options=options, workers=workers, scheduler=scheduler
        )
    else:
        with steps(8, desc="build") as advance:
            result = build(source, out_dir, options=options, progress=advance)
    summary = result.summary
    for warning in summary.get("warnings", []):
        say(f"note: {warning}")
    table = summary.get("household_table") or {}
    if table.get("unmatched_rows"):
        keys = [k for k in table.get("unmatched", []) if k and k != "nan"][:5]
        say(
            f"note: {table['unmatched_rows']} of {table['rows']} rows of the household table "
            "match no building"
            + (f" (e.g. {', '.join(keys)})" if keys else "")
            + ": their households are not counted; check their building_id or address"
        )
    say(
        f"built {summary['grids']} grids in {summary['communities']} communities from "
        f"{summary['buildings']} buildings ({summary['households']:.0f} households, "
        f"{summary['population']:.0f} residents) in {summary['seconds']:.1f} s -> {out_dir}"
    )
    emit_json(summary)
