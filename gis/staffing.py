"""Staffing and offices: workers apportioned to districts, one office site per district.

:func:`apportion` shares a whole number of workers among districts in
proportion to their load with a standard apportionment method (Hamilton's
largest remainders, or a divisor method: Webster/Sainte-Laguë, Jefferson/
D'Hondt, Adams, Huntington-Hill).  :func:`propose_offices` picks, for each
district, the candidate site (a public building among the POIs, else a grid
centre) that minimises the population-weighted straight-line distance to
the district's residents (buildings when given, else grid centres).
:func:`staff_districts`, the step of :func:`gis.pipeline.draw_plan`, does
both for a districting result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import InputError
from gis._types import CRSLike
from gis.crs import WGS84
from gis.options import StaffOptions

if TYPE_CHECKING:
    from gis.districting import DistrictingResult

#: POI kinds that can host a district office, in order of preference on ties.
PUBLIC_KINDS = (
    "community_centre",
    "government",
    "townhall",
    "social_facility",
    "police",
    "library",
    "clinic",
    "hospital",
    "post_office",
    "school",
)

_DIVISORS: dict[str, Callable[[int], float]] = {
    "webster": lambda s: s + 0.5,
    "sainte-lague": lambda s: s + 0.5,
    "jefferson": lambda s: s + 1.0,
    "dhondt": lambda s: s + 1.0,
    "adams": lambda s: float(s),
    "huntington-hill": lambda s: math.sqrt(s * (s + 1.0)),
}


def apportion(
    loads: Mapping[str, float], workers: int, *, method: str = "hamilton", minimum: int = 0
) -> dict[str, int]:
    """Share ``workers`` among districts in proportion to ``loads``.

    Parameters
    ----------
    loads
        District id → load (population, households, workload...), ≥ 0.
    workers
        Whole number of workers to share.
    method
        ``"hamilton"`` (largest remainders), or a divisor method:
        ``"webster"`` (= ``"sainte-lague"``), ``"jefferson"`` (= ``"dhondt"``),
        ``"adams"``, ``"huntington-hill"``.
    minimum
        Workers every district gets at least (taken before sharing the rest).

    Returns
    -------
    dict
        District id → workers, summing to ``workers``; ties go to the
        district listed first.

    Raises
    ------
    InputError
        Unknown method, negative loads, or fewer workers than the minimums.
    """
    names = [str(d) for d in loads]
    values = np.array([float(v) for v in loads.values()])
    if workers < 0 or (values < 0).any() or not np.isfinite(values).all():
        raise InputError("workers and loads must be non-negative numbers")
    if minimum * len(names) > workers:
        raise InputError(
            f"{workers} workers cannot give each of {len(names)} districts at least {minimum}"
        )
    if not names:
        return {}
    base = np.full(len(names), minimum, dtype=np.int64)
    rest = workers - int(base.sum())
    if values.sum() <= 0:
        values = np.ones(len(names))
    method = method.lower()
    if method == "hamilton":
        quota = values / values.sum() * rest
        seats = np.floor(quota).astype(np.int64)
        order = np.lexsort((np.arange(len(names)), -(quota - seats)))
        seats[order[: rest - int(seats.sum())]] += 1
    elif method in _DIVISORS:
        divisor = _DIVISORS[method]
        seats = np.zeros(len(names), dtype=np.int64)
        if method in ("adams", "huntington-hill"):
            # zero divisor at 0 seats: every district with load gets one first
            first = np.flatnonzero(values > 0)[:rest]
            seats[first] = 1
        for _ in range(rest - int(seats.sum())):
            div = np.array([divisor(int(s)) for s in seats])
            with np.errstate(divide="ignore", invalid="ignore"):
                prio = np.where(div > 0, values / np.where(div > 0, div, 1.0), np.inf)
            prio = np.where((values <= 0) & (div <= 0), 0.0, prio)
            seats[int(np.argmax(prio))] += 1
    else:
        raise InputError(
            f"unknown apportionment method {method!r}: use hamilton, "
            + ", ".join(sorted(_DIVISORS))
        )
    return {n: int(b + s) for n, b, s in zip(names, base, seats, strict=True)}


def staff_districts(
    result: DistrictingResult,
    grids_metric: gpd.GeoDataFrame,
    options: StaffOptions,
    *,
    pois: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> DistrictingResult:
    """``result`` with workers per district and a proposed office per district.

    Workers are apportioned by the first balanced quantity (population by
    default); the summary gains ``staffing`` and ``offices``, the district
    polygons ``workers``, ``office`` and ``office_distance_m``.

    Parameters
    ----------
    result
        A districting result (:func:`gis.districting.draw_districts`).
    grids_metric
        Its grids in a metric CRS.
    options
        How many workers and the apportionment method.
    pois, buildings
        Candidate office sites and the residents' locations (see :func:`propose_offices`).
    """
    summary = dict(result.summary)
    load_key = next(iter(summary["quantities"]))
    loads = {row["district"]: float(row.get(load_key) or 0.0) for row in summary["districts"]}
    staff = apportion(loads, options.workers, method=options.method)
    offices = propose_offices(grids_metric, result.assignment, pois=pois, buildings=buildings)
    summary["staffing"] = {
        "workers": options.workers,
        "method": options.method,
        "by_district": staff,
    }
    summary["offices"] = offices
    by = {str(o["district"]): o for o in offices}  # district numbers are ints in the polygons
    districts = result.districts.copy()
    districts["workers"] = districts["district"].map(staff)
    districts["office"] = districts["district"].map(
        lambda d: by[str(d)]["name"] or by[str(d)]["kind"] or by[str(d)]["grid"]
    )
    districts["office_distance_m"] = districts["district"].map(
        lambda d: by[str(d)]["mean_distance_m"]
    )
    return replace(result, summary=summary, districts=districts)


def propose_offices(
    grids_metric: gpd.GeoDataFrame,
    assignment: pd.Series,
    *,
    pois: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    kinds: Sequence[str] = PUBLIC_KINDS,
) -> list[dict[str, Any]]:
    """Propose one office site per district, closest on average to its residents.

    Parameters
    ----------
    grids_metric
        Grids in a metric CRS with ``code`` and ``population``.
    assignment
        Grid code → district id.
    pois
        Points with a ``kind`` property (any CRS); those of ``kinds`` lying in
        the district are candidates.  Without any, the district's grid
        centres are.
    buildings
        Buildings with ``grid`` and ``population`` (any CRS): the residents'
        locations.  Without them, grid centres weighted by population.
    kinds
        POI kinds that may host an office.

    Returns
    -------
    list of dict
        ``district``, ``source`` ("poi" or "grid_centre"), ``kind``, ``name``,
        ``grid``, ``lon``, ``lat``, ``mean_distance_m`` (population-weighted
        straight-line distance), ``candidates`` (how many were compared).
    """
    crs = grids_metric.crs
    codes = grids_metric["code"].astype(str).to_numpy()
    district_of = assignment.reindex(codes).astype(str).to_numpy()
    centres = shapely.point_on_surface(np.asarray(grids_metric.geometry.values, dtype=object))
    cxy = shapely.get_coordinates(centres)
    people_xy, people_w, people_d = _residents(grids_metric, district_of, cxy, buildings)
    cand = _poi_candidates(pois, crs, kinds, grids_metric, district_of)
    out = []
    for d in sorted(set(district_of), key=_natural):
        here = people_d == d
        pxy, pw = people_xy[here], people_w[here]
        if pw.sum() <= 0:
            pw = np.ones(len(pw))
        mine = cand[cand["district"] == d] if len(cand) else cand
        if len(mine):
            sxy = shapely.get_coordinates(mine.geometry.values)
            source = "poi"
        else:
            sxy = cxy[district_of == d]
            source = "grid_centre"
        dist = np.hypot(sxy[:, None, 0] - pxy[None, :, 0], sxy[:, None, 1] - pxy[None, :, 1])
        mean = (dist * pw).sum(axis=1) / pw.sum()
        best = int(np.argmin(mean))
        lon, lat = _to_wgs84(sxy[best], crs)
        row: dict[str, Any] = {
            "district": d,
            "source": source,
            "kind": None,
            "name": None,
            "grid": None,
            "lon": round(lon, 7),
            "lat": round(lat, 7),
            "mean_distance_m": round(float(mean[best]), 1),
            "candidates": len(sxy),
        }
        if source == "poi":
            site = mine.iloc[best]
            row["kind"] = str(site["kind"])
            row["name"] = None if pd.isna(site.get("name")) else str(site.get("name"))
            row["grid"] = str(site["grid"])
        else:
            row["grid"] = str(codes[district_of == d][best])
        out.append(row)
    return out


def _residents(
    grids_metric: gpd.GeoDataFrame,
    district_of: np.ndarray,
    cxy: np.ndarray,
    buildings: gpd.GeoDataFrame | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pop = pd.to_numeric(grids_metric.get("population", 0), errors="coerce")
    grid_w = np.nan_to_num(np.asarray(pop, dtype=float))
    if buildings is None or buildings.empty or not {"grid", "population"} <= set(buildings):
        return cxy, grid_w, district_of
    b = buildings.to_crs(grids_metric.crs) if buildings.crs is not None else buildings
    pos = pd.Index(grids_metric["code"].astype(str)).get_indexer(b["grid"].astype(str))
    ok = pos >= 0
    bxy = shapely.get_coordinates(shapely.point_on_surface(b.geometry.values[ok]))
    bw = np.nan_to_num(pd.to_numeric(b["population"], errors="coerce").to_numpy()[ok])
    return bxy, bw, district_of[pos[ok]]


def _poi_candidates(
    pois: gpd.GeoDataFrame | None,
    crs: CRSLike,
    kinds: Sequence[str],
    grids_metric: gpd.GeoDataFrame,
    district_of: np.ndarray,
) -> gpd.GeoDataFrame:
    empty = gpd.GeoDataFrame({"district": [], "kind": [], "grid": []}, geometry=[], crs=crs)
    if pois is None or pois.empty or "kind" not in pois.columns:
        return empty
    p = pois[pois["kind"].isin(list(kinds))]
    if p.empty:
        return empty
    p = (p.to_crs(crs) if p.crs is not None else p.set_crs(crs)).copy()
    p["geometry"] = shapely.point_on_surface(p.geometry.values)
    tree = shapely.STRtree(np.asarray(grids_metric.geometry.values, dtype=object))
    pi, gi = tree.query(p.geometry.values, predicate="within")
    p = p.iloc[pi].copy()
    p["district"] = district_of[gi]
    p["grid"] = grids_metric["code"].astype(str).to_numpy()[gi]
    rank = {k: i for i, k in enumerate(kinds)}
    p["_rank"] = p["kind"].map(rank)
    return p.sort_values(["_rank"], kind="stable").drop(columns="_rank")


def _to_wgs84(xy: np.ndarray, crs: CRSLike) -> tuple[float, float]:
    from pyproj import Transformer

    t = Transformer.from_crs(crs, WGS84, always_xy=True)
    lon, lat = t.transform(float(xy[0]), float(xy[1]))
    return float(lon), float(lat)


def _natural(s: str) -> tuple[int, float, str]:
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)
