"""Building cells: a block cut into one cell per building, and cells grouped into regions.

An enclosed tessellation (as in momepy's ``enclosed_tessellation``): a point
inside every footprint (and points along the rings of large ones) are the seeds
of a Voronoi diagram (scipy/Qhull); the Voronoi ridges between seeds of two
different buildings, clipped to the block, are the cell boundaries, which run
through the gaps between buildings.  :func:`tessellate` gives the building graph (two buildings
are neighbours when their cells share a ridge inside the block, weighted by its
length); :func:`regions` draws the polygons of a grouping of the buildings,
with every footprint whole inside its own group's polygon: where a ridge
clips a footprint's corner, the footprint's own outline becomes the boundary.

Numbers and shapely geometries only, in a metric CRS.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import Voronoi, cKDTree
from shapely.geometry.base import BaseGeometry

#: Seeds are placed along the rings of large footprints at most this far apart (m).
#: The regions are exact whatever the seeds (footprints are made whole); more
#: seeds only shape the cells of large buildings better, and cost time.
SEED_SPACING_M = 25.0
#: Footprints larger than this (m²) are seeded along their rings, not only inside.
LARGE_FOOTPRINT_M2 = 1_500.0


@dataclass(frozen=True)
class Tessellation:
    """The building cells of one block.

    Attributes
    ----------
    block
        The block polygon.
    shapes
        The footprints, in the order of the buildings.
    seeds, seed_owner
        Voronoi seeds and the building (0 … n-1) each belongs to.
    ridges, ridge_owner
        Cell boundaries between two buildings that reach into the block
        (LineStrings, not clipped, so that they meet the block's outline
        exactly when noded with it) and the two buildings each separates.
    graph
        Symmetric CSR matrix: shared cell boundary (m) between buildings.
    """

    block: BaseGeometry
    shapes: np.ndarray
    seeds: np.ndarray
    seed_owner: np.ndarray
    ridges: np.ndarray
    ridge_owner: np.ndarray
    graph: sparse.csr_matrix


def tessellate(
    block: BaseGeometry, shapes: np.ndarray, *, spacing: float = SEED_SPACING_M
) -> Tessellation:
    """Cut ``block`` into one cell per footprint of ``shapes``.

    Parameters
    ----------
    block
        A polygon (metric CRS).
    shapes
        Footprints whose inside points lie in ``block`` (parts outside are ignored).
    spacing
        Largest distance between seeds along a ring (m).

    Returns
    -------
    Tessellation
    """
    return tessellate_blocks([block], [np.asarray(shapes, dtype=object)], spacing=spacing)[0]


def tessellate_blocks(
    blocks: list[BaseGeometry],
    shapes: list[np.ndarray],
    *,
    spacing: float = SEED_SPACING_M,
    diagram: np.ndarray | None = None,
) -> list[Tessellation]:
    """:func:`tessellate` many blocks at once (one Voronoi diagram per ``diagram``).

    Each block's seeds are moved, in its diagram only, to a spot of their own
    far from the other blocks' of that diagram (four times their largest block
    apart), so that no block's cells reach another's; the ridges are moved back.
    The steps before and after the diagrams run once over all blocks.

    Parameters
    ----------
    blocks
        Polygons (metric CRS).
    shapes
        For each block, the footprints whose inside points lie in it.
    diagram
        For each block, the Voronoi diagram it goes in (non-decreasing
        integers); all in one by default.  A block's cells depend on the
        blocks of its diagram only, to the last bit.

    Returns
    -------
    list of Tessellation
        One per block, in order.
    """
    counts = np.array([len(s) for s in shapes], dtype=np.int64)
    every = np.concatenate(shapes) if len(shapes) else np.array([], dtype=object)
    block_of = np.repeat(np.arange(len(blocks)), counts)
    area = np.asarray(blocks, dtype=object)
    seeds, owner = _seeds(_clip(area[block_of], every), spacing, block_of)
    group = np.zeros(len(blocks), dtype=np.int64) if diagram is None else np.asarray(diagram)
    ridges, ridge_owner, length = _ridges(area, seeds, owner, block_of, group)
    keep = length > 1e-6
    ridges, ridge_owner, length = ridges[keep], ridge_owner[keep], length[keep]
    first = np.concatenate([[0], np.cumsum(counts)])  # buildings of block i: first[i]:first[i+1]
    seed_block = block_of[owner]
    ridge_block = block_of[ridge_owner[:, 0]]
    seed_bounds = np.searchsorted(seed_block, np.arange(len(blocks) + 1))
    ridge_order = np.argsort(ridge_block, kind="stable")
    ridge_bounds = np.searchsorted(ridge_block[ridge_order], np.arange(len(blocks) + 1))
    graphs = _graphs(ridge_owner, length, first)
    out = []
    for i, (block, graph) in enumerate(zip(blocks, graphs, strict=True)):
        base = int(first[i])
        seed_slice = slice(seed_bounds[i], seed_bounds[i + 1])
        mine = ridge_order[ridge_bounds[i] : ridge_bounds[i + 1]]
        local = ridge_owner[mine] - base
        out.append(
            Tessellation(
                block=block,
                shapes=shapes[i],
                seeds=seeds[seed_slice],
                seed_owner=owner[seed_slice] - base,
                ridges=ridges[mine],
                ridge_owner=local,
                graph=graph,
            )
        )
    return out


def _graphs(pairs: np.ndarray, length: np.ndarray, first: np.ndarray) -> list[sparse.csr_matrix]:
    """Per block, the symmetric CSR matrix of summed ridge length between its buildings.

    ``pairs`` are ridges' buildings (numbered over all blocks; block ``i`` holds
    buildings ``first[i]`` to ``first[i + 1] - 1``), ``length`` their lengths.
    The matrices are made with numpy for all blocks at once, then cut apart.
    """
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    data = np.concatenate([length, length])
    order = np.lexsort((cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    new = np.concatenate([[True], (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])[: len(rows)]
    start = np.flatnonzero(new)  # repeated pairs are summed
    data = np.add.reduceat(data, start) if len(start) else data
    rows, cols = rows[start], cols[start]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=int(first[-1])))])
    out = []
    for lo, hi in zip(first[:-1].tolist(), first[1:].tolist(), strict=True):
        a, b = int(indptr[lo]), int(indptr[hi])
        # int32 indices, as scipy would make them, so that it need not convert them
        out.append(
            sparse.csr_matrix(
                (
                    data[a:b],
                    (cols[a:b] - lo).astype(np.int32),
                    (indptr[lo : hi + 1] - a).astype(np.int32),
                ),
                shape=(hi - lo, hi - lo),
            )
        )
    return out


def regions(tess: Tessellation, labels: np.ndarray) -> list[tuple[BaseGeometry, int]]:
    """The polygons of a grouping of the buildings of ``tess``.

    Parameters
    ----------
    tess
        From :func:`tessellate`.
    labels
        Group of each building (integers).

    Returns
    -------
    list of (Polygon, label)
        The polygons tile the block; each footprint lies whole in a polygon of
        its own label (where footprints of two labels overlap, the first one's
        wins).  A label may come back as several polygons when its cells are
        not connected.
    """
    return regions_many([tess], [labels])[0]


def regions_many(
    cells: list[Tessellation], labels: list[np.ndarray]
) -> list[list[tuple[BaseGeometry, int]]]:
    """:func:`regions` of many blocks at once, each block's polygons as its own call's.

    Every step is one vectorized call over all blocks: the noding, polygonizing
    and dissolving of each block run on a row of a None-padded table of its own,
    and the pairs a spatial index finds across blocks are dropped, so that no
    block's floating point depends on another's.

    Parameters
    ----------
    cells
        From :func:`tessellate_blocks`, one per block.
    labels
        For each block, the group of each of its buildings.

    Returns
    -------
    list of lists of (Polygon, label)
        Per block, as :func:`regions` gives them.
    """
    labels = [np.asarray(lab) for lab in labels]
    out: list[list[tuple[BaseGeometry, int]]] = [
        [(tess.block, int(lab[0]))] for tess, lab in zip(cells, labels, strict=True)
    ]
    todo = [i for i, lab in enumerate(labels) if not (lab == lab[0]).all()]
    if not todo:
        return out
    batch = _Batch([cells[i] for i in todo], [labels[i] for i in todo])
    # cuts between groups; footprints a cut runs through keep their own outline
    cuts, hit = batch.cuts_and_hits()
    # the faces the cuts and outlines make of each block, and a point inside each
    faces, face_block, probes = batch.faces(cuts, hit)
    # each face's group: its footprint's when inside one, else its Voronoi cell's
    face_label = batch.label_faces(face_block, probes, hit)
    # the union of each block's faces by group, specks given to a neighbour
    for i, drawn in zip(todo, batch.dissolve(faces, face_block, face_label), strict=True):
        out[i] = drawn
    return out


class _Batch:
    """Blocks whose groups are drawn together: their buildings numbered across blocks."""

    def __init__(self, cells: list[Tessellation], labels: list[np.ndarray]) -> None:
        self.cells = cells
        self.labels = labels
        counts = np.array([len(t.shapes) for t in cells], dtype=np.int64)
        self.first = np.concatenate([[0], np.cumsum(counts)])
        self.shape_block = np.repeat(np.arange(len(cells)), counts)
        self.shapes = np.concatenate([np.asarray(t.shapes, dtype=object) for t in cells])
        self.blocks = np.array([t.block for t in cells], dtype=object)

    def cuts_and_hits(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Per block, the ridges between two groups; the footprints they run through
        (indices over all blocks, sorted)."""
        cuts = [
            t.ridges[lab[t.ridge_owner[:, 0]] != lab[t.ridge_owner[:, 1]]]
            for t, lab in zip(self.cells, self.labels, strict=True)
        ]
        cut_block = np.repeat(np.arange(len(cuts)), [len(c) for c in cuts])
        every_cut = np.concatenate([*cuts, np.array([], dtype=object)])
        shape_idx, cut_idx = shapely.STRtree(every_cut).query(self.shapes, predicate="intersects")
        mine = self.shape_block[shape_idx] == cut_block[cut_idx]
        return cuts, np.unique(shape_idx[mine])

    def faces(
        self, cuts: list[np.ndarray], hit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The faces the cuts and the outlines of the ``hit`` footprints cut each block
        into (they tile it), the block of each and a point inside each."""
        outlines = shapely.boundary(self.shapes[hit])
        hit_bounds = np.searchsorted(self.shape_block[hit], np.arange(len(cuts) + 1))
        rows = [
            [block.boundary, *cut, *outlines[hit_bounds[i] : hit_bounds[i + 1]]]
            for i, (block, cut) in enumerate(zip(self.blocks, cuts, strict=True))
        ]
        table = np.full((len(rows), max(len(r) for r in rows)), None, dtype=object)
        for i, row in enumerate(rows):
            table[i, : len(row)] = row
        noded = shapely.union_all(table, axis=1)
        faces, face_block = shapely.get_parts(shapely.polygonize(noded[:, None]), return_index=True)
        shapely.prepare(self.blocks)
        probes = shapely.point_on_surface(faces)
        keep = shapely.contains(self.blocks[face_block], probes)
        # a face's inside point can fall on the block's outline (a sliver spike of the
        # block); such faces, and holes or faces the unclipped ridges close outside the
        # block, are told apart by how much of them lies inside
        doubt = np.flatnonzero(~keep)
        if len(doubt):
            inside = shapely.area(
                shapely.intersection(faces[doubt], self.blocks[face_block[doubt]])
            )
            keep[doubt] = inside > 0.5 * shapely.area(faces[doubt])
        return faces[keep], face_block[keep], probes[keep]

    def label_faces(
        self, face_block: np.ndarray, probes: np.ndarray, hit: np.ndarray
    ) -> np.ndarray:
        """Group of each face (by its inside point ``probes``): its footprint's when inside
        one of the ``hit`` footprints, else its Voronoi cell's."""
        coords = shapely.get_coordinates(probes)
        bounds = np.searchsorted(face_block, np.arange(len(self.cells) + 1))
        face_label = np.empty(len(probes), dtype=np.int64)
        for i, (tess, lab) in enumerate(zip(self.cells, self.labels, strict=True)):
            here = slice(bounds[i], bounds[i + 1])
            nearest = cKDTree(tess.seeds).query(coords[here])[1]
            face_label[here] = lab[tess.seed_owner[nearest]]
        if len(hit):
            face_idx, shape_idx = shapely.STRtree(self.shapes[hit]).query(
                probes, predicate="within"
            )
            mine = face_block[face_idx] == self.shape_block[hit[shape_idx]]
            face_idx, shape_idx = face_idx[mine], shape_idx[mine]
            order = np.lexsort((shape_idx, face_idx))  # first footprint wins an overlap
            face_idx, shape_idx = face_idx[order], shape_idx[order]
            first = np.flatnonzero(np.diff(face_idx, prepend=-1))  # face_idx is sorted, >= 0
            owner = hit[shape_idx[first]]
            block = self.shape_block[owner]
            for i in np.unique(block).tolist():  # labels are numbered per block
                on = block == i
                face_label[face_idx[first][on]] = self.labels[i][owner[on] - self.first[i]]
        return face_label

    def dissolve(
        self, faces: np.ndarray, face_block: np.ndarray, face_label: np.ndarray
    ) -> list[list[tuple[BaseGeometry, int]]]:
        """Per block, the union of its faces by group, specks given to a neighbour."""
        key = np.column_stack([face_block, face_label])
        found, merged = _union_by_label(faces, key)
        parts, owner = shapely.get_parts(merged, return_index=True)
        keep = shapely.area(parts) > 0
        parts, owner = parts[keep], owner[keep]
        part_block = found[owner, 0]
        bounds = np.searchsorted(part_block, np.arange(len(self.cells) + 1))
        return [
            _absorb_specks(
                [(p, int(found[o, 1])) for p, o in zip(parts[lo:hi], owner[lo:hi], strict=True)]
            )
            for lo, hi in itertools.pairwise(bounds.tolist())
        ]


def _union_by_label(faces: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels of ``faces`` and, for each, the union of its faces (one GEOS call).

    ``labels`` are rows (block, group).  The faces of each label, in their
    order, fill a row of a table padded with None, which shapely dissolves row
    by row; labels come sorted.
    """
    found, inverse = np.unique(labels, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(found))
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    table = np.full((len(found), int(counts.max())), None, dtype=object)
    table[inverse[order], rank] = faces[order]
    return found, shapely.coverage_union_all(table, axis=1)


#: Pieces smaller than this (m²) are rounding specks, given to a neighbour.
SPECK_M2 = 1.0


def _absorb_specks(pieces: list[tuple[BaseGeometry, int]]) -> list[tuple[BaseGeometry, int]]:
    """Give each speck to the piece it shares the longest boundary with."""
    areas = np.array([p.area for p, _ in pieces])
    specks = np.flatnonzero(areas < SPECK_M2)
    if len(specks) == 0 or len(specks) == len(pieces):
        return pieces
    keep = np.flatnonzero(areas >= SPECK_M2)
    polys = np.array([pieces[i][0] for i in keep], dtype=object)
    tree = shapely.STRtree(polys)
    merged = {int(i): [pieces[i][0]] for i in keep}
    for i in specks.tolist():
        speck = pieces[i][0]
        near = tree.query(speck, predicate="intersects")
        if len(near) == 0:
            near = np.atleast_1d(tree.nearest(speck))
        shared = shapely.length(shapely.intersection(speck.boundary, shapely.boundary(polys[near])))
        merged[int(keep[near[int(np.argmax(shared))]])].append(speck)
    out = []
    for i, parts in merged.items():
        union = parts[0] if len(parts) == 1 else shapely.union_all(parts)
        out.append((union, pieces[i][1]))
    return out


def _clip(blocks: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Footprints cut to their blocks (pairwise); one left empty becomes a speck at its inside
    point."""
    shapely.prepare(blocks)
    inside = shapely.contains_properly(blocks, shapes)
    out = shapes.copy()
    if (~inside).any():
        clipped = shapely.intersection(shapes[~inside], blocks[~inside])
        clipped = np.array([_polygonal(g) for g in clipped], dtype=object)
        empty = shapely.is_empty(clipped) | (shapely.area(clipped) <= 0)
        if empty.any():
            specks = shapely.point_on_surface(shapes[~inside][empty])
            clipped[empty] = shapely.buffer(specks, 0.01, quad_segs=1)
        out[~inside] = clipped
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _seeds(
    shapes: np.ndarray, spacing: float, block_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One inside point per footprint, and points along the rings of large ones, by block.

    Small footprints are seeded by their inside point alone: their cells are
    then a plain Voronoi diagram of the buildings, whose boundaries run midway
    between them (and :func:`regions` makes every footprint whole anyway).
    Large ones (over :data:`LARGE_FOOTPRINT_M2`) also get points along their
    rings, so their cells follow their shape.  A point two buildings of one
    block share (a common wall) goes to the first.
    """
    large = np.flatnonzero(shapely.area(shapes) > LARGE_FOOTPRINT_M2)
    rings = shapely.segmentize(shapes[large], spacing)
    coords, local = shapely.get_coordinates(rings, return_index=True)
    owner = large[local]
    inside = shapely.get_coordinates(shapely.point_on_surface(shapes))
    coords = np.concatenate([inside, coords])
    owner = np.concatenate([np.arange(len(shapes)), owner])
    key = np.round(coords * 1000).astype(np.int64)
    order = np.lexsort((np.arange(len(key)), key[:, 1], key[:, 0], block_of[owner]))
    sorted_key = np.column_stack([block_of[owner][order], key[order]])
    repeat = np.zeros(len(key), dtype=bool)
    repeat[order[1:]] = (np.diff(sorted_key, axis=0) == 0).all(axis=1)
    keep = np.flatnonzero(~repeat)
    keep = keep[np.argsort(block_of[owner[keep]], kind="stable")]
    return coords[keep], owner[keep]


def _ridges(
    blocks: np.ndarray,
    seeds: np.ndarray,
    owner: np.ndarray,
    block_of: np.ndarray,
    diagram: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi ridges between seeds of different buildings of one block, and their length
    inside it.  The blocks of each ``diagram`` share one Voronoi diagram."""
    seed_block = block_of[owner]
    shift = _shifts(blocks, diagram)  # block i's seeds sit around a slot of their own
    moved = seeds + shift[seed_block]
    seed_diagram = diagram[seed_block]
    bounds = np.searchsorted(seed_diagram, np.arange(int(diagram.max(initial=-1)) + 2))
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for lo, hi, pitch in zip(bounds[:-1], bounds[1:], _pitches(blocks, diagram), strict=True):
        ridges = _voronoi_ridges(moved[lo:hi], owner[lo:hi], seed_block[lo:hi], float(pitch), lo)
        if ridges is not None and len(ridges[0]):
            found.append(ridges)
    if not found:
        return np.array([], dtype=object), np.empty((0, 2), dtype=np.int64), np.empty(0)
    pairs = np.concatenate([p for p, _ in found])
    rb = seed_block[pairs[:, 0]]
    ends = np.concatenate([e for _, e in found]) - shift[rb][:, None, :]  # back where the block is
    lines = shapely.linestrings(ends)
    shapely.prepare(blocks)
    inside = (
        shapely.contains_xy(np.repeat(blocks[rb], 2), ends[:, :, 0].ravel(), ends[:, :, 1].ravel())
        .reshape(-1, 2)
        .all(axis=1)
    )
    length = shapely.length(lines)
    if (~inside).any():
        length[~inside] = shapely.length(shapely.intersection(lines[~inside], blocks[rb[~inside]]))
    ridge_owner = np.sort(np.column_stack([owner[pairs[:, 0]], owner[pairs[:, 1]]]), axis=1)
    return lines, ridge_owner, length


def _pitches(blocks: np.ndarray, diagram: np.ndarray) -> np.ndarray:
    """Per diagram, how far apart its blocks' slots are: four times its largest block."""
    bounds = shapely.bounds(blocks)
    size = (bounds[:, 2:] - bounds[:, :2]).max(axis=1)
    count = int(diagram.max(initial=-1)) + 1
    largest = np.full(count, -np.inf)
    np.maximum.at(largest, diagram, size)
    return 4 * np.maximum(largest, 1.0)


def _shifts(blocks: np.ndarray, diagram: np.ndarray) -> np.ndarray:
    """Per block, the move that puts it at its slot: slots in a square per diagram."""
    bounds = shapely.bounds(blocks)
    centre = (bounds[:, :2] + bounds[:, 2:]) / 2
    starts = np.searchsorted(diagram, diagram)  # first block of each block's diagram
    rank = np.arange(len(blocks)) - starts
    count = np.bincount(diagram, minlength=int(diagram.max(initial=-1)) + 1)
    side = np.ceil(np.sqrt(count)).astype(np.int64)[diagram]
    slot = np.column_stack([rank % side, rank // side])
    return slot * _pitches(blocks, diagram)[diagram][:, None] - centre


def _voronoi_ridges(
    moved: np.ndarray, owner: np.ndarray, seed_block: np.ndarray, pitch: float, first: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The ridges of one diagram between seeds of two buildings of one block.

    Returns the pairs of seeds (numbered from ``first``) and the ridges' moved
    end points, or None when the diagram holds fewer than two buildings.
    """
    if len(np.unique(owner)) < 2:
        return None
    lo, hi = moved.min(axis=0) - pitch, moved.max(axis=0) + pitch
    frame = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    vor = Voronoi(np.concatenate([moved, frame]))
    pairs = vor.ridge_points
    verts = np.asarray(vor.ridge_vertices)
    n = len(moved)
    own = np.concatenate([owner, np.full(4, -1)])
    blk = np.concatenate([seed_block, np.full(4, -1)])
    keep = (
        (pairs < n).all(axis=1)
        & (own[pairs[:, 0]] != own[pairs[:, 1]])
        & (blk[pairs[:, 0]] == blk[pairs[:, 1]])
        & (verts >= 0).all(axis=1)
    )
    return pairs[keep] + first, vor.vertices[verts[keep]]
