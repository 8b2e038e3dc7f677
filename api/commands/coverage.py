"""`gridplan coverage DIR`: per-building walking time to service points.

Adds ``walk_s`` / ``walk2_s`` (seconds, null where unreachable) to
``DIR/buildings.geojson`` and the GeoPackage, and writes ``DIR/coverage.json``,
``DIR/isochrones.geojson``, ``DIR/gaps.geojson`` and ``DIR/sites.geojson``.
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
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
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
def command(
    folder: Path,
    minutes: str,
    services: Path | None,
    speed: str,
    standard: bool,
    n_sites: int,
) -> None:
    """Walking coverage of service points, per building, for the area in FOLDER."""
    import geopandas as gpd
    import pandas as pd

    from gis import outputs
    from gis._errors import UnreadableFileError
    from gis.coverage import compute_coverage, default_services
    from gis.pipeline import write_coverage

    buildings = outputs.read_layer(folder, "buildings")
    streets = outputs.read_layer(folder, "streets")
    pois = outputs.read_layer(folder, "pois", required=False)
    meta = outputs.read_meta(folder)
    if services is not None:
        try:
            svc = gpd.read_file(services, engine="pyogrio")
        except Exception as exc:  # pyogrio raises several unrelated types
            raise UnreadableFileError(f"cannot read {services}: {exc}") from exc
        if svc.crs is None:
            svc = svc.set_crs("EPSG:4326")
        source = {"file": str(services)}
    else:
        svc, kinds = default_services(pois)
        source = {"pois": kinds}
        say(
            "service points: "
            + ", ".join(f"{n} {k}" for k, n in kinds.items())
            + " from the area's POIs (pass --services FILE to use others)"
        )
    plan_path = folder / "plan.csv"
    plan = pd.read_csv(plan_path, dtype=str) if plan_path.exists() else None
    profiles = [speed] + [p for p in ("adult", "elderly") if p != speed]
    result = compute_coverage(
        buildings,
        streets,
        svc,
        minutes=_minutes(minutes),
        profiles=profiles,
        mode="standard" if standard else "time",
        plan=plan,
        crs=meta.get("crs"),
        pois=pois,
        n_sites=n_sites,
    )
    figures = write_coverage(folder, result, source=source)
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
            "warnings": result.warnings,
        }
    )
