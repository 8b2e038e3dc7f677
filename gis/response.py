"""The "1310" response check and the spacing check.

"1310": within 1 minute the resident knows whom to call (every building has a
grid, and a grid has its staff), within 3 minutes that person is reached,
within 10 minutes someone is on site.  :func:`check_1310` measures the on-site
part over the walk network from worker bases (district offices, or points the
user gives) at walking or cycling speed, per building.

:func:`spacing` measures, for a point set such as organisations or
volunteers, the distance from every building to the nearest point and the
share of buildings (and households) within given spacings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis._errors import InputError, ServiceError
from gis._types import CRSLike
from gis.access import snap_points
from gis.crs import metric_crs, require_crs
from gis.network import build_walk_network, speed_of
from gis.paths import distances_from
from gis.walks import measure_walks

#: Travel modes of the 1310 check and their speed profile.
MODES = {"walk": "adult", "bicycle": "bicycle"}
#: Bases farther than this (m) from the network are left out.
MAX_BASE_SNAP_M = 250.0


def check_1310(
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    bases: gpd.GeoDataFrame,
    *,
    mode: str = "walk",
    minutes: Sequence[float] = (3, 10),
    speed: float | None = None,
    crs: CRSLike | None = None,
    max_listed: int = 500,
    plan: pd.DataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    entrances: gpd.GeoDataFrame | None = None,
    join_pieces_m: float | None = None,
) -> dict[str, Any]:
    """Share of households a worker can reach within 3 and 10 minutes.

    Parameters
    ----------
    buildings
        With ``households`` (else every building counts as one), ``grid``,
        ``community`` and ``id`` where present.
    streets
        Street lines; cyclists use the walk network too (one-way streets are
        not enforced, so bicycle times are a lower bound).
    bases
        Worker bases: points (or polygons, taken at a point inside).
    mode
        ``"walk"`` (1.25 m/s) or ``"bicycle"`` (4.2 m/s).
    minutes
        Thresholds; the largest decides which buildings are listed as outside.
    speed
        Override the mode's speed (m/s).
    barriers, entrances, join_pieces_m
        As for :func:`gis.coverage.compute_coverage`: workers walk the same
        network, from the same doors, by the same legs.

    Returns
    -------
    dict
        ``share_households`` per threshold, ``worst_case_s`` (the longest
        response time over buildings with households; null when some cannot
        be reached at all), ``outside`` (buildings beyond the largest
        threshold with their grid, i.e. whom to call), ``without_grid``
        (buildings nobody is responsible for) and ``response_s`` per building.
    """
    # 1. options and layers
    v, thresholds = _options(mode, speed, minutes)
    metric = _check_layers(buildings, bases, crs)
    # 2. walks from the bases, over the network coverage uses
    walks = measure_walks(
        buildings,
        streets,
        bases,
        crs=metric,
        barriers=barriers,
        entrances=entrances,
        join_pieces_m=join_pieces_m,
        max_service_m=MAX_BASE_SNAP_M,
        what="worker bases",
    )
    t = walks.walk.d1 / v
    # 3. shares, worst case and whom to call
    out = {"mode": mode, "speed_m_s": v, "bases": int(walks.kept.sum())}
    out["bases_off_network"] = int((~walks.kept).sum())
    out |= _response_figures(buildings, t, thresholds, max_listed=max_listed)
    # 4. per district
    if plan is not None:
        out["per_district"] = _per_district(
            plan, _text(buildings, "grid"), t, _households(buildings), thresholds
        )
    out["response_s"] = {
        str(i): (round(float(x), 1) if np.isfinite(x) else None)
        for i, x in zip(_ids(buildings), t, strict=True)
    }
    return out


def _options(mode: str, speed: float | None, minutes: Sequence[float]) -> tuple[float, list[float]]:
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    v = speed_of(MODES[mode] if speed is None else speed)
    thresholds = sorted(float(m) for m in minutes)
    if not thresholds or thresholds[0] <= 0:
        raise InputError(f"minutes must be positive, got {thresholds}")
    return v, thresholds


def _check_layers(buildings: gpd.GeoDataFrame, bases: gpd.GeoDataFrame, crs: CRSLike | None) -> Any:
    if bases is None or len(bases) == 0:
        raise ServiceError("no worker bases: give district offices or points for the 1310 check")
    require_crs(buildings, "building layer")
    require_crs(bases, "base layer")
    return metric_crs(buildings, preferred=crs)


def _households(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Households per building; one each when the layer carries none."""
    hh = _column(buildings, "households", default=1.0)
    return hh if hh.sum() > 0 else np.ones(len(buildings))


def _response_figures(
    buildings: gpd.GeoDataFrame, t: np.ndarray, minutes: list[float], *, max_listed: int
) -> dict[str, Any]:
    """Shares within each threshold, the worst case, buildings outside and without a grid."""
    hh = _households(buildings)
    ids = _ids(buildings)
    grid = _text(buildings, "grid")
    community = _text(buildings, "community")
    has_hh = hh > 0
    served = t[has_hh]
    out: dict[str, Any] = {
        "households": round(float(hh.sum()), 1),
        "share_households": {
            f"{m:g}": round(float(hh[t <= m * 60].sum() / hh.sum()), 4) for m in minutes
        },
        "worst_case_s": round(float(served.max()), 1)
        if served.size and np.isfinite(served).all()
        else None,
        "unreachable_buildings": int((~np.isfinite(t)).sum()),
        "without_grid": [str(i) for i in ids[grid == ""]][:max_listed],
    }
    outside = np.flatnonzero(~(t <= minutes[-1] * 60) & has_hh)
    outside = outside[np.argsort(-np.nan_to_num(t[outside], posinf=1e18), kind="stable")]
    out["outside_count"] = int(outside.size)
    out["outside"] = [
        {
            "id": str(ids[i]),
            "grid": grid[i] or None,
            "community": community[i] or None,
            "response_s": round(float(t[i]), 1) if np.isfinite(t[i]) else None,
            "households": round(float(hh[i]), 1),
        }
        for i in outside[:max_listed]
    ]
    worst = pd.Series(np.where(np.isfinite(t), t, np.nan)).groupby(grid).max()
    out["worst_case_s_per_grid"] = {
        str(g): round(float(s), 1) for g, s in worst.items() if g != "" and np.isfinite(s)
    }
    return out


def spacing(
    buildings: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    spacings_m: Sequence[float] = (200.0, 80.0),
    streets: gpd.GeoDataFrame | None = None,
    crs: CRSLike | None = None,
) -> dict[str, Any]:
    """Distance from each building to the nearest point, and shares within spacings.

    Parameters
    ----------
    points
        Organisations, volunteers, ...
    spacings_m
        Distances to report shares for.
    streets
        When given, distances are walked over the street network (access legs
        included); else straight-line.

    Returns
    -------
    dict
        ``metric`` ("network" or "straight"), ``share_buildings`` and
        ``share_households`` per spacing, ``median_m``, ``max_m``, and
        ``distance_m`` per building id.
    """
    if points is None or len(points) == 0:
        raise ServiceError("no points to measure spacing from")
    if any(float(s) <= 0 for s in spacings_m):
        raise InputError(f"spacings must be positive, got {list(spacings_m)}")
    require_crs(buildings, "building layer")
    require_crs(points, "point layer")
    metric = metric_crs(buildings, preferred=crs)
    b = buildings.to_crs(metric)
    p = points.to_crs(metric)
    if streets is not None:
        network = build_walk_network(streets, crs=metric)
        d = distances_from(network, snap_points(network, p), snap_points(network, b)).d1
        how = "network"
    else:
        reps = b.geometry.representative_point()
        d = np.asarray(
            gpd.GeoSeries(reps, crs=metric).distance(p.geometry.union_all(), align=False),
            dtype=float,
        )
        d = np.where(b.geometry.is_empty.to_numpy(), np.inf, d)
        how = "straight"
    hh = _column(buildings, "households", default=0.0)
    ids = _ids(buildings)
    return {
        "metric": how,
        "points": len(points),
        "share_buildings": {f"{s:g}": round(float(np.mean(d <= s)), 4) for s in spacings_m},
        "share_households": {
            f"{s:g}": (round(float(hh[d <= s].sum() / hh.sum()), 4) if hh.sum() > 0 else None)
            for s in spacings_m
        },
        "median_m": round(float(np.median(d)), 1),
        "max_m": round(float(np.max(d)), 1) if np.isfinite(d).all() else None,
        "distance_m": {
            str(i): (round(float(x), 1) if np.isfinite(x) else None)
            for i, x in zip(ids, d, strict=True)
        },
    }


def _column(frame: pd.DataFrame, name: str, *, default: float) -> np.ndarray:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").fillna(0).to_numpy(float)
    return np.full(len(frame), default)


def _text(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].astype("string").fillna("").to_numpy(object)
    return np.full(len(frame), "", dtype=object)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    if "id" in frame.columns:
        return frame["id"].astype(str).to_numpy()
    return np.asarray([str(i) for i in frame.index])


def _per_district(
    plan: pd.DataFrame, grid: np.ndarray, t: np.ndarray, hh: np.ndarray, minutes: list[float]
) -> dict[str, Any]:
    """The 1310 figures of each district of ``plan`` (buildings joined through their grid)."""
    lookup = dict(zip(plan["grid"].astype(str), plan["district"].astype(str), strict=False))
    district = np.array([lookup.get(str(g), "") for g in grid], dtype=object)
    out: dict[str, Any] = {}
    for d in sorted(set(district) - {""}, key=lambda x: (len(x), x)):
        mask = (district == d) & (hh > 0)
        total = float(hh[mask].sum())
        times = t[mask]
        out[d] = {
            "households": round(total, 1),
            "share_households": {
                f"{m:g}": round(float(hh[mask][times <= m * 60].sum() / total), 4)
                if total
                else None
                for m in minutes
            },
            "worst_case_s": round(float(times.max()), 1)
            if times.size and np.isfinite(times).all()
            else None,
        }
    return out
