"""The one flow the faces call: area files → grids → plan → coverage → files.

Every command and API job calls one function here, with one options object
(:mod:`gis.options`); each reads as one call per step:

- :func:`build` (``gridplan build``): read the area, cut grids
  (:func:`make_area_grids`), write the build folder as a whole;
- :func:`draw_plan` (``gridplan districts``): districts over the grids,
  staffing when asked, ``plan.csv`` and ``districts.geojson``;
- :func:`suggest_plan` (``gridplan suggest``): ranked moves or the
  minimal-change rebalance of a plan;
- :func:`measure_coverage` (``gridplan coverage``): walking coverage per
  building and its files;
- :func:`respond` (``gridplan respond``): the "1310" check;
- :func:`run_all` (``gridplan run``, ``gridplan serve`` on first start):
  build → districts → coverage, passing on in memory what the build made.

Files are named, read and written by :class:`gis.outputs.BuildFolder`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import outputs
from gis._errors import InfeasibleError, NoBuildingsError, UnreadableFileError
from gis._types import PathLike, Progress
from gis.adjacency import Adjacency, adjacency_frame, grid_adjacency, link_lines, load_adjacency
from gis.area import AreaInput, load_area
from gis.blocks import BLOCK_HIGHWAYS, MAJOR_HIGHWAYS, barrier_lines
from gis.communities import Communities, derive_communities, fit_communities
from gis.crossings import building_crossings
from gis.crs import metric_crs
from gis.grids import Buildings, CodedGrids, GridTargets, cut_and_code
from gis.options import (
    BuildOptions,
    CoverageOptions,
    PlanOptions,
    RespondOptions,
    SuggestOptions,
)
from gis.outputs import BuildFolder
from gis.population import (
    PopulationParams,
    apply_household_table,
    estimate_population,
    whole_numbers,
)

if TYPE_CHECKING:  # the flows load the engine of each step when they run
    from gis.coverage import CoverageResult
    from gis.districting import DistrictingResult
    from gis.plan import PlanState


@dataclass
class BuildResult:
    """What :func:`build` made: the frames, its summary, and the folder holding them.

    ``folder`` (set by :func:`build`) holds the layers as written, so the next
    steps go on without reading them back; ``defaults`` is the manifest's
    ``[defaults]`` table; ``adjacency`` the grid neighbour graph
    (``adjacency.csv``).
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    folder: BuildFolder | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    adjacency: Adjacency | None = None


@dataclass(frozen=True)
class Report:
    """What a flow that writes no layer of its own returns: its summary and its warnings."""

    summary: Any
    warnings: list[str] = field(default_factory=list)


def build(
    source: PathLike,
    out_dir: PathLike,
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
    options, progress
        As for :func:`make_area_grids`.

    Returns
    -------
    BuildResult
        With ``folder`` holding the layers as written, and the manifest's ``defaults``.
    """
    step = progress or _quiet
    started = time.perf_counter()
    # read the area, with the office's community boundaries when given
    step("reading the area")
    area = _with_communities(load_area(source), options.communities)
    # grids, buildings and communities
    result = make_area_grids(area, options=options, progress=step)
    # every layer, area.gpkg and build.json, replacing the folder as a whole
    step("writing files")
    folder = BuildFolder(out_dir)
    folder.write_build(build_layers(result, area), result.summary, build_tables(result))
    result.summary["seconds"] = round(time.perf_counter() - started, 3)
    return replace(result, folder=folder, defaults=dict(area.defaults))


def _quiet(_step: str) -> None:
    """A progress callback that says nothing."""


def _with_communities(area: AreaInput, path: PathLike | None) -> AreaInput:
    """``area`` with its communities replaced by those of the file ``path``, if given."""
    if path is None:
        return area
    from gis.sources import read_vector

    return replace(area, communities=read_vector(path, what="community boundaries"))


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
    targets = _targets(area, options)
    metric = _metric(area, options)
    warnings: list[str] = list(area.notes)

    step("checking buildings")
    buildings, repaired = _repair_buildings(area, metric.buildings, warnings)

    step("estimating population")
    inside = shapely.point_on_surface(buildings.geometry.to_numpy())  # once for every step
    buildings, households_report = _population(area, metric, (buildings, inside), options)
    arrays = _arrays(buildings, inside)

    step("outlining communities")
    communities = _communities(area, metric, arrays)
    warnings.extend(communities.notes)

    step("cutting grids")
    lines = barrier_lines(metric.streets, metric.barriers, BLOCK_HIGHWAYS)
    coded = cut_and_code(communities.polygons, lines, arrays, targets, prefix=_prefix(area))

    step("counting households")
    grids, buildings, community_frame = _layers(area, coded, communities, buildings, metric.crs)

    step("linking neighbours")
    links = link_lines(metric.streets, metric.barriers)
    adjacency = grid_adjacency(grids, links=links, water=metric.water)

    step("checking boundaries")
    crossings = _crossings(grids, buildings, lines, communities, area, metric)

    summary = _summary(
        area,
        metric.crs,
        (grids, community_frame, buildings),
        targets,
        (repaired, households_report, crossings),
        adjacency,
        warnings,
    )
    return BuildResult(
        grids=grids,
        buildings=buildings,
        communities=community_frame,
        summary=summary,
        adjacency=adjacency,
    )


def _prefix(area: AreaInput) -> str:
    """The first nine digits of every grid code: the admin and sub-district codes."""
    return area.admin_code + area.subdistrict_code


@dataclass(frozen=True)
class _Metric:
    """The layers of an area in the metric CRS of the build."""

    crs: Any
    boundary: Any
    water: Any
    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame


def _metric(area: AreaInput, options: BuildOptions) -> _Metric:
    shapes = gpd.GeoSeries([area.boundary, area.water], crs=outputs.WGS84)
    crs = metric_crs(shapes.iloc[:1], preferred=options.crs or area.crs)
    boundary, water = shapes.to_crs(crs)
    layers = area.layers
    return _Metric(
        crs=crs,
        boundary=boundary,
        water=water,
        buildings=layers.buildings.to_crs(crs),
        streets=layers.streets.to_crs(crs),
        barriers=layers.barriers.to_crs(crs),
        landuse=layers.landuse.to_crs(crs),
        pois=layers.pois.to_crs(crs),
    )


def _targets(area: AreaInput, options: BuildOptions) -> GridTargets:
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
    return targets


def _population(
    area: AreaInput,
    metric: _Metric,
    buildings: tuple[gpd.GeoDataFrame, np.ndarray],
    options: BuildOptions,
) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None]:
    """Estimated households and residents, replaced by the office's table where it has rows.

    ``buildings`` are the footprints and their inside points.
    """
    params = PopulationParams.from_manifest(area.defaults) if area.defaults else PopulationParams()
    total = options.population_total or area.population_total
    frame, inside = buildings
    estimated = estimate_population(
        frame, params=params, total=total, landuse=metric.landuse, pois=metric.pois, points=inside
    )
    table = options.households if options.households is not None else area.households
    if table is None:
        return estimated, None
    return apply_household_table(
        estimated, table, params=params, require_match=not area.households_city_wide
    )


def _arrays(buildings: gpd.GeoDataFrame, inside: np.ndarray) -> Buildings:
    """The buildings as arrays; ``inside`` are their inside Points, kept for every step."""
    return Buildings(
        points=shapely.get_coordinates(inside),
        shapes=buildings.geometry.values,
        households=buildings["households"].to_numpy(dtype=float),
        population=buildings["population"].to_numpy(dtype=float),
        point_geoms=inside,
    )


def _communities(area: AreaInput, metric: _Metric, arrays: Buildings) -> Communities:
    """The office's communities fitted to the study area (derived where they do not reach)."""
    major = barrier_lines(metric.streets, metric.barriers, MAJOR_HIGHWAYS)
    if area.communities is None:
        polys = derive_communities(metric.boundary, major, arrays)
        note = (
            f"no community boundaries were given: {len(polys)} communities were derived from "
            "blocks enclosed by major roads, railways and rivers (give your own with --communities)"
        )
        return Communities(polys, [None] * len(polys), [True] * len(polys), [note])
    given = area.communities.to_crs(metric.crs)
    names: list[str | None] = [None] * len(given)
    if "name" in given.columns:
        names = [None if pd.isna(n) else str(n) for n in given["name"]]
    return fit_communities(
        metric.boundary, list(given.geometry.values), names, major_lines=major, buildings=arrays
    )


def _layers(
    area: AreaInput,
    coded: CodedGrids,
    communities: Communities,
    buildings: gpd.GeoDataFrame,
    crs: Any,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Grid, building and community frames, households and residents in whole numbers.

    Households and residents are rounded by the largest-remainder method
    community by community, grid by grid (:func:`gis.population.whole_numbers`),
    so buildings sum exactly to their grid and grids to their community.
    """
    grid_of = np.empty(len(buildings), dtype=object)
    for code, members in zip(coded.codes, coded.members, strict=True):
        grid_of[members] = code
    community_of = np.array([code[:12] for code in grid_of], dtype=object)
    buildings = buildings.assign(
        grid=grid_of,
        community=community_of,
        area_m2=buildings.geometry.area.round(2),
        households=whole_numbers(buildings["households"], community_of, grid_of),
        population=whole_numbers(buildings["population"], community_of, grid_of),
    )
    per_grid = buildings.groupby("grid")[["households", "population"]].sum()
    count = buildings.groupby("grid").size()
    grids = gpd.GeoDataFrame(
        {
            "code": coded.codes,
            "community": [c[:12] for c in coded.codes],
            "households": per_grid["households"].reindex(coded.codes, fill_value=0).to_numpy(),
            "population": per_grid["population"].reindex(coded.codes, fill_value=0).to_numpy(),
            "buildings": count.reindex(coded.codes, fill_value=0).to_numpy(),
        },
        geometry=coded.polygons,
        crs=crs,
    )
    grids["area_m2"] = grids.geometry.area.round(2)
    per_community = grids.groupby("community")
    codes = coded.community_codes
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [
                name or _community_label(area, int(code[-3:]))
                for name, code in zip(communities.names, codes, strict=True)
            ],
            "derived": communities.derived,
            "households": per_community["households"].sum().reindex(codes, fill_value=0).values,
            "population": per_community["population"].sum().reindex(codes, fill_value=0).values,
            "grids": per_community.size().reindex(codes, fill_value=0).values,
        },
        geometry=communities.polygons,
        crs=crs,
    )
    frame["area_m2"] = frame.geometry.area.round(2)
    order = np.argsort(codes, kind="stable")
    return grids, buildings, frame.iloc[order].reset_index(drop=True)


def _crossings(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    lines: np.ndarray,
    communities: Communities,
    area: AreaInput,
    metric: _Metric,
) -> dict[str, Any]:
    """Buildings that grid boundaries cross (expected none) and those OSM draws across lines."""
    grid_of = pd.Index(grids["code"]).get_indexer(buildings["grid"])  # every code is a grid's
    given = [p for p, d in zip(communities.polygons, communities.derived, strict=True) if not d]
    return building_crossings(
        buildings.geometry.to_numpy(),
        grid_of.astype(np.int64),
        grids.geometry.to_numpy(),
        lines=lines,
        edges=[metric.boundary, *given],
        ids=buildings["id"].astype(str).to_numpy(),
    )


def _community_label(area: AreaInput, seq: int) -> str:
    return f"社区{seq:03d}" if area.language == "zh" else f"Community {seq:03d}"


def _repair_buildings(
    area: AreaInput, buildings: gpd.GeoDataFrame, warnings: list[str]
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Repair invalid footprints; drop those that cannot be repaired, naming them.

    Raises :class:`NoBuildingsError` when no usable building is left.
    """
    geoms = buildings.geometry.values
    invalid = ~shapely.is_valid(geoms)
    fixed = geoms.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    mixed = np.flatnonzero(shapely.get_type_id(fixed) == 7)  # a collection may hold lines
    fixed = np.asarray(fixed, dtype=object)
    fixed[mixed] = [_polygons_only(g) for g in fixed[mixed]]
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
    out = _drop_duplicate_footprints(out, warnings)
    if out.empty:
        raise NoBuildingsError(
            f"the study area of {area.name} contains no buildings: check the boundary "
            "(study_area in area.toml) or the extract"
        )
    return out, {"repaired": int(invalid.sum() - empty[invalid].sum()), "dropped": dropped}


def _drop_duplicate_footprints(
    buildings: gpd.GeoDataFrame, warnings: list[str]
) -> gpd.GeoDataFrame:
    """Keep one of each footprint OSM maps twice (same outline), so households count once.

    Only footprints whose bounds and vertex count another shares can be the same
    outline (normalizing reorders vertices, it moves none): those alone are compared.
    """
    geoms = buildings.geometry.values
    shape = np.column_stack([shapely.bounds(geoms), shapely.get_num_coordinates(geoms)])
    maybe = pd.DataFrame(shape).duplicated(keep=False).to_numpy()
    keys = pd.Series(np.full(len(geoms), None, dtype=object))
    keys[maybe] = shapely.to_wkb(shapely.normalize(geoms[maybe]))
    twice = keys.duplicated().to_numpy() & maybe
    if not twice.any():
        return buildings
    first = dict(zip(keys[~twice], buildings.loc[~twice, "id"].astype(str), strict=True))
    pairs = [
        f"{b} (= {first[k]})" for b, k in zip(buildings.loc[twice, "id"], keys[twice], strict=True)
    ]
    warnings.append(
        f"{len(pairs)} building(s) mapped twice with the same outline counted once: "
        + ", ".join(pairs[:10])
        + (" …" if len(pairs) > 10 else "")
        + " (delete the copies in OpenStreetMap)"
    )
    return buildings[~twice].reset_index(drop=True)


def _polygons_only(geom: Any) -> Any:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _summary(
    area: AreaInput,
    crs: Any,
    frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame],
    targets: GridTargets,
    reports: tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]],
    adjacency: Adjacency,
    warnings: list[str],
) -> dict[str, Any]:
    """The figures of ``build.json``: ``frames`` are the grids, communities and buildings,
    ``reports`` the geometry repairs, the household table's matches and the crossings."""
    grids, communities, buildings = frames
    repaired, households_report, crossings = reports
    hh = grids["households"]
    with_homes = grids[hh > 0]
    bounds = gpd.GeoSeries([area.boundary], crs=outputs.WGS84).total_bounds
    derived = communities.loc[communities["derived"], "code"].tolist()
    nearest = [k for k in adjacency.links if k.kind == "nearest"]
    if nearest:
        warnings.append(
            f"{len(nearest)} grid(s) on an island or enclave that no bridge, tunnel or ferry of "
            "the extract reaches were joined to the nearest grid across the gap: "
            + ", ".join(f"{k.grid_a}–{k.grid_b} ({k.gap_m:.0f} m)" for k in nearest[:5])
        )
    return {
        "name": area.name,
        "source": area.source,
        "study_area": area.study_area_source,
        "crs": crs.to_string(),
        "admin_code": area.admin_code,
        "subdistrict_code": area.subdistrict_code,
        "language": area.language,
        "bbox": [round(float(v), 7) for v in bounds],
        "water_m2": area.water_m2,
        "communities": len(communities),
        "communities_derived": bool(derived),
        "derived_communities": derived,
        "grids": len(grids),
        "buildings": len(buildings),
        "demand_points": int(buildings["demand"].sum()),
        "households": int(hh.sum()),
        "population": int(grids["population"].sum()),
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
        "crossings": crossings,
        "links": {
            kind: sum(k.kind == kind for k in adjacency.links)
            for kind in ("bridge", "tunnel", "ferry", "nearest")
        },
        "geometry_repaired": repaired["repaired"],
        "geometry_dropped": len(repaired["dropped"]),
        "household_table": households_report,
        "warnings": warnings,
    }


def build_layers(result: BuildResult, area: AreaInput) -> dict[str, gpd.GeoDataFrame]:
    """The layers a build writes, by name (buildings keep the columns planners use)."""
    columns = [c for c in outputs.BUILDING_COLUMNS if c in result.buildings.columns]
    buildings = result.buildings[[*columns, "geometry"]]
    return {
        "grids": result.grids,
        "buildings": gpd.GeoDataFrame(buildings, geometry="geometry", crs=result.buildings.crs),
        "communities": result.communities,
        "streets": area.layers.streets,
        "pois": area.layers.pois,
        "boundary": gpd.GeoDataFrame(
            {"name": [area.name]}, geometry=[area.boundary], crs=outputs.WGS84
        ),
        # what walkers cannot cross and where they go in (gis.access)
        "barriers": _walk_barrier_layer(area),
        "entrances": area.layers.entrances,
    }


def build_tables(result: BuildResult) -> dict[str, pd.DataFrame]:
    """The tables a build writes, by name: the grid adjacency (``adjacency.csv``)."""
    if result.adjacency is None:
        return {}
    return {"adjacency": adjacency_frame(result.adjacency)}


def _walk_barrier_layer(area: AreaInput) -> gpd.GeoDataFrame:
    """Railways, water, walls and fences: the lines access legs may not cross."""
    parts = [f for f in (area.layers.barriers, area.layers.fences) if not f.empty]
    if not parts:
        return gpd.GeoDataFrame({"id": [], "kind": []}, geometry=[], crs=outputs.WGS84)
    merged = pd.concat([f.to_crs(outputs.WGS84) for f in parts], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=outputs.WGS84)


def draw_plan(
    out_dir: PathLike | BuildFolder, options: PlanOptions, *, progress: Progress | None = None
) -> DistrictingResult:
    """Draw districts over the grids of a build folder; write plan.csv and districts.geojson.

    Parameters
    ----------
    out_dir
        The build folder (or one already holding its layers in memory).
    options
        k, tolerances, the plan to start from, staffing.
    progress
        Called with a short message at each stage of the search.

    Returns
    -------
    DistrictingResult
        Its warnings start with what was repaired in the plan started from.
    """
    from gis.districting import draw_districts, plan_frame
    from gis.plan import to_metric

    folder = _folder(out_dir)
    # the grids in the build's metric CRS
    grids = to_metric(folder.layer("grids"), crs=folder.crs)
    # the plan to start from, checked against the grids
    start, notes = _start_plan(options.from_plan, grids)
    # contiguous, balanced, compact districts
    result = draw_districts(
        grids,
        options.k,
        tolerance=options.tolerance,
        nest=options.nest,
        from_plan=start,
        keep=options.keep,
        balance=options.balance or {"population": options.tolerance},
        seed=options.seed,
        progress=progress,
        time_limit=options.time_limit,
        adjacency=load_adjacency(folder, grids),  # on land, or over a bridge
    )
    # workers and an office per district, when asked
    if options.staffing is not None:
        from gis.staffing import staff_districts

        result = staff_districts(
            result,
            grids,
            options.staffing,
            pois=folder.read("pois", required=False),
            buildings=folder.read("buildings", required=False),
        )
    # plan.csv and districts.geojson, both new or both old
    folder.write_plan(plan_frame(result.assignment), result.districts)
    return replace(result, warnings=[*notes, *result.warnings])


def _start_plan(path: PathLike | None, grids: gpd.GeoDataFrame) -> tuple[Any, list[str]]:
    """The plan ``path`` checked against ``grids`` (``None`` without one), and its repairs."""
    if path is None:
        return None, []
    from gis.plan import read_plan

    return read_plan(path, grids, drop_unknown=True)  # a plan drawn before a rebuild


def suggest_plan(
    out_dir: PathLike | BuildFolder, options: SuggestOptions = SuggestOptions()
) -> Report:
    """Ranked rebalancing moves of a plan, or the moves of its minimal-change rebalance.

    Returns
    -------
    Report
        The list of moves (or, with ``minimal``, the moves and the plan
        figures after them), and what was repaired in the plan.
    """
    from gis.plan import read_plan, repair_contiguity, to_metric
    from gis.rebalance import plan_state, suggest_moves

    folder = _folder(out_dir)
    # the grids and the plan, checked and made contiguous
    grids = to_metric(folder.layer("grids"), crs=folder.crs)
    path = options.plan if options.plan is not None else folder.file("plan")
    if not Path(path).exists():
        raise UnreadableFileError(f"{path} does not exist: give --plan or run gridplan districts")
    assignment, notes = read_plan(path, grids)
    state = plan_state(grids, assignment, adjacency=load_adjacency(folder, grids))
    notes += repair_contiguity(state)
    # the minimal-change rebalance, or ranked moves
    if options.minimal:
        return Report(_minimal_rebalance(state, options.tolerance), notes)
    moves = suggest_moves(None, None, state=state, tolerance=options.tolerance, limit=options.limit)
    return Report(moves, notes)


def _minimal_rebalance(state: PlanState, tolerance: float) -> dict[str, Any]:
    """The moves of the minimal-change rebalance and the plan's figures after them."""
    from gis.plan import PlanState
    from gis.rebalance import minimal_rebalance, no_move_reason

    new, moves = minimal_rebalance(None, None, state=state, tolerance=tolerance)
    after = PlanState.from_assignment(state.graph, new).evaluate(tolerance=tolerance)
    return {
        "moves": moves,
        "moved_grids": len({m["grid"] for m in moves}),
        "moved_population": sum(m["population"] or 0 for m in moves),
        "max_deviation": after["max_deviation"],
        "contiguous": after["contiguous"],
        "cut_edges": after["cut_edges"],
        "reason": None if moves else no_move_reason(state, tolerance),
    }


#: The steps of :func:`measure_coverage`, as its progress callback names them.
COVERAGE_STEPS = ("service points", "walking times per building", "writing coverage files")


def measure_coverage(
    out_dir: PathLike | BuildFolder,
    options: CoverageOptions = CoverageOptions(),
    *,
    progress: Progress | None = None,
) -> CoverageResult:
    """Walking coverage per building; writes the coverage files into the build folder.

    Adds ``walk_s``/``walk2_s`` to buildings.geojson (and area.gpkg) and writes
    coverage.json, isochrones.geojson, gaps.geojson and sites.geojson;
    ``progress`` is called with the name of each of its :data:`COVERAGE_STEPS`.

    Returns
    -------
    CoverageResult
        Its ``figures`` are what coverage.json holds (with the services' source).
    """
    from gis.coverage import compute_coverage
    from gis.services import coverage_services

    step = progress or (lambda _name: None)
    folder = _folder(out_dir)
    folder.require("buildings", "streets", what="coverage")
    # the service points: the file given, else the area's own service POIs
    step(COVERAGE_STEPS[0])
    pois = folder.read("pois", required=False)
    services, source = coverage_services(options.services, pois)
    # walking times per building and the figures per grid, district, community
    step(COVERAGE_STEPS[1])
    result = compute_coverage(
        folder.layer("buildings"),
        folder.layer("streets"),
        services,
        minutes=options.minutes,
        profiles=[options.speed] + [p for p in ("adult", "elderly") if p != options.speed],
        mode="standard" if options.standard else "time",
        plan=folder.plan_table(),
        crs=folder.crs,
        pois=pois,
        n_sites=options.sites,
        barriers=folder.read("barriers", required=False),
        entrances=folder.read("entrances", required=False),
        join_pieces_m=options.join_pieces,
    )
    # the coverage files, figures last
    step(COVERAGE_STEPS[2])
    figures = {
        **result.figures,
        "services": {**result.figures["services"], "source": source},
        "warnings": list(result.warnings),
    }
    folder.write_coverage(
        {name: getattr(result, name) for name in outputs.COVERAGE_LAYERS}, figures
    )
    return replace(result, figures=figures)


def respond(
    out_dir: PathLike | BuildFolder,
    options: RespondOptions = RespondOptions(),
    *,
    progress: Progress | None = None,
) -> Report:
    """The "1310" check: who a worker reaches within 3 and 10 minutes, per building.

    Nothing is written to the build folder; with ``options.out`` the full
    result and the buildings outside go to that file and one beside it.

    Returns
    -------
    Report
        The planner's summary, and what was passed over or repaired.
    """
    from gis.response import check_1310
    from gis.response_figures import (
        check_json_target,
        households_outside_plan,
        outside_path,
        response_summary,
        write_response,
    )
    from gis.services import worker_bases

    step = progress or _quiet
    folder = _folder(out_dir)
    # refuse a folder without buildings and streets, or a bad --out, before any work
    folder.require("buildings", "streets", what="the 1310 check")
    if options.out is not None:
        check_json_target(options.out)
    # the worker bases, the buildings and the plan
    bases, bases_from, notes = worker_bases(folder, options.bases)
    buildings = folder.layer("buildings")
    plan, plan_file, plan_notes = _response_plan(folder, options.plan)
    step(
        f"1310 check ({options.mode}, {', '.join(f'{m:g}' for m in options.minutes)} min): "
        f"{len(buildings)} buildings, {len(bases)} bases from {bases_from}"
        + (f", districts from {plan_file}" if plan_file else "")
    )
    # times from the nearest base to every building
    result = check_1310(
        buildings,
        folder.layer("streets"),
        bases,
        mode=options.mode,
        minutes=options.minutes,
        crs=folder.crs,
        max_listed=max(len(buildings), 1),  # every building: the counts come from the lists
        plan=plan,
        barriers=folder.read("barriers", required=False),
        entrances=folder.read("entrances", required=False),
    )
    # the planner's summary, and the full result when asked
    summary = response_summary(
        result,
        folder=folder.path,
        minutes=options.minutes,
        bases_from=bases_from,
        plan_file=plan_file,
    )
    if plan is not None:
        summary["households_outside_plan"] = households_outside_plan(buildings, plan)
    if options.out is not None:
        write_response(options.out, summary, result, buildings, plan)
        summary["out"] = str(options.out)
        summary["outside_file"] = str(outside_path(options.out))
    off = result["bases_off_network"]
    if off:
        notes.append(f"{off} base(s) lie more than 250 m from a street and were left out")
    return Report(summary, [*notes, *plan_notes])


def _response_plan(folder: BuildFolder, path: PathLike | None) -> tuple[Any, str | None, list[str]]:
    """The plan as a (grid, district) frame checked against the grids, its file, its repairs."""
    import pandas as pd

    from gis._errors import InputError
    from gis.plan import read_plan

    if path is None:
        if not folder.has("plan"):
            return None, None, []
        path = folder.file("plan")
    elif not Path(path).is_file():
        raise UnreadableFileError(
            f"the plan file {path} does not exist: give a CSV (grid, district) or leave out --plan"
        )
    if not folder.has("grids"):
        raise InputError(
            f"the plan {path} is checked against the grids, but {folder.path} has no "
            f"grids.geojson: rebuild it with `gridplan build SOURCE --out {folder.path}`"
        )
    assignment, notes = read_plan(path, folder.layer("grids"))
    frame = pd.DataFrame(
        {"grid": assignment.index.astype(str), "district": assignment.astype(str).to_numpy()}
    )
    return frame, str(path), notes


def run_all(
    source: PathLike,
    out_dir: PathLike,
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
        district per four grids; never more than the grids).
    progress
        Called with the name of each step.

    Returns
    -------
    dict
        ``{"build": …, "districts": …, "coverage": …}`` summaries.
    """
    step = progress or _quiet
    # grids, buildings and communities; the folder keeps them in memory for the next steps
    built = build(source, out_dir, progress=step)
    assert built.folder is not None  # build always sets it
    # districts: the manifest's k and tolerance, else one district per four grids
    step("drawing districts")
    defaults = built.defaults
    k = min(
        k or int(defaults.get("districts", max(2, round(len(built.grids) / 4)))), len(built.grids)
    )
    plan = draw_plan(
        built.folder, PlanOptions(k=k, tolerance=float(defaults.get("tolerance", 0.02)))
    )
    # walking coverage from the area's own service points
    step("computing coverage")
    coverage = measure_coverage(built.folder)
    districts = {**plan.summary, "warnings": list(plan.warnings)}
    return {"build": built.summary, "districts": districts, "coverage": coverage.figures}


def _folder(out_dir: PathLike | BuildFolder) -> BuildFolder:
    return out_dir if isinstance(out_dir, BuildFolder) else BuildFolder(out_dir)


__all__ = [
    "BuildOptions",
    "BuildResult",
    "Report",
    "build",
    "build_layers",
    "draw_plan",
    "make_area_grids",
    "measure_coverage",
    "respond",
    "run_all",
    "suggest_plan",
]
