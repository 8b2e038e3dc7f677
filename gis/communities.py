"""Communities (社区): given by the office, or derived from major roads.

Both paths return polygons that tile the study area exactly, so that every
grid cut from them lies in exactly one community.  Where the given polygons
cover only part of the area, communities are derived in the rest
(:func:`fit_communities`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import InputError
from gis.blocks import enclose, shared_lengths
from gis.grids import Buildings, GridTargets, assign_points, merge_regions

#: A derived community should hold at least this many households.
MIN_COMMUNITY_HOUSEHOLDS = 1500.0
#: …and derived communities smaller than this (m²) always merge.
MIN_COMMUNITY_M2 = 20_000.0
#: A part of the study area no given community covers becomes derived communities
#: from this size (m²) on, or when it holds half the households of a community.
MIN_UNCOVERED_M2 = 100_000.0


def derive_communities(
    boundary: BaseGeometry,
    major_lines: np.ndarray,
    buildings: Buildings,
    *,
    members: np.ndarray | None = None,
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
    members
        Indices of the buildings inside ``boundary`` (default: all).
    min_households
        Smallest community wanted.

    Returns
    -------
    list of Polygon
    """
    faces = enclose(boundary, major_lines)
    every = np.arange(len(buildings.points)) if members is None else members
    per_face = assign_points(faces, buildings.points, every, point_geoms=buildings.point_geoms)
    targets = GridTargets(
        households_min=min_households,
        households_max=float("inf"),
        residents_max=float("inf"),
        sliver_m2=MIN_COMMUNITY_M2,
    )
    groups = merge_regions(faces, per_face, buildings, targets)
    polygons = [_dissolve([faces[i] for i in group]) for group in groups]
    return _join_isolated(polygons, buildings, every)


def _join_isolated(
    polygons: list[BaseGeometry], buildings: Buildings, members: np.ndarray
) -> list[BaseGeometry]:
    """Join nearly empty communities that border no other to the nearest community.

    Land that water cuts off with (almost) no household in it would otherwise be
    a community of its own; it joins the nearest one (which becomes a
    MultiPolygon).  Communities with :data:`MIN_COMMUNITY_HOUSEHOLDS` / 10
    households or more stay as they are.
    """
    if len(polygons) < 2:
        return polygons
    per = assign_points(polygons, buildings.points, members, point_geoms=buildings.point_geoms)
    households = np.array([buildings.households[m].sum() for m in per])
    few = np.flatnonzero(households < MIN_COMMUNITY_HOUSEHOLDS / 10)
    touching = _bordering(polygons, few)
    alone = [
        i for i in np.argsort(households, kind="stable").tolist()
        if i not in touching and households[i] < MIN_COMMUNITY_HOUSEHOLDS / 10
    ]  # fmt: skip
    merged = {i: [polygons[i]] for i in range(len(polygons))}
    for i in alone:
        others = [j for j in merged if j != i]
        if not others:
            break
        j = min(others, key=lambda k: (polygons[i].distance(polygons[k]), k))
        merged[j].extend(merged.pop(i))
    return [_dissolve(parts) for parts in merged.values()]


def _bordering(polygons: list[BaseGeometry], which: np.ndarray) -> set[int]:
    """Those of ``which`` that share a segment with another polygon, measured as
    :func:`gis.blocks.shared_lengths` measures every pair (over ``which``'s pairs only)."""
    if len(which) == 0:
        return set()
    geoms = np.asarray(polygons, dtype=object)
    found, hit = shapely.STRtree(geoms).query(geoms[which], predicate="intersects")
    mine = which[found]
    other = mine != hit
    left, right = np.minimum(mine, hit)[other], np.maximum(mine, hit)[other]
    bounds = shapely.boundary(geoms)
    shared = shapely.length(shapely.intersection(bounds[left], bounds[right])) > 1e-6
    return set(np.r_[left[shared], right[shared]].tolist()) & set(which.tolist())


@dataclass(frozen=True)
class Communities:
    """Community polygons tiling a study area.

    Attributes
    ----------
    polygons
        One polygon per community.
    names
        The office's name of each community, ``None`` for derived ones and
        for given ones without a name.
    derived
        Whether each community was derived from major roads (not given).
    notes
        What was changed, in words, naming communities by their names.
    """

    polygons: list[BaseGeometry]
    names: list[str | None]
    derived: list[bool]
    notes: list[str] = field(default_factory=list)


def fit_communities(
    boundary: BaseGeometry,
    polygons: list[BaseGeometry],
    names: list[str | None],
    *,
    major_lines: np.ndarray,
    buildings: Buildings,
    min_households: float = MIN_COMMUNITY_HOUSEHOLDS,
) -> Communities:
    """Make the office's community polygons tile the study area; derive the rest.

    Overlaps go to the community listed first.  Where the given communities
    do not reach, communities are derived as without them
    (:func:`derive_communities`) when the uncovered part holds at least half
    of ``min_households`` households or :data:`MIN_UNCOVERED_M2`; smaller
    uncovered parts (edges of imprecise polygons) join the community they
    share the longest border with.

    Parameters
    ----------
    boundary
        The study area (metric CRS).
    polygons
        The office's community polygons (metric CRS), in file order.
    names
        Their names (``None`` where the file gives none).
    major_lines
        Major roads, railways and rivers, to derive communities with.
    buildings
        All buildings, with households.
    min_households
        Smallest derived community wanted.

    Returns
    -------
    Communities
    """
    valid = shapely.make_valid(np.asarray(polygons, dtype=object))
    if polygons and not shapely.intersects(valid, boundary).any():
        raise InputError(
            f"none of the {len(polygons)} given communities overlaps the study area: is the "
            "file for another place, or its coordinates in another CRS than the one it declares "
            "(e.g. a CGCS2000 zone, EPSG:4534-4554)? Fix the file's CRS and build again"
        )
    notes: list[str] = []
    fitted: list[BaseGeometry] = []
    kept: list[str | None] = []
    taken: BaseGeometry = shapely.Polygon()
    for i, poly in enumerate(polygons):
        piece = shapely.difference(shapely.intersection(shapely.make_valid(poly), boundary), taken)
        piece = _polygonal(piece)
        if piece.is_empty or piece.area < 1.0:
            notes.append(f"community {_label(names[i], i)} lies outside the study area: dropped")
            continue
        fitted.append(piece)
        kept.append(names[i])
        taken = shapely.union(taken, piece)
    derived = [False] * len(fitted)
    rest = _polygonal(shapely.difference(boundary, taken)) if fitted else boundary
    uncovered = [p for p in shapely.get_parts(rest) if p.area >= 1.0]
    joined = 0
    for part in uncovered:
        inside = _inside(part, buildings.points)
        hh = float(buildings.households[inside].sum())
        shared = _shared_with(part, fitted)
        if shared and hh < min_households / 2 and part.area < MIN_UNCOVERED_M2:
            target = max(sorted(shared), key=lambda k: shared[k])
            fitted[target] = _dissolve([fitted[target], part])
            joined += 1
            continue
        for poly in derive_communities(
            part, major_lines, buildings, members=inside, min_households=min_households
        ):
            fitted.append(poly)
            kept.append(None)
            derived.append(True)
    if joined:
        notes.append(
            f"{joined} small part(s) of the study area outside every given community "
            "joined their neighbour"
        )
    n_derived = sum(derived)
    if n_derived and len(polygons):
        notes.append(
            f"the given communities do not reach {sum(p.area for p in uncovered) / 1e6:.2f} km² "
            f"of the study area: {n_derived} communities were derived there from major roads, "
            "railways and rivers (derived = true in communities.geojson)"
        )
    return Communities(polygons=fitted, names=kept, derived=derived, notes=notes)


def _inside(area: BaseGeometry, points: np.ndarray) -> np.ndarray:
    """Indices of the points that lie in ``area``."""
    shapely.prepare(area)
    return np.flatnonzero(shapely.intersects_xy(area, points[:, 0], points[:, 1]))


def _label(name: str | None, index: int) -> str:
    """How a message names a given community: its name, else its place in the file."""
    return f"'{name}' (#{index + 1})" if name else f"#{index + 1}"


def _shared_with(part: BaseGeometry, polygons: list[BaseGeometry]) -> dict[int, float]:
    pairs = shared_lengths([part, *polygons])
    return {j - 1: length for (i, j), length in pairs.items() if i == 0}


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type == "Polygon"]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _dissolve(parts: list[BaseGeometry]) -> BaseGeometry:
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)
