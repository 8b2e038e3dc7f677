"""Unit grids: blocks merged or split to a target number of households, then coded.

:func:`make_grids` is the flow: per community, cut it into blocks along
streets and barriers, split blocks that hold too many households along lines
that avoid buildings, merge blocks that hold too few (and slivers) into
neighbours, and return grid polygons that tile the community exactly.
:func:`number_west_east_north_south` orders grids and communities for their
codes (Xi'an DB6101/T 3185-2024: west to east, north to south).

Everything works in a metric CRS on plain arrays and shapely geometries.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.blocks import enclose, shared_lengths


@dataclass(frozen=True)
class GridTargets:
    """How big a grid should be.

    Attributes
    ----------
    households_min, households_max
        Target range of households per grid (urban practice: 300–500).
    residents_max
        Upper bound of residents per grid (practice: about 2,000–2,500).
    sliver_m2
        Grids smaller than this merge into a neighbour whatever they hold.
    """

    households_min: float = 300.0
    households_max: float = 500.0
    residents_max: float = 2500.0
    sliver_m2: float = 500.0

    @property
    def households_target(self) -> float:
        """The middle of the household range: what splits aim for."""
        return (self.households_min + self.households_max) / 2


@dataclass(frozen=True)
class Buildings:
    """The buildings of one area as arrays (metric CRS).

    Attributes
    ----------
    points
        (n, 2) inside points of the buildings.
    shapes
        The footprints, used to find cuts that miss buildings.
    households, population
        Per building.
    """

    points: np.ndarray
    shapes: np.ndarray
    households: np.ndarray
    population: np.ndarray


@dataclass(frozen=True)
class GridSet:
    """Grids of one community: polygons and the buildings each holds."""

    polygons: list[BaseGeometry]
    members: list[np.ndarray]


def make_grids(
    community: BaseGeometry,
    lines: np.ndarray,
    buildings: Buildings,
    members: np.ndarray,
    targets: GridTargets,
) -> GridSet:
    """Cut one community into grids.

    Parameters
    ----------
    community
        The community polygon.
    lines
        Streets and barriers that grids follow.
    buildings
        All buildings of the area.
    members
        Indices into ``buildings`` of the buildings in this community.
    targets
        Household and resident targets.

    Returns
    -------
    GridSet
        Polygons tiling ``community`` and, for each, the indices of its buildings.
    """
    # 1. blocks enclosed by streets and barriers
    blocks = enclose(community, lines)
    block_members = assign_points(blocks, buildings.points, members)
    # 2. split blocks holding too many households or residents
    pieces: list[BaseGeometry] = []
    piece_members: list[np.ndarray] = []
    for block, idx in zip(blocks, block_members, strict=True):
        for poly, sub in split_region(block, idx, buildings, targets):
            pieces.append(poly)
            piece_members.append(sub)
    # 3. merge slivers and blocks holding too few into neighbours
    groups = merge_regions(pieces, piece_members, buildings, targets)
    polygons = [_union(pieces, group) for group in groups]
    grouped = [np.concatenate([piece_members[i] for i in group]) for group in groups]
    return GridSet(polygons=polygons, members=grouped)


def assign_points(
    polygons: list[BaseGeometry], points: np.ndarray, members: np.ndarray
) -> list[np.ndarray]:
    """Which of ``members`` (indices into ``points``) lies in each polygon.

    A point on a shared border goes to the first polygon; a point in none (a
    rounding speck) goes to the nearest.  Every member lands in exactly one.
    """
    out: list[list[int]] = [[] for _ in polygons]
    if len(members) == 0:
        return [np.array([], dtype=np.int64) for _ in polygons]
    geoms = np.asarray(polygons, dtype=object)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(points[members])
    found, which = tree.query(pts, predicate="intersects")
    owner = np.full(len(members), -1, dtype=np.int64)
    order = np.lexsort((which, found))  # first polygon per point
    found, which = found[order], which[order]
    first = np.unique(found, return_index=True)[1]
    owner[found[first]] = which[first]
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        owner[lost] = tree.nearest(pts[lost])
    for k, poly in enumerate(owner.tolist()):
        out[poly].append(int(members[k]))
    return [np.array(o, dtype=np.int64) for o in out]


def split_region(
    polygon: BaseGeometry,
    members: np.ndarray,
    buildings: Buildings,
    targets: GridTargets,
    *,
    depth: int = 0,
) -> list[tuple[BaseGeometry, np.ndarray]]:
    """Split ``polygon`` by straight cuts until each piece is within the targets.

    Each cut runs across the polygon's long axis, at the position that best
    divides its households in the wanted ratio, preferring positions in gaps
    between buildings (a cut through a building costs 2% of imbalance).

    Returns
    -------
    list of (polygon, member indices)
    """
    hh = float(buildings.households[members].sum())
    pop = float(buildings.population[members].sum())
    if (hh <= targets.households_max and pop <= targets.residents_max) or len(members) < 2:
        return [(polygon, members)]
    if depth > 24:
        return [(polygon, members)]
    parts = _parts(hh, pop, targets)
    share = (parts // 2) / parts
    axis = _long_axis(polygon)
    t_points = buildings.points[members] @ axis
    weight = buildings.households[members] if hh > 0 else buildings.population[members]
    cut = _best_cut(polygon, axis, t_points, weight, buildings.shapes[members], share)
    if cut is None:
        return [(polygon, members)]
    pieces = [
        p
        for side in (-1, +1)
        for p in shapely.get_parts(_half_plane(polygon, axis, cut, side))
        if p.geom_type == "Polygon" and p.area > 0
    ]
    if len(pieces) < 2:
        return [(polygon, members)]
    out: list[tuple[BaseGeometry, np.ndarray]] = []
    for poly, sub in zip(pieces, assign_points(pieces, buildings.points, members), strict=True):
        if len(sub) == len(members):  # the cut separated nothing: stop here
            out.append((poly, sub))
        else:
            out.extend(split_region(poly, sub, buildings, targets, depth=depth + 1))
    return out


def _parts(hh: float, pop: float, targets: GridTargets) -> int:
    """How many grids a region of ``hh`` households and ``pop`` residents should become."""
    by_hh = math.ceil(hh / targets.households_target) if hh > 0 else 1
    if by_hh > 1 and hh / by_hh < targets.households_min:
        by_hh = max(math.ceil(hh / targets.households_max), by_hh - 1)
    by_pop = math.ceil(pop / (0.9 * targets.residents_max)) if pop > 0 else 1
    return max(2, by_hh, by_pop)


def _long_axis(polygon: BaseGeometry) -> np.ndarray:
    """Unit vector along the longer side of the polygon's minimum rotated rectangle."""
    rect = shapely.oriented_envelope(polygon)
    coords = np.asarray(rect.exterior.coords) if rect.geom_type == "Polygon" else None
    if coords is None or len(coords) < 4:
        return np.array([1.0, 0.0])
    sides = np.diff(coords[:3], axis=0)
    side = sides[int(np.argmax(np.hypot(sides[:, 0], sides[:, 1])))]
    axis = side / np.hypot(*side)
    return axis if (axis[0], axis[1]) >= (0.0, 0.0) else -axis  # deterministic sign


def _best_cut(
    polygon: BaseGeometry,
    axis: np.ndarray,
    t_points: np.ndarray,
    weight: np.ndarray,
    shapes: np.ndarray,
    share: float,
) -> float | None:
    """Position along ``axis`` to cut at, or None when no cut separates anything."""
    coords, owner = shapely.get_coordinates(shapes, return_index=True)
    t_vertices = coords @ axis
    lo = np.full(len(shapes), np.inf)
    hi = np.full(len(shapes), -np.inf)
    np.minimum.at(lo, owner, t_vertices)
    np.maximum.at(hi, owner, t_vertices)
    order = np.argsort(t_points, kind="stable")
    ts, ws = t_points[order], weight[order]
    total = float(ws.sum())
    if total <= 0 or ts[0] == ts[-1]:
        return None
    # candidates: midpoints between consecutive buildings' inside points
    mids = (ts[:-1] + ts[1:]) / 2
    mids = mids[ts[:-1] < ts[1:]]
    left = np.searchsorted(ts, mids, side="left")
    left_weight = np.concatenate([[0.0], np.cumsum(ws)])[left]
    error = np.abs(left_weight / total - share)
    crossings = _count_crossings(mids, lo, hi)
    cost = error + 0.02 * crossings
    return float(mids[int(np.argmin(cost))])


def _count_crossings(positions: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How many intervals ``[lo, hi]`` strictly contain each position."""
    lo_sorted, hi_sorted = np.sort(lo), np.sort(hi)
    started = np.searchsorted(lo_sorted, positions, side="left")
    ended = np.searchsorted(hi_sorted, positions, side="right")
    return started - ended


def _half_plane(polygon: BaseGeometry, axis: np.ndarray, cut: float, side: int) -> BaseGeometry:
    """The part of ``polygon`` on one side of the line ``t = cut`` (side -1: t < cut)."""
    minx, miny, maxx, maxy = polygon.bounds
    reach = 2.0 * math.hypot(maxx - minx, maxy - miny) + 1.0
    normal = np.array([-axis[1], axis[0]])
    centre = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
    origin = centre + (cut - centre @ axis) * axis  # on the cut line, beside the polygon
    far = origin + side * reach * axis
    corners = [
        origin - reach * normal,
        origin + reach * normal,
        far + reach * normal,
        far - reach * normal,
    ]
    return shapely.intersection(polygon, shapely.Polygon(corners))


def merge_regions(
    polygons: list[BaseGeometry],
    members: list[np.ndarray],
    buildings: Buildings,
    targets: GridTargets,
) -> list[list[int]]:
    """Group adjacent regions so that few hold fewer households than the minimum.

    Slivers and regions without households join the neighbour they share the
    longest border with; other small regions join the neighbour that keeps
    the sum smallest, never past the maximum.  Greedy, smallest first.

    Returns
    -------
    list of lists of indices into ``polygons``
        Each group is one grid; groups are listed in input order of their first member.
    """
    n = len(polygons)
    hh = np.array([buildings.households[m].sum() for m in members], dtype=float)
    pop = np.array([buildings.population[m].sum() for m in members], dtype=float)
    area = np.array([p.area for p in polygons], dtype=float)
    neighbours: list[dict[int, float]] = [{} for _ in range(n)]
    for (p, q), length in shared_lengths(polygons).items():
        neighbours[p][q] = length
        neighbours[q][p] = length
    group: list[list[int]] = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)

    def small(i: int) -> bool:
        return area[i] < targets.sliver_m2 or hh[i] < targets.households_min

    heap = [(hh[i], area[i], i) for i in range(n) if small(i)]
    heapq.heapify(heap)
    while heap:
        key_hh, key_area, i = heapq.heappop(heap)
        if not alive[i] or (key_hh, key_area) != (hh[i], area[i]) or not small(i):
            continue
        j = _merge_partner(i, neighbours[i], hh, pop, area, targets)
        if j is None:
            continue
        # merge i into j
        for k, length in neighbours[i].items():
            if k == j:
                continue
            neighbours[j][k] = neighbours[j].get(k, 0.0) + length
            neighbours[k][j] = neighbours[k].get(j, 0.0) + length
            del neighbours[k][i]
        neighbours[j].pop(i, None)
        neighbours[i] = {}
        hh[j] += hh[i]
        pop[j] += pop[i]
        area[j] += area[i]
        group[j].extend(group[i])
        alive[i] = False
        if small(j):
            heapq.heappush(heap, (hh[j], area[j], j))
    return sorted((sorted(group[i]) for i in np.flatnonzero(alive)), key=lambda g: g[0])


def _merge_partner(
    i: int,
    neighbours: dict[int, float],
    hh: np.ndarray,
    pop: np.ndarray,
    area: np.ndarray,
    targets: GridTargets,
) -> int | None:
    if not neighbours:
        return None
    candidates = sorted(neighbours)  # deterministic order
    if area[i] < targets.sliver_m2 or hh[i] == 0:
        return max(candidates, key=lambda k: (neighbours[k], -k))
    fits = [
        k
        for k in candidates
        if hh[i] + hh[k] <= targets.households_max and pop[i] + pop[k] <= targets.residents_max
    ]
    if not fits:
        return None
    return min(fits, key=lambda k: (hh[k], -neighbours[k], k))


def _union(polygons: list[BaseGeometry], group: list[int]) -> BaseGeometry:
    """Dissolve a group of adjacent pieces into one polygon.

    A split can leave a vertex a hair (1e-11 m) off its neighbour's edge, so a
    plain union leaves a hairline gap; such groups are dissolved again with
    snap-rounding to a micrometre grid, which closes the gap and moves no
    boundary by more than that.
    """
    if len(group) == 1:
        return polygons[group[0]]
    parts = [polygons[i] for i in group]
    merged = shapely.union_all(parts)
    if merged.geom_type == "Polygon":
        return merged
    for grid_size in (1e-6, 1e-4):
        snapped = shapely.union_all(parts, grid_size=grid_size)
        if snapped.geom_type == "Polygon":
            return snapped
    return merged


def number_west_east_north_south(points: np.ndarray, *, row_height: float) -> np.ndarray:
    """Order points in rows from north to south, each row west to east.

    Parameters
    ----------
    points
        (n, 2) x/y in a metric CRS (y grows northward).
    row_height
        Points whose y is within this of a row's first (northernmost) point
        share the row.

    Returns
    -------
    ndarray of int
        ``order[k]`` is the index of the k-th point in reading order.
    """
    if len(points) == 0:
        return np.array([], dtype=np.int64)
    by_north = np.lexsort((points[:, 0], -points[:, 1]))
    rows = np.empty(len(points), dtype=np.int64)
    row, top = 0, points[by_north[0], 1]
    for idx in by_north:
        if top - points[idx, 1] > row_height:
            row, top = row + 1, points[idx, 1]
        rows[idx] = row
    return np.lexsort((points[:, 0], rows))
