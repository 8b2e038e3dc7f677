"""Open water: what rivers, lakes and the sea take out of a study area.

Grids are drawn on land.  :func:`water_mask` gathers the water of an extract
in a metric CRS: water areas (``natural=water``, riverbanks, docks,
reservoirs), rivers and canals drawn only as lines (widened to their
``width`` tag, else a default per kind), and the sea beside a coastline (OSM
draws coastlines with the land on the left and the water on the right).
Footprints of buildings standing in the water (piers, boat houses) stay land.
:func:`land_only` takes that water out of a study area.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.blocks import enclose

#: Width (m) of a river or canal drawn only as a line, when it has no ``width`` tag.
DEFAULT_WIDTH_M = {"waterway": 10.0}
#: Water bodies smaller than this (m², fountains, garden ponds) stay inside grids.
MIN_WATER_M2 = 2_500.0
#: A coastline ending this close (m) to the area's edge is drawn on to it.
COAST_REACH_M = 150.0
#: Pieces of land smaller than this (m²) that water cuts off (a pier, a boat house,
#: a speck between the shore and the boundary) are left out of the study area.
MIN_LAND_M2 = 2_000.0


def water_mask(
    area: BaseGeometry, barriers: gpd.GeoDataFrame, footprints: np.ndarray
) -> BaseGeometry:
    """The open water inside ``area`` (metric CRS), footprints in it left dry.

    Parameters
    ----------
    area
        The region to look in (the study area, or a hull around the buildings).
    barriers
        The extract's barriers (see :class:`gis.sources.OsmLayers`), metric CRS.
    footprints
        Building polygons; water under them counts as land.

    Returns
    -------
    Polygon or MultiPolygon
        Empty when the area holds no open water.
    """
    return dry(open_water(area, barriers), footprints)


def open_water(area: BaseGeometry, barriers: gpd.GeoDataFrame) -> BaseGeometry:
    """The water areas, widened river lines and sea of ``barriers`` inside ``area``.

    A water body counts when it is at least :data:`MIN_WATER_M2` whole (not the
    part inside the area).
    """
    if barriers.empty or "kind" not in barriers.columns:
        return shapely.Polygon()
    kind = barriers["kind"].to_numpy(dtype=object)
    geoms = barriers.geometry.to_numpy()
    parts = [geoms[(kind == "water") & (shapely.get_type_id(geoms) >= 3)]]
    lines = kind == "waterway"
    if lines.any():
        width = _widths(barriers.loc[lines], "waterway")
        parts.append(shapely.buffer(geoms[lines], width / 2, cap_style="flat"))
    coast = geoms[kind == "coastline"]
    if len(coast):
        parts.append(np.array(sea_faces(area, coast), dtype=object))
    water = shapely.union_all(np.concatenate(parts)) if any(len(p) for p in parts) else None
    if water is None or water.is_empty:
        return shapely.Polygon()
    bodies = [p for p in shapely.get_parts(shapely.make_valid(water)) if p.geom_type == "Polygon"]
    bodies = [p for p in bodies if p.area >= MIN_WATER_M2]
    if not bodies:
        return shapely.Polygon()
    return _polygons(shapely.intersection(shapely.union_all(bodies), area))


def dry(water: BaseGeometry, footprints: np.ndarray) -> BaseGeometry:
    """``water`` without the footprints standing in it (piers, boat houses stay land)."""
    if water.is_empty or len(footprints) == 0:
        return water
    shapely.prepare(water)  # a prepared polygon: each footprint tested against its index
    near = footprints[shapely.intersects(water, footprints)]
    if len(near):
        water = shapely.difference(water, shapely.union_all(near))
    return _polygons(water)


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    keep = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 1.0]
    return shapely.union_all(keep) if keep else shapely.Polygon()


def land_only(area: BaseGeometry, water: BaseGeometry) -> BaseGeometry:
    """``area`` without ``water``, leaving out pieces of land under :data:`MIN_LAND_M2`."""
    if water.is_empty:
        return area
    land = shapely.difference(area, water)
    parts = [p for p in shapely.get_parts(land) if p.geom_type == "Polygon"]
    parts = [p for p in parts if p.area >= MIN_LAND_M2] or parts
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def sea_faces(area: BaseGeometry, coastline: np.ndarray) -> list[BaseGeometry]:
    """The faces of ``area`` cut by ``coastline`` that lie on the sea side.

    Each coastline segment votes for the face just to its right (sea) and the
    face just to its left (land); a face is sea when it gets more sea votes.
    A coastline that a clipped extract ends just short of the area's edge is
    drawn on to the edge (within :data:`COAST_REACH_M`), so that it still
    separates land from sea.
    """
    coastline = _reach_edge(area, coastline)
    faces = enclose(area, coastline)
    if len(faces) < 2:
        return []
    coords, which = shapely.get_coordinates(coastline, return_index=True)
    same = which[1:] == which[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0.5
    a, d, length = a[ok], d[ok], length[ok]
    mid = a + d / 2
    right = np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None]
    tree = shapely.STRtree(faces)
    votes = np.zeros(len(faces))
    for sign in (+1.0, -1.0):  # +1: right of the way, the sea
        probes = shapely.points(mid + sign * 0.5 * right)
        hit_probe, hit_face = tree.query(probes, predicate="within")
        np.add.at(votes, hit_face, sign * length[hit_probe])
    return [f for f, v in zip(faces, votes, strict=True) if v > 0]


def _reach_edge(area: BaseGeometry, lines: np.ndarray) -> np.ndarray:
    """Lines whose ends stop short of the area's outline, drawn on across it."""
    edge = area.boundary
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    gap = shapely.distance(ends, edge)
    short = (gap > 1e-6) & (gap <= COAST_REACH_M) & shapely.within(ends, area)
    if not short.any():
        return lines
    near = shapely.get_coordinates(shapely.shortest_line(ends[short], edge))
    start, stop = near[0::2], near[1::2]
    step = stop - start
    unit = step / np.maximum(np.hypot(step[:, 0], step[:, 1]), 1e-9)[:, None]
    spans = shapely.linestrings(np.stack([start, stop + unit * 1.0], axis=1))
    return np.concatenate([lines, spans])


def _widths(lines: gpd.GeoDataFrame, kind: str) -> np.ndarray:
    """Width of each waterway line (m): its ``width`` tag, else the default."""
    default = DEFAULT_WIDTH_M[kind]
    if "width" not in lines.columns:
        return np.full(len(lines), default)
    raw = lines["width"].astype(str).str.extract(r"^\s*(\d+(?:\.\d+)?)\s*(?:m)?\s*$")[0]
    width = raw.astype(float).to_numpy()
    return np.where(np.isfinite(width) & (width > 0), np.minimum(width, 500.0), default)
