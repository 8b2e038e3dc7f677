"""From layers to per-building walks: the steps coverage and the 1310 check share.

Main flow, :func:`measure_walks`:

1. the barriers no access leg may cross (:func:`gis.barriers.walk_barriers`);
2. the walk network, every piece kept, joined across short gaps on request
   (:func:`gis.network.build_walk_network`);
3. the buildings' entrances: entrance and door nodes, footway ends on the
   outline (:func:`gis.access.building_entrances`);
4. buildings and service points attached at their entrances, by legs that
   cross no barrier (:func:`gis.access.attach`);
5. service points too far from any walkable street left out;
6. exact walks to the nearest and second-nearest service point, within each
   piece (:func:`gis.paths.distances_from`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import geopandas as gpd
import numpy as np
import shapely

from gis._errors import ServiceError
from gis._types import CRSLike
from gis.access import (
    Attached,
    attach,
    building_entrances,
    containing_building,
    footway_ends,
    representative_xy,
    usable_entrances,
)
from gis.barriers import WalkBarriers, walk_barriers
from gis.network import WalkNetwork, build_walk_network, walkable_mask
from gis.paths import NodeDistances, PointWalks, nearest_sources, point_distances

#: Service points farther than this (m) from any walkable street are left out.
MAX_SERVICE_SNAP_M = 250.0


@dataclass(frozen=True)
class Walks:
    """Buildings and service points on the walk network, and the walks between them.

    Attributes
    ----------
    network, barriers
        The walk network (every piece) and the lines legs may not cross.
    buildings
        Every building's attachments (positional, like the input).
    services
        The attachments of the service points kept.
    kept
        Which input service points were kept (near enough to a street).
    nodes
        Node distances from the kept service points.
    walk
        Per building: nearest and second-nearest distance, service (index
        among the kept ones), attachment used.
    entrances_found
        How many entrances were found on building outlines.
    """

    network: WalkNetwork
    barriers: WalkBarriers
    buildings: Attached
    services: Attached
    kept: np.ndarray
    nodes: NodeDistances
    walk: PointWalks
    entrances_found: int

    def building_piece(self) -> np.ndarray:
        """The network piece each building's walk starts on."""
        edge = self.buildings.snap.edge[self.walk.via]
        return self.network.piece[self.network.u[edge]]

    def service_piece(self) -> np.ndarray:
        """The network piece of each kept service point's attachments (one per row)."""
        return self.network.piece[self.network.u[self.services.snap.edge]]


def measure_walks(
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    services: gpd.GeoDataFrame,
    *,
    crs: CRSLike,
    barriers: gpd.GeoDataFrame | None = None,
    entrances: gpd.GeoDataFrame | None = None,
    join_pieces_m: float | None = None,
    max_service_m: float = MAX_SERVICE_SNAP_M,
    what: str = "service points",
) -> Walks:
    """Attach buildings and service points to the walk network and walk between them.

    Parameters
    ----------
    buildings, streets, services
        Layers with a CRS (any); services may be points or polygons.
    crs
        The metric CRS to compute in.
    barriers
        Railways, waterways, water, walls and fences (``kind`` column), as the
        OSM reader gives them; motorways come from ``streets``.
    entrances
        Entrance and door nodes (points with ``entrance``/``door`` tags).
    join_pieces_m
        Join pieces of the network whose dead ends lie this close (m).
    max_service_m
        Service points whose legs are longer are left out.
    what
        What the service points are, for messages.

    Raises
    ------
    ServiceError
        When every service point lies more than ``max_service_m`` from the network.
    """
    walkable, _ = walkable_mask(streets)
    streets_m = streets.to_crs(crs)
    # 1. barriers
    blocked = walk_barriers(streets_m, barriers, crs=crs, walkable=walkable)
    # 2. the walk network, every piece
    network = build_walk_network(streets, crs=crs, join_within_m=join_pieces_m, barriers=blocked)
    # 3. entrances on building outlines
    b_metric = buildings.to_crs(crs)
    footprints = np.asarray(b_metric.geometry.values, dtype=object)
    entrance_of, entrance_xy = building_entrances(
        footprints,
        np.vstack(
            [_points_xy(usable_entrances(entrances), crs), footway_ends(streets_m, walkable)]
        ),
    )
    # 4. attached at entrances, legs that cross no barrier
    at_doors = partial(
        attach,
        network,
        barriers=blocked,
        footprints=footprints,
        entrance_of=entrance_of,
        entrance_xy=entrance_xy,
    )
    b_xy = representative_xy(network, b_metric)
    b_att = at_doors(b_xy, building_of=np.arange(len(b_xy)))
    s_xy = representative_xy(network, services.to_crs(crs))
    s_all = at_doors(s_xy, building_of=containing_building(footprints, s_xy))
    # 5. service points near a street only
    kept = _nearest_leg(s_all) <= max_service_m
    if not kept.any():
        raise ServiceError(
            f"all {len(services)} {what} lie more than {max_service_m:.0f} m from the walk "
            "network: check their CRS and that they belong to this area"
        )
    s_att = s_all.subset(kept)
    # 6. exact walks within each piece
    nodes = nearest_sources(network, s_att.snap)
    walk = point_distances(network, nodes, b_att.snap, s_att.snap)
    return Walks(network, blocked, b_att, s_att, kept, nodes, walk, int(entrance_of.size))


def _points_xy(frame: gpd.GeoDataFrame | None, crs: CRSLike) -> np.ndarray:
    if frame is None or frame.empty:
        return np.zeros((0, 2))
    geoms = frame.to_crs(crs).geometry.values
    geoms = geoms[shapely.get_type_id(geoms) == 0]
    return shapely.get_coordinates(geoms)


def _nearest_leg(att: Attached) -> np.ndarray:
    """Per point, the shortest access leg among its attachments."""
    out = np.full(len(att.snap), np.inf)
    np.minimum.at(out, att.snap.owner, att.snap.access)
    return out
