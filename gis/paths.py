"""Exact walking distances over the walk network, from many sources at once.

:func:`nearest_sources` runs one multi-source Dijkstra
(:func:`scipy.sparse.csgraph.dijkstra`) for every node's nearest source and
one more for the exact distance to the second nearest; :func:`point_distances`
turns node distances into distances for snapped points, including the case of
a point and a source on the same edge; :func:`distances_from` is both in one
call.

Points and sources may be attached at several places (a building's entrances,
see :mod:`gis.access`): a source is then reached from any of its attachments,
and a point's walk is the shortest from any of its own.  Walks stay within a
piece of the network; a point on a piece no source reaches gets ``inf``.

Every routine here takes arrays and CSR matrices only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from gis._errors import InputError
from gis.access import Snap
from gis.network import WalkNetwork

#: Added to every virtual edge so that no edge weight is zero (csgraph drops
#: explicit zeros); subtracted again from the results.
_OFFSET = 1.0


@dataclass(frozen=True)
class NodeDistances:
    """Distances (m) from a set of sources to every node.

    ``d1``/``label``: nearest source distance and index (-1 where unreached);
    ``d2``: distance to the nearest source other than ``label`` (inf if none).
    """

    d1: np.ndarray
    label: np.ndarray
    d2: np.ndarray


@dataclass(frozen=True)
class PointWalks:
    """Per point: nearest and second-nearest source distance (m), which source, which attachment.

    ``src1`` is -1 and ``d1`` is inf where no source is reachable; ``d2`` is
    inf where no other source is.  ``via`` is the attachment (index into the
    points' :class:`~gis.access.Snap`) the nearest walk starts from, or, when
    none is reachable, the one with the shortest access leg.
    """

    d1: np.ndarray
    src1: np.ndarray
    d2: np.ndarray
    via: np.ndarray


def augmented_graph(network: WalkNetwork, sources: Snap) -> sparse.csr_matrix:
    """The network plus one virtual node per source attachment, with directed
    edges to the two ends of its edge weighted ``_OFFSET + access + position``.

    Virtual nodes only send: no path passes through a service point.
    """
    n, s = network.n_nodes, sources.n_attachments
    eu, ev = network.u[sources.edge], network.v[sources.edge]
    seg_len = network.length[sources.edge]
    vid = n + np.arange(s)
    rows = np.concatenate([network.u, network.v, vid, vid])
    cols = np.concatenate([network.v, network.u, eu, ev])
    w = np.concatenate(
        [
            network.length,
            network.length,
            _OFFSET + sources.access + sources.t,
            _OFFSET + sources.access + (seg_len - sources.t),
        ]
    )
    return sparse.csr_matrix((w, (rows, cols)), shape=(n + s, n + s))


def nearest_sources(network: WalkNetwork, sources: Snap) -> NodeDistances:
    """Exact distance from every node to its nearest and second-nearest source.

    Nearest: one multi-source Dijkstra (``min_only=True``) from virtual nodes,
    one per source attachment, which also labels each node with its nearest
    source.  Nodes of pieces without a source stay at ``inf``, label -1.

    Second nearest: for a node ``x`` with label ``A``, walk back along the
    shortest path from the second-nearest source; the last node ``w`` not
    labelled ``A`` is followed by a stretch of ``A``-labelled nodes only, and
    replacing the path up to ``w`` by ``w``'s own nearest source does not make
    it longer.  So ``d2(x)`` is the shortest path inside ``A``'s region from a
    boundary edge ``(w, z)``, entered at cost ``d1(w) + |wz|``, or straight
    from an attachment of another source to an end of its edge.  One more
    Dijkstra on the graph with inter-label edges removed and a super source
    joined to each entry node computes it for all nodes at once.
    """
    n = network.n_nodes
    if len(sources) == 0:
        raise InputError("no sources to measure from")
    graph = augmented_graph(network, sources)
    dist, _, src = csgraph.dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, n + sources.n_attachments),
        min_only=True,
        return_predecessors=True,
    )
    d1 = dist[:n] - _OFFSET
    label = np.where(src[:n] >= 0, sources.owner[np.maximum(src[:n] - n, 0)], -1)
    d2 = _second_nearest(network, sources, d1, label)
    return NodeDistances(d1=d1, label=label, d2=d2)


def _second_nearest(
    network: WalkNetwork, sources: Snap, d1: np.ndarray, label: np.ndarray
) -> np.ndarray:
    n = network.n_nodes
    u, v, seg_len = network.u, network.v, network.length
    same = label[u] == label[v]
    # entries into each region: across boundary street edges, both ways ...
    cross = ~same & (label[u] >= 0) & (label[v] >= 0)
    tgt = [v[cross], u[cross]]
    cost = [d1[u[cross]] + seg_len[cross], d1[v[cross]] + seg_len[cross]]
    # ... and straight from a source attachment to an end of its edge labelled otherwise
    for end, pos in ((network.u, sources.t), (network.v, seg_len[sources.edge] - sources.t)):
        node = end[sources.edge]
        other = label[node] != sources.owner
        tgt.append(node[other])
        cost.append((sources.access + pos)[other])
    tgt_a, cost_a = np.concatenate(tgt), np.concatenate(cost)
    if tgt_a.size == 0:
        return np.full(n, np.inf)
    rows = np.concatenate([u[same], v[same], np.full(tgt_a.size, n)])
    cols = np.concatenate([v[same], u[same], tgt_a])
    w = np.concatenate([seg_len[same], seg_len[same], cost_a + _OFFSET])
    g = _min_duplicates(rows, cols, w, n + 1)  # csr would sum duplicate entries
    d2 = csgraph.dijkstra(g, directed=True, indices=n)[:n] - _OFFSET
    return d2


def _min_duplicates(rows: np.ndarray, cols: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    """CSR matrix keeping the smallest weight of duplicate entries (csr sums them)."""
    key = rows.astype(np.int64) * n + cols
    order = np.lexsort((w, key))
    key_s = key[order]
    first = np.ones(key_s.size, dtype=bool)
    first[1:] = key_s[1:] != key_s[:-1]
    sel = order[first]
    return sparse.csr_matrix((w[sel], (rows[sel], cols[sel])), shape=(n, n))


def point_distances(
    network: WalkNetwork, nodes: NodeDistances, points: Snap, sources: Snap
) -> PointWalks:
    """Exact distances (m) from snapped points to their nearest and second-nearest source.

    An attachment on edge ``(u, v)`` at ``t`` with access leg ``a`` is reached
    via ``u`` (``d(u) + t + a``), via ``v`` (``d(v) + L - t + a``), or, for a
    source attachment on the same edge, directly along it.  A point's walk is
    the shortest over its attachments; its second nearest is the nearest
    source other than its nearest one, over all attachments.
    """
    d1, src1, d2 = _attachment_distances(network, nodes, points, sources)
    return _per_point(points, d1, src1, d2)


def _attachment_distances(
    network: WalkNetwork, nodes: NodeDistances, points: Snap, sources: Snap
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = points.edge
    pu, pv = network.u[e], network.v[e]
    seg_len = network.length[e]
    via_u = points.t + points.access
    via_v = seg_len - points.t + points.access
    # candidates per route; columns: u-first, v-first, u-second, v-second
    cand_d = np.stack(
        [nodes.d1[pu] + via_u, nodes.d1[pv] + via_v, nodes.d2[pu] + via_u, nodes.d2[pv] + via_v],
        axis=1,
    )
    d1 = np.min(cand_d[:, :2], axis=1)
    src1 = np.where(cand_d[:, 0] <= cand_d[:, 1], nodes.label[pu], nodes.label[pv])
    # same-edge sources, exact and direct
    same_d, same_p, same_s = _same_edge_pairs(points, sources)
    if same_d.size:
        order = np.argsort(same_d, kind="stable")
        same_d, same_p, same_s = same_d[order], same_p[order], same_s[order]
        first = np.unique(same_p, return_index=True)[1]
        p_first = same_p[first]
        better = same_d[first] < d1[p_first]
        d1[p_first[better]] = same_d[first][better]
        src1[p_first[better]] = same_s[first][better]
    src1 = np.where(np.isfinite(d1), src1, -1)
    # second: routes via u/v use d1 when that end's nearest source is not src1, else d2
    alt_u = np.where(nodes.label[pu] != src1, cand_d[:, 0], cand_d[:, 2])
    alt_v = np.where(nodes.label[pv] != src1, cand_d[:, 1], cand_d[:, 3])
    d2 = np.minimum(alt_u, alt_v)
    if same_d.size:
        other = same_s != src1[same_p]
        np.minimum.at(d2, same_p[other], same_d[other])
    return d1, src1, d2


def _per_point(points: Snap, d1: np.ndarray, src1: np.ndarray, d2: np.ndarray) -> PointWalks:
    """Reduce per-attachment distances to per-point ones (see :func:`point_distances`)."""
    n = len(points)
    owner = points.owner
    # nearest: the attachment with the smallest d1, ties to the shortest access leg
    order = np.lexsort((points.access, d1, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if order.size else order
    via = np.full(n, -1, dtype=np.int64)
    via[owner[first]] = first
    out_d1 = np.full(n, np.inf)
    out_src = np.full(n, -1, dtype=np.int64)
    has = via >= 0
    out_d1[has] = d1[via[has]]
    out_src[has] = src1[via[has]]
    # second: another attachment's nearest if it is another source, else its second
    other = np.where(src1 != out_src[owner], d1, d2)
    out_d2 = np.full(n, np.inf)
    np.minimum.at(out_d2, owner, other)
    return PointWalks(d1=out_d1, src1=out_src, d2=out_d2, via=via)


def _same_edge_pairs(points: Snap, sources: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance, point attachment, source) for every attachment pair sharing an edge."""
    z = np.zeros(0, dtype=np.int64)
    if points.n_attachments == 0 or sources.n_attachments == 0:
        return np.zeros(0), z, z
    p = pd.DataFrame({"edge": points.edge, "p": np.arange(points.n_attachments)})
    s = pd.DataFrame({"edge": sources.edge, "s": np.arange(sources.n_attachments)})
    m = p.merge(s, on="edge")
    if m.empty:
        return np.zeros(0), z, z
    pi, si = m["p"].to_numpy(), m["s"].to_numpy()
    d = np.abs(points.t[pi] - sources.t[si]) + points.access[pi] + sources.access[si]
    return d, pi, sources.owner[si]


def distances_from(network: WalkNetwork, sources: Snap, points: Snap) -> PointWalks:
    """Nearest and second-nearest source distance (m) for each snapped point.

    The whole computation in one call: :func:`nearest_sources` then
    :func:`point_distances`.
    """
    nodes = nearest_sources(network, sources)
    return point_distances(network, nodes, points, sources)


def single_source_reach(
    network: WalkNetwork, source: Snap, points: Snap, *, limit: float
) -> np.ndarray:
    """Distance (m) from one snapped source to each snapped point, inf beyond ``limit``.

    Runs a bounded Dijkstra from the source's attachments; used for "what if
    I add a site here".
    """
    n = network.n_nodes
    graph = augmented_graph(network, source)
    dist = csgraph.dijkstra(
        graph,
        directed=True,
        indices=n + np.arange(source.n_attachments),
        min_only=True,
        limit=limit + _OFFSET,
    )
    node_d = dist[:n] - _OFFSET
    pe = points.edge
    d = np.minimum(
        node_d[network.u[pe]] + points.t + points.access,
        node_d[network.v[pe]] + network.length[pe] - points.t + points.access,
    )
    same_d, same_p, _ = _same_edge_pairs(points, source)
    np.minimum.at(d, same_p, same_d)
    out = np.full(len(points), np.inf)
    np.minimum.at(out, points.owner, d)
    out[out > limit] = np.inf
    return out
