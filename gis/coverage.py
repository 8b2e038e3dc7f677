"""Walking coverage per building, and the figures officials ask for.

Main flow, :func:`compute_coverage`:

1. check the options (speeds, thresholds) and the service points;
2. build the walk network (:func:`gis.network.build_walk_network`);
3. snap buildings and service points to street edges, reporting long snaps
   and dropping service points that lie off the network;
4. exact walking distance to the nearest and second-nearest service point
   for every building (:func:`gis.network.distances_from`);
5. per speed profile, times and coverage figures per grid, district,
   community and the whole area, and who loses coverage at a slower speed;
6. display layers: isochrones, gaps, suggested new sites.

Coverage is decided per building, never by polygon: ``walk_s`` is the
seconds from the building to the nearest service point over the streets,
access legs included, ``null`` where unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import InputError, ServiceError
from gis._types import CRSLike
from gis.crs import metric_crs, require_crs
from gis.isochrones import DEFAULT_WIDTH_M, isochrones
from gis.network import (
    SPEED_PROFILES,
    STANDARD_DISTANCES_M,
    NodeDistances,
    Snap,
    WalkNetwork,
    build_walk_network,
    nearest_sources,
    point_distances,
    snap_points,
    speed_of,
)
from gis.siting import SiteState, candidate_sites, suggest_sites

__all__ = [
    "SERVICE_KINDS",
    "SPEED_PROFILES",
    "STANDARD_DISTANCES_M",
    "CoverageResult",
    "compute_coverage",
    "default_services",
]

#: POI kinds taken as service points when the user gives none.
SERVICE_KINDS = (
    "community_centre",
    "social_facility",
    "clinic",
    "hospital",
    "government",
    "townhall",
)

#: Access legs longer than this (m) are reported as unusually long snaps.
LONG_SNAP_M = 100.0
#: Service points farther than this (m) from any walkable street are dropped.
MAX_SERVICE_SNAP_M = 250.0


@dataclass(frozen=True)
class CoverageResult:
    """Everything :func:`compute_coverage` produces.

    ``buildings`` is indexed like the input and gains ``walk_s``, ``walk2_s``
    (seconds at the first profile), ``walk_m``, ``walk2_m`` (metres),
    ``service`` (id of the nearest service point) and ``walk_s_<profile>`` for
    every profile.  ``figures`` is what ``coverage.json`` holds.  Layers are in
    WGS 84.  ``state`` answers :func:`gis.siting.what_if`.
    """

    buildings: gpd.GeoDataFrame
    figures: dict[str, Any]
    isochrones: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    warnings: list[str]
    state: SiteState
    network: WalkNetwork
    nodes: NodeDistances
    services: Snap


def compute_coverage(  # noqa: PLR0915  (the coverage engineer splits it, issue 13)
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    minutes: Sequence[int] = (5, 10, 15),
    profiles: Sequence[str | float] = ("adult", "elderly"),
    mode: str = "time",
    plan: pd.DataFrame | None = None,
    crs: CRSLike | None = None,
    pois: gpd.GeoDataFrame | None = None,
    n_sites: int = 10,
    isochrone_width_m: float = DEFAULT_WIDTH_M,
) -> CoverageResult:
    """Per-building walking coverage from service points over the street network.

    Parameters
    ----------
    buildings
        Building polygons or points with a CRS; ``population``, ``households``,
        ``grid``, ``community`` and ``id`` columns are used where present.
    streets
        Street lines (see :func:`gis.network.build_walk_network`).
    services
        Service points (or polygons, taken at a point inside).
    minutes
        Thresholds in minutes.
    profiles
        Speed profiles (names of :data:`SPEED_PROFILES` or m/s); the first
        one gives ``walk_s``.
    mode
        ``"time"``: budget = minutes x 60 x speed; ``"standard"``: the GB 50180
        living-circle distances (300 / 500 / 1,000 m for 5 / 10 / 15 minutes)
        whatever the speed.
    plan
        Optional plan (``grid``, ``district``) to report figures per district.
    crs
        Metric CRS to compute in (default: chosen from the buildings).
    pois
        Extra candidate sites for suggestions.
    n_sites
        How many new sites to suggest.

    Raises
    ------
    ServiceError
        No service points, or none near the walk network.
    InputError
        A non-positive speed or threshold, or an unknown mode.
    """
    # 1. options
    minutes = _check_minutes(minutes, mode)
    speeds = {}
    for profile in profiles:
        speed = speed_of(profile)  # refuses unknown names, zero and negatives
        speeds[_profile_name(profile, speed)] = speed
    if not speeds:
        raise InputError("give at least one speed profile")
    require_crs(buildings, "building layer")
    require_crs(streets, "street layer")
    if services is None or len(services) == 0:
        raise ServiceError(
            "no service points: give a file of service points (--services) or an area "
            "whose POIs include community centres, clinics or government offices"
        )
    require_crs(services, "service point layer")
    metric = metric_crs(buildings, preferred=crs)
    warnings: list[str] = []
    # 2. network
    network = build_walk_network(streets, crs=metric)
    if network.report["dropped_components"]:
        warnings.append(
            f"street network: {network.report['dropped_components']} small disconnected "
            f"pieces ({network.report['dropped_length_m']:.0f} m of street) left out; "
            "buildings and service points there are snapped to the main network"
        )
    # 3. snapping
    b_metric = buildings.to_crs(metric)
    b_snap = snap_points(network, b_metric)
    s_metric = services.to_crs(metric)
    s_snap_all = snap_points(network, s_metric)
    s_ok = s_snap_all.access <= MAX_SERVICE_SNAP_M
    if not s_ok.any():
        raise ServiceError(
            f"all {len(services)} service points lie more than {MAX_SERVICE_SNAP_M:.0f} m "
            "from the walk network: check their CRS and that they belong to this area"
        )
    if not s_ok.all():
        off = _ids(services)[~s_ok]
        warnings.append(
            f"{int((~s_ok).sum())} service points lie more than {MAX_SERVICE_SNAP_M:.0f} m "
            f"from any walkable street and were left out: {', '.join(map(str, off[:20]))}"
        )
    s_snap = s_snap_all.subset(s_ok)
    s_ids = _ids(services)[s_ok]
    no_geom = ~np.isfinite(b_snap.access)
    if no_geom.any():
        warnings.append(
            f"{int(no_geom.sum())} buildings have no geometry and are counted as unreachable: "
            f"{', '.join(map(str, _ids(buildings)[no_geom][:20]))}"
        )
    long_snap = np.isfinite(b_snap.access) & (b_snap.access > LONG_SNAP_M)
    if long_snap.any():
        warnings.append(
            f"{int(long_snap.sum())} buildings are more than {LONG_SNAP_M:.0f} m from the "
            "nearest walkable street; their access leg is counted"
        )
    # 4. exact distances
    nodes = nearest_sources(network, s_snap)
    d1, src1, d2 = point_distances(network, nodes, b_snap, s_snap)
    # 5. times and figures
    out = buildings.copy()
    first = next(iter(speeds))
    out["walk_m"] = _nullable(d1, 3)
    out["walk2_m"] = _nullable(d2, 3)
    out["service"] = pd.Series(
        np.where(src1 >= 0, s_ids[np.maximum(src1, 0)], None), index=out.index, dtype=object
    )
    for name, speed in speeds.items():
        out[f"walk_s_{name}"] = _nullable(d1 / speed, 2)
    out["walk_s"] = _nullable(d1 / speeds[first], 2)
    out["walk2_s"] = _nullable(d2 / speeds[first], 2)
    radii = {name: _radii(minutes, speed, mode) for name, speed in speeds.items()}
    frame = _tally_frame(out, plan)
    figures: dict[str, Any] = {
        "mode": mode,
        "minutes": list(minutes),
        "profiles": {
            name: {
                "speed_m_s": speed,
                "distance_m": {str(m): round(r, 1) for m, r in radii[name].items()},
                **_figures(frame, d1, radii[name]),
            }
            for name, speed in speeds.items()
        },
        "lost_at_slower_speed": _lost(frame, d1, radii, first),
        "services": {"count": len(s_ids), "ids": [str(i) for i in s_ids]},
        "network": network.report,
        "snapping": {
            "long_snap_m": LONG_SNAP_M,
            "buildings_long_snap": int(long_snap.sum()),
            "long_snap_ids": [str(i) for i in _ids(buildings)[long_snap][:200]],
            "buildings_without_geometry": int(no_geom.sum()),
            "building_access_m_p95": round(float(np.percentile(b_snap.access[~no_geom], 95)), 1)
            if (~no_geom).any()
            else None,
        },
    }
    warnings += _extreme_warnings(figures, first)
    # 6. layers
    state = SiteState(
        network=network,
        buildings=b_snap,
        dist=d1,
        radii=radii[first],
        population=frame["population"].to_numpy(float),
        households=frame["households"].to_numpy(float),
        ids=_ids(buildings),
        max_snap_m=MAX_SERVICE_SNAP_M,
    )
    iso = isochrones(network, nodes, s_snap, radii=radii[first], width_m=isochrone_width_m)
    iso["profile"] = first
    iso["population_covered"] = [
        round(float(frame["population"][d1 <= r].sum()), 1) for r in iso["distance_m"]
    ]
    gaps = _gaps(b_metric, frame, d1, radii[first], minutes[0])
    candidates = candidate_sites(
        network,
        buildings=b_metric,
        pois=None if pois is None else pois.to_crs(metric),
        demand=b_snap.subset(~(d1 <= radii[first][minutes[0]])),
    )
    sites = suggest_sites(state, candidates, minutes=minutes[0], k=n_sites)
    figures["sites"] = {
        "candidates": len(candidates),
        "suggested": len(sites),
        "minutes": minutes[0],
    }
    figures["warnings"] = warnings
    return CoverageResult(
        buildings=out,
        figures=figures,
        isochrones=iso.to_crs("EPSG:4326"),
        gaps=gaps.to_crs("EPSG:4326"),
        sites=sites.to_crs("EPSG:4326"),
        warnings=warnings,
        state=state,
        network=network,
        nodes=nodes,
        services=s_snap,
    )


def default_services(pois: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The POIs of :data:`SERVICE_KINDS`, and how many of each kind were taken.

    Raises
    ------
    ServiceError
        When the area has none.
    """
    if pois is None or pois.empty or "kind" not in pois.columns:
        raise ServiceError("no service points given and the area has no POIs: pass --services FILE")
    chosen = pois[pois["kind"].isin(SERVICE_KINDS)]
    if chosen.empty:
        raise ServiceError(
            "no service points given and the area has no community centres, clinics or "
            "government offices among its POIs: pass --services FILE"
        )
    counts = chosen["kind"].value_counts()
    return chosen, {str(k): int(v) for k, v in counts.items()}


# --------------------------------------------------------------------------- helpers


def _profile_name(profile: str | float, speed: float) -> str:
    if isinstance(profile, str) and profile in SPEED_PROFILES:
        return profile
    return f"{speed:g}m_s"


def _check_minutes(minutes: Sequence[int], mode: str) -> tuple[int, ...]:
    if mode not in ("time", "standard"):
        raise InputError(f"unknown mode {mode!r}: use 'time' or 'standard'")
    try:
        values = tuple(sorted({int(m) for m in minutes}))
    except (TypeError, ValueError):
        raise InputError(f"minutes must be whole numbers, got {minutes!r}") from None
    if not values or values[0] <= 0:
        raise InputError(f"minutes must be positive, got {list(minutes)}")
    if mode == "standard":
        unknown = [m for m in values if m not in STANDARD_DISTANCES_M]
        if unknown:
            raise InputError(
                f"the standard mode knows 5, 10 and 15 minutes (GB 50180), not {unknown}"
            )
    return values


def _radii(minutes: Sequence[int], speed: float, mode: str) -> dict[int, float]:
    if mode == "standard":
        return {m: STANDARD_DISTANCES_M[m] for m in minutes}
    return {m: m * 60.0 * speed for m in minutes}


def _nullable(values: np.ndarray, ndigits: int) -> pd.api.extensions.ExtensionArray:
    """Rounded floats with ``<NA>`` (written as JSON null) where infinite."""
    arr = np.round(np.asarray(values, dtype=float), ndigits)
    return pd.array(np.where(np.isfinite(arr), arr, np.nan), dtype="Float64")


def _ids(frame: gpd.GeoDataFrame) -> np.ndarray:
    if "id" in frame.columns:
        return frame["id"].astype(str).to_numpy()
    return np.asarray([str(i) for i in frame.index])


def _tally_frame(buildings: gpd.GeoDataFrame, plan: pd.DataFrame | None) -> pd.DataFrame:
    """Population, households and grouping keys per building (positional index)."""
    n = len(buildings)

    def num(name: str) -> np.ndarray:
        if name in buildings.columns:
            return pd.to_numeric(buildings[name], errors="coerce").fillna(0).to_numpy(float)
        return np.zeros(n)

    def key(name: str) -> np.ndarray:
        if name in buildings.columns:
            return buildings[name].astype("string").fillna("").to_numpy(object)
        return np.full(n, "", dtype=object)

    frame = pd.DataFrame(
        {
            "population": num("population"),
            "households": num("households"),
            "buildings": np.ones(n),
            "grid": key("grid"),
            "community": key("community"),
        }
    )
    if plan is not None and {"grid", "district"} <= set(plan.columns):
        lookup = dict(zip(plan["grid"].astype(str), plan["district"].astype(str), strict=False))
        frame["district"] = [lookup.get(g, "") for g in frame["grid"]]
    return frame


_QUANTITIES = ("buildings", "population", "households")


def _tally(frame: pd.DataFrame, covered: dict[int, np.ndarray], by: str | None) -> Any:
    data = frame[list(_QUANTITIES)].copy()
    cols = []
    for m, flag in covered.items():
        for q in _QUANTITIES:
            data[f"{q}@{m}"] = frame[q].to_numpy() * flag
            cols.append(f"{q}@{m}")
    if by is None:
        sums = data.sum()
        return _entry(sums, covered)
    sums = data.groupby(frame[by].to_numpy()).sum()
    return {str(k): _entry(row, covered) for k, row in sums.iterrows() if str(k) != ""}


def _entry(row: pd.Series, covered: dict[int, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {q: round(float(row[q]), 1) for q in _QUANTITIES}
    out["within"] = {}
    for m in covered:
        w: dict[str, Any] = {}
        for q in _QUANTITIES:
            part, whole = float(row[f"{q}@{m}"]), float(row[q])
            w[q] = round(part, 1)
            w[f"{q}_share"] = round(part / whole, 4) if whole > 0 else None
        out["within"][str(m)] = w
    return out


def _figures(frame: pd.DataFrame, d1: np.ndarray, radii: dict[int, float]) -> dict[str, Any]:
    covered = {m: (d1 <= r).astype(float) for m, r in radii.items()}
    out = {"area": _tally(frame, covered, None)}
    for level in ("community", "district", "grid"):
        if level in frame.columns and (frame[level] != "").any():
            out[level] = _tally(frame, covered, level)
    return out


def _lost(
    frame: pd.DataFrame, d1: np.ndarray, radii: dict[str, dict[int, float]], first: str
) -> dict[str, Any]:
    """Per slower profile and threshold: who is covered at ``first``'s speed but not at it."""
    out: dict[str, Any] = {}
    for name, r in radii.items():
        if name == first:
            continue
        per: dict[str, Any] = {}
        for m in r:
            lost = (d1 <= radii[first][m]) & ~(d1 <= r[m])
            per[str(m)] = {q: round(float(frame[q].to_numpy()[lost].sum()), 1) for q in _QUANTITIES}
            grids = sorted({g for g in frame["grid"].to_numpy()[lost] if g})
            per[str(m)]["grids"] = grids
        out[name] = per
    return out


def _extreme_warnings(figures: dict[str, Any], first: str) -> list[str]:
    """Say so when coverage is 0% or 100%, so neither passes silently."""
    area = figures["profiles"][first]["area"]
    notes = []
    for m, w in area["within"].items():
        share = w["buildings_share"]
        if share == 0:
            notes.append(
                f"no building is within {m} minutes of a service point: check the service "
                "points and the speed"
            )
        elif share == 1 and m == str(min(int(k) for k in area["within"])):
            notes.append(f"every building is within {m} minutes of a service point")
    if area["population"] == 0:
        notes.append("the buildings carry no population: shares are of buildings only")
    return notes


def _gaps(
    b_metric: gpd.GeoDataFrame,
    frame: pd.DataFrame,
    d1: np.ndarray,
    radii: dict[int, float],
    minutes: int,
    *,
    merge_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Areas of uncovered buildings: their footprints grown by ``merge_m`` and merged."""
    uncovered = ~(d1 <= radii[minutes])
    columns: dict[str, list[float]] = {
        "minutes": [],
        "buildings": [],
        "population": [],
        "households": [],
        "area_m2": [],
    }
    if not uncovered.any():
        return gpd.GeoDataFrame(columns, geometry=[], crs=b_metric.crs)
    geoms = b_metric.geometry.values[uncovered]
    merged = shapely.union_all(shapely.buffer(geoms, merge_m, quad_segs=4))
    parts = shapely.get_parts(merged)
    reps = shapely.point_on_surface(geoms)
    tree = shapely.STRtree(parts)
    idx = tree.query(reps, predicate="within")
    part_of = np.full(len(geoms), -1)
    part_of[idx[0]] = idx[1]
    sub = frame[uncovered].assign(part=part_of)
    sums = sub.groupby("part")[list(_QUANTITIES)].sum()
    rows = []
    for p, geom in enumerate(parts):
        s = sums.loc[p] if p in sums.index else pd.Series(dict.fromkeys(_QUANTITIES, 0.0))
        rows.append(
            {
                "minutes": int(minutes),
                "buildings": int(s["buildings"]),
                "population": round(float(s["population"]), 1),
                "households": round(float(s["households"]), 1),
                "area_m2": round(float(geom.area), 1),
                "geometry": geom,
            }
        )
    gaps = gpd.GeoDataFrame(rows, geometry="geometry", crs=b_metric.crs)
    return gaps.sort_values("population", ascending=False, ignore_index=True)
