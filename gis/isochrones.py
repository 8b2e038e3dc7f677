"""Isochrone polygons for display, drawn from the street edges actually reached.

Coverage itself is measured per building (:mod:`gis.coverage`); polygons only
show it.  For a walking budget ``R`` an edge ``(u, v)`` of length ``L`` is
reached from ``u`` up to ``R - d(u)`` and from ``v`` up to ``R - d(v)``; an
edge holding a service point is also reached on both sides of it.  The reached
pieces (whole or partial edges) are buffered by a display width and merged;
blocks larger than twice the width stay holes, as nothing inside is reached.
:func:`polygon_agreement` measures how far such a polygon misstates the
per-building truth (see ``docs/coverage.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gis.access import Snap
from gis.network import WalkNetwork
from gis.paths import NodeDistances

#: Half-width (m) of the band drawn around reached streets.
DEFAULT_WIDTH_M = 50.0


def reached_pieces(
    network: WalkNetwork, nodes: NodeDistances, sources: Snap, *, radius: float
) -> np.ndarray:
    """Straight pieces ``(k, 2, 2)`` of street reached within ``radius`` metres.

    Numeric core: ``nodes.d1`` are node distances from the sources.
    """
    xy, u, v, seg_len = network.xy, network.u, network.v, network.length
    ru = np.clip(radius - nodes.d1[u], 0.0, seg_len)
    rv = np.clip(radius - nodes.d1[v], 0.0, seg_len)
    full = ru + rv >= seg_len
    starts = [np.zeros(int(full.sum()))]
    ends = [seg_len[full]]
    edges = [np.flatnonzero(full)]
    part_u = ~full & (ru > 0)
    starts.append(np.zeros(int(part_u.sum())))
    ends.append(ru[part_u])
    edges.append(np.flatnonzero(part_u))
    part_v = ~full & (rv > 0)
    starts.append(seg_len[part_v] - rv[part_v])
    ends.append(seg_len[part_v])
    edges.append(np.flatnonzero(part_v))
    # around each service point on its own edge
    budget = radius - sources.access
    ok = budget > 0
    e = sources.edge[ok]
    starts.append(np.clip(sources.t[ok] - budget[ok], 0.0, seg_len[e]))
    ends.append(np.clip(sources.t[ok] + budget[ok], 0.0, seg_len[e]))
    edges.append(e)
    s, t, k = np.concatenate(starts), np.concatenate(ends), np.concatenate(edges)
    keep = t > s
    s, t, k = s[keep], t[keep], k[keep]
    a, b = xy[u[k]], xy[v[k]]
    unit = (b - a) / seg_len[k][:, None]
    return np.stack([a + unit * s[:, None], a + unit * t[:, None]], axis=1)


def isochrone_polygon(pieces: np.ndarray, *, width_m: float = DEFAULT_WIDTH_M) -> shapely.Geometry:
    """The band of ``width_m`` around the reached pieces, merged (may have holes)."""
    if pieces.shape[0] == 0:
        return shapely.Polygon()
    # buffering pieces one by one and merging is far faster in GEOS than
    # buffering one overlapping MultiLineString
    bands = shapely.buffer(shapely.linestrings(pieces), width_m, quad_segs=4)
    return shapely.union_all(bands)


def isochrones(
    network: WalkNetwork,
    nodes: NodeDistances,
    sources: Snap,
    *,
    radii: Mapping[int, float],
    width_m: float = DEFAULT_WIDTH_M,
) -> gpd.GeoDataFrame:
    """One polygon per threshold, in the network's metric CRS.

    Parameters
    ----------
    radii
        Minutes -> walking distance in metres.
    """
    rows: list[dict[str, Any]] = []
    for minutes, radius in sorted(radii.items()):
        poly = isochrone_polygon(
            reached_pieces(network, nodes, sources, radius=radius), width_m=width_m
        )
        rows.append(
            {
                "minutes": int(minutes),
                "distance_m": round(float(radius), 1),
                "width_m": float(width_m),
                "area_m2": round(float(poly.area), 1),
                "geometry": poly,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=network.crs)


def hull_polygon(network: WalkNetwork, nodes: NodeDistances, *, radius: float) -> shapely.Geometry:
    """Convex hull of the reached nodes: the crude isochrone, for comparison only."""
    reached = network.xy[nodes.d1 <= radius]
    if reached.shape[0] == 0:
        return shapely.Polygon()
    return shapely.convex_hull(shapely.multipoints(reached))


def polygon_agreement(
    polygon: shapely.Geometry, points_xy: np.ndarray, covered: np.ndarray
) -> dict[str, Any]:
    """How a polygon's inside/outside compares with the per-building truth.

    Returns counts and shares of truly covered buildings left outside
    (``missed``) and of truly uncovered ones drawn inside (``false``).
    """
    inside = shapely.contains_xy(polygon, points_xy[:, 0], points_xy[:, 1])
    covered = np.asarray(covered, dtype=bool)
    n_cov, n_unc = int(covered.sum()), int((~covered).sum())
    missed = int((covered & ~inside).sum())
    false = int((~covered & inside).sum())
    return {
        "covered": n_cov,
        "uncovered": n_unc,
        "missed": missed,
        "false": false,
        "missed_share": round(missed / n_cov, 4) if n_cov else None,
        "false_share": round(false / n_unc, 4) if n_unc else None,
        "misclassified_share": round((missed + false) / max(n_cov + n_unc, 1), 4),
    }
