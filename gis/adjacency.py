"""The grid neighbour graph: shared boundary lengths, and bridges for islands.

Two grids are neighbours when they share a boundary *segment* (a positive
length, within a snapping tolerance of a few centimetres); grids touching
only at a corner are not.  Islands and enclaves that end up in a component of
their own are bridged to the nearest grid of another component, so the graph
is connected and every district can be made contiguous; each bridge is
recorded so the map can draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import CRSError, EmptyLayerError

#: Length (m) stored in the matrix for a bridge, which shares no boundary.
BRIDGE_LENGTH = 1e-3
#: Gap (m) across which two boundaries still count as shared.
SNAP = 0.05
#: Shortest shared length (m) that makes two grids neighbours.
MIN_SHARED = 0.5


@dataclass(frozen=True)
class Adjacency:
    """The neighbour graph of a grid set.

    Attributes
    ----------
    codes
        Grid codes, in the row order of ``matrix``.
    matrix
        Symmetric CSR matrix of shared boundary length in metres (bridges hold
        :data:`BRIDGE_LENGTH`).
    bridges
        ``(code_a, code_b, distance_m)`` for each added bridge.
    """

    codes: np.ndarray
    matrix: sparse.csr_matrix
    bridges: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of grids."""
        return len(self.codes)

    def neighbours(self, code: str) -> list[str]:
        """Codes of the neighbours of ``code`` (bridges included)."""
        i = int(np.flatnonzero(self.codes == code)[0])
        row = self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]
        return [str(c) for c in self.codes[row]]


def grid_adjacency(grids_metric: gpd.GeoDataFrame) -> Adjacency:
    """Build the neighbour graph of ``grids_metric``.

    Parameters
    ----------
    grids_metric
        Grids in a projected metric CRS, with a ``code`` column.

    Returns
    -------
    Adjacency
        Shared lengths between neighbours and the bridges added so that the
        graph is connected.
    """
    if grids_metric.empty:
        raise EmptyLayerError("no grids to build a neighbour graph from")
    crs = grids_metric.crs
    if crs is None or not crs.is_projected:
        raise CRSError(
            "grid_adjacency needs grids in a projected metric CRS: use gis.crs.metric_crs"
        )
    geoms = np.asarray(grids_metric.geometry.values, dtype=object)
    codes = grids_metric["code"].astype(str).to_numpy()
    matrix = shared_lengths(geoms)
    matrix, pairs = bridge_components(geoms, matrix)
    bridges = [(str(codes[a]), str(codes[b]), round(float(d), 2)) for a, b, d in pairs]
    return Adjacency(codes=codes, matrix=matrix, bridges=bridges)


def shared_lengths(geoms: np.ndarray) -> sparse.csr_matrix:
    """Symmetric CSR matrix of boundary length shared by each pair of ``geoms`` (m)."""
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=SNAP)
    keep = left < right
    left, right = left[keep], right[keep]
    bounds = shapely.boundary(geoms)
    common = shapely.intersection(bounds[left], bounds[right])
    length = shapely.length(common)
    # boundaries that do not meet exactly (grids made elsewhere): snap across the gap;
    # boundaries meeting in points only (corner touches, crossings) are not neighbours
    loose = (length < MIN_SHARED) & shapely.is_empty(common)
    if loose.any():
        near = shapely.buffer(geoms[right[loose]], SNAP, quad_segs=2)
        length[loose] = shapely.length(shapely.intersection(bounds[left[loose]], near))
        # a corner touch leaves only a sliver of about 2 * SNAP: not a segment
        length[loose] = np.where(length[loose] >= MIN_SHARED, length[loose], 0.0)
    ok = length >= MIN_SHARED
    left, right, length = left[ok], right[ok], length[ok]
    m = sparse.coo_matrix(
        (np.r_[length, length], (np.r_[left, right], np.r_[right, left])), shape=(n, n)
    )
    return m.tocsr()


def bridge_components(
    geoms: np.ndarray, matrix: sparse.csr_matrix
) -> tuple[sparse.csr_matrix, list[tuple[int, int, float]]]:
    """Connect the components of ``matrix`` by bridges between nearest grids.

    Repeatedly joins the smallest component to the nearest grid outside it,
    until one component remains.

    Returns
    -------
    matrix, bridges
        The connected matrix and ``(i, j, distance_m)`` per bridge.
    """
    n_comp, labels = csgraph.connected_components(matrix, directed=False)
    bridges: list[tuple[int, int, float]] = []
    while n_comp > 1:
        sizes = np.bincount(labels)
        small = int(np.argmin(sizes))
        inside = np.flatnonzero(labels == small)
        outside = np.flatnonzero(labels != small)
        tree = shapely.STRtree(geoms[outside])
        (src, dst), dist = tree.query_nearest(geoms[inside], return_distance=True)
        best = int(np.argmin(dist))
        i, j = int(inside[src[best]]), int(outside[dst[best]])
        bridges.append((min(i, j), max(i, j), float(dist[best])))
        extra = sparse.coo_matrix(
            ([BRIDGE_LENGTH, BRIDGE_LENGTH], ([i, j], [j, i])), shape=matrix.shape
        )
        matrix = (matrix + extra).tocsr()
        labels[labels == small] = labels[j]
        _, labels = np.unique(labels, return_inverse=True)
        n_comp -= 1
    return matrix, bridges
