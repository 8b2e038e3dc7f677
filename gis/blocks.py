"""Blocks: the faces that streets, rivers, railways and walls cut a polygon into.

Grid boundaries follow these lines (GB/T 30428 practice: grids follow roads,
rivers, railways and walls).  Major roads, railways and rivers also outline
*communities* when the office gives none.  Everything here works in a metric
CRS on plain shapely geometries.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Roads that outline communities (with railways and rivers) when none are given.
MAJOR_HIGHWAYS = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
    }
)

#: Streets that outline blocks (grids follow them).
BLOCK_HIGHWAYS = MAJOR_HIGHWAYS | {
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "pedestrian",
    "road",
}

#: Faces smaller than this (m²) are noise from nearly-touching lines.
MIN_FACE_M2 = 1.0
#: Lines are clipped this far (m) beyond the area they cut.
CLIP_MARGIN_M = 1.0
#: A rounding sliver is widened by this much (m) to join its neighbour.
SPECK_PAD_M = 1e-6


def barrier_lines(
    streets: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame, highways: frozenset[str]
) -> np.ndarray:
    """The lines that cut an area: streets of the given classes and all barriers.

    Streets in tunnels do not cut the surface; water bodies cut along their shore.

    Parameters
    ----------
    streets
        Street lines with ``highway`` and ``tunnel`` columns (metric CRS).
    barriers
        Railways, waterways, walls (lines) and water bodies (polygons), metric CRS.
    highways
        The ``highway`` classes to use.

    Returns
    -------
    ndarray of shapely geometries
    """
    parts = []
    if not streets.empty:
        tunnel = (
            streets["tunnel"].isin(["yes", "building_passage"]) if "tunnel" in streets else False
        )
        keep = streets["highway"].isin(list(highways)) & ~tunnel
        parts.append(streets.geometry.values[keep.to_numpy()])
    if not barriers.empty:
        geoms = barriers.geometry.values
        polygonal = shapely.get_type_id(geoms) >= 3
        parts.append(np.where(polygonal, shapely.boundary(geoms), geoms))
    if not parts:
        return np.array([], dtype=object)
    return np.concatenate(parts)


def enclose(area: BaseGeometry, lines: Sequence[BaseGeometry] | np.ndarray) -> list[BaseGeometry]:
    """Cut ``area`` into the faces enclosed by ``lines`` and its own boundary.

    The faces tile ``area``: no gap, no overlap (up to floating-point noise).

    Parameters
    ----------
    area
        A Polygon or MultiPolygon (metric CRS).
    lines
        Cutting lines; parts outside ``area`` are ignored, dangling ends too.

    Returns
    -------
    list of Polygon
        Faces with holes where a face encloses another.
    """
    lines = np.asarray(lines, dtype=object)
    # clip to a hair beyond the area, so lines cross its outline and are noded with it
    # (a line clipped exactly at the outline may end a rounding error short of it)
    reach = shapely.buffer(area, CLIP_MARGIN_M, quad_segs=1, join_style="mitre")
    if len(lines):
        lines = lines[shapely.STRtree(lines).query(reach, predicate="intersects")]
    inside = shapely.intersection(lines, reach) if len(lines) else lines
    inside = inside[~shapely.is_empty(inside)] if len(inside) else inside
    noded = shapely.union_all(np.concatenate([[area.boundary], inside]))
    faces = shapely.get_parts(shapely.polygonize([noded]))
    if len(faces) == 0:
        return list(shapely.get_parts(area))
    shapely.prepare(area)
    probes = shapely.point_on_surface(faces)
    keep = shapely.contains(area, probes) & (shapely.area(faces) >= MIN_FACE_M2)
    faces = faces[keep]
    return _fill_gaps(area, list(faces))


def _fill_gaps(area: BaseGeometry, faces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give any part of ``area`` that no face covers (dropped specks) to a neighbour.

    The speck goes to the face it shares the longest boundary with whose union
    with it is one polygon; a speck that touches its neighbours only at points
    (a rounding sliver) is widened by :data:`SPECK_PAD_M` to join.
    """
    covered = shapely.union_all(faces)
    rest = shapely.difference(area, covered)
    if rest.is_empty or rest.area < 1e-9 * max(area.area, 1.0):
        return faces
    tree = shapely.STRtree(faces)
    for piece in shapely.get_parts(rest):
        if piece.area <= 0:
            continue
        candidates = tree.query(piece, predicate="intersects")
        if len(candidates) == 0:
            faces.append(piece)
            continue
        shared = shapely.length(
            shapely.intersection(
                piece.boundary, shapely.boundary(np.asarray(faces, dtype=object)[candidates])
            )
        )
        order = candidates[np.argsort(-shared, kind="stable")].tolist()
        for target in order:
            merged = shapely.union_all([faces[target], piece])
            if merged.geom_type == "Polygon":
                break
        else:
            target = order[0]
            padded = shapely.buffer(piece, SPECK_PAD_M, join_style="mitre")
            merged = shapely.intersection(shapely.union_all([faces[target], padded]), area)
            if merged.geom_type != "Polygon":
                faces.append(piece)
                continue
        faces[target] = merged
    return faces


def shared_lengths(polygons: Sequence[BaseGeometry] | np.ndarray) -> dict[tuple[int, int], float]:
    """Length of boundary shared by each pair of polygons that share a segment.

    Corner touches (a shared point, length 0) are not adjacency.

    Parameters
    ----------
    polygons
        Polygons in a metric CRS.

    Returns
    -------
    dict
        ``(i, j) -> metres`` for ``i < j``.
    """
    geoms = np.asarray(polygons, dtype=object)
    if len(geoms) < 2:
        return {}
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    bounds = shapely.boundary(geoms)
    lengths = shapely.length(shapely.intersection(bounds[left], bounds[right]))
    out: dict[tuple[int, int], float] = {}
    for i, j, length in zip(left.tolist(), right.tolist(), lengths.tolist(), strict=True):
        if length > 1e-6:
            out[(i, j)] = length
    return out
