"""Progress on stderr for a city build: steps, then sub-districts done."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_city_with_progress(
    source: Path,
    out_dir: Path,
    subdistricts: str,
    *,
    options: Any,
    workers: int | None,
    scheduler: str | None,
) -> Any:
    """Run :func:`gis.city.build_city` with a step bar and a bar of sub-districts done.

    Parameters
    ----------
    source, out_dir, subdistricts
        As for ``gridplan build SOURCE --subdistricts FILE --out DIR``.
    options
        A :class:`gis.pipeline.BuildOptions`.
    workers, scheduler
        Where to run (see :func:`gis.city.build_city`).

    Returns
    -------
    BuildResult
    """
    from api.commands._io import say
    from api.commands._progress import Counter
    from gis.city import build_city

    def step(name: str) -> None:
        say(f"build: {name}")

    done = Counter("sub-districts", "sub-district")
    try:
        return build_city(
            source,
            out_dir,
            subdistricts=subdistricts,
            options=options,
            workers=workers,
            scheduler=scheduler,
            progress=step,
            on_part=done,
        )
    finally:
        done.close()


def districts_per_subdistrict(folder: str, k: str, **options: Any) -> dict[str, Any]:
    """Districts inside each sub-district of a city folder; writes plan.csv and districts.geojson.

    Parameters
    ----------
    folder
        The city folder.
    k
        ``"25"`` or the path of a CSV with columns ``subdistrict`` and ``k``.
    **options
        Passed to :func:`gis.districting.draw_districts`.

    Returns
    -------
    dict
        The plan's summary.
    """
    import click

    from api.commands._io import say
    from gis.adjacency import load_adjacency
    from gis.cityplan import draw_per_subdistrict, read_k_table
    from gis.districting import plan_frame
    from gis.outputs import BuildFolder
    from gis.plan import to_metric

    wanted: int | dict[str, int]
    if k.strip().isdigit():
        wanted = int(k)
    elif Path(k).is_file():
        wanted = read_k_table(k)
    else:
        raise click.BadParameter(
            f"{k!r} is neither a whole number nor a CSV file of subdistrict,k", param_hint="--k"
        )
    city = BuildFolder(folder)
    grids = to_metric(city.layer("grids"), crs=city.crs)
    adjacency = load_adjacency(city, grids)  # adjacency.csv: on land, or over a bridge
    result = draw_per_subdistrict(grids, wanted, adjacency=adjacency, progress=say, **options)
    for note in result.warnings:
        say(f"warning: {note}")
    city.write_plan(plan_frame(result.assignment), result.districts)
    return result.summary
