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
    return enclose_many([area], lines)[0]


def enclose_many(
    areas: Sequence[BaseGeometry], lines: Sequence[BaseGeometry] | np.ndarray
) -> list[list[BaseGeometry]]:
    """:func:`enclose` each of ``areas`` (the lines are clipped to all of them at once)."""
    lines = np.asarray(lines, dtype=object)
    # clip to a hair beyond each area, so lines cross its outline and are noded with it
    # (a line clipped exactly at the outline may end a rounding error short of it)
    reach = shapely.buffer(
        np.asarray(areas, dtype=object), CLIP_MARGIN_M, quad_segs=1, join_style="mitre"
    )
    if len(lines):
        which, line = shapely.STRtree(lines).query(reach, predicate="intersects")
    else:
        which, line = np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    order = np.argsort(which, kind="stable")
    which, line = which[order], line[order]
    inside = shapely.intersection(lines[line], reach[which])
    keep = ~shapely.is_empty(inside)
    which, inside = which[keep], inside[keep]
    bounds = np.searchsorted(which, np.arange(len(areas) + 1))
    return [_faces(area, inside[bounds[i] : bounds[i + 1]]) for i, area in enumerate(areas)]


def _faces(area: BaseGeometry, inside: np.ndarray) -> list[BaseGeometry]:
    """The faces of ``area`` cut by the lines ``inside`` it (clipped to its reach)."""
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
    tolerance = 1e-9 * max(area.area, 1.0)
    # the faces do not overlap and lie in the area: when their areas add up to the
    # area's, nothing is left uncovered (so the union need not be made)
    if abs(area.area - float(shapely.area(np.asarray(faces, dtype=object)).sum())) < tolerance / 2:
        return faces
    covered = shapely.union_all(faces)
    rest = shapely.difference(area, covered)
    if rest.is_empty or rest.area < tolerance:
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


def coverage_shared_lengths(
    polygons: Sequence[BaseGeometry] | np.ndarray,
) -> dict[tuple[int, int], float]:
    """:func:`shared_lengths` of a clean coverage, by matching segments.

    In a clean coverage (:func:`shapely.coverage_clean`) neighbours share
    their edges vertex for vertex, so the boundary two polygons share is made
    of the segments both rings hold; no overlay is needed.  The lengths agree
    with :func:`shared_lengths` to rounding (the sum runs in another order).

    Parameters
    ----------
    polygons
        Polygons forming a clean coverage, in a metric CRS.

    Returns
    -------
    dict
        ``(i, j) -> metres`` for ``i < j``.
    """
    geoms = np.asarray(polygons, dtype=object)
    if len(geoms) < 2:
        return {}
    left, right, length = _matching_segments(geoms)
    return {
        (i, j): total
        for i, j, total in zip(left.tolist(), right.tolist(), length.tolist(), strict=True)
        if total > 1e-6
    }


def _matching_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of polygons whose rings hold a common segment, and its summed length."""
    rings, owner = shapely.get_rings(geoms, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]  # consecutive vertices of one ring make a segment
    a, b = coords[:-1][same], coords[1:][same]
    own = owner[ring[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    key = np.column_stack([np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)])
    order = np.lexsort((own, key[:, 3], key[:, 2], key[:, 1], key[:, 0]))
    key, own = key[order], own[order]
    twin = (key[1:] == key[:-1]).all(axis=1) & (own[1:] != own[:-1])
    i, j = own[:-1][twin], own[1:][twin]
    seg = key[1:][twin]
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    left, right = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((right, left))
    left, right, length = left[order], right[order], length[order]
    if len(left) == 0:
        return left, right, length
    start = np.flatnonzero(np.r_[True, (left[1:] != left[:-1]) | (right[1:] != right[:-1])])
    return left[start], right[start], np.add.reduceat(length, start)
