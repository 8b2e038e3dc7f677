"""The one flow the faces call: area files → grids → (plan → coverage) → files.

:func:`build` reads SOURCE, estimates population, outlines communities, cuts
grids and writes the build folder ``DIR`` atomically (a temporary folder,
renamed into place only when every file is written).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import outputs
from gis._errors import EmptyLayerError, InfeasibleError, OutputError
from gis.area import AreaInput, load_area
from gis.blocks import BLOCK_HIGHWAYS, MAJOR_HIGHWAYS, barrier_lines
from gis.communities import derive_communities, fit_communities
from gis.crs import metric_crs
from gis.grids import (
    Buildings,
    GridTargets,
    assign_points,
    make_grids,
    number_west_east_north_south,
)
from gis.population import PopulationParams, apply_household_table, estimate_population

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    """Options of :func:`build`; ``None`` means "from the area manifest, else the default".

    Attributes
    ----------
    households_min, households_max, residents_max
        Grid targets (default 300–500 households, 2,500 residents).
    households
        The office's household table (CSV), replacing the estimate where it matches.
    communities
        Community boundaries (GeoJSON, GeoPackage, Shapefile).
    population_total
        Known total population to calibrate the estimate to.
    crs
        Metric CRS to compute in.
    """

    households_min: float | None = None
    households_max: float | None = None
    residents_max: float | None = None
    households: str | os.PathLike[str] | None = None
    communities: str | os.PathLike[str] | None = None
    population_total: float | None = None
    crs: str | None = None


@dataclass
class BuildResult:
    """What :func:`build` made: the frames it wrote and its summary."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def build(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
) -> BuildResult:
    """Build grids for SOURCE and write the build folder ``out_dir``.

    Parameters
    ----------
    source
        An area folder, a bare OSM file or a GeoPackage (see :mod:`gis.area`).
    out_dir
        The folder to write; replaced as a whole only when the build succeeds.
    options
        Targets and optional office data.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    BuildResult
    """
    step = progress or (lambda _name: None)
    started = time.perf_counter()
    step("reading the area")
    area = load_area(source)
    if options.communities is not None:
        from gis.sources import read_vector

        area = _replace(
            area, communities=read_vector(options.communities, what="community boundaries")
        )
    result = make_area_grids(area, options=options, progress=step)
    step("writing files")
    write_build(result, area, out_dir)
    result.summary["seconds"] = round(time.perf_counter() - started, 3)
    return result


def make_area_grids(
    area: AreaInput, *, options: BuildOptions = BuildOptions(), progress: Progress | None = None
) -> BuildResult:
    """Grids, buildings and communities for an area already read (no file written).

    Parameters
    ----------
    area
        The inputs, from :func:`gis.area.load_area`.
    options
        Targets and optional office data.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    BuildResult
    """
    step = progress or (lambda _name: None)
    defaults = area.defaults
    targets = GridTargets(
        households_min=float(options.households_min or defaults.get("households_min", 300)),
        households_max=float(options.households_max or defaults.get("households_max", 500)),
        residents_max=float(options.residents_max or defaults.get("residents_max", 2500)),
    )
    if targets.households_min > targets.households_max:
        raise InfeasibleError(
            f"households_min ({targets.households_min:g}) is above households_max "
            f"({targets.households_max:g}): give a range such as 300-500"
        )
    warnings: list[str] = []
    boundary_wgs = gpd.GeoSeries([area.boundary], crs=outputs.WGS84)
    crs = metric_crs(boundary_wgs, preferred=options.crs or area.crs)
    boundary = boundary_wgs.to_crs(crs).iloc[0]

    step("checking buildings")
    buildings, repaired = _repair_buildings(area.layers.buildings.to_crs(crs), warnings)
    if buildings.empty:
        raise EmptyLayerError(
            f"the study area of {area.name} contains no buildings: check the boundary "
            "(study_area in area.toml) or the extract"
        )

    step("estimating population")
    params = PopulationParams.from_manifest(defaults) if defaults else PopulationParams()
    total = options.population_total or area.population_total
    buildings = estimate_population(buildings, params=params, total=total)
    households_report = None
    table = options.households if options.households is not None else area.households
    if table is not None:
        buildings, households_report = apply_household_table(buildings, table, params=params)
    arrays = Buildings(
        points=shapely.get_coordinates(buildings.geometry.representative_point().values),
        shapes=buildings.geometry.values,
        households=buildings["households"].to_numpy(dtype=float),
        population=buildings["population"].to_numpy(dtype=float),
    )

    step("outlining communities")
    streets = area.layers.streets.to_crs(crs)
    barriers = area.layers.barriers.to_crs(crs)
    community_polys, community_names, derived, notes = _communities(
        area, boundary, streets, barriers, arrays, crs
    )
    warnings.extend(notes)

    step("cutting grids")
    lines = barrier_lines(streets, barriers, BLOCK_HIGHWAYS)
    every = np.arange(len(buildings))
    per_community = assign_points(community_polys, arrays.points, every)
    community_order = number_west_east_north_south(
        shapely.get_coordinates(shapely.point_on_surface(community_polys)),
        row_height=float(np.sqrt(np.median([p.area for p in community_polys]))) / 2,
    )
    grid_rows: list[dict[str, Any]] = []
    grid_of_building = np.empty(len(buildings), dtype=object)
    community_rows: list[dict[str, Any]] = []
    prefix = area.admin_code + area.subdistrict_code
    for seq, c in enumerate(community_order.tolist(), start=1):
        ccode = f"{prefix}{seq:03d}"
        gridset = make_grids(community_polys[c], lines, arrays, per_community[c], targets)
        order = number_west_east_north_south(
            shapely.get_coordinates(shapely.point_on_surface(gridset.polygons)),
            row_height=float(np.sqrt(np.median([p.area for p in gridset.polygons]))) / 2,
        )
        if len(order) > 999:
            raise InfeasibleError(
                f"community {ccode} would hold {len(order)} grids, more than the 999 a code "
                "allows: give community boundaries or raise households_min"
            )
        for gseq, g in enumerate(order.tolist(), start=1):
            code = f"{ccode}{gseq:03d}"
            members = gridset.members[g]
            grid_of_building[members] = code
            grid_rows.append(
                {
                    "code": code,
                    "community": ccode,
                    "households": float(arrays.households[members].sum()),
                    "population": float(arrays.population[members].sum()),
                    "buildings": len(members),
                    "geometry": gridset.polygons[g],
                }
            )
        community_rows.append(
            {
                "code": ccode,
                "name": community_names[c] or _community_label(area, seq),
                "derived": derived,
                "households": float(arrays.households[per_community[c]].sum()),
                "population": float(arrays.population[per_community[c]].sum()),
                "grids": len(order),
                "geometry": community_polys[c],
            }
        )

    step("assembling layers")
    grids = gpd.GeoDataFrame(grid_rows, geometry="geometry", crs=crs)
    grids["area_m2"] = grids.geometry.area.round(2)
    communities = gpd.GeoDataFrame(community_rows, geometry="geometry", crs=crs)
    communities["area_m2"] = communities.geometry.area.round(2)
    buildings = buildings.assign(
        grid=grid_of_building,
        community=[code[:12] for code in grid_of_building],
        area_m2=buildings.geometry.area.round(2),
    )
    summary = _summary(
        area,
        crs,
        grids,
        communities,
        buildings,
        targets,
        repaired,
        derived,
        households_report,
        warnings,
    )
    return BuildResult(grids=grids, buildings=buildings, communities=communities, summary=summary)


def _communities(
    area: AreaInput,
    boundary: Any,
    streets: gpd.GeoDataFrame,
    barriers: gpd.GeoDataFrame,
    arrays: Buildings,
    crs: Any,
) -> tuple[list[Any], list[str | None], bool, list[str]]:
    if area.communities is not None:
        given = area.communities.to_crs(crs)
        polys, kept, notes = fit_communities(boundary, list(given.geometry.values))
        names = given["name"].tolist() if "name" in given.columns else [None] * len(given)
        return polys, [names[k] if k >= 0 else None for k in kept], False, notes
    major = barrier_lines(streets, barriers, MAJOR_HIGHWAYS)
    polys = derive_communities(boundary, major, arrays)
    note = (
        f"no community boundaries were given: {len(polys)} communities were derived from "
        "blocks enclosed by major roads, railways and rivers (give your own with --communities)"
    )
    return polys, [None] * len(polys), True, [note]


def _community_label(area: AreaInput, seq: int) -> str:
    return f"社区{seq:03d}" if area.language == "zh" else f"Community {seq:03d}"


def _repair_buildings(
    buildings: gpd.GeoDataFrame, warnings: list[str]
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Repair invalid footprints; drop those that cannot be repaired, naming them."""
    geoms = buildings.geometry.values
    invalid = ~shapely.is_valid(geoms)
    fixed = geoms.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    polygonal = shapely.get_type_id(fixed) != 7  # a collection may hold lines: keep polygons
    fixed = np.array(
        [_polygons_only(g) if not ok else g for g, ok in zip(fixed, polygonal, strict=True)],
        dtype=object,
    )
    empty = shapely.is_empty(fixed) | (shapely.area(fixed) <= 0)
    dropped = buildings.loc[empty, "id"].astype(str).tolist()
    if dropped:
        warnings.append(
            f"{len(dropped)} building(s) with unusable geometry dropped: "
            + ", ".join(dropped[:10])
            + (" …" if len(dropped) > 10 else "")
        )
    out = buildings.copy()
    out["geometry"] = fixed
    out = out[~empty].reset_index(drop=True)
    return out, {"repaired": int(invalid.sum() - empty[invalid].sum()), "dropped": dropped}


def _polygons_only(geom: Any) -> Any:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _summary(
    area: AreaInput,
    crs: Any,
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    targets: GridTargets,
    repaired: dict[str, Any],
    derived: bool,
    households_report: dict[str, Any] | None,
    warnings: list[str],
) -> dict[str, Any]:
    hh = grids["households"]
    with_homes = grids[hh > 0]
    bounds = gpd.GeoSeries([area.boundary], crs=outputs.WGS84).total_bounds
    return {
        "name": area.name,
        "source": area.source,
        "study_area": area.study_area_source,
        "crs": crs.to_string(),
        "admin_code": area.admin_code,
        "subdistrict_code": area.subdistrict_code,
        "language": area.language,
        "bbox": [round(float(v), 7) for v in bounds],
        "communities": len(communities),
        "communities_derived": derived,
        "grids": len(grids),
        "buildings": len(buildings),
        "households": round(float(hh.sum()), 1),
        "population": round(float(grids["population"].sum()), 1),
        "area_m2": round(float(grids["area_m2"].sum()), 1),
        "targets": {
            "households_min": targets.households_min,
            "households_max": targets.households_max,
            "residents_max": targets.residents_max,
        },
        "grids_in_range": int(
            ((hh >= targets.households_min) & (hh <= targets.households_max)).sum()
        ),
        "grids_over_max": int((hh > targets.households_max).sum()),
        "grids_under_min": int(((hh < targets.households_min) & (hh > 0)).sum()),
        "grids_without_households": int((hh == 0).sum()),
        "median_households": round(float(with_homes["households"].median()), 1)
        if len(with_homes)
        else 0.0,
        "geometry_repaired": repaired["repaired"],
        "geometry_dropped": len(repaired["dropped"]),
        "household_table": households_report,
        "warnings": warnings,
    }


def write_build(result: BuildResult, area: AreaInput, out_dir: str | os.PathLike[str]) -> None:
    """Write every layer of a build into ``out_dir`` atomically.

    The files go to a temporary sibling folder; only when all are written is
    it renamed to ``out_dir`` (an older ``out_dir`` is replaced).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder: choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        layers = _output_layers(result, area)
        for name, gdf in layers.items():
            outputs.write_geojson(gdf, staging / outputs.LAYER_FILES[name])
        outputs.write_gpkg_layers(
            {name: gdf.to_crs(outputs.WGS84) for name, gdf in layers.items()},
            staging / outputs.GPKG_NAME,
        )
        outputs.write_json(staging / outputs.META_NAME, result.summary)
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _output_layers(result: BuildResult, area: AreaInput) -> dict[str, gpd.GeoDataFrame]:
    keep = [
        "id",
        "grid",
        "community",
        "households",
        "population",
        "floors",
        "floors_source",
        "residential_share",
        "area_m2",
        "building",
        "name",
        "levels",
        "height",
        "addr_street",
        "addr_housenumber",
    ]
    if "population_source" in result.buildings.columns:
        keep.append("population_source")
    buildings = result.buildings[[c for c in keep if c in result.buildings.columns] + ["geometry"]]
    return {
        "grids": result.grids,
        "buildings": gpd.GeoDataFrame(buildings, geometry="geometry", crs=result.buildings.crs),
        "communities": result.communities,
        "streets": area.layers.streets,
        "pois": area.layers.pois,
        "boundary": gpd.GeoDataFrame(
            {"name": [area.name]}, geometry=[area.boundary], crs=outputs.WGS84
        ),
    }


def _replace_folder(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _replace(area: AreaInput, **changes: Any) -> AreaInput:
    from dataclasses import replace

    return replace(area, **changes)


def draw_plan(
    out_dir: str | os.PathLike[str],
    *,
    k: int,
    tolerance: float = 0.02,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Draw ``k`` districts over the grids of a build folder; write plan.csv and districts.geojson.

    Returns
    -------
    dict
        The districting summary.
    """
    from gis.districting import draw_districts
    from gis.plan import to_metric

    folder = Path(out_dir)
    grids = to_metric(outputs.read_layer(folder, "grids"), crs=outputs.read_meta(folder).get("crs"))
    k = min(k, len(grids))
    result = draw_districts(grids, k, tolerance=tolerance, seed=seed, progress=progress)
    write_plan(folder, result)
    return {**result.summary, "warnings": list(result.warnings)}


def write_plan(out_dir: str | os.PathLike[str], result: Any) -> None:
    """Write a districting result as ``plan.csv`` and ``districts.geojson`` (atomically)."""
    from gis.districting import plan_frame

    folder = Path(out_dir)
    outputs.frame_to_csv(plan_frame(result.assignment), folder / "plan.csv")
    outputs.write_geojson(result.districts, folder / "districts.geojson")


def measure_coverage(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Walking coverage from the area's own service POIs; writes the coverage files.

    Adds ``walk_s``/``walk2_s`` to buildings.geojson (and area.gpkg) and writes
    coverage.json, isochrones.geojson, gaps.geojson and sites.geojson.

    Returns
    -------
    dict
        The coverage figures (what coverage.json holds).
    """
    from gis.coverage import compute_coverage, default_services

    folder = Path(out_dir)
    buildings = outputs.read_layer(folder, "buildings")
    pois = outputs.read_layer(folder, "pois", required=False)
    services, kinds = default_services(pois)
    plan_path = folder / "plan.csv"
    plan = pd.read_csv(plan_path, dtype=str) if plan_path.exists() else None
    result = compute_coverage(
        buildings,
        outputs.read_layer(folder, "streets"),
        services,
        plan=plan,
        crs=outputs.read_meta(folder).get("crs"),
        pois=pois,
    )
    return write_coverage(folder, result, source={"pois": kinds})


def write_coverage(
    out_dir: str | os.PathLike[str], result: Any, *, source: dict[str, Any]
) -> dict[str, Any]:
    """Write a coverage result into a build folder (atomically, file by file).

    Adds ``walk_s``/``walk2_s`` to buildings.geojson (and area.gpkg when it
    exists) and writes coverage.json, isochrones.geojson, gaps.geojson and
    sites.geojson.

    Parameters
    ----------
    out_dir
        The build folder.
    result
        A :class:`gis.coverage.CoverageResult`.
    source
        Where the service points came from, recorded in coverage.json.

    Returns
    -------
    dict
        The figures written to coverage.json.
    """
    folder = Path(out_dir)
    figures = dict(result.figures)
    figures["services"] = {**figures["services"], "source": source}
    figures["warnings"] = list(result.warnings)
    outputs.write_geojson(result.buildings, folder / "buildings.geojson")
    outputs.write_json(folder / "coverage.json", figures)
    for name in ("isochrones", "gaps", "sites"):
        outputs.write_geojson(getattr(result, name), folder / f"{name}.geojson")
    gpkg = folder / outputs.GPKG_NAME
    if gpkg.exists():
        outputs.write_gpkg_layers(
            {name: getattr(result, name) for name in ("buildings", "isochrones", "gaps", "sites")},
            gpkg,
        )
    return figures


def run_all(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    k: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The main job: build grids, draw districts, compute coverage, into ``out_dir``.

    Parameters
    ----------
    source
        An area folder, OSM file or GeoPackage.
    out_dir
        The build folder.
    k
        Number of districts (default: the manifest's ``districts``, else one
        district per four grids).
    progress
        Called with the name of each step.

    Returns
    -------
    dict
        ``{"build": …, "districts": …, "coverage": …}`` summaries.
    """
    step = progress or (lambda _name: None)
    built = build(source, out_dir, progress=step)
    defaults = load_area_defaults(source)
    k = k or int(defaults.get("districts", max(2, round(len(built.grids) / 4))))
    step("drawing districts")
    plan = draw_plan(out_dir, k=k, tolerance=float(defaults.get("tolerance", 0.02)))
    step("computing coverage")
    figures = measure_coverage(out_dir)
    return {"build": built.summary, "districts": plan, "coverage": figures}


def load_area_defaults(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[defaults]`` table of an area folder's manifest ({} for bare files)."""
    import tomllib

    manifest = Path(source) / "area.toml"
    if not manifest.is_file():
        return {}
    return dict(tomllib.loads(manifest.read_text(encoding="utf-8")).get("defaults", {}))


__all__ = [
    "BuildOptions",
    "BuildResult",
    "build",
    "draw_plan",
    "make_area_grids",
    "measure_coverage",
    "run_all",
    "write_build",
    "write_coverage",
    "write_plan",
]
