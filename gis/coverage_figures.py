"""The figures of a coverage run: what ``coverage.json`` holds.

Main flow, :func:`coverage_figures`: per speed profile, buildings, population
and households within each threshold for the area, each community, district
and grid (:func:`profile_figures`); who is lost at a slower speed; the
uncovered households by cause (far from any service point, or on a network
piece without one); the pieces that have buildings but no service point; the
buildings with long access legs; and the warnings that say so.

Everything here is arithmetic on per-building distances and a small frame of
quantities and keys (:func:`tally_frame`); nothing walks the network again.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.crs import WGS84
from gis.walks import Walks

#: Access legs longer than this (m) are listed with their building.
LONG_LEG_M = 100.0
#: At most this many long legs and pieces are listed in full.
MAX_LISTED = 200

_QUANTITIES = ("buildings", "population", "households")


def coverage_figures(
    frame: pd.DataFrame,
    walks: Walks,
    radii: dict[str, dict[int, float]],
    *,
    mode: str,
    speeds: dict[str, float],
    ids: np.ndarray,
    service_ids: np.ndarray,
) -> tuple[dict[str, Any], list[str]]:
    """The figures of ``coverage.json`` and the warnings about them.

    Parameters
    ----------
    frame
        From :func:`tally_frame` (positional, one row per building).
    walks
        From :func:`gis.walks.measure_walks`.
    radii
        Per profile, minutes -> walking budget in metres.
    mode, speeds
        As :func:`gis.coverage.compute_coverage` was given them.
    ids, service_ids
        Building ids and the ids of the service points kept.
    """
    d1 = walks.walk.d1
    first = next(iter(speeds))
    pieces = piece_figures(frame, walks)
    figures: dict[str, Any] = {
        "mode": mode,
        "minutes": list(radii[first]),
        "profiles": {
            name: {
                "speed_m_s": speed,
                "distance_m": {str(m): round(r, 1) for m, r in radii[name].items()},
                **profile_figures(frame, d1, radii[name]),
            }
            for name, speed in speeds.items()
        },
        "lost_at_slower_speed": lost_at_slower_speed(frame, d1, radii, first),
        "uncovered_by_cause": uncovered_by_cause(frame, walks, radii[first]),
        "services": {"count": len(service_ids), "ids": [str(i) for i in service_ids]},
        "network": {**walks.network.report, "pieces_without_service": pieces},
        "access": access_figures(frame, walks, ids),
    }
    warnings = _piece_warnings(pieces) + _access_warnings(figures["access"])
    warnings += extreme_warnings(figures, first)
    return figures, warnings


# --------------------------------------------------------------------------- tallies


def tally_frame(buildings: gpd.GeoDataFrame, plan: pd.DataFrame | None) -> pd.DataFrame:
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


def _tally(frame: pd.DataFrame, covered: dict[int, np.ndarray], by: str | None) -> Any:
    data = frame[list(_QUANTITIES)].copy()
    for m, flag in covered.items():
        for q in _QUANTITIES:
            data[f"{q}@{m}"] = frame[q].to_numpy() * flag
    if by is None:
        return _entry(data.sum(), covered)
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


def _sums(frame: pd.DataFrame, mask: np.ndarray) -> dict[str, float]:
    return {q: round(float(frame[q].to_numpy()[mask].sum()), 1) for q in _QUANTITIES}


def profile_figures(frame: pd.DataFrame, d1: np.ndarray, radii: dict[int, float]) -> dict[str, Any]:
    """Covered buildings, population and households per threshold, area and groups."""
    covered = {m: (d1 <= r).astype(float) for m, r in radii.items()}
    out = {"area": _tally(frame, covered, None)}
    for level in ("community", "district", "grid"):
        if level in frame.columns and (frame[level] != "").any():
            out[level] = _tally(frame, covered, level)
    return out


def lost_at_slower_speed(
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
            per[str(m)] = _sums(frame, lost)
            per[str(m)]["grids"] = sorted({g for g in frame["grid"].to_numpy()[lost] if g})
        out[name] = per
    return out


def uncovered_by_cause(
    frame: pd.DataFrame, walks: Walks, radii: dict[int, float]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per threshold, the uncovered buildings split by why.

    ``far``: a service point is reachable but farther than the threshold;
    ``no_service_on_piece``: the building's piece of the network holds no
    service point, so no walk exists; ``no_geometry``: the building has none.
    """
    d1 = walks.walk.d1
    no_geometry = ~np.isfinite(_leg_used(walks))
    no_service = ~np.isfinite(d1) & ~no_geometry
    return {
        str(m): {
            "far": _sums(frame, np.isfinite(d1) & (d1 > r)),
            "no_service_on_piece": _sums(frame, no_service),
            "no_geometry": _sums(frame, no_geometry),
        }
        for m, r in radii.items()
    }


# --------------------------------------------------------------------------- pieces and legs


def piece_figures(frame: pd.DataFrame, walks: Walks) -> list[dict[str, Any]]:
    """The network pieces that have buildings but no service point, most households first.

    Each with its number, street length, buildings, population, households,
    and where it is (centre and bounding box of its streets, WGS 84).
    """
    net = walks.network
    has_geometry = np.isfinite(_leg_used(walks))
    piece = walks.building_piece()
    served = np.zeros(net.n_pieces, dtype=bool)
    served[walks.service_piece()] = True
    lacking = has_geometry & ~served[piece]
    if not lacking.any():
        return []
    sums = frame[lacking].groupby(piece[lacking])[list(_QUANTITIES)].sum()
    to_wgs = Transformer.from_crs(net.crs, WGS84, always_xy=True)
    private = set(net.report.get("pieces_joined_by_private_ways", []))
    rows: list[dict[str, Any]] = []
    for p, row in sums.iterrows():
        nodes = net.xy[net.piece == p]
        lo, hi = nodes.min(axis=0), nodes.max(axis=0)
        (x0, x1), (y0, y1) = to_wgs.transform([lo[0], hi[0]], [lo[1], hi[1]])
        cx, cy = to_wgs.transform(*((lo + hi) / 2))
        rows.append(
            {
                "piece": int(p),
                "length_m": round(float(net.piece_length[int(p)]), 1),
                **{q: round(float(row[q]), 1) for q in _QUANTITIES},
                "joined_by_private_ways": int(p) in private,
                "center": [round(float(cx), 7), round(float(cy), 7)],
                "bbox": [round(float(c), 7) for c in (x0, y0, x1, y1)],
            }
        )
    rows.sort(key=lambda r: (-r["households"], -r["buildings"], r["piece"]))
    return rows


def access_figures(frame: pd.DataFrame, walks: Walks, ids: np.ndarray) -> dict[str, Any]:
    """Entrances used, legs that went around a barrier or had to cross one, long legs."""
    b, s = walks.buildings, walks.services
    leg = _leg_used(walks)
    via = walks.walk.via
    crossing = (b.legs.hard[via] > 0) | (b.legs.soft[via] > 0)
    long_leg = np.isfinite(leg) & (leg > LONG_LEG_M)
    order = np.flatnonzero(long_leg)[np.argsort(-leg[long_leg], kind="stable")]
    grid = frame["grid"].to_numpy()
    has_geometry = np.isfinite(leg)
    to_wgs = Transformer.from_crs(walks.network.crs, WGS84, always_xy=True)
    lon, lat = to_wgs.transform(b.xy[order, 0], b.xy[order, 1]) if order.size else ([], [])
    return {
        "barriers": walks.barriers.counts(),
        "entrances_found": walks.entrances_found,
        "buildings_at_entrances": int((b.entrances > 0).sum()),
        "services_at_entrances": int((s.entrances > 0).sum()),
        "buildings_leg_avoided_barrier": int(b.legs.avoided[via][has_geometry].sum()),
        "buildings_leg_crossing_hard": int((b.legs.hard[via] > 0)[has_geometry].sum()),
        "buildings_leg_crossing_wall_or_fence": int(
            ((b.legs.soft[via] > 0) & (b.legs.hard[via] == 0))[has_geometry].sum()
        ),
        "building_access_m_p95": round(float(np.percentile(leg[has_geometry], 95)), 1)
        if has_geometry.any()
        else None,
        "long_leg_m": LONG_LEG_M,
        "buildings_long_leg": int(long_leg.sum()),
        "long_legs": [
            {
                "id": str(ids[i]),
                "grid": grid[i] or None,
                "access_m": round(float(leg[i]), 1),
                "households": round(float(frame["households"].iat[i]), 1),
                "at_entrance": bool(b.entrances[i] > 0),
                "crosses_barrier": bool(crossing[i]),
                "at": [round(float(x), 7), round(float(y), 7)],
            }
            for i, x, y in zip(order[:MAX_LISTED], lon, lat, strict=False)
        ],
        "buildings_without_geometry": int((~has_geometry).sum()),
    }


def _leg_used(walks: Walks) -> np.ndarray:
    """The access leg (m) each building's walk starts with (inf: no geometry)."""
    return walks.buildings.snap.access[walks.walk.via]


# --------------------------------------------------------------------------- warnings


def _piece_warnings(pieces: list[dict[str, Any]]) -> list[str]:
    if not pieces:
        return []
    buildings = sum(p["buildings"] for p in pieces)
    households = sum(p["households"] for p in pieces)
    top = pieces[0]
    private = [p for p in pieces if p["joined_by_private_ways"]]
    gated = (
        f" {len(private)} of them ({sum(p['households'] for p in private):.0f} households) "
        "reach the rest only over ways tagged private (a gated estate: its residents walk "
        "out, the walk network does not)."
        if private
        else ""
    )
    return [
        f"{buildings:.0f} buildings ({households:.0f} households) lie on {len(pieces)} "
        "piece(s) of the walk network that hold no service point, so they have no walk; "
        f"the largest is piece {top['piece']} ({top['length_m']:.0f} m of street, "
        f"{top['buildings']:.0f} buildings, {top['households']:.0f} households, near "
        f"{top['center'][0]:.5f}, {top['center'][1]:.5f}). A bridge, tunnel or ferry may be "
        "missing from the data: check there, add a service point on the piece, or join "
        "pieces whose ends nearly meet with --join-pieces 30." + gated
    ]


def _access_warnings(access: dict[str, Any]) -> list[str]:
    notes = []
    if access["buildings_without_geometry"]:
        notes.append(
            f"{access['buildings_without_geometry']} buildings have no geometry and are "
            "counted as unreachable"
        )
    if access["buildings_long_leg"]:
        notes.append(
            f"{access['buildings_long_leg']} buildings are more than {LONG_LEG_M:.0f} m from "
            "the nearest walkable street they can reach; their access leg is counted "
            "(listed under access → long_legs)"
        )
    if access["buildings_leg_crossing_hard"]:
        notes.append(
            f"{access['buildings_leg_crossing_hard']} buildings reach their street only across "
            "a motorway, railway or water (no street on their side within reach): check the "
            "streets there"
        )
    return notes


def extreme_warnings(figures: dict[str, Any], first: str) -> list[str]:
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


# --------------------------------------------------------------------------- gaps


def gap_areas(
    b_metric: gpd.GeoDataFrame,
    frame: pd.DataFrame,
    d1: np.ndarray,
    radius: float,
    minutes: int,
    *,
    merge_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """Areas of uncovered buildings: their footprints grown by ``merge_m`` and merged."""
    uncovered = ~(d1 <= radius)
    columns: dict[str, list[Any]] = {
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
    idx = shapely.STRtree(parts).query(reps, predicate="within")
    part_of = np.full(len(geoms), -1)
    part_of[idx[0]] = idx[1]
    sums = frame[uncovered].assign(part=part_of).groupby("part")[list(_QUANTITIES)].sum()
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
