"""The walk network: which streets people can walk, snapping, shortest paths.

Main flow, :func:`build_walk_network`:

1. keep the ways people may walk (:func:`walkable_mask`);
2. project them to a metric CRS;
3. make every consecutive vertex pair an edge, joining ways at shared vertex
   coordinates (rounded to 1 mm) -- crossings without a shared vertex do not
   connect;
4. keep the largest connected component and report the others.

Points (buildings, service points) are snapped to the nearest street *edge*
(:func:`snap_points`), not the nearest node; the access leg (point to edge) is
counted in every distance.  :func:`nearest_sources` runs one multi-source
Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`) and, exactly, the distance to
the second-nearest source; :func:`point_distances` turns node distances into
distances for snapped points, including the case of a point and a source on
the same edge.

The numeric routines take arrays and a CSR matrix; only
:func:`build_walk_network` and :func:`snap_points` touch GeoDataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gis._errors import InputError, NetworkError
from gis._types import CRSLike

#: Walking (and riding) speeds in m/s.  adult: 4.5 km/h as in the OSMnx examples;
#: elderly: 0.97 m/s, the mean of people over 65 (TRR 1538); bicycle: ~15 km/h.
SPEED_PROFILES: dict[str, float] = {"adult": 1.25, "elderly": 0.97, "bicycle": 4.2}

#: GB 50180-2018 living-circle walking distances in metres (5 / 10 / 15 minutes).
STANDARD_DISTANCES_M: dict[int, float] = {5: 300.0, 10: 500.0, 15: 1000.0}

#: ``highway`` values nobody walks along.
EXCLUDED_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "escape",
    }
)
_FOOT_YES = frozenset({"yes", "designated", "permissive", "official"})
_NO = frozenset({"no", "private"})

#: Added to every virtual edge so that no edge weight is zero (csgraph drops
#: explicit zeros); subtracted again from the results.
_OFFSET = 1.0

#: Spacing (m) of the points along edges that index them for snapping.
SAMPLE_STEP_M = 20.0
#: Nearest samples examined per point before falling back to the STRtree.
_SAMPLE_K = 8


def speed_of(profile: str | float) -> float:
    """Speed in m/s of a named profile or a number; refuses zero and negatives."""
    if isinstance(profile, str):
        if profile not in SPEED_PROFILES:
            try:
                value = float(profile)
            except ValueError:
                names = ", ".join(SPEED_PROFILES)
                raise InputError(
                    f"unknown speed profile {profile!r}: use one of {names} or a number in m/s"
                ) from None
        else:
            value = SPEED_PROFILES[profile]
    else:
        value = float(profile)
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"speed must be a positive number of m/s, got {profile!r}")
    return value


@dataclass(frozen=True)
class WalkNetwork:
    """An undirected walk graph in a metric CRS.

    Attributes
    ----------
    xy
        ``(n, 2)`` node coordinates in metres.
    u, v, length
        Edge end nodes and lengths (m); every edge is a straight segment.
    graph
        Symmetric ``(n, n)`` CSR matrix of edge lengths (one edge per node pair).
    crs
        The metric CRS of ``xy``.
    report
        What was kept and dropped (JSON-serialisable).
    segments
        The edges as straight LineStrings.
    tree
        STRtree over ``segments``, for snapping (fallback).
    samples
        KD-tree over points every :data:`SAMPLE_STEP_M` along every edge, and
        ``sample_edge``, the edge of each: the fast path of snapping.
    """

    xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    graph: sparse.csr_matrix
    crs: CRSLike
    report: dict[str, Any]
    segments: np.ndarray = field(repr=False)
    tree: shapely.STRtree = field(repr=False)
    samples: cKDTree = field(repr=False)
    sample_edge: np.ndarray = field(repr=False)

    @property
    def n_nodes(self) -> int:
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])


@dataclass(frozen=True)
class Snap:
    """Points snapped to edges of a :class:`WalkNetwork`.

    Attributes
    ----------
    edge
        Index of the nearest edge per point.
    t
        Position along that edge in metres, from ``u[edge]``.
    access
        Length of the access leg (point to edge) in metres.
    """

    edge: np.ndarray
    t: np.ndarray
    access: np.ndarray

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    def subset(self, mask: np.ndarray) -> Snap:
        """The snaps selected by a boolean mask or index array."""
        return Snap(self.edge[mask], self.t[mask], self.access[mask])


@dataclass(frozen=True)
class NodeDistances:
    """Distances (m) from a set of sources to every node.

    ``d1``/``label``: nearest source distance and index (-1 where unreached);
    ``d2``: distance to the nearest source other than ``label`` (inf if none).
    """

    d1: np.ndarray
    label: np.ndarray
    d2: np.ndarray


# --------------------------------------------------------------------------- building


def build_walk_network(streets: gpd.GeoDataFrame, *, crs: CRSLike) -> WalkNetwork:
    """Build the walk network from street lines.

    Parameters
    ----------
    streets
        LineStrings (one per OSM way or any street file) with a CRS; tag
        columns ``highway``, ``foot``, ``access``, ``service``, ``area`` are
        used where present.
    crs
        Metric CRS to compute in (see :func:`gis.crs.metric_crs`).

    Returns
    -------
    WalkNetwork
        The largest connected component; ``report`` lists the others.

    Raises
    ------
    NetworkError
        When no walkable street is left.
    """
    if streets.crs is None:
        raise NetworkError("the street layer has no CRS: set one before building the walk network")
    report: dict[str, Any] = {"ways": len(streets)}
    # 1. walkable ways only
    keep, reasons = walkable_mask(streets)
    report["ways_walkable"] = int(keep.sum())
    report["ways_excluded"] = reasons
    lines = streets.geometry[keep].to_crs(crs)
    lines = lines[~lines.is_empty & lines.notna()]
    lines = lines.explode(index_parts=False)
    lines = lines[shapely.get_type_id(lines.values) == 1]
    if lines.empty:
        raise NetworkError(
            "no walkable street lines: check that the street layer holds LineStrings "
            "with highway tags people may walk on"
        )
    # 2-3. nodes at shared vertex coordinates, an edge per consecutive vertex pair
    xy_all, u, v = _segments_from_lines(lines.values)
    # 4. largest component
    xy, u, v, comp_report = _largest_component(xy_all, u, v)
    report.update(comp_report)
    length = np.hypot(*(xy[u] - xy[v]).T)
    graph = _symmetric_csr(u, v, length, xy.shape[0])
    segments = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    report["nodes"] = int(xy.shape[0])
    report["edges"] = int(u.shape[0])
    report["length_km"] = round(float(length.sum()) / 1000.0, 3)
    return WalkNetwork(
        xy=xy,
        u=u,
        v=v,
        length=length,
        graph=graph,
        crs=crs,
        report=report,
        segments=segments,
        tree=shapely.STRtree(segments),
        **_edge_samples(xy, u, v, length),
    )


def _edge_samples(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray, length: np.ndarray
) -> dict[str, Any]:
    """Points at most :data:`SAMPLE_STEP_M` apart along every edge (ends included)."""
    pieces = np.maximum(np.ceil(length / SAMPLE_STEP_M).astype(np.int64), 1)
    counts = pieces + 1
    edge = np.repeat(np.arange(u.shape[0]), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(edge.shape[0]) - start) / np.repeat(pieces, counts)
    pts = xy[u[edge]] + frac[:, None] * (xy[v[edge]] - xy[u[edge]])
    return {"samples": cKDTree(pts), "sample_edge": edge}


def walkable_mask(streets: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Which ways people may walk on, and how many were excluded for what.

    A way is walkable unless its ``highway`` is missing or a motorway-like or
    unbuilt kind, ``foot`` is ``no``/``private``, ``access`` is
    ``no``/``private`` or ``service`` is ``private`` (without an explicit
    ``foot=yes``), ``area=yes``, or it is a cycleway without ``foot=yes``.
    One-way tags are ignored: pedestrians walk both ways.  A layer without a
    ``highway`` column is taken as all walkable (a user's street file).
    """
    n = len(streets)

    def col(name: str) -> pd.Series:
        if name in streets.columns:
            return streets[name].astype("string").str.strip().str.lower().fillna("")
        return pd.Series([""] * n, index=streets.index, dtype="string")

    if "highway" not in streets.columns:
        return np.ones(n, dtype=bool), {}
    highway, foot, access = col("highway"), col("foot"), col("access")
    service, area = col("service"), col("area")
    foot_yes = foot.isin(_FOOT_YES)
    rules = {
        "no_highway": highway.eq(""),
        "motorway_or_unbuilt": highway.isin(EXCLUDED_HIGHWAYS),
        "foot_no": foot.isin(_NO),
        "access_private": (access.isin(_NO) | service.eq("private")) & ~foot_yes,
        "area": area.eq("yes"),
        "cycleway_without_foot": highway.eq("cycleway") & ~foot_yes,
    }
    excluded = np.zeros(n, dtype=bool)
    reasons: dict[str, int] = {}
    for name, mask in rules.items():
        new = mask.to_numpy(dtype=bool) & ~excluded
        if new.any():
            reasons[name] = int(new.sum())
        excluded |= new
    return ~excluded, reasons


def _segments_from_lines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique nodes (rounded to 1 mm) and the edges between consecutive vertices."""
    coords, line_idx = shapely.get_coordinates(lines, return_index=True)
    coords = np.round(coords, 3)
    xy, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    same_line = line_idx[1:] == line_idx[:-1]
    u = inverse[:-1][same_line]
    v = inverse[1:][same_line]
    keep = u != v
    u, v = u[keep], v[keep]
    # one edge per unordered pair (parallel duplicates have the same length)
    a, b = np.minimum(u, v), np.maximum(u, v)
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return xy, pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def _largest_component(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    n = xy.shape[0]
    length = np.hypot(*(xy[u] - xy[v]).T)
    adj = sparse.coo_matrix((np.ones(u.shape[0]), (u, v)), shape=(n, n)).tocsr()
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    comp_of_edge = comp[u]
    comp_len = np.bincount(comp_of_edge, weights=length, minlength=n_comp)
    comp_nodes = np.bincount(comp, minlength=n_comp)
    main = int(np.argmax(comp_len))
    dropped = [c for c in range(n_comp) if c != main and comp_nodes[c] > 0]
    report = {
        "components": int(n_comp),
        "dropped_components": len(dropped),
        "dropped_nodes": int(sum(comp_nodes[c] for c in dropped)),
        "dropped_length_m": round(float(sum(comp_len[c] for c in dropped)), 1),
        "kept_share_of_length": round(float(comp_len[main] / max(comp_len.sum(), 1e-9)), 4),
    }
    node_keep = comp == main
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[node_keep] = np.arange(int(node_keep.sum()))
    edge_keep = comp_of_edge == main
    return xy[node_keep], new_id[u[edge_keep]], new_id[v[edge_keep]], report


def _symmetric_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, n))


# --------------------------------------------------------------------------- snapping


def snap_points(network: WalkNetwork, points: gpd.GeoDataFrame | gpd.GeoSeries) -> Snap:
    """Snap points (in ``network.crs``) to their nearest edge.

    Polygons are represented by a point inside them
    (:func:`shapely.point_on_surface`).  Empty or missing geometries get an
    infinite access leg, so every distance to them is infinite (unreachable).
    """
    geoms = points.geometry.values if isinstance(points, gpd.GeoDataFrame) else points.values
    if points.crs is not None and not points.crs.equals(network.crs):
        raise InputError("points must be in the network's metric CRS: call .to_crs(network.crs)")
    reps = shapely.point_on_surface(geoms)
    xy = np.full((len(reps), 2), np.nan)
    ok = ~(shapely.is_empty(reps) | shapely.is_missing(reps))
    xy[ok] = shapely.get_coordinates(reps[ok])
    return snap_xy(network, xy)


def snap_xy(network: WalkNetwork, xy: np.ndarray) -> Snap:
    """Snap coordinates ``(k, 2)`` in metres to their nearest edge (numeric core)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if xy.shape[0] == 0:
        empty = np.zeros(0)
        return Snap(np.zeros(0, dtype=np.int64), empty, empty)
    valid = np.isfinite(xy).all(axis=1)
    xy = np.where(valid[:, None], xy, network.xy[0])
    edge = _nearest_edges(network, xy)
    a = network.xy[network.u[edge]]
    b = network.xy[network.v[edge]]
    ab = b - a
    length = network.length[edge]
    frac = np.clip(np.einsum("ij,ij->i", xy - a, ab) / (length**2), 0.0, 1.0)
    foot = a + frac[:, None] * ab
    access = np.where(valid, np.hypot(*(xy - foot).T), np.inf)
    return Snap(edge=edge, t=frac * length, access=access)


def _nearest_edges(network: WalkNetwork, xy: np.ndarray) -> np.ndarray:
    """Exact nearest edge per point.

    The edges of the ``_SAMPLE_K`` nearest sample points are the candidates.
    The nearest edge's closest point lies within ``step / 2`` of one of its
    samples, so when the farthest of those samples is more than
    ``best + step / 2`` away the nearest edge is among the candidates; other
    points fall back to an STRtree search.
    """
    k = min(_SAMPLE_K, network.sample_edge.shape[0])
    dist, idx = network.samples.query(xy, k=k)
    dist, idx = dist.reshape(len(xy), k), idx.reshape(len(xy), k)
    cand = network.sample_edge[idx]  # (n, k)
    a = network.xy[network.u[cand]]
    b = network.xy[network.v[cand]]
    ab = b - a
    ap = xy[:, None, :] - a
    seg2 = np.einsum("nkj,nkj->nk", ab, ab)
    frac = np.clip(np.einsum("nkj,nkj->nk", ap, ab) / seg2, 0.0, 1.0)
    gap = np.hypot(*np.moveaxis(ap - frac[..., None] * ab, -1, 0))
    best_col = np.argmin(gap, axis=1)
    rows = np.arange(len(xy))
    edge = cand[rows, best_col]
    best = gap[rows, best_col]
    unsure = dist[:, -1] <= best + SAMPLE_STEP_M / 2
    if k == network.sample_edge.shape[0]:
        unsure[:] = False
    if unsure.any():
        pts = shapely.points(xy[unsure])
        found = network.tree.query_nearest(pts, all_matches=False)
        fallback = np.empty(int(unsure.sum()), dtype=np.int64)
        fallback[found[0]] = found[1]
        edge[unsure] = fallback
    return edge


# --------------------------------------------------------------------------- distances


def augmented_graph(network: WalkNetwork, sources: Snap) -> sparse.csr_matrix:
    """The network plus one virtual node per source, with directed edges to the
    two ends of its edge weighted ``_OFFSET + access + position``.

    Virtual nodes only send: no path passes through a service point.
    """
    n, s = network.n_nodes, len(sources)
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

    Nearest: one multi-source Dijkstra (``min_only=True``) from virtual source
    nodes, which also labels each node with its nearest source.

    Second nearest: for a node ``x`` with label ``A``, walk back along the
    shortest path from the second-nearest source; the last node ``w`` not
    labelled ``A`` is followed by a stretch of ``A``-labelled nodes only, and
    replacing the path up to ``w`` by ``w``'s own nearest source does not make
    it longer.  So ``d2(x)`` is the shortest path inside ``A``'s region from a
    boundary edge ``(w, z)``, entered at cost ``d1(w) + |wz|``.  One more
    Dijkstra on the graph with inter-label edges removed and a super source
    joined to each boundary node computes it for all nodes at once.
    """
    n, s = network.n_nodes, len(sources)
    if s == 0:
        raise InputError("no sources to measure from")
    graph = augmented_graph(network, sources)
    dist, _, src = csgraph.dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, n + s),
        min_only=True,
        return_predecessors=True,
    )
    d1 = dist[:n] - _OFFSET
    label = np.where(src[:n] >= 0, src[:n] - n, -1)
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
    # ... and straight from a source to an end of its edge labelled otherwise
    sid = np.arange(len(sources))
    for end, pos in ((network.u, sources.t), (network.v, seg_len[sources.edge] - sources.t)):
        node = end[sources.edge]
        other = label[node] != sid
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact distances (m) from snapped points to their nearest and second-nearest source.

    A point on edge ``(u, v)`` at ``t`` with access leg ``a`` is reached via
    ``u`` (``d(u) + t + a``), via ``v`` (``d(v) + L - t + a``), or, for a
    source on the same edge, directly along it.

    Returns
    -------
    d1, src1, d2
        Nearest distance, its source index (-1 if unreachable), and the
        distance to the nearest *other* source (inf when there is none).
    """
    e = points.edge
    pu, pv = network.u[e], network.v[e]
    seg_len = network.length[e]
    via_u = points.t + points.access
    via_v = seg_len - points.t + points.access
    # candidates: (distance, source) per route; columns: u-first, v-first, u-second, v-second
    cand_d = np.stack(
        [nodes.d1[pu] + via_u, nodes.d1[pv] + via_v, nodes.d2[pu] + via_u, nodes.d2[pv] + via_v],
        axis=1,
    )
    cand_s = np.stack(
        [nodes.label[pu], nodes.label[pv], -2 * np.ones_like(pu), -2 * np.ones_like(pv)], axis=1
    )
    d1 = np.min(cand_d[:, :2], axis=1)
    src1 = np.where(cand_d[:, 0] <= cand_d[:, 1], cand_s[:, 0], cand_s[:, 1])
    # same-edge sources, exact and direct
    same_d, same_p, same_s = _same_edge_pairs(points, sources)
    if same_d.size:
        order = np.argsort(same_d, kind="stable")
        same_d, same_p, same_s = same_d[order], same_p[order], same_s[order]
        # nearest per point among same-edge sources
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


def _same_edge_pairs(points: Snap, sources: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance, point index, source index) for every point/source sharing an edge."""
    if len(points) == 0 or len(sources) == 0:
        z = np.zeros(0, dtype=np.int64)
        return np.zeros(0), z, z
    p = pd.DataFrame({"edge": points.edge, "p": np.arange(len(points))})
    s = pd.DataFrame({"edge": sources.edge, "s": np.arange(len(sources))})
    m = p.merge(s, on="edge")
    if m.empty:
        z = np.zeros(0, dtype=np.int64)
        return np.zeros(0), z, z
    pi, si = m["p"].to_numpy(), m["s"].to_numpy()
    d = np.abs(points.t[pi] - sources.t[si]) + points.access[pi] + sources.access[si]
    return d, pi, si


def distances_from(
    network: WalkNetwork, sources: Snap, points: Snap
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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

    Runs a bounded Dijkstra from the two ends of the source's edge; used for
    "what if I add a site here".
    """
    e = int(source.edge[0])
    a, b = int(network.u[e]), int(network.v[e])
    off_a = float(source.access[0] + source.t[0])
    off_b = float(source.access[0] + network.length[e] - source.t[0])
    dist = csgraph.dijkstra(network.graph, directed=False, indices=[a, b], limit=limit)
    node_d = np.minimum(dist[0] + off_a, dist[1] + off_b)
    pe = points.edge
    d = np.minimum(
        node_d[network.u[pe]] + points.t + points.access,
        node_d[network.v[pe]] + network.length[pe] - points.t + points.access,
    )
    same = pe == e
    if same.any():
        direct = np.abs(points.t[same] - source.t[0]) + points.access[same] + source.access[0]
        d[same] = np.minimum(d[same], direct)
    d[d > limit] = np.inf
    return d
