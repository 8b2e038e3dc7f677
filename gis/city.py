"""A whole city in one build: sub-districts split, built on dask.distributed, merged.

:func:`build_city` is the flow of ``gridplan build SOURCE --subdistricts FILE``:
it reads the sub-district polygons, splits the extract by sub-district in one
streaming pass (:mod:`gis.split`), builds each sub-district as today's one area
(:func:`gis.pipeline.make_area_grids`, its code in digits 7–9 of every grid
code) in this process or on a dask cluster, and merges the parts into one
build folder with ``subdistricts.geojson``.  Each worker reads only its part,
so memory per worker is bounded by the largest sub-district.  The result does
not depend on the number of workers: parts are merged in sub-district order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import (
    EmptyLayerError,
    InputError,
    ManifestError,
    NoBuildingsError,
    UnreadableFileError,
)
from gis.adjacency import Adjacency, adjacency_frame
from gis.area import AreaInput, Land
from gis.cityfolder import write_city_folder, write_part_layers
from gis.crs import WGS84
from gis.pipeline import BuildOptions, Progress, build_layers, make_area_grids
from gis.split import split_note
from gis.subdistricts import Subdistrict

#: Compressed OSM XML, read by pyosmium as it is.
_COMPRESSED = (".osm.gz", ".xml.gz", ".osm.bz2", ".xml.bz2")
#: How a part's summary says its communities were derived (one city-level note instead).
_DERIVED_NOTE = "no community boundaries were given"
#: Land narrower than this (m) is a sliver of clipping, not land (see _without_slivers).
SLIVER_M = 0.01
#: Called as sub-districts finish: (done, total, code).
PartProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class CityInput:
    """A city source: its extract, study area, manifest fields and sub-districts."""

    name: str
    osm: Path
    study_area: BaseGeometry | None
    subdistricts: list[Subdistrict]
    admin_code: str = "000000"
    crs: str | None = None
    language: str = "en"
    defaults: dict[str, Any] = field(default_factory=dict)
    communities: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    source: str = ""


@dataclass(frozen=True)
class PartTask:
    """What a worker needs to build one sub-district (small: the features are in ``part``)."""

    index: int
    part: Path
    subdistrict: Subdistrict
    boundary: BaseGeometry
    city: CityInput
    options: BuildOptions


@dataclass
class PartResult:
    """One built sub-district: its files, small layers and summary (buildings stay on disk)."""

    index: int
    code: str
    folder: Path
    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    summary: dict[str, Any]
    #: what walkers cannot cross and where they go in (gis.access)
    barriers: gpd.GeoDataFrame | None = None
    entrances: gpd.GeoDataFrame | None = None
    #: the sub-district's land and the open water taken out of it (WGS 84)
    land: BaseGeometry | None = None
    water: BaseGeometry | None = None
    #: its grids' neighbour graph (the rows of adjacency.csv)
    adjacency: pd.DataFrame | None = None
    #: why the sub-district was left out of the city (it holds no building), else None
    left_out: str | None = None


@dataclass
class CityResult:
    """What :func:`build_city` made (the buildings are in the folder's files).

    Attributes
    ----------
    grids, communities, subdistricts
        The merged layers, in the city's metric CRS.
    summary
        What ``build.json`` holds.
    adjacency
        The city's grid neighbour graph (``adjacency.csv``).
    water
        The open water taken out of the sub-districts (WGS 84).
    """

    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    subdistricts: gpd.GeoDataFrame
    summary: dict[str, Any]
    adjacency: Adjacency | None = None
    water: BaseGeometry = field(default_factory=shapely.Polygon)


def build_city(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    subdistricts: str | os.PathLike[str],
    options: BuildOptions | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    on_part: PartProgress | None = None,
) -> CityResult:
    """Build every sub-district of SOURCE and write one merged city folder ``out_dir``.

    Parameters
    ----------
    source
        An area folder (``area.toml`` naming an OSM file) or a bare OSM file.
    out_dir
        The city folder to write (replaced as a whole when the build succeeds).
    subdistricts
        A polygon file with ``code`` and ``name``, or ``"osm"`` (optionally
        ``"osm:LEVEL"``) for the extract's administrative boundaries.
    options
        Grid targets and office data, as for one area.
    workers
        Run on a dask LocalCluster of this many processes (None: in this process).
    scheduler
        Address of an existing dask scheduler (``tcp://HOST:PORT``); overrides ``workers``.
    progress
        Called with the name of each step as it starts.
    on_part
        Called as each sub-district finishes.

    Returns
    -------
    CityResult
    """
    step = progress or (lambda _name: None)
    started = time.perf_counter()
    options = options or BuildOptions()
    if options.population_total is not None:
        raise InputError(
            "--population-total calibrates one area, not a city of sub-districts: give each "
            "sub-district's households with --households, or build the sub-districts one by one"
        )
    step("reading sub-districts")
    city = read_city(source, subdistricts)
    if options.communities is not None:
        from gis.sources import read_vector

        given = read_vector(options.communities, what="community boundaries")
        city = replace(city, communities=given)
    if options.households is not None:  # read and checked once, sent to each worker once
        from gis.population import read_household_table

        city = replace(city, households=read_household_table(options.households))
        options = replace(options, households=None)
    with _work_folder(out_dir) as work, ThreadPoolExecutor(1) as pool, ExitStack() as stack:
        cluster = _cluster(workers, scheduler)
        if scheduler is not None:  # an unreachable scheduler is told at once, not after the split
            client = stack.enter_context(cluster)
        step(f"splitting the extract by sub-district{split_note()}")
        split = pool.submit(split_city, city, options, work)
        if scheduler is None:  # the LocalCluster starts and warms up beside the split
            client = stack.enter_context(cluster)
        with stack:
            tasks = split.result()
            step("building sub-districts")
            parts = run_parts(tasks, client=client, on_part=on_part)
        tasks, parts, left_out = _with_buildings(city, tasks, parts)
        step("merging sub-districts")
        merged, layers = merge_parts(city, tasks, parts)
        merged.summary["warnings"][:0] = left_out
        step("writing files")
        merged.summary["seconds"] = round(time.perf_counter() - started, 3)
        tables = {"adjacency": adjacency_frame(merged.adjacency)} if merged.adjacency else {}
        write_city_folder(out_dir, [p.folder for p in parts], layers, merged.summary, tables)
    return merged


def _with_buildings(
    city: CityInput, tasks: list[PartTask], parts: list[PartResult]
) -> tuple[list[PartTask], list[PartResult], list[str]]:
    """The sub-districts that hold buildings, and a warning for each one left out.

    Raises
    ------
    NoBuildingsError
        When no sub-district holds a building.
    """
    kept = [(t, p) for t, p in zip(tasks, parts, strict=True) if p.left_out is None]
    if not kept:
        raise NoBuildingsError(
            f"no sub-district of {city.name} holds a building of the extract: check the "
            "sub-district file's CRS and extent against the extract"
        )
    left_out = [
        f"{t.subdistrict.code} ({t.subdistrict.name}) holds no building of the extract and "
        "is left out of the city: give an extract that covers it to plan it"
        for t, p in zip(tasks, parts, strict=True)
        if p.left_out is not None
    ]
    return [t for t, _ in kept], [p for _, p in kept], left_out


def read_city(source: str | os.PathLike[str], subdistricts: str | os.PathLike[str]) -> CityInput:
    """Read a city source (area folder or OSM file) and its sub-district polygons.

    Parameters
    ----------
    source
        An area folder with ``area.toml`` or a bare OSM file.
    subdistricts
        A polygon file, or ``"osm"``/``"osm:LEVEL"``.

    Returns
    -------
    CityInput
    """
    from gis.area import _read_table, _union_polygon
    from gis.sources import is_osm_file, read_vector

    path = Path(source)
    manifest: dict[str, Any] = {}
    folder = path.parent
    if path.is_dir():
        if not (path / "area.toml").is_file():
            raise ManifestError(f"{path} has no area.toml: give an area folder or an OSM file")
        manifest = tomllib.loads((path / "area.toml").read_text(encoding="utf-8"))
        if "osm" not in manifest:
            raise ManifestError(
                f"{path / 'area.toml'} names no OSM file: a city build splits one OSM "
                'extract by sub-district, so add `osm = "city.osm.pbf"`'
            )
        folder, osm = path, path / manifest["osm"]
    elif is_osm_file(path) or path.name.lower().endswith(_COMPRESSED):
        osm = path
    else:
        raise UnreadableFileError(
            f"{path} is neither an area folder nor an OSM file (.osm, .osm.pbf, .osm.gz): a "
            "city build splits one OSM extract by sub-district"
        )
    if not osm.is_file():
        raise UnreadableFileError(f"the OSM extract {osm} does not exist")
    study = None
    if "study_area" in manifest:
        study = _union_polygon(
            read_vector(folder / manifest["study_area"], what="study area"), "study area"
        )
    parts = _subdistricts(subdistricts, osm)
    communities = None
    if "communities" in manifest:
        communities = read_vector(folder / manifest["communities"], what="community boundaries")
    households = _read_table(folder / manifest["households"]) if "households" in manifest else None
    return CityInput(
        name=str(manifest.get("name", osm.name.split(".")[0])),
        osm=osm,
        study_area=study,
        subdistricts=parts,
        admin_code=str(manifest.get("admin_code", "000000")),
        crs=manifest.get("crs"),
        language=str(manifest.get("language", "en")),
        defaults=dict(manifest.get("defaults", {})),
        communities=communities,
        households=households,
        source=str(path),
    )


def _subdistricts(spec: str | os.PathLike[str], osm: Path) -> list[Subdistrict]:
    text = str(spec)
    if text == "osm" or text.startswith("osm:"):
        from gis.admin import osm_subdistricts

        level = text.partition(":")[2]
        if level and not level.isdigit():
            raise InputError(f"--subdistricts {text}: give osm or osm:LEVEL, e.g. osm:8")
        return osm_subdistricts(osm, level=int(level) if level else None)
    from gis.subdistricts import read_subdistricts

    return read_subdistricts(spec)


def split_city(city: CityInput, options: BuildOptions, work: Path) -> list[PartTask]:
    """Clip each sub-district to the study area and split the extract into one part each.

    Parameters
    ----------
    city
        The city, from :func:`read_city`.
    options
        The build options (the CRS is fixed here for every part).
    work
        A scratch folder for the part files.

    Returns
    -------
    list of PartTask
        One per sub-district with territory in the study area, in code order.
    """
    from gis.area import STREET_MARGIN_M
    from gis.crs import metric_crs
    from gis.split import degrees, split_osm

    subs = sorted(city.subdistricts, key=lambda s: (s.admin_code or city.admin_code, s.code))
    boundaries = [_clip(s.polygon, city.study_area) for s in subs]
    kept = [(s, b) for s, b in zip(subs, boundaries, strict=True) if not b.is_empty]
    if not kept:
        raise EmptyLayerError(
            f"no sub-district of {city.name} lies in its study area: check the sub-district "
            "file's CRS and extent against the extract"
        )
    union = gpd.GeoSeries([shapely.union_all([b for _, b in kept])], crs=WGS84)
    crs = metric_crs(union, preferred=options.crs or city.crs).to_string()
    margin = [degrees(STREET_MARGIN_M * 1.05, b) for _, b in kept]
    split = split_osm(city.osm, [b for _, b in kept], work, margin_deg=margin)
    part_options = replace(options, crs=crs, communities=None, population_total=None)
    return [
        PartTask(
            index=i,
            part=split.parts[i],
            subdistrict=s,
            boundary=b,
            city=city,
            options=part_options,
        )
        for i, (s, b) in enumerate(kept)
    ]


def _clip(polygon: BaseGeometry, study: BaseGeometry | None) -> BaseGeometry:
    if study is None:
        return polygon
    return shapely.intersection(polygon, study)


def build_part(task: PartTask) -> PartResult:
    """Build one sub-district from its part file (runs on a worker).

    Parameters
    ----------
    task
        From :func:`split_city`.

    Returns
    -------
    PartResult
    """
    area = part_area(task)
    folder = task.part.with_suffix("")
    try:
        built = make_area_grids(area, options=task.options)
    except NoBuildingsError as exc:  # nothing to plan there: the city goes on without it
        empty = gpd.GeoDataFrame(geometry=[], crs=WGS84)
        return PartResult(
            index=task.index,
            code=task.subdistrict.code,
            folder=folder,
            grids=empty,
            communities=empty,
            streets=empty,
            pois=empty,
            summary={},
            left_out=str(exc),
        )
    out = build_layers(built, area)
    write_part_layers(out, folder)
    return PartResult(
        index=task.index,
        code=task.subdistrict.code,
        folder=folder,
        grids=built.grids,
        communities=built.communities,
        streets=area.layers.streets,
        pois=area.layers.pois,
        summary=built.summary,
        barriers=out["barriers"],
        entrances=out["entrances"],
        land=area.boundary,
        water=area.water,
        adjacency=adjacency_frame(built.adjacency) if built.adjacency else None,
    )


def part_area(task: PartTask) -> AreaInput:
    """The sub-district of ``task`` as one area to build: its part read, on land, clipped.

    Parameters
    ----------
    task
        From :func:`split_city`.

    Returns
    -------
    AreaInput
    """
    from gis.area import _clip_layers, on_land
    from gis.split import read_part

    sub, city = task.subdistrict, task.city
    features = read_part(task.part, task.boundary)
    land = on_land(task.boundary, features, built_up=False)  # grids on land, as one area's
    land = replace(land, boundary=_without_slivers(land, task.options.crs))
    return AreaInput(
        name=sub.name,
        boundary=land.boundary,
        study_area_source="sub-district",
        layers=_clip_layers(features, land.boundary),
        admin_code=sub.admin_code or city.admin_code,
        subdistrict_code=sub.code,
        crs=task.options.crs,
        language=city.language,
        communities=_communities_in(city.communities, task.boundary),
        households=city.households,
        households_city_wide=True,
        defaults=city.defaults,
        source=f"{city.source}#{sub.code}",
        water=land.water,
        water_m2=land.water_m2,
        notes=land.notes,
    )


def _without_slivers(land: Land, crs: str | None) -> BaseGeometry:
    """The land without strips thinner than :data:`SLIVER_M` (WGS 84).

    Where a river crosses a sub-district line, the water clipped to the
    sub-district may stop a fraction of a millimetre short of the line, and the
    land would keep a strip along the line across the river: one piece of land
    joining both banks, cut into grids of a hundredth of a square metre.
    """
    if land.water.is_empty:
        return land.boundary
    metric = gpd.GeoSeries([land.boundary], crs=WGS84).to_crs(crs)
    opened = metric.buffer(-SLIVER_M, join_style="mitre").buffer(SLIVER_M, join_style="mitre")
    return opened.to_crs(WGS84).make_valid().iloc[0]


def _communities_in(
    communities: gpd.GeoDataFrame | None, boundary: BaseGeometry
) -> gpd.GeoDataFrame | None:
    if communities is None:
        return None
    inside = communities[communities.intersects(boundary)]
    return inside if len(inside) else None


def run_parts(
    tasks: list[PartTask],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_part: PartProgress | None = None,
    client: Any = None,
) -> list[PartResult]:
    """Build every part, here or on dask; results in task order whatever finished first.

    Parameters
    ----------
    tasks
        From :func:`split_city`.
    workers
        Processes of a LocalCluster (None with no ``scheduler``: in this process).
    scheduler
        Address of a running dask scheduler.
    on_part
        Called as each part finishes.
    client
        A dask client already started (``workers`` and ``scheduler`` then unused).

    Returns
    -------
    list of PartResult
    """
    done = on_part or (lambda _d, _n, _c: None)
    order = sorted(tasks, key=lambda t: -part_bytes(t.part))  # largest first: even load
    results: dict[int, PartResult] = {}
    if client is None and workers is None and scheduler is None:
        for task in order:
            results[task.index] = build_part(task)
            done(len(results), len(tasks), task.subdistrict.code)
        return [results[t.index] for t in tasks]
    from dask.distributed import as_completed

    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(_client(workers, scheduler))
        # the city (its household table, communities) goes to each worker once, not per task
        city = tasks[0].city
        shared = client.scatter(city, broadcast=True, hash=False)
        light = replace(city, subdistricts=[], communities=None, households=None)
        futures = [
            client.submit(
                _build_with_city,
                replace(task, city=light),
                shared,
                key=f"gridplan-part-{task.index}-{os.getpid()}",
                pure=False,
            )
            for task in order
        ]
        try:
            for future in as_completed(futures):
                part: PartResult = future.result()
                results[part.index] = part
                done(len(results), len(tasks), part.code)
        finally:
            client.cancel(futures)
    return [results[t.index] for t in tasks]


def _build_with_city(task: PartTask, city: CityInput) -> PartResult:
    """:func:`build_part` of ``task`` with the whole ``city`` (sent to the worker once)."""
    return build_part(replace(task, city=city))


def part_bytes(part: Path) -> int:
    """The size of a part: its file, or the files of its folder (osmium-tool's split)."""
    if part.is_dir():
        return sum(f.stat().st_size for f in part.iterdir() if f.is_file())
    return part.stat().st_size


@contextmanager
def _cluster(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """The dask client (None: no dask), its workers' imports done (:func:`_warm_up`).

    :func:`build_city` starts it while the extract is split in another thread,
    so that the workers spawn and import beside the split, not before their
    first part.
    """
    if workers is None and scheduler is None:
        yield None
        return
    with _client(workers, scheduler) as client:
        client.run(_warm_up)
        yield client


def _warm_up() -> None:
    """Import on a worker what :func:`build_part` imports on its first call."""
    import gis.split  # noqa: F401


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A dask client on the given scheduler, or on a LocalCluster of ``workers`` processes."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(
                f"cannot reach the dask scheduler at {scheduler}: start it with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, then try again"
            ) from exc
        with client:
            yield client
        return
    if workers is None or workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    with (
        dask.config.set(
            {
                # no dashboard shows the workers' statistical profile: do not sample every 10 ms
                "distributed.worker.profile.enabled": False,
                # the event loops' check for being blocked, every 20 ms by default: about
                # 5% of a core in this process (the scheduler's) while the parts run
                "distributed.admin.tick.interval": "1s",
            }
        ),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=0,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def merge_parts(
    city: CityInput, tasks: list[PartTask], parts: list[PartResult]
) -> tuple[CityResult, dict[str, gpd.GeoDataFrame]]:
    """The city's merged grids, communities and summary, and its city-wide layers.

    Parameters
    ----------
    city
        The city.
    tasks
        The tasks the parts were built from (same order).
    parts
        The built parts.

    Returns
    -------
    (CityResult, dict)
        The merged city and its streets, POIs, boundary and sub-districts by layer name.
    """
    crs = tasks[0].options.crs

    def cat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)

    grids = cat([p.grids for p in parts])
    communities = cat([p.communities for p in parts])
    subdistricts = gpd.GeoDataFrame(
        [_subdistrict_row(t, p) for t, p in zip(tasks, parts, strict=True)],
        geometry="geometry",
        crs=WGS84,
    ).to_crs(crs)
    subdistricts["area_m2"] = subdistricts.geometry.area.round(2)
    boundary = shapely.union_all([_land(t, p) for t, p in zip(tasks, parts, strict=True)])
    layers = {
        "streets": cat([p.streets for p in parts]).drop_duplicates("id").reset_index(drop=True),
        "pois": cat([p.pois for p in parts]).drop_duplicates("id").reset_index(drop=True),
        "boundary": gpd.GeoDataFrame({"name": [city.name]}, geometry=[boundary], crs=WGS84),
        "subdistricts": subdistricts,
        **{
            name: _distinct(cat([getattr(p, name) for p in parts]))
            for name in ("barriers", "entrances")
        },
    }
    wet = [p.water for p in parts if p.water is not None and not p.water.is_empty]
    water = shapely.union_all(wet) if wet else shapely.Polygon()
    adjacency = _city_adjacency(tasks, parts, grids, layers, water)
    summary = _city_summary(city, crs, tasks, parts, grids, communities, adjacency)
    merged = CityResult(
        grids=grids,
        communities=communities,
        subdistricts=subdistricts,
        summary=summary,
        adjacency=adjacency,
        water=water,
    )
    return merged, layers


def _land(task: PartTask, part: PartResult) -> BaseGeometry:
    """A sub-district's land (WGS 84): its polygon without the open water."""
    return part.land if part.land is not None else task.boundary


def _city_adjacency(
    tasks: list[PartTask],
    parts: list[PartResult],
    grids: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    water: BaseGeometry,
) -> Adjacency | None:
    """The parts' neighbour graphs joined across the sub-district lines (gis.cityadjacency)."""
    from gis.adjacency import link_lines
    from gis.cityadjacency import city_adjacency

    if any(p.adjacency is None for p in parts):
        return None
    crs = grids.crs
    shapes = gpd.GeoSeries([water, *(t.boundary for t in tasks)], crs=WGS84).to_crs(crs)
    links = link_lines(layers["streets"].to_crs(crs), layers["barriers"].to_crs(crs))
    return city_adjacency(
        grids,
        np.repeat(np.arange(len(parts)), [len(p.grids) for p in parts]),
        [p.adjacency for p in parts if p.adjacency is not None],
        links=links,
        water=shapes.iloc[0],
        lines=shapely.union_all(shapely.boundary(shapes.iloc[1:].to_numpy())),
    )


def _distinct(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per OSM id (parts overlap at their edges)."""
    if "id" not in frame.columns:
        return frame
    return frame.drop_duplicates("id").reset_index(drop=True)


def _subdistrict_row(task: PartTask, part: PartResult) -> dict[str, Any]:
    sub, summary = task.subdistrict, part.summary
    admin = sub.admin_code or task.city.admin_code
    return {
        "code": f"{admin}{sub.code}",
        "subdistrict": sub.code,
        "name": sub.name,
        "communities": summary["communities"],
        "grids": summary["grids"],
        "buildings": summary["buildings"],
        "households": summary["households"],
        "population": summary["population"],
        "geometry": _land(task, part),
    }


def _city_summary(
    city: CityInput,
    crs: str | None,
    tasks: list[PartTask],
    parts: list[PartResult],
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    adjacency: Adjacency | None,
) -> dict[str, Any]:
    first = parts[0].summary
    hh = grids["households"]
    bounds = gpd.GeoSeries([t.boundary for t in tasks], crs=WGS84).total_bounds
    derived = [p.code for p in parts if p.summary["communities_derived"]]
    warnings = [
        f"{p.code}: {w}"
        for p in parts
        for w in p.summary.get("warnings", [])
        if not w.startswith(_DERIVED_NOTE)
    ]
    households = _household_report(
        city.households if city.households is not None else tasks[0].options.households, parts
    )
    warnings[:0] = _several_note(households)
    if derived:
        warnings.insert(
            0,
            f"{_DERIVED_NOTE}: the communities of {len(derived)} of {len(parts)} sub-districts "
            "were derived from blocks enclosed by major roads, railways and rivers "
            "(give your own with --communities)",
        )
    return {
        "name": city.name,
        "source": city.source,
        "study_area": "sub-districts",
        "crs": crs,
        "admin_code": city.admin_code,
        "language": city.language,
        "bbox": [round(float(v), 7) for v in bounds],
        "subdistricts": len(parts),
        "communities": len(communities),
        "communities_derived": any(p.summary["communities_derived"] for p in parts),
        "grids": len(grids),
        "buildings": sum(p.summary["buildings"] for p in parts),
        "households": round(float(hh.sum()), 1),
        "population": round(float(grids["population"].sum()), 1),
        "area_m2": round(float(grids["area_m2"].sum()), 1),
        "targets": first["targets"],
        "grids_in_range": sum(p.summary["grids_in_range"] for p in parts),
        "grids_over_max": sum(p.summary["grids_over_max"] for p in parts),
        "grids_under_min": sum(p.summary["grids_under_min"] for p in parts),
        "grids_without_households": sum(p.summary["grids_without_households"] for p in parts),
        "median_households": round(float(hh[hh > 0].median()), 1) if (hh > 0).any() else 0.0,
        "geometry_repaired": sum(p.summary["geometry_repaired"] for p in parts),
        "geometry_dropped": sum(p.summary["geometry_dropped"] for p in parts),
        "water_m2": round(sum(p.summary.get("water_m2", 0.0) for p in parts), 1),
        "links": {
            kind: sum(k.kind == kind for k in (adjacency.links if adjacency else []))
            for kind in ("bridge", "tunnel", "ferry", "nearest")
        },
        "household_table": households,
        "per_subdistrict": [
            {
                "code": p.code,
                "name": t.subdistrict.name,
                **{
                    k: p.summary[k]
                    for k in ("communities", "grids", "buildings", "households", "population")
                },
            }
            for t, p in zip(tasks, parts, strict=True)
        ],
        "warnings": warnings,
    }


def _household_report(
    table: pd.DataFrame | str | os.PathLike[str] | None, parts: list[PartResult]
) -> dict[str, Any] | None:
    """The household table's matches over the city (each part matched its own buildings).

    A row counts as matched when it matched a building in any sub-district: each
    part reports the rows it matched, the keys of the others are listed here.

    Raises
    ------
    InputError
        When no row matches a building anywhere in the city.
    """
    reports: list[dict[str, Any]] = [
        r for r in (p.summary.get("household_table") for p in parts) if r
    ]
    if not reports or table is None:
        return None
    from gis.population import unmatched_keys

    first, rows = reports[0], int(reports[0]["rows"])
    times = np.zeros(rows, dtype=np.int64)  # per row, the sub-districts it matched in
    for report in reports:
        times[report["matched"]] += 1
    matched = times > 0
    unmatched = unmatched_keys(table, matched)
    several = unmatched_keys(table, times < 2) if (times > 1).any() else []
    if len(unmatched) == rows:  # each sub-district may match none; the city must match some
        key = first["key"]
        raise InputError(
            f"no row of the household table matches a building of the city by {key} "
            f"(table keys like {', '.join(map(str, unmatched[:3]))}): "
            + (
                "give OSM ids such as w123, way/123 or 123"
                if key == "building_id"
                else "give addr:street and addr:housenumber as tagged in OpenStreetMap"
            )
        )
    return {
        "key": first["key"],
        "rows": rows,
        "matched_rows": rows - len(unmatched),
        "unmatched_rows": len(unmatched),
        "unmatched": unmatched,
        "matched_in_several_subdistricts": several,
    }


def _several_note(report: dict[str, Any] | None) -> list[str]:
    """A warning for the table's rows matched in more than one sub-district (counted in each)."""
    several = report["matched_in_several_subdistricts"] if report else []
    if not several:
        return []
    return [
        f"{len(several)} {'row' if len(several) == 1 else 'rows'} of the household table "
        "matched buildings in more than one sub-district, counted in each "
        f"({', '.join(map(str, several[:5]))}): "
        "give building ids, or one row per building, for buildings on a sub-district line"
    ]


@contextmanager
def _work_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A scratch folder beside ``out_dir`` for the part files, removed afterwards."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-", dir=out.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = [
    "CityInput",
    "CityResult",
    "PartResult",
    "PartTask",
    "build_city",
    "build_part",
    "merge_parts",
    "part_area",
    "read_city",
    "run_parts",
    "split_city",
]
