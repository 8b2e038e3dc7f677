"""Which buildings a grid boundary crosses, and which of them OSM itself draws across a line.

A grid boundary must never pass through a building.  :func:`building_crossings`
measures it on a finished build: a building is *crossed* when more than
:data:`CROSSED_SHARE` of its footprint lies outside its own grid.  A crossed
building is *straddling* (explained, and reported apart) when OSM draws its
footprint across a line grids must follow: a street or barrier that cuts
blocks, a given community boundary, or the edge of the study area.  Everything
else is a fault of the grid builder: the count is expected to be 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Share of a footprint outside its grid above which the building counts as crossed.
CROSSED_SHARE = 1e-3
#: How many building ids the summary lists per kind.
LISTED = 50


def building_crossings(
    footprints: np.ndarray,
    grid_of_building: np.ndarray,
    grid_shapes: np.ndarray,
    *,
    lines: np.ndarray,
    edges: list[BaseGeometry],
    ids: np.ndarray,
) -> dict[str, Any]:
    """Count the buildings that grid boundaries cross.

    Parameters
    ----------
    footprints
        Building polygons (metric CRS).
    grid_of_building
        Index into ``grid_shapes`` of each building's grid.
    grid_shapes
        Grid polygons.
    lines
        The lines grids follow (streets and barriers that cut blocks).
    edges
        Other outlines a footprint may straddle: the study area's, given
        community boundaries.
    ids
        Building ids, for the lists.

    Returns
    -------
    dict
        ``crossed`` (count, expected 0), ``crossed_ids``, ``worst_outside_share``
        (the largest share of a crossed footprint outside its grid, 0.0 when
        none), ``straddling`` (count of buildings OSM draws across a street,
        barrier, community or study-area boundary), ``straddling_ids`` and
        ``straddling_worst_share``.
    """
    share = outside_share(footprints, grid_shapes[grid_of_building])
    crossed = share > CROSSED_SHARE
    explained = np.zeros(len(footprints), dtype=bool)
    idx = np.flatnonzero(crossed)
    if len(idx):
        against = np.concatenate(
            [np.asarray(lines, dtype=object), shapely.boundary(np.asarray(edges, dtype=object))]
        )
        if len(against):
            hit = shapely.STRtree(against).query(footprints[idx], predicate="intersects")[0]
            explained[idx[np.unique(hit)]] = True
    fault = crossed & ~explained
    straddle = crossed & explained
    return {
        "crossed": int(fault.sum()),
        "crossed_ids": [str(i) for i in ids[fault][:LISTED]],
        "worst_outside_share": round(float(share[fault].max()), 4) if fault.any() else 0.0,
        "straddling": int(straddle.sum()),
        "straddling_ids": [str(i) for i in ids[straddle][:LISTED]],
        "straddling_worst_share": round(float(share[straddle].max()), 4) if straddle.any() else 0.0,
    }


def outside_share(footprints: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Share of each footprint's area that lies outside its owner polygon."""
    footprints = np.asarray(footprints, dtype=object)
    owners = np.asarray(owners, dtype=object)
    shapely.prepare(owners)
    share = np.zeros(len(footprints))
    loose = ~shapely.covers(owners, footprints)
    if loose.any():
        area = shapely.area(footprints[loose])
        outside = shapely.area(shapely.difference(footprints[loose], owners[loose]))
        share[loose] = np.where(area > 0, outside / np.maximum(area, 1e-12), 0.0)
    return share
