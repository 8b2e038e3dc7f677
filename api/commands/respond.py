"""`gridplan respond DIR`: the "1310" check, who is reached within 3 and 10 minutes.

Times are walked (or cycled) over the street network of the build folder from
worker bases to every building (:func:`gis.response.check_1310`).  The bases
are, as in the API, the folder's service points unless ``--bases`` names a
file.  Nothing is written to DIR; ``--out FILE.json`` writes the full result
and, next to it, ``FILE_outside.geojson`` with the buildings beyond the
largest threshold, both atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from api.commands._io import emit_json, say

if TYPE_CHECKING:  # only for annotations: the engine loads inside the command
    import geopandas as gpd
    import pandas as pd

#: The geometry types accepted as worker bases (polygons count at a point inside).
BASE_TYPES = ("Point", "MultiPoint", "Polygon", "MultiPolygon")


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


def outside_path(out: Path) -> Path:
    """Where the buildings outside go for ``--out out``: ``NAME_outside.geojson`` beside it."""
    return out.with_name(f"{out.stem}_outside.geojson")


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
    from gis._errors import GridplanError, OutputError
    from gis.outputs import read_layer, read_meta

    thresholds = parse_minutes(minutes)
    _check_build(folder)
    if out_path is not None:
        _check_out(out_path)
    meta = read_meta(folder)
    buildings = read_layer(folder, "buildings")
    streets = read_layer(folder, "streets")
    bases, bases_from = _bases(folder, bases_path)
    plan, plan_file = _plan(folder, plan_path)
    say(
        f"1310 check ({mode}, {', '.join(f'{m:g}' for m in thresholds)} min): "
        f"{len(buildings)} buildings, {len(bases)} bases from {bases_from}"
        + (f", districts from {plan_file}" if plan_file else "")
    )

    from gis.response import check_1310

    result = check_1310(
        buildings,
        streets,
        bases,
        mode=mode,
        minutes=thresholds,
        crs=meta.get("crs"),
        max_listed=max(len(buildings), 1),  # every building: the counts come from the lists
        plan=plan,
    )
    if result["bases_off_network"]:
        say(
            f"warning: {result['bases_off_network']} base(s) lie more than 250 m from a street "
            "and were left out"
        )
    summary = _summary(folder, result, thresholds, bases_from, plan_file)
    if plan is not None:
        summary["households_outside_plan"] = _households_outside_plan(buildings, plan)
    if out_path is not None:
        try:
            _write(out_path, summary, result, buildings, plan)
        except GridplanError:
            raise
        except (OSError, RuntimeError) as exc:  # the file system's, or GDAL's (pyogrio)
            raise OutputError(f"cannot write {out_path}: {exc}") from exc
        summary["out"] = str(out_path)
        summary["outside_file"] = str(outside_path(out_path))
        say(f"wrote {out_path} and {outside_path(out_path)}")
    emit_json(summary)


# --------------------------------------------------------------------------- checks


def _check_build(folder: Path) -> None:
    """Raise unless ``folder`` holds the layers the check needs."""
    from gis._errors import InputError
    from gis.outputs import LAYER_FILES

    hint = "give the folder written by `gridplan build SOURCE --out DIR`"
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: {hint}")
    if not (folder / LAYER_FILES["buildings"]).is_file():
        raise InputError(f"{folder} is not a build folder (no buildings.geojson): {hint}")
    if not (folder / LAYER_FILES["streets"]).is_file():
        raise InputError(
            f"{folder} has no streets.geojson, which the 1310 check walks: "
            f"rebuild it with `gridplan build SOURCE --out {folder}`"
        )


def _check_out(out: Path) -> None:
    """Raise unless ``out`` is a .json file in an existing folder."""
    from gis._errors import OutputError

    if out.suffix.lower() != ".json":
        raise OutputError(
            f"--out {out} must name a .json file (the buildings outside go beside it "
            "as NAME_outside.geojson), e.g. --out response.json"
        )
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder: name a file in it, e.g. {out}/response.json")
    if not out.parent.is_dir():
        raise OutputError(f"the folder of --out {out} does not exist: create it first")


# --------------------------------------------------------------------------- inputs


def _bases(folder: Path, path: Path | None) -> tuple[gpd.GeoDataFrame, str]:
    """The worker bases and where they came from (for messages and the result)."""
    from gis._errors import EmptyLayerError, ServiceError, UnreadableFileError
    from gis.sources import read_vector

    advice = "give a GeoJSON or GeoPackage of the points workers start from"
    if path is not None:
        if not path.is_file():
            raise UnreadableFileError(f"the bases file {path} does not exist: {advice}")
        try:
            raw = read_vector(path, what="bases")
        except EmptyLayerError:
            raise ServiceError(f"the bases file {path} holds no features: {advice}") from None
        bases = _points(raw)
        if bases.empty:
            found = ", ".join(sorted(set(raw.geometry.dropna().geom_type))) or "only empty ones"
            raise ServiceError(
                f"the bases file {path} holds no points (geometries: {found}): {advice}"
            )
        return bases, str(path)
    services = folder / "services.geojson"
    if services.is_file():
        try:
            bases = _points(read_vector(services, what="service points"))
        except EmptyLayerError:
            bases = None
        if bases is not None and not bases.empty:
            return bases, str(services)
        say(f"warning: {services} holds no points; looking at the area's POIs")
    from gis.coverage import default_services
    from gis.outputs import read_layer

    pois = read_layer(folder, "pois", required=False)
    try:
        chosen, kinds = default_services(pois)
    except ServiceError:
        raise ServiceError(
            f"no worker bases: {folder} has no services.geojson and no community centres, "
            "clinics or government offices among its POIs: pass --bases FILE (points where "
            "workers start, e.g. district offices)"
        ) from None
    bases = _points(chosen)
    if bases.empty:
        raise ServiceError(
            f"no worker bases: the service POIs of {folder} have no usable geometry: "
            "pass --bases FILE"
        )
    return bases, "POIs (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features of ``gdf`` usable as bases: non-empty points and polygons, parts split."""
    geoms = gdf.geometry
    keep = geoms.notna() & ~geoms.is_empty & geoms.geom_type.isin(BASE_TYPES)
    return gdf[keep].explode(index_parts=False).reset_index(drop=True)


def _plan(folder: Path, path: Path | None) -> tuple[pd.DataFrame | None, str | None]:
    """The plan as a (grid, district) frame checked against the grids, and its file."""
    import pandas as pd

    from gis._errors import InputError, UnreadableFileError
    from gis.outputs import LAYER_FILES, read_layer
    from gis.plan import read_plan

    if path is None:
        path = folder / "plan.csv"
        if not path.is_file():
            return None, None
    elif not path.is_file():
        raise UnreadableFileError(
            f"the plan file {path} does not exist: give a CSV (grid, district) or leave out --plan"
        )
    if not (folder / LAYER_FILES["grids"]).is_file():
        raise InputError(
            f"the plan {path} is checked against the grids, but {folder} has no grids.geojson: "
            f"rebuild it with `gridplan build SOURCE --out {folder}`"
        )
    assignment, notes = read_plan(path, read_layer(folder, "grids"))
    for note in notes:
        say(f"warning: {note}")
    frame = pd.DataFrame(
        {"grid": assignment.index.astype(str), "district": assignment.astype(str).to_numpy()}
    )
    return frame, str(path)


# --------------------------------------------------------------------------- outputs


def _summary(
    folder: Path,
    result: dict[str, Any],
    minutes: tuple[float, ...],
    bases_from: str,
    plan_file: str | None,
) -> dict[str, Any]:
    """The figures printed on stdout (no per-building lists)."""
    summary: dict[str, Any] = {
        "folder": str(folder),
        "mode": result["mode"],
        "speed_m_s": result["speed_m_s"],
        "minutes": [int(m) if float(m).is_integer() else m for m in minutes],
        "bases": result["bases"],
        "bases_off_network": result["bases_off_network"],
        "bases_from": bases_from,
        "households": result["households"],
        "share_households": result["share_households"],
        "worst_case_s": result["worst_case_s"],
        "outside_buildings": result["outside_count"],
        "outside_households": round(sum(o["households"] for o in result["outside"]), 1),
        "unreachable_buildings": result["unreachable_buildings"],
        "buildings_without_grid": len(result["without_grid"]),
        "plan": plan_file,
    }
    if "per_district" in result:
        summary["per_district"] = result["per_district"]
    return summary


def _households_outside_plan(buildings: gpd.GeoDataFrame, plan: pd.DataFrame) -> float:
    """Households in buildings whose grid the plan does not name (or without a grid).

    Counted as :func:`gis.response.check_1310` counts them (every building
    one household when the layer has none), so that they and the districts'
    households add up to the total.
    """
    import numpy as np
    import pandas as pd

    n = len(buildings)
    hh = np.ones(n)
    if "households" in buildings.columns:
        hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
        if hh.sum() <= 0:
            hh = np.ones(n)
    grids = buildings["grid"].astype("string").fillna("") if "grid" in buildings else None
    named = np.zeros(n, bool) if grids is None else grids.isin(set(plan["grid"])).to_numpy(bool)
    return round(float(hh[~named & (hh > 0)].sum()), 1)


def _write(
    out: Path,
    summary: dict[str, Any],
    result: dict[str, Any],
    buildings: gpd.GeoDataFrame,
    plan: pd.DataFrame | None,
) -> None:
    """Write the full result (JSON) and the outside buildings (GeoJSON points), atomically."""
    import geopandas as gpd
    import pandas as pd

    from gis.outputs import atomic_path, write_geojson, write_json

    district = {}
    if plan is not None:
        district = dict(zip(plan["grid"], plan["district"], strict=True))
    ids = buildings["id"].astype(str) if "id" in buildings.columns else buildings.index.astype(str)
    where = dict(zip(ids, buildings.geometry, strict=True))
    rows = []
    for item in result["outside"]:
        geom = where.get(item["id"])
        rows.append(
            {
                **item,
                "district": district.get(item["grid"]) if item["grid"] else None,
                "reachable": item["response_s"] is not None,
                "geometry": None if geom is None or geom.is_empty else geom.representative_point(),
            }
        )
    columns = ["id", "grid", "community", "district", "households", "response_s", "reachable"]
    outside = gpd.GeoDataFrame(
        pd.DataFrame([{c: row[c] for c in columns} for row in rows], columns=columns),
        geometry=gpd.GeoSeries([row["geometry"] for row in rows], crs=buildings.crs),
    )
    full = {
        **summary,
        "outside_file": outside_path(out).name,
        "worst_case_s_per_grid": result["worst_case_s_per_grid"],
        "outside": [{k: v for k, v in row.items() if k != "geometry"} for row in rows],
        "without_grid": result["without_grid"],
        "response_s": result["response_s"],
    }
    # The JSON is staged first and renamed into place last: a failure anywhere
    # leaves both files as they were, never a new one beside an old one.
    with atomic_path(out) as staged:
        write_json(staged, full)
        write_geojson(outside, outside_path(out))
