"""Communities (社区): given by the office, or derived from major roads.

Both paths return polygons that tile the study area exactly, so that every
grid cut from them lies in exactly one community.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.blocks import enclose, shared_lengths
from gis.grids import Buildings, GridTargets, assign_points, merge_regions

#: A derived community should hold at least this many households.
MIN_COMMUNITY_HOUSEHOLDS = 1500.0
#: …and derived communities smaller than this (m²) always merge.
MIN_COMMUNITY_M2 = 20_000.0


def derive_communities(
    boundary: BaseGeometry,
    major_lines: np.ndarray,
    buildings: Buildings,
    *,
    min_households: float = MIN_COMMUNITY_HOUSEHOLDS,
) -> list[BaseGeometry]:
    """Communities as super-blocks enclosed by major roads, rivers and railways.

    Super-blocks holding fewer than ``min_households`` households (or tiny
    ones) join a neighbour, smallest first.

    Parameters
    ----------
    boundary
        The study area (metric CRS).
    major_lines
        Major roads, railways, rivers, water shores.
    buildings
        All buildings, with households.
    min_households
        Smallest community wanted.

    Returns
    -------
    list of Polygon
    """
    faces = enclose(boundary, major_lines)
    members = assign_points(faces, buildings.points, np.arange(len(buildings.points)))
    targets = GridTargets(
        households_min=min_households,
        households_max=float("inf"),
        residents_max=float("inf"),
        sliver_m2=MIN_COMMUNITY_M2,
    )
    groups = merge_regions(faces, members, buildings, targets)
    return [_dissolve([faces[i] for i in group]) for group in groups]


def fit_communities(
    boundary: BaseGeometry, polygons: list[BaseGeometry]
) -> tuple[list[BaseGeometry], list[int], list[str]]:
    """Make the office's community polygons tile the study area.

    Overlaps go to the community listed first; parts of the study area that no
    community covers join the community they share the longest border with.

    Parameters
    ----------
    boundary
        The study area (metric CRS).
    polygons
        The office's community polygons (metric CRS), in file order.

    Returns
    -------
    polygons, kept, notes
        The fitted polygons; the input index each came from (communities that
        fall outside the area are dropped); what was changed, in words.
    """
    notes: list[str] = []
    fitted: list[BaseGeometry] = []
    kept: list[int] = []
    taken: BaseGeometry = shapely.Polygon()
    for i, poly in enumerate(polygons):
        piece = shapely.difference(shapely.intersection(shapely.make_valid(poly), boundary), taken)
        piece = _polygonal(piece)
        if piece.is_empty or piece.area < 1.0:
            notes.append(f"community #{i + 1} lies outside the study area and was dropped")
            continue
        fitted.append(piece)
        kept.append(i)
        taken = shapely.union(taken, piece)
    if not fitted:
        return [boundary], [-1], ["no community polygon overlaps the study area: one community"]
    rest = _polygonal(shapely.difference(boundary, taken))
    uncovered = [p for p in shapely.get_parts(rest) if p.area >= 1.0]
    if uncovered:
        notes.append(
            f"{len(uncovered)} part(s) of the study area outside every community "
            f"({sum(p.area for p in uncovered):.0f} m²) joined their neighbour"
        )
    for part in uncovered:
        pairs = shared_lengths([part, *fitted])
        shared = {j - 1: length for (i, j), length in pairs.items() if i == 0}
        if shared:
            target = max(sorted(shared), key=lambda k: shared[k])
            fitted[target] = _dissolve([fitted[target], part])
        else:
            fitted.append(part)
            kept.append(-1)
    return fitted, kept, notes


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type == "Polygon"]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _dissolve(parts: list[BaseGeometry]) -> BaseGeometry:
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)
