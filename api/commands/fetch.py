"""`gridplan fetch PLACE --out SOURCE`: an area folder from OpenStreetMap (osmnx)."""

from __future__ import annotations

from pathlib import Path

import click

from api.commands._io import emit_json, say


@click.command(name="fetch")
@click.argument("place")
@click.option(
    "--out",
    "out_dir",
    required=True,
    metavar="SOURCE",
    type=click.Path(path_type=Path),
    help="The area folder SOURCE to write, for `gridplan build SOURCE` (replaced as a whole "
    "when the fetch succeeds).",
)
@click.option("--overpass-url", default=None, help="Overpass API endpoint [osmnx's].")
@click.option("--nominatim-url", default=None, help="Nominatim endpoint [osmnx's].")
@click.option(
    "--cache-folder",
    metavar="CACHE",
    type=click.Path(path_type=Path),
    default=None,
    help="Where osmnx caches server answers [osmnx's, ./cache].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for a server [osmnx's, 180].",
)
def command(
    place: str,
    out_dir: Path,
    overpass_url: str | None,
    nominatim_url: str | None,
    cache_folder: Path | None,
    timeout: float | None,
) -> None:
    """Download PLACE from OpenStreetMap and write an area folder that `gridplan build` reads.

    PLACE is a place name ("新街口街道, 南京", "Kallio, Helsinki"), geocoded by
    Nominatim, or a polygon file (GeoJSON, GeoPackage, Shapefile). Streets (the
    walk network), buildings, water, railways, points of interest and
    administrative boundaries come from the Overpass API through osmnx.

    This is the only gridplan command that uses the internet. SOURCE gets
    area.toml, study_area.geojson, extract.osm and SOURCE.txt (ODbL attribution,
    query date); then: gridplan build SOURCE --out DIR (add --subdistricts osm
    for a whole city).
    """
    from api.commands._progress import steps
    from gis.fetch import FEATURE_TAGS, FetchSettings, fetch_area

    settings = FetchSettings(
        overpass_url=overpass_url,
        nominatim_url=nominatim_url,
        cache_folder=cache_folder,
        timeout=timeout,
    )
    with steps(len(FEATURE_TAGS) + 3, desc="fetch") as advance:
        result = fetch_area(place, out_dir, settings=settings, progress=advance)
    say(
        f"fetched {result.name}: {result.counts['building_ways']} building ways, "
        f"{result.counts['ways']} ways -> {result.folder} (© OpenStreetMap contributors, ODbL)"
    )
    emit_json({"folder": str(result.folder), "name": result.name, "queried": result.queried,
               **result.counts})  # fmt: skip
