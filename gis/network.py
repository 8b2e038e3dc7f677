"""The walk network: which streets people can walk, in every connected piece.

Main flow, :func:`build_walk_network`:

1. keep the ways people may walk (:func:`walkable_mask`);
2. project them to a metric CRS;
3. make every consecutive vertex pair an edge, joining ways at shared vertex
   coordinates (rounded to 1 mm) -- crossings without a shared vertex do not
   connect, so a bridge over a street stays apart from it;
4. number the connected pieces, longest first, and keep every one of them;
5. on request, join pieces whose dead ends lie within a distance of another
   piece, by links that cross no barrier (:func:`join_pieces`).

A real extract is rarely one piece: a bridge or tunnel the extract lacks, a
private road left out, a footway drawn a metre short.  Walks run within a
piece (:mod:`gis.paths`), so a building on a piece without a service point has
no walk rather than a wrong one.  Snapping points to edges is
:mod:`gis.access`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gis._errors import InputError, NetworkError
from gis._types import CRSLike
from gis.barriers import WalkBarriers, count_crossings, no_barriers
from gis.crs import WGS84

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
#: ``bridge`` and ``tunnel`` values of ways off the ground (see :func:`at_ground_level`).
_BRIDGE = frozenset({"yes", "viaduct", "boardwalk", "aqueduct", "cantilever", "suspension"})
_TUNNEL = frozenset({"yes", "culvert", "flooded"})
_NO = frozenset({"no", "private"})

#: Spacing (m) of the points along edges that index them for snapping.
SAMPLE_STEP_M = 20.0
#: Feet of links closer than this (m) to an edge's end join at that end.
_SAME_POINT_M = 1e-3


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
    """An undirected walk graph in a metric CRS, in one or more pieces.

    Attributes
    ----------
    xy
        ``(n, 2)`` node coordinates in metres.
    u, v, length
        Edge end nodes and lengths (m); every edge is a straight segment.
    graph
        Symmetric ``(n, n)`` CSR matrix of edge lengths (one edge per node pair).
    piece
        Connected piece of each node, numbered ``0, 1, ...`` by decreasing
        street length (piece 0 is the longest).
    piece_length
        Street length (m) of each piece.
    crs
        The metric CRS of ``xy``.
    report
        Pieces, joining links and exclusions (JSON-serialisable).
    segments
        The edges as straight LineStrings.
    snap_edges
        The edges access legs may attach to: ground-level ways (not bridges,
        tunnels, or links made by :func:`join_pieces`); all edges when none is.
    tree
        STRtree over ``segments[snap_edges]``, for snapping.
    samples
        KD-tree over points every :data:`SAMPLE_STEP_M` along every snap edge,
        and ``sample_edge``, the edge of each: the fast path of snapping.
    """

    xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    graph: sparse.csr_matrix
    piece: np.ndarray
    piece_length: np.ndarray
    crs: CRSLike
    report: dict[str, Any]
    segments: np.ndarray = field(repr=False)
    snap_edges: np.ndarray = field(repr=False)
    tree: shapely.STRtree = field(repr=False)
    samples: cKDTree = field(repr=False)
    sample_edge: np.ndarray = field(repr=False)

    @property
    def n_nodes(self) -> int:
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])

    @property
    def n_pieces(self) -> int:
        return int(self.piece_length.shape[0])

    @property
    def edge_piece(self) -> np.ndarray:
        """Piece of each edge."""
        return self.piece[self.u]


# --------------------------------------------------------------------------- building


def build_walk_network(
    streets: gpd.GeoDataFrame,
    *,
    crs: CRSLike,
    join_within_m: float | None = None,
    barriers: WalkBarriers | None = None,
) -> WalkNetwork:
    """Build the walk network from street lines, keeping every piece.

    Parameters
    ----------
    streets
        LineStrings (one per OSM way or any street file) with a CRS; tag
        columns ``highway``, ``foot``, ``access``, ``service``, ``area`` are
        used where present.
    crs
        Metric CRS to compute in (see :func:`gis.crs.metric_crs`).
    join_within_m
        Join pieces whose dead ends lie within this distance (m) of another
        piece (see :func:`join_pieces`); ``None`` (default) joins nothing.
    barriers
        Lines the joining links must not cross (:func:`gis.barriers.walk_barriers`).

    Returns
    -------
    WalkNetwork
        ``report`` says how many pieces there are and lists every link made.

    Raises
    ------
    NetworkError
        When no walkable street is left.
    InputError
        When ``join_within_m`` is not a positive number.
    """
    if streets.crs is None:
        raise NetworkError("the street layer has no CRS: set one before building the walk network")
    if join_within_m is not None and not (np.isfinite(join_within_m) and join_within_m > 0):
        raise InputError(
            f"the distance to join pieces must be a positive number of metres, got {join_within_m}"
        )
    report: dict[str, Any] = {"ways": len(streets)}
    # 1. walkable ways only
    keep, reasons = walkable_mask(streets)
    report["ways_walkable"] = int(keep.sum())
    report["ways_excluded"] = reasons
    # 2. projected to the metric CRS, one LineString per part
    lines, ground = _walkable_lines(streets[keep], crs)
    # 3. nodes at shared vertex coordinates, an edge per consecutive vertex pair
    xy, u, v, ground = _segments_from_lines(lines, ground)
    # 4. every connected piece, longest first
    piece, piece_length = number_pieces(xy, u, v)
    report["pieces_found"] = int(piece_length.shape[0])
    # 5. links across short gaps, on request
    if join_within_m is not None:
        xy, u, v, ground, links = join_pieces(
            xy,
            u,
            v,
            piece,
            ground=ground,
            within_m=join_within_m,
            barriers=barriers or no_barriers(),
        )
        report["joined"] = {
            "within_m": float(join_within_m),
            "links": _link_report(links, piece_length, crs),
        }
        piece, piece_length = number_pieces(xy, u, v)
    # 6. pieces that only private ways join to others (a gated estate)
    report["pieces_joined_by_private_ways"] = _pieces_joined_privately(
        streets[private_ways(streets, walkable=keep)], xy, piece, crs
    )
    return _assemble(xy, u, v, ground, piece, piece_length, crs, report)


def private_ways(streets: pd.DataFrame, *, walkable: np.ndarray) -> np.ndarray:
    """Ways left out only because they are private (``access``/``service``), not closed to feet.

    ``walkable`` is :func:`walkable_mask`'s answer for ``streets``.
    """
    if "highway" not in streets.columns or walkable.all():
        return np.zeros(len(streets), dtype=bool)

    def col(name: str) -> pd.Series:
        if name in streets.columns:
            return streets[name].astype("string").str.strip().str.lower().fillna("")
        return pd.Series([""] * len(streets), index=streets.index, dtype="string")

    private = col("access").isin(_NO) | col("service").eq("private")
    buildable = ~col("highway").isin(EXCLUDED_HIGHWAYS) & ~col("foot").isin(_NO)
    return (~walkable & private & buildable & col("area").ne("yes")).to_numpy(bool)


def _pieces_joined_privately(
    private: gpd.GeoDataFrame, xy: np.ndarray, piece: np.ndarray, crs: CRSLike
) -> list[int]:
    """Pieces that a private way joins to another piece (sharing a node with both)."""
    if private.empty:
        return []
    coords, way = shapely.get_coordinates(private.geometry.to_crs(crs).values, return_index=True)
    nodes = pd.DataFrame(np.round(xy, 3), columns=["x", "y"]).assign(piece=piece)
    touch = pd.DataFrame(np.round(coords, 3), columns=["x", "y"]).assign(way=way)
    hit = touch.merge(nodes, on=["x", "y"])[["way", "piece"]].drop_duplicates()
    joining = hit.groupby("way")["piece"].transform("nunique") > 1
    return sorted(int(p) for p in hit.loc[joining, "piece"].unique())


def _walkable_lines(streets: gpd.GeoDataFrame, crs: CRSLike) -> tuple[np.ndarray, np.ndarray]:
    """Projected LineStrings, one per part, and whether each lies at ground level."""
    frame = gpd.GeoDataFrame(
        {"ground": at_ground_level(streets)}, geometry=streets.geometry.values, crs=streets.crs
    ).to_crs(crs)
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()].explode(index_parts=False)
    frame = frame[shapely.get_type_id(frame.geometry.values) == 1]
    if frame.empty:
        raise NetworkError(
            "no walkable street lines: check that the street layer holds LineStrings "
            "with highway tags people may walk on"
        )
    return np.asarray(frame.geometry.values, dtype=object), frame["ground"].to_numpy(bool)


def at_ground_level(streets: pd.DataFrame) -> np.ndarray:
    """Whether each way can be stepped onto from beside it: not a bridge, not a tunnel.

    People enter bridges and tunnels at their ends, so access legs attach only
    to ground-level ways (a passage through a building, ``tunnel=building_passage``,
    is at ground level).
    """
    ground = np.ones(len(streets), dtype=bool)
    for column, raised in (("bridge", _BRIDGE), ("tunnel", _TUNNEL)):
        if column in streets.columns:
            value = streets[column].astype("string").str.strip().str.lower().fillna("")
            ground &= ~value.isin(list(raised)).to_numpy(bool)
    return ground


def _assemble(
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    ground: np.ndarray,
    piece: np.ndarray,
    piece_length: np.ndarray,
    crs: CRSLike,
    report: dict[str, Any],
) -> WalkNetwork:
    length = np.hypot(*(xy[u] - xy[v]).T)
    segments = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    snap_edges = np.flatnonzero(ground) if ground.any() else np.arange(u.shape[0])
    report["edges_off_ground"] = int((~ground).sum())
    total = max(float(piece_length.sum()), 1e-9)
    report.update(
        {
            "pieces": int(piece_length.shape[0]),
            "main_piece_share_of_length": round(float(piece_length[0]) / total, 4),
            "other_pieces_length_m": round(float(piece_length[1:].sum()), 1),
            "nodes": int(xy.shape[0]),
            "edges": int(u.shape[0]),
            "length_km": round(float(length.sum()) / 1000.0, 3),
        }
    )
    return WalkNetwork(
        xy=xy,
        u=u,
        v=v,
        length=length,
        graph=_symmetric_csr(u, v, length, xy.shape[0]),
        piece=piece,
        piece_length=piece_length,
        crs=crs,
        report=report,
        segments=segments,
        snap_edges=snap_edges,
        tree=shapely.STRtree(segments[snap_edges]),
        **_edge_samples(xy, u, v, length, snap_edges),
    )


def _edge_samples(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray, length: np.ndarray, edges: np.ndarray
) -> dict[str, Any]:
    """Points at most :data:`SAMPLE_STEP_M` apart along ``edges`` (ends included)."""
    pieces = np.maximum(np.ceil(length[edges] / SAMPLE_STEP_M).astype(np.int64), 1)
    counts = pieces + 1
    edge = np.repeat(edges, counts)
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


def _segments_from_lines(
    lines: np.ndarray, ground: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (rounded to 1 mm) used by an edge, the edges between consecutive
    vertices, and whether each edge lies on a ground-level way (any of its ways)."""
    coords, line_idx = shapely.get_coordinates(lines, return_index=True)
    coords = np.round(coords, 3)
    xy, inverse = np.unique(coords, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    same_line = line_idx[1:] == line_idx[:-1]
    u = inverse[:-1][same_line]
    v = inverse[1:][same_line]
    on_ground = ground[line_idx[:-1][same_line]]
    keep = u != v
    u, v, on_ground = u[keep], v[keep], on_ground[keep]
    # one edge per unordered pair (parallel duplicates have the same length),
    # on the ground when any of its ways is
    n = xy.shape[0]
    key, which = np.unique(np.minimum(u, v) * n + np.maximum(u, v), return_inverse=True)
    edge_ground = np.bincount(which.ravel(), weights=on_ground, minlength=key.size) > 0
    # drop nodes no edge uses (a way whose vertices all round to one point)
    a, b = key // n, key % n
    used = np.zeros(n, dtype=bool)
    used[a] = used[b] = True
    new_id = np.cumsum(used) - 1
    return xy[used], new_id[a], new_id[b], edge_ground


def number_pieces(xy: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected piece of each node, numbered by decreasing street length, and the lengths.

    Ties in length go to the piece holding the lower node index, so the
    numbering is the same on every run.
    """
    n = xy.shape[0]
    length = np.hypot(*(xy[u] - xy[v]).T)
    adj = sparse.coo_matrix((np.ones(u.shape[0]), (u, v)), shape=(n, n)).tocsr()
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    comp_len = np.bincount(comp[u], weights=length, minlength=n_comp)
    first_node = np.full(n_comp, n, dtype=np.int64)
    np.minimum.at(first_node, comp, np.arange(n))
    order = np.lexsort((first_node, -comp_len))
    rank = np.empty(n_comp, dtype=np.int64)
    rank[order] = np.arange(n_comp)
    return rank[comp], comp_len[order]


def _symmetric_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, n))


# --------------------------------------------------------------------------- joining pieces


@dataclass(frozen=True)
class Link:
    """A link made by :func:`join_pieces`, from a dead end to a point of another piece."""

    start_xy: tuple[float, float]
    foot_xy: tuple[float, float]
    length_m: float
    from_piece: int
    to_piece: int


def join_pieces(
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    piece: np.ndarray,
    *,
    ground: np.ndarray,
    within_m: float,
    barriers: WalkBarriers,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Link]]:
    """Link each dead end to the nearest point of another piece within ``within_m``.

    A dead end is a node with one edge.  Its link goes straight to the
    nearest point of a ground-level edge of a different piece (the edge is
    split there) and is made only when it crosses no barrier; several dead
    ends may link the same two pieces, and two dead ends facing each other
    make one link.  Numeric core: node coordinates, edges (with their
    ``ground`` flags) and pieces in; the joined graph and the links out.
    Links are not ground-level edges: no access leg attaches to one.
    """
    end, edge, t, gap = _link_candidates(
        xy, u, v, piece, ground=ground, within_m=within_m, barriers=barriers
    )
    if end.size == 0:
        return xy, u, v, ground, []
    xy2, u2, v2, ground2, target = _split_edges(xy, u, v, ground, edge, t)
    a, b = np.minimum(end, target), np.maximum(end, target)
    _, first = np.unique(np.stack([a, b], axis=1), axis=0, return_index=True)
    first = np.sort(first)
    links = [
        Link(
            start_xy=(float(xy2[end[k], 0]), float(xy2[end[k], 1])),
            foot_xy=(float(xy2[target[k], 0]), float(xy2[target[k], 1])),
            length_m=float(gap[k]),
            from_piece=int(piece[end[k]]),
            to_piece=int(piece[u[edge[k]]]),
        )
        for k in first
    ]
    # a dead end lying on the other edge (gap 0) becomes the split node itself
    merge = first[(gap[first] < _SAME_POINT_M) & (target[first] >= xy.shape[0])]
    remap = np.arange(xy2.shape[0])
    remap[target[merge]] = end[merge]
    link = np.setdiff1d(first, merge)
    u2 = np.concatenate([remap[u2], end[link]])
    v2 = np.concatenate([remap[v2], target[link]])
    ground2 = np.concatenate([ground2, np.zeros(link.size, dtype=bool)])
    return (*_compact(xy2, u2, v2), ground2, links)


def _compact(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the nodes no edge uses and renumber the others."""
    used, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    return xy[used], inverse[: u.shape[0]], inverse[u.shape[0] :]


def _link_candidates(
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    piece: np.ndarray,
    *,
    ground: np.ndarray,
    within_m: float,
    barriers: WalkBarriers,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per dead end with a link: the node, the ground-level edge of the other
    piece, the position of the foot along it (m from ``u``) and the gap (m)."""
    n = xy.shape[0]
    degree = np.bincount(np.concatenate([u, v]), minlength=n)
    ends = np.flatnonzero(degree == 1)
    segments = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    pi, ei = shapely.STRtree(segments).query(
        shapely.points(xy[ends]), predicate="dwithin", distance=within_m
    )
    other = (piece[ends[pi]] != piece[u[ei]]) & ground[ei]
    pi, ei = pi[other], ei[other]
    p, a = xy[ends[pi]], xy[u[ei]]
    ab = xy[v[ei]] - a
    seg_len = np.hypot(*ab.T)
    frac = np.clip(np.einsum("ij,ij->i", p - a, ab) / seg_len**2, 0.0, 1.0)
    foot = a + frac[:, None] * ab
    gap = np.hypot(*(p - foot).T)
    hard, soft = count_crossings(barriers, p, foot)
    ok = np.flatnonzero((gap <= within_m) & (hard + soft == 0))
    order = ok[np.lexsort((gap[ok], pi[ok]))]
    best = order[np.r_[True, pi[order][1:] != pi[order][:-1]]] if order.size else order
    return ends[pi[best]], ei[best], frac[best] * seg_len[best], gap[best]


def _split_edges(
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    ground: np.ndarray,
    edge: np.ndarray,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split edges at positions ``t`` (m from ``u``); the node at each position.

    Positions within :data:`_SAME_POINT_M` of an end are that end; equal
    positions on one edge share one new node; the parts keep their edge's
    ``ground`` flag.
    """
    length = np.hypot(*(xy[u] - xy[v]).T)
    target = np.where(t <= _SAME_POINT_M, u[edge], v[edge])
    inner = (t > _SAME_POINT_M) & (t < length[edge] - _SAME_POINT_M)
    if not inner.any():
        return xy, u, v, ground, target
    key = np.stack([edge[inner], np.round(t[inner], 3)], axis=1)
    splits, which = np.unique(key, axis=0, return_inverse=True)
    new_id = xy.shape[0] + np.arange(splits.shape[0])
    target[np.flatnonzero(inner)] = new_id[which.ravel()]
    s_edge = splits[:, 0].astype(np.int64)
    a = xy[u[s_edge]]
    unit = (xy[v[s_edge]] - a) / length[s_edge][:, None]
    new_xy = a + unit * splits[:, 1:2]
    # chains u -> first split -> ... -> v along every split edge (splits sorted by edge, t)
    starts = np.r_[True, s_edge[1:] != s_edge[:-1]]
    stops = np.r_[s_edge[1:] != s_edge[:-1], True]
    prev = np.where(starts, u[s_edge], np.r_[0, new_id[:-1]])
    chain_u = np.concatenate([prev, new_id[stops]])
    chain_v = np.concatenate([new_id, v[s_edge[stops]]])
    chain_ground = np.concatenate([ground[s_edge], ground[s_edge[stops]]])
    keep = np.ones(u.shape[0], dtype=bool)
    keep[s_edge] = False
    return (
        np.vstack([xy, new_xy]),
        np.concatenate([u[keep], chain_u]),
        np.concatenate([v[keep], chain_v]),
        np.concatenate([ground[keep], chain_ground]),
        target,
    )


def _link_report(links: list[Link], piece_length: np.ndarray, crs: CRSLike) -> list[dict[str, Any]]:
    """The links as JSON: both ends in WGS 84, the gap and the pieces joined."""
    to_wgs = Transformer.from_crs(crs, WGS84, always_xy=True)
    out = []
    for link in links:
        start = to_wgs.transform(*link.start_xy)
        foot = to_wgs.transform(*link.foot_xy)
        out.append(
            {
                "length_m": round(link.length_m, 2),
                "from": [round(float(c), 7) for c in start],
                "to": [round(float(c), 7) for c in foot],
                "from_piece_length_m": round(float(piece_length[link.from_piece]), 1),
                "to_piece_length_m": round(float(piece_length[link.to_piece]), 1),
            }
        )
    return out
