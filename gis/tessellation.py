"""Building cells: a block cut into one cell per building, and cells grouped into regions.

An enclosed tessellation (as in momepy's ``enclosed_tessellation``): points
sampled along every footprint's rings are the seeds of a Voronoi diagram
(scipy/Qhull); the Voronoi ridges between seeds of two different buildings,
clipped to the block, are the cell boundaries, which run through the gaps
between buildings.  :func:`tessellate` gives the building graph (two buildings
are neighbours when their cells share a ridge inside the block, weighted by its
length); :func:`regions` draws the polygons of a grouping of the buildings,
with every footprint whole inside its own group's polygon: where a ridge
clips a footprint's corner, the footprint's own outline becomes the boundary.

Numbers and shapely geometries only, in a metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import Voronoi, cKDTree
from shapely.geometry.base import BaseGeometry

#: Seeds are placed along footprint rings at most this far apart (m).  The
#: regions are exact whatever the spacing (footprints are made whole); a finer
#: spacing only centres boundaries better in the gaps, and costs time.
SEED_SPACING_M = 25.0


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
    shapes = np.asarray(shapes, dtype=object)
    n = len(shapes)
    seeds, owner = _seeds(_clip(block, shapes), spacing)
    ridges, ridge_owner, length = _ridges(block, seeds, owner)
    keep = length > 1e-6
    ridges, ridge_owner, length = ridges[keep], ridge_owner[keep], length[keep]
    a, b = ridge_owner[:, 0], ridge_owner[:, 1]
    graph = sparse.coo_matrix((np.r_[length, length], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    return Tessellation(
        block=block,
        shapes=shapes,
        seeds=seeds,
        seed_owner=owner,
        ridges=ridges,
        ridge_owner=ridge_owner,
        graph=graph.tocsr(),
    )


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
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return [(tess.block, int(labels[0]))]
    a, b = tess.ridge_owner[:, 0], tess.ridge_owner[:, 1]
    cut = tess.ridges[labels[a] != labels[b]]
    # footprints a cut runs through keep their own outline as the boundary
    hit = np.unique(shapely.STRtree(cut).query(tess.shapes, predicate="intersects")[0])
    outlines = shapely.boundary(tess.shapes[hit]) if len(hit) else np.array([], dtype=object)
    faces = _faces(tess.block, np.concatenate([cut, outlines]))
    face_label = _label_faces(tess, labels, faces, hit)
    out: list[tuple[BaseGeometry, int]] = []
    for label in np.unique(face_label).tolist():
        merged = shapely.coverage_union_all(faces[face_label == label])
        out.extend((p, int(label)) for p in shapely.get_parts(merged) if p.area > 0)
    return _absorb_specks(out)


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


def _clip(block: BaseGeometry, shapes: np.ndarray) -> np.ndarray:
    """Footprints cut to the block; a footprint left empty becomes a speck at its inside point."""
    shapely.prepare(block)
    inside = shapely.contains_properly(block, shapes)
    out = shapes.copy()
    if (~inside).any():
        clipped = shapely.intersection(shapes[~inside], block)
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


def _seeds(shapes: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along every ring and one inside point per footprint; duplicates dropped."""
    rings = shapely.segmentize(shapes, spacing)
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    inside = shapely.get_coordinates(shapely.point_on_surface(shapes))
    coords = np.concatenate([inside, coords])
    owner = np.concatenate([np.arange(len(shapes)), owner])
    # shared walls give the same point to two buildings: the first keeps it
    key = np.round(coords * 1000).astype(np.int64)
    order = np.lexsort((np.arange(len(key)), key[:, 1], key[:, 0]))
    repeat = np.zeros(len(key), dtype=bool)
    repeat[order[1:]] = (np.diff(key[order], axis=0) == 0).all(axis=1)
    return coords[~repeat], owner[~repeat]


def _ridges(
    block: BaseGeometry, seeds: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi ridges between seeds of different buildings, and their length inside the block."""
    if len(np.unique(owner)) < 2:
        return np.array([], dtype=object), np.empty((0, 2), dtype=np.int64), np.empty(0)
    x0, y0, x1, y1 = block.bounds
    span = max(x1 - x0, y1 - y0, 1.0)
    far = 3 * span
    frame = np.array([[x0 - far, y0 - far], [x1 + far, y0 - far], [x1 + far, y1 + far],
                      [x0 - far, y1 + far]])
    vor = Voronoi(np.concatenate([seeds, frame]))
    pairs = vor.ridge_points
    verts = np.asarray(vor.ridge_vertices)
    n = len(seeds)
    own = np.concatenate([owner, np.full(4, -1)])
    pa, pb = own[pairs[:, 0]], own[pairs[:, 1]]
    keep = (pairs < n).all(axis=1) & (pa != pb) & (verts >= 0).all(axis=1)
    pairs, verts = pairs[keep], verts[keep]
    lines = shapely.linestrings(
        np.stack([vor.vertices[verts[:, 0]], vor.vertices[verts[:, 1]]], axis=1)
    )
    ends = vor.vertices[verts.ravel()]
    shapely.prepare(block)
    inside = shapely.contains_xy(block, ends[:, 0], ends[:, 1]).reshape(-1, 2).all(axis=1)
    length = shapely.length(lines)
    if (~inside).any():
        length[~inside] = shapely.length(shapely.intersection(lines[~inside], block))
    ridge_owner = np.sort(np.column_stack([own[pairs[:, 0]], own[pairs[:, 1]]]), axis=1)
    return lines, ridge_owner, length


def _faces(block: BaseGeometry, lines: np.ndarray) -> np.ndarray:
    """The faces ``lines`` cut ``block`` into (they tile it)."""
    noded = shapely.union_all(np.concatenate([[block.boundary], lines]))
    faces = shapely.get_parts(shapely.polygonize([noded]))
    shapely.prepare(block)
    keep = shapely.contains(block, shapely.point_on_surface(faces))
    return faces[keep]


def _label_faces(
    tess: Tessellation, labels: np.ndarray, faces: np.ndarray, outlined: np.ndarray
) -> np.ndarray:
    """Label of each face: its footprint's when inside one, else its Voronoi cell's."""
    probes = shapely.point_on_surface(faces)
    nearest = cKDTree(tess.seeds).query(shapely.get_coordinates(probes))[1]
    face_label = labels[tess.seed_owner[nearest]]
    if len(outlined):
        face_idx, shape_idx = shapely.STRtree(tess.shapes[outlined]).query(
            probes, predicate="within"
        )
        order = np.lexsort((shape_idx, face_idx))  # first footprint wins an overlap
        face_idx, shape_idx = face_idx[order], shape_idx[order]
        first = np.unique(face_idx, return_index=True)[1]
        face_label[face_idx[first]] = labels[outlined[shape_idx[first]]]
    return face_label
