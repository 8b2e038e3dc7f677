"""Graph partitioning: METIS parts, seats per group, groups merged down to k.

The numeric core of a first plan: :func:`partition` splits a weighted graph
into ``k`` balanced, compact, contiguous parts with METIS (pymetis);
:func:`partition_groups` does so inside each group of grids (communities,
old districts) with the seats :func:`allot_seats` gives it; and
:func:`weighted_partition` partitions the whole area with some edges made
cheaper to cut (the old boundaries of a redraw).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import InfeasibleError
from gis.plan import GridGraph


def allot_seats(graph: GridGraph, groups: np.ndarray, k: int) -> np.ndarray:
    """Apportion ``k`` districts among ``groups`` to minimise the largest deviation.

    Each group gets at least one district and at most one per grid.  Starts
    with D'Hondt (largest population per district first) and then moves
    single seats while that lowers the largest absolute deviation.
    """
    n_groups = int(groups.max()) + 1
    pop = np.bincount(groups, weights=graph.values[:, 0], minlength=n_groups)
    cap = np.bincount(groups, minlength=n_groups)
    if cap.sum() < k:
        raise InfeasibleError(f"k = {k} is larger than the number of grids ({cap.sum()})")
    seats = np.ones(n_groups, dtype=np.int64)
    if k < n_groups:
        raise InfeasibleError(f"cannot give {n_groups} groups at least one of {k} districts")
    while seats.sum() < k:
        ratio = np.where(seats < cap, pop / seats, -np.inf)
        seats[int(np.argmax(ratio))] += 1
    ideal = pop.sum() / k if pop.sum() > 0 else 1.0

    def worst(s: np.ndarray) -> float:
        return float(np.abs(pop / (s * ideal) - 1.0).max())

    for _ in range(4 * k):
        current, best = worst(seats), None
        for a in np.flatnonzero(seats > 1):
            for b in np.flatnonzero(seats < cap):
                if a == b:
                    continue
                trial = seats.copy()
                trial[a] -= 1
                trial[b] += 1
                w = worst(trial)
                if w < current - 1e-12 and (best is None or w < best[0]):
                    best = (w, a, b)
        if best is None:
            break
        seats[best[1]] -= 1
        seats[best[2]] += 1
    return seats


def merge_groups(graph: GridGraph, groups: np.ndarray, k: int) -> np.ndarray:
    """Merge the smallest group into its smallest neighbour until at most ``k`` remain."""
    groups = np.unique(groups, return_inverse=True)[1]
    pop = graph.values[:, 0]
    src, dst = graph.edges()
    while groups.max() + 1 > k:
        tot = np.bincount(groups, weights=pop)
        small = int(np.argmin(tot))
        touching = np.unique(groups[dst[groups[src] == small]])
        touching = touching[touching != small]
        into = int(touching[np.argmin(tot[touching])])
        groups[groups == small] = into
        groups = np.unique(groups, return_inverse=True)[1]
    return groups


def shared_matrix(graph: GridGraph) -> sparse.csr_matrix:
    """Symmetric CSR of the shared boundary lengths (m)."""
    return sparse.csr_matrix((graph.shared, graph.indices, graph.indptr), shape=(graph.n,) * 2)


def partition_groups(
    graph: GridGraph, groups: np.ndarray, seats: np.ndarray, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Partition each group into its seats; returns labels and the group of each district."""
    labels = np.zeros(graph.n, dtype=np.int64)
    district_group = np.repeat(np.arange(len(seats)), seats)
    offset = 0
    full = shared_matrix(graph)
    weights = vertex_weights(graph)
    for g, s in enumerate(seats):
        members = np.flatnonzero(groups == g)
        if s == 1:
            labels[members] = offset
        else:
            sub = full[members][:, members]
            labels[members] = offset + partition(sub, weights[members], int(s), seed=seed)
        offset += int(s)
    return labels, district_group


def weighted_partition(
    graph: GridGraph,
    k: int,
    *,
    old_boundary: tuple[np.ndarray, float] | None,
    seed: int,
) -> np.ndarray:
    """Partition the whole graph into ``k`` parts; edges between groups cost less to cut.

    ``old_boundary = (groups, weight)``: an edge between two groups counts
    ``weight`` times its length (``None``: every edge its length).
    """
    matrix = shared_matrix(graph)
    if old_boundary is not None:
        groups, weight = old_boundary
        src, dst = graph.edges()
        data = graph.shared * np.where(groups[src] != groups[dst], weight, 1.0)
        matrix = sparse.csr_matrix((data, graph.indices, graph.indptr), shape=(graph.n,) * 2)
    return partition(matrix, vertex_weights(graph), k, seed=seed)


def vertex_weights(graph: GridGraph) -> np.ndarray:
    """One positive integer weight per grid mixing the balanced quantities equally."""
    vals = graph.values[:, : graph.n_balanced]
    tot = vals.sum(axis=0)
    share = (vals / np.where(tot > 0, tot, 1.0)).sum(axis=1) / vals.shape[1]
    return np.maximum(1, np.round(share * 1e8)).astype(np.int64)


def partition(matrix: sparse.csr_matrix, weights: np.ndarray, k: int, *, seed: int) -> np.ndarray:
    """Split a graph into ``k`` balanced, compact, contiguous parts with METIS.

    Parameters
    ----------
    matrix
        Symmetric CSR of shared boundary lengths (m).
    weights
        Positive integer vertex weights.
    k
        Number of parts.
    seed
        METIS seed.

    Returns
    -------
    numpy.ndarray
        Part index per vertex.
    """
    import pymetis

    n = matrix.shape[0]
    if k >= n:
        return np.arange(n) % k
    matrix = _connect(matrix)
    xadj = matrix.indptr.astype(np.int64)
    adjncy = matrix.indices.astype(np.int64)
    eweights = np.maximum(1, np.round(matrix.data)).astype(np.int64)
    for contig in (1, -1):
        opts = pymetis.Options(seed=seed, ufactor=1, contig=contig, niter=20, ncuts=2)
        try:
            _, raw = pymetis.part_graph(
                k,
                adjacency=pymetis.CSRAdjacency(xadj, adjncy),
                vweights=weights,
                eweights=eweights,
                options=opts,
            )
        except (RuntimeError, ValueError):  # METIS refuses contig on odd graphs: retry
            continue
        parts = np.asarray(raw, dtype=np.int64)
        if len(np.unique(parts)) == k:
            return parts
    # METIS left parts empty (tiny graphs): fall back to BFS slices of equal weight
    return _bfs_slices(matrix, weights, k)


def _connect(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Chain the components of ``matrix`` together with weight-1 edges."""
    n_comp, comp = csgraph.connected_components(matrix, directed=False)
    if n_comp == 1:
        return matrix
    firsts = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
    a, b = firsts[:-1], firsts[1:]
    extra = sparse.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=matrix.shape)
    return (matrix + extra).tocsr()


def _bfs_slices(matrix: sparse.csr_matrix, weights: np.ndarray, k: int) -> np.ndarray:
    order = csgraph.breadth_first_order(matrix, 0, directed=False, return_predecessors=False)
    cum = np.cumsum(weights[order]) / weights.sum()
    part = np.minimum((cum * k).astype(np.int64), k - 1)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = part
    # make sure every part is used
    for p in range(k):
        if not (out == p).any():
            out[order[p]] = p
    return out
