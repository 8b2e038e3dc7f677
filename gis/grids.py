"""Unit grids: blocks merged or split to a target number of households, then coded.

:func:`make_grids` is the flow: per community, cut it into blocks along
streets and barriers, split blocks that hold too many households along the
gaps between their buildings (never through a footprint), merge blocks that
hold too few (and slivers) into neighbours, and return grid polygons that tile
the community exactly.
:func:`number_west_east_north_south` orders grids and communities for their
codes (Xi'an DB6101/T 3185-2024: west to east, north to south).

Everything works in a metric CRS on plain arrays and shapely geometries.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely.geometry.base import BaseGeometry

from gis._errors import InfeasibleError
from gis.blocks import coverage_shared_lengths, enclose, enclose_many, shared_lengths
from gis.tessellation import Tessellation, regions_many, tessellate_blocks

if TYPE_CHECKING:
    import pymetis


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
    point_geoms
        The inside points as shapely Points, when made already (cutting
        makes them once and indexes them per block).
    """

    points: np.ndarray
    shapes: np.ndarray
    households: np.ndarray
    population: np.ndarray
    point_geoms: np.ndarray | None = None


@dataclass(frozen=True)
class GridSet:
    """Grids of one community: polygons and the buildings each holds."""

    polygons: list[BaseGeometry]
    members: list[np.ndarray]


@dataclass(frozen=True)
class CodedGrids:
    """The grids of every community, coded.

    Attributes
    ----------
    codes
        15-digit grid codes, in code order.
    polygons, members
        Per grid: its polygon and the indices of its buildings.
    community_codes
        12-digit community code of each input community (input order).
    community_members
        Indices of the buildings of each input community.
    """

    codes: list[str]
    polygons: list[BaseGeometry]
    members: list[np.ndarray]
    community_codes: list[str]
    community_members: list[np.ndarray]


def cut_and_code(
    communities: list[BaseGeometry],
    lines: np.ndarray,
    buildings: Buildings,
    targets: GridTargets,
    *,
    prefix: str,
) -> CodedGrids:
    """Cut every community into grids and give communities and grids their codes.

    Communities are numbered west → east in rows from north to south within
    the sub-district, and grids likewise within their community (Xi'an
    DB6101/T 3185-2024): code = ``prefix`` (6 + 3 digits) + community (3) +
    grid (3).

    Raises
    ------
    InfeasibleError
        When a community would hold more than the 999 grids a code allows.
    """
    buildings = _indexed(buildings)
    per_community = _assign(communities, buildings, np.arange(len(buildings.points)))
    community_codes = [""] * len(communities)
    codes: list[str] = []
    polygons: list[BaseGeometry] = []
    members: list[np.ndarray] = []
    blocks = enclose_many(communities, lines)
    block_members = _assign_blocks(blocks, buildings, per_community)
    split = _split_full_blocks(blocks, block_members, buildings, targets)
    for seq, c in enumerate(_reading_order(communities).tolist(), start=1):
        community_codes[c] = f"{prefix}{seq:03d}"
        pieces, piece_members = split[c]
        gridset = _grids_of_pieces(pieces, piece_members, buildings, targets)
        order = _reading_order(gridset.polygons)
        if len(order) > 999:
            raise InfeasibleError(
                f"community {community_codes[c]} would hold {len(order)} grids, more than the "
                "999 a code allows: give community boundaries or raise households_min"
            )
        for gseq, g in enumerate(order.tolist(), start=1):
            codes.append(f"{community_codes[c]}{gseq:03d}")
            polygons.append(gridset.polygons[g])
            members.append(gridset.members[g])
    return CodedGrids(codes, polygons, members, community_codes, per_community)


def _indexed(buildings: Buildings) -> Buildings:
    """``buildings`` with footprints as a plain array and inside points made once.

    Cutting takes the footprints and points of every block by index: a plain
    object array indexes faster than a GeoPandas one, and Points made once need
    not be made again per block (nor again here when the caller made them).
    """
    points = buildings.point_geoms
    return replace(
        buildings,
        shapes=np.asarray(buildings.shapes, dtype=object),
        point_geoms=shapely.points(buildings.points) if points is None else points,
    )


def _reading_order(polygons: list[BaseGeometry]) -> np.ndarray:
    """Reading order of polygons: rows half a typical polygon's size high."""
    points = shapely.get_coordinates(shapely.point_on_surface(np.asarray(polygons, dtype=object)))
    row = float(np.sqrt(_median(shapely.area(np.asarray(polygons, dtype=object))))) / 2
    return number_west_east_north_south(points, row_height=row)


def _median(values: np.ndarray) -> float:
    """:func:`numpy.median` of a few numbers without NaN, bit for bit, without its overhead:
    the middle one, or the mean ``(a + b) / 2`` of the middle two as numpy takes it."""
    if len(values) == 0:
        return float("nan")
    ordered = np.sort(values)
    mid = len(ordered) // 2
    return float(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)


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
    # blocks enclosed by streets and barriers, and the buildings of each
    blocks = enclose(community, lines)
    block_members = _assign(blocks, buildings, members)
    # split blocks holding too many households or residents between their buildings
    pieces, piece_members = _split_full_blocks([blocks], [block_members], buildings, targets)[0]
    # cut into grids
    return _grids_of_pieces(pieces, piece_members, buildings, targets)


def _grids_of_pieces(
    pieces: list[BaseGeometry],
    piece_members: list[np.ndarray],
    buildings: Buildings,
    targets: GridTargets,
) -> GridSet:
    """The grids of one community from its blocks, the full ones already split."""
    # snap the pieces into an exact coverage (shared edges vertex for vertex)
    pieces, piece_members = _clean_coverage(pieces, piece_members, buildings)
    # merge slivers and blocks holding too few into neighbours
    groups = merge_regions(pieces, piece_members, buildings, targets, coverage=True)
    polygons = [_union(pieces, group) for group in groups]
    grouped = [np.concatenate([piece_members[i] for i in group]) for group in groups]
    return GridSet(polygons=polygons, members=grouped)


def _split_full_blocks(
    blocks: list[list[BaseGeometry]],
    members: list[list[np.ndarray]],
    buildings: Buildings,
    targets: GridTargets,
) -> list[tuple[list[BaseGeometry], list[np.ndarray]]]:
    """Per community, its blocks that fit the targets as they are and the others split.

    The cells of every community's blocks to split are made in one call
    (:func:`tessellate_blocks`, one Voronoi diagram per community, as a
    community's grids must not depend on another's), then the blocks are split
    together (:func:`split_blocks`).

    Returns
    -------
    list of (pieces, members of each piece)
        One per community, its pieces in the order of its blocks.
    """
    which = [
        (c, i)
        for c, community in enumerate(members)
        for i, idx in enumerate(community)
        if _too_full(idx, buildings, targets)
    ]
    full_blocks = [blocks[c][i] for c, i in which]
    full_members = [members[c][i] for c, i in which]
    cells = tessellate_blocks(
        full_blocks,
        [buildings.shapes[idx] for idx in full_members],
        diagram=np.array([c for c, _ in which], dtype=np.int64),
    )
    done = split_blocks(full_blocks, full_members, buildings, targets, cells)
    split = dict(zip(which, done, strict=True))
    out: list[tuple[list[BaseGeometry], list[np.ndarray]]] = []
    for c, (community_blocks, community_members) in enumerate(zip(blocks, members, strict=True)):
        pieces: list[BaseGeometry] = []
        piece_members: list[np.ndarray] = []
        for i, (block, idx) in enumerate(zip(community_blocks, community_members, strict=True)):
            for poly, sub in split.get((c, i), [(block, idx)]):
                pieces.append(poly)
                piece_members.append(sub)
        out.append((pieces, piece_members))
    return out


def _clean_coverage(
    pieces: list[BaseGeometry], members: list[np.ndarray], buildings: Buildings
) -> tuple[list[BaseGeometry], list[np.ndarray]]:
    """Snap pieces into an exact coverage; a piece that cleaning splits becomes several."""
    cleaned = shapely.coverage_clean(np.asarray(pieces, dtype=object))
    parts, owner = shapely.get_parts(cleaned, return_index=True)
    keep = shapely.area(parts) > 0
    parts, owner = parts[keep], owner[keep]
    bounds = np.searchsorted(owner, np.arange(len(pieces) + 1))
    out: list[BaseGeometry] = []
    out_members: list[np.ndarray] = []
    for i, idx in enumerate(members):
        mine = parts[bounds[i] : bounds[i + 1]]
        if len(mine) == 1:
            out.append(mine[0])
            out_members.append(idx)
            continue
        out.extend(mine)
        out_members.extend(_assign(list(mine), buildings, idx))
    return out, out_members


def assign_points(
    polygons: list[BaseGeometry],
    points: np.ndarray,
    members: np.ndarray,
    *,
    point_geoms: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Which of ``members`` (indices into ``points``) lies in each polygon.

    A point on a shared border goes to the first polygon; a point in none (a
    rounding speck) goes to the nearest.  Every member lands in exactly one.
    ``point_geoms`` are ``points`` as shapely Points, when made already.
    """
    if len(members) == 0:
        return [np.array([], dtype=np.int64) for _ in polygons]
    geoms = np.asarray(polygons, dtype=object)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(points[members]) if point_geoms is None else point_geoms[members]
    found, which = tree.query(pts, predicate="intersects")
    owner = np.full(len(members), -1, dtype=np.int64)
    order = np.lexsort((which, found))  # first polygon per point
    found, which = found[order], which[order]
    first = np.flatnonzero(np.diff(found, prepend=-1))  # found is sorted and >= 0
    owner[found[first]] = which[first]
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        owner[lost] = tree.nearest(pts[lost])
    order = np.argsort(owner, kind="stable")  # members stay in their given order
    bounds = np.searchsorted(owner[order], np.arange(len(polygons) + 1))
    ordered = np.asarray(members, dtype=np.int64)[order]
    return [ordered[bounds[i] : bounds[i + 1]] for i in range(len(polygons))]


def _assign(
    polygons: list[BaseGeometry], buildings: Buildings, members: np.ndarray
) -> list[np.ndarray]:
    """:func:`assign_points` of the inside points of ``buildings``."""
    return assign_points(polygons, buildings.points, members, point_geoms=buildings.point_geoms)


def _assign_blocks(
    blocks: list[list[BaseGeometry]], buildings: Buildings, members: list[np.ndarray]
) -> list[list[np.ndarray]]:
    """:func:`assign_points` of each community's ``members`` to its ``blocks``, in one query.

    A building goes to a block of its own community only; within it, as
    :func:`assign_points` does, to the first block it lies in, else the nearest.
    """
    counts = [len(b) for b in blocks]
    every_block = np.array([g for group in blocks for g in group], dtype=object)
    block_group = np.repeat(np.arange(len(blocks)), counts)
    block_first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    everyone = np.concatenate([*members, np.array([], dtype=np.int64)]).astype(np.int64)
    point_group = np.repeat(np.arange(len(members)), [len(m) for m in members])
    geoms = buildings.point_geoms
    pts = shapely.points(buildings.points[everyone]) if geoms is None else geoms[everyone]
    found, which = shapely.STRtree(every_block).query(pts, predicate="intersects")
    mine = block_group[which] == point_group[found]
    found, which = found[mine], which[mine]
    order = np.lexsort((which, found))  # first block per point
    found, which = found[order], which[order]
    owner = np.full(len(everyone), -1, dtype=np.int64)
    first = np.flatnonzero(np.diff(found, prepend=-1))
    owner[found[first]] = which[first]
    lost = np.flatnonzero(owner < 0)
    for group in np.unique(point_group[lost]).tolist():  # rounding specks: the nearest block
        here = lost[point_group[lost] == group]
        tree = shapely.STRtree(np.asarray(blocks[group], dtype=object))
        owner[here] = block_first[group] + tree.nearest(pts[here])
    order = np.argsort(owner, kind="stable")  # members stay in their given order
    bounds = np.searchsorted(owner[order], np.arange(len(every_block) + 1))
    ordered = everyone[order]
    return [
        [ordered[bounds[i] : bounds[i + 1]] for i in range(block_first[g], block_first[g + 1])]
        for g in range(len(blocks))
    ]


def split_blocks(
    blocks: list[BaseGeometry],
    members: list[np.ndarray],
    buildings: Buildings,
    targets: GridTargets,
    cells: list[Tessellation],
) -> list[list[tuple[BaseGeometry, np.ndarray]]]:
    """Split blocks that hold too many households along the gaps between their buildings.

    Each block's cells (one per building, :func:`gis.tessellation.tessellate_blocks`)
    are partitioned into contiguous groups of about the target household count,
    with the shortest boundaries (:func:`partition_buildings`); each group's
    cells, with its footprints made whole, become a piece
    (:func:`gis.tessellation.regions_many`, all blocks at once).  No footprint
    is cut; a building that alone holds more than the maximum is a piece of its own.

    Returns
    -------
    list of lists of (polygon, member indices)
        Per block, pieces tiling it.
    """
    labels = [
        partition_buildings(
            tess.graph, buildings.households[idx], buildings.population[idx], targets
        )
        for tess, idx in zip(cells, members, strict=True)
    ]
    drawn = [[poly for poly, _ in block] for block in regions_many(cells, labels)]
    out = [[(block, idx)] for block, idx in zip(blocks, members, strict=True)]
    split = [i for i, pieces in enumerate(drawn) if len(pieces) >= 2]
    assigned = _assign_blocks([drawn[i] for i in split], buildings, [members[i] for i in split])
    for i, sub in zip(split, assigned, strict=True):
        out[i] = list(zip(drawn[i], sub, strict=True))
    return out


def partition_buildings(
    graph: sparse.csr_matrix, households: np.ndarray, population: np.ndarray, targets: GridTargets
) -> np.ndarray:
    """Group buildings into contiguous parts within the targets, cutting short boundaries.

    Parameters
    ----------
    graph
        Symmetric matrix of shared cell boundary (m) between buildings.
    households, population
        Per building.
    targets
        The household and resident targets.

    Returns
    -------
    ndarray of int
        Part of each building, ``0 … k-1``.  A part over a target is split
        again (recursive bisection by METIS) unless it is a single building.
    """
    n = len(households)
    labels = np.zeros(n, dtype=np.int64)
    todo = [np.arange(n)]
    next_label = 1
    while todo:
        nodes = todo.pop()
        hh, pop = float(households[nodes].sum()), float(population[nodes].sum())
        if len(nodes) < 2 or _fits(hh, pop, targets):
            continue
        k = min(_parts(hh, pop, targets), len(nodes))
        weight = households[nodes] if hh > 0 else population[nodes]
        sub = _metis(graph if len(nodes) == n else graph[nodes][:, nodes], weight, k)
        parts = np.unique(sub).tolist()
        if len(parts) < 2:  # nothing could be split off: leave the part as it is
            continue
        for part in parts[1:]:
            labels[nodes[sub == part]] = next_label
            next_label += 1
        todo.extend(nodes[sub == part] for part in parts)
    return np.unique(labels, return_inverse=True)[1]


def _too_full(members: np.ndarray, buildings: Buildings, targets: GridTargets) -> bool:
    """Whether a block of several buildings holds more than the targets allow."""
    if len(members) < 2:
        return False
    hh = float(buildings.households[members].sum())
    return not _fits(hh, float(buildings.population[members].sum()), targets)


def _fits(hh: float, pop: float, targets: GridTargets) -> bool:
    return hh <= targets.households_max and pop <= targets.residents_max


#: METIS is asked for ``k`` parts only of a graph with at least this many buildings per part.
METIS_MIN_PER_PART = 3


def _metis(graph: sparse.csr_matrix, weight: np.ndarray, k: int) -> np.ndarray:
    """METIS k-way partition with contiguous parts, balanced by ``weight``."""
    import pymetis

    n = graph.shape[0]
    vweights = np.maximum(np.round(weight * 100), 0).astype(np.int64)
    eweights = np.maximum(1, np.round(graph.data * 10)).astype(np.int64)
    # METIS complains on stdout (and leaves parts empty) when parts are nearly single buildings
    tries = (1, 0) if n >= METIS_MIN_PER_PART * k else ()
    for contig in tries:  # METIS refuses contiguous parts of a disconnected graph
        options = _metis_options(contig)
        try:
            _, found = pymetis.part_graph(
                k,
                adjacency=pymetis.CSRAdjacency(
                    graph.indptr.astype(np.int64), graph.indices.astype(np.int64)
                ),
                vweights=vweights,
                eweights=eweights,
                options=options,
            )
        except (RuntimeError, ValueError):
            continue
        parts = np.asarray(found, dtype=np.int64)
        if np.count_nonzero(np.bincount(parts, minlength=k)) == k:
            return parts
    return _grow(graph, weight, k)


@cache
def _metis_options(contig: int) -> pymetis.Options:
    """METIS options (seeded), made once per ``contig``."""
    import pymetis

    return pymetis.Options(seed=0, ufactor=30, contig=contig, niter=20, ncuts=3)


def _grow(graph: sparse.csr_matrix, weight: np.ndarray, k: int) -> np.ndarray:
    """Contiguous parts of about ``weight.sum() / k`` each, grown breadth-first.

    For graphs too small for METIS (a few buildings per part): each part grows
    from the node farthest from the rest of the unassigned graph until it
    holds its share, so every part is connected.
    """
    n = graph.shape[0]
    target = (float(weight.sum()) + 1e-9) / k
    labels = np.full(n, -1, dtype=np.int64)
    part = 0
    while (labels < 0).any():
        free = np.flatnonzero(labels < 0)
        sub = graph[free][:, free]
        _, comp = csgraph.connected_components(sub, directed=False)
        nodes = np.flatnonzero(comp == comp[0])
        order = csgraph.breadth_first_order(sub, nodes[0], directed=False)[0]
        seed = int(order[-1])  # a far end of the component
        order = csgraph.breadth_first_order(sub, seed, directed=False)[0]
        after = np.cumsum(weight[free[order]])
        before = after - weight[free[order]]
        # take the next building while it brings the part nearer its share
        take = (before < target) & (after - target <= target - before)
        take[0] = True
        size = int(np.argmin(take)) if not take.all() else len(take)
        labels[free[order[:size]]] = part
        part += 1
    return labels


def _chain_components(graph: sparse.csr_matrix) -> sparse.csr_matrix:
    """Join the components of ``graph`` by weak edges so METIS sees one graph."""
    count, comp = csgraph.connected_components(graph, directed=False)
    if count == 1:
        return graph
    firsts = np.unique(comp, return_index=True)[1]
    a, b = firsts[:-1], firsts[1:]
    extra = sparse.coo_matrix(
        (np.full(2 * len(a), 0.1), (np.r_[a, b], np.r_[b, a])), shape=graph.shape
    )
    return (graph + extra).tocsr()


def _parts(hh: float, pop: float, targets: GridTargets) -> int:
    """How many grids a region of ``hh`` households and ``pop`` residents should become."""
    by_hh = math.ceil(hh / targets.households_target) if hh > 0 else 1
    if by_hh > 1 and hh / by_hh < targets.households_min:
        by_hh = max(math.ceil(hh / targets.households_max), by_hh - 1)
    by_pop = math.ceil(pop / (0.9 * targets.residents_max)) if pop > 0 else 1
    return max(2, by_hh, by_pop)


def merge_regions(
    polygons: list[BaseGeometry],
    members: list[np.ndarray],
    buildings: Buildings,
    targets: GridTargets,
    *,
    coverage: bool = False,
) -> list[list[int]]:
    """Group adjacent regions so that few hold fewer households than the minimum.

    First, strips without households (between railway tracks, along a
    river) join the empty regions they touch, so that a railway yard goes to
    one grid whole instead of to both sides strip by strip.  Then, smallest
    first: slivers and regions without households join the neighbour they
    share the longest border with; other small regions join the neighbour that
    keeps the sum smallest, never past the maximum.  So no two neighbours both
    under the minimum are left that would fit the maximum together.

    ``coverage`` says that ``polygons`` are a clean coverage (shared edges
    vertex for vertex, :func:`shapely.coverage_clean`): their shared borders
    are then measured by matching segments (:func:`gis.blocks.coverage_shared_lengths`).

    Returns
    -------
    list of lists of indices into ``polygons``
        Each group is one grid; groups are listed in input order of their first member.
    """
    regions = _Regions(polygons, members, buildings, coverage=coverage)
    regions.join_thin_empty()
    regions.merge_small(targets)
    return regions.groups()


#: Regions without households narrower than this on average (m) are strips.
THIN_M = 25.0


class _Regions:
    """Adjacent regions being merged: sums, areas, shared borders, groups."""

    def __init__(
        self,
        polygons: list[BaseGeometry],
        members: list[np.ndarray],
        buildings: Buildings,
        *,
        coverage: bool = False,
    ) -> None:
        n = len(polygons)
        self.hh = np.array([buildings.households[m].sum() for m in members], dtype=float)
        self.pop = np.array([buildings.population[m].sum() for m in members], dtype=float)
        self.area = shapely.area(np.asarray(polygons, dtype=object)).astype(float)
        self.length = shapely.length(np.asarray(polygons, dtype=object)).astype(float)
        self.neighbours: list[dict[int, float]] = [{} for _ in range(n)]
        shared = coverage_shared_lengths(polygons) if coverage else shared_lengths(polygons)
        for (i, j), length in shared.items():
            self.neighbours[i][j] = length
            self.neighbours[j][i] = length
        self.group: list[list[int]] = [[i] for i in range(n)]
        self.alive = np.ones(n, dtype=bool)

    def absorb(self, j: int, i: int) -> None:
        """Merge region ``i`` into region ``j``."""
        for k, length in self.neighbours[i].items():
            if k == j:
                continue
            self.neighbours[j][k] = self.neighbours[j].get(k, 0.0) + length
            self.neighbours[k][j] = self.neighbours[k].get(j, 0.0) + length
            del self.neighbours[k][i]
        shared = self.neighbours[j].pop(i, 0.0)
        self.neighbours[i] = {}
        self.hh[j] += self.hh[i]
        self.pop[j] += self.pop[i]
        self.area[j] += self.area[i]
        self.length[j] += self.length[i] - 2 * shared
        self.group[j].extend(self.group[i])
        self.alive[i] = False

    def join_thin_empty(self) -> None:
        """Merge strips without households with the empty regions they touch, transitively.

        Every empty region joined to a strip through empty regions ends up in one
        region: the tracks of a railway yard do not split it into alternating strips.
        """
        width = 2 * self.area / np.maximum(self.length, 1e-9)
        empty = (self.hh == 0) & (self.pop == 0)
        thin = empty & (width < THIN_M)
        pairs = [
            (i, j)
            for i in np.flatnonzero(empty).tolist()
            for j in self.neighbours[i]
            if i < j and empty[j] and (thin[i] or thin[j])
        ]
        if not pairs:
            return
        for parts in _components(pairs):
            keep = int(parts[np.argmax(self.area[parts])])
            for i in sorted(parts.tolist(), key=lambda k: -self.area[k]):
                if i != keep:
                    self.absorb(keep, i)

    def merge_small(self, targets: GridTargets) -> None:
        """Merge slivers and regions under the minimum into neighbours, smallest first."""

        def small(i: int) -> bool:
            return self.area[i] < targets.sliver_m2 or self.hh[i] < targets.households_min

        alive = np.flatnonzero(self.alive).tolist()
        heap = [(float(self.hh[i]), float(self.area[i]), i) for i in alive if small(i)]
        heapq.heapify(heap)
        while heap:
            key_hh, key_area, i = heapq.heappop(heap)
            if not self.alive[i] or (key_hh, key_area) != (self.hh[i], self.area[i]):
                continue
            if not small(i):
                continue
            j = _merge_partner(i, self.neighbours[i], self.hh, self.pop, self.area, targets)
            if j is None:
                continue
            self.absorb(j, i)
            if small(j):
                heapq.heappush(heap, (float(self.hh[j]), float(self.area[j]), j))

    def groups(self) -> list[list[int]]:
        return sorted(
            (sorted(self.group[i]) for i in np.flatnonzero(self.alive)), key=lambda g: g[0]
        )


def _components(pairs: list[tuple[int, int]]) -> list[np.ndarray]:
    """The connected components of the graph of ``pairs``, each as its sorted nodes,
    ordered by their smallest node (as :func:`scipy.sparse.csgraph.connected_components`
    numbers them)."""
    root: dict[int, int] = {}

    def find(i: int) -> int:
        while root.setdefault(i, i) != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            root[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in sorted(root):
        members.setdefault(find(i), []).append(i)
    return [np.array(nodes, dtype=np.int64) for _, nodes in sorted(members.items())]


def _merge_partner(
    i: int,
    neighbours: dict[int, float],
    hh: np.ndarray,
    pop: np.ndarray,
    area: np.ndarray,
    targets: GridTargets,
) -> int | None:
    """The neighbour region ``i`` joins, or None.

    A region without households or residents joins the neighbour it shares the
    longest border with; a sliver holding some joins the longest-bordering
    neighbour it fits with; any other small region the neighbour that keeps the
    sum smallest.  Nothing that holds households is merged past the maximum.
    """
    if not neighbours:
        return None
    candidates = sorted(neighbours)  # deterministic order
    if hh[i] == 0 and pop[i] == 0:
        return max(candidates, key=lambda k: (neighbours[k], -k))
    fits = [
        k
        for k in candidates
        if hh[i] + hh[k] <= targets.households_max and pop[i] + pop[k] <= targets.residents_max
    ]
    if not fits:
        return None
    if area[i] < targets.sliver_m2:
        return max(fits, key=lambda k: (neighbours[k], -k))
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
    merged = shapely.coverage_union_all(parts)  # the pieces are a clean coverage
    if merged.geom_type == "Polygon":
        return merged
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
