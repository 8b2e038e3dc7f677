"""Access legs: how buildings and service points reach the walk network.

A point is attached to the nearest street *edge* (not node) by a straight
access leg, counted in every distance.  Two rules make the legs real:

* **Entrances.**  A building with mapped entrances (``entrance=*``,
  ``door=*`` nodes on its outline, or a footway ending on it) is attached at
  each of them, and its walk starts at the best one; a service point inside
  such a building is attached at the building's entrances, not at the street
  behind it (:func:`building_entrances`).
* **No leg across a barrier.**  A leg never crosses a motorway, a trunk road
  closed to pedestrians, a railway, water, a wall or a fence
  (:mod:`gis.barriers`), nor, from an entrance, its own building: it goes to
  the nearest edge reachable without crossing (:func:`snap_avoiding`).  Only
  where every edge within :data:`SEARCH_M` of the nearest one lies behind a
  barrier does it cross, then the fewest hard barriers, then the fewest walls
  and fences, and the leg is reported.

:func:`snap_xy` is the plain nearest-edge snap (numeric core); a
:class:`Snap` holds one row per attachment and the point each belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gis._errors import InputError
from gis.barriers import WalkBarriers, count_crossings
from gis.network import SAMPLE_STEP_M, WalkNetwork

#: Nearest samples examined per point before falling back to the STRtree.
_SAMPLE_K = 8
#: How much farther (m) than the nearest edge a leg may go to avoid a barrier.
SEARCH_M = 250.0
#: An entrance node or footway end counts for a building within this distance (m)
#: of its outline.
ENTRANCE_TOLERANCE_M = 0.5
#: A leg from an entrance "enters" its building when it meets the building shrunk
#: by this much (m): entrances lie on the outline only up to the tolerance.
_INSIDE_M = ENTRANCE_TOLERANCE_M + 0.1
#: ``highway`` values whose ends on a building outline are entrances.
FOOTWAYS = frozenset({"footway", "path", "steps", "pedestrian", "corridor"})
#: ``entrance`` values that are not a way in.
NOT_ENTRANCES = frozenset({"no", "emergency", "exit"})


#: Default owners of a :class:`Snap`: one attachment per point.
_ONE_EACH = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Snap:
    """Points attached to edges of a :class:`~gis.network.WalkNetwork`.

    One row per attachment; a point may have several (its entrances).

    Attributes
    ----------
    edge
        Index of the edge of each attachment.
    t
        Position along that edge in metres, from ``u[edge]``.
    access
        Length of the access leg in metres (inf for a point without geometry).
    owner
        The point each attachment belongs to (default: one attachment per point).
    n_points
        How many points (default: one per attachment).
    """

    edge: np.ndarray
    t: np.ndarray
    access: np.ndarray
    owner: np.ndarray = field(default_factory=lambda: _ONE_EACH)
    n_points: int = -1

    def __post_init__(self) -> None:
        if self.owner is _ONE_EACH:
            object.__setattr__(self, "owner", np.arange(self.edge.shape[0]))
        if self.n_points < 0:
            object.__setattr__(self, "n_points", int(self.edge.shape[0]))

    def __len__(self) -> int:
        return self.n_points

    @property
    def n_attachments(self) -> int:
        return int(self.edge.shape[0])

    def subset(self, which: np.ndarray | list[int]) -> Snap:
        """The attachments of the points selected by a boolean mask or an index
        array (without repeats), renumbered in the order selected."""
        rows, owner, n = self.rows(which)
        return Snap(self.edge[rows], self.t[rows], self.access[rows], owner, n)

    def rows(self, which: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray, int]:
        """Attachment rows of the selected points, their new owners, and how many points."""
        which = np.asarray(which)
        idx = np.flatnonzero(which) if which.dtype == bool else which.astype(np.int64)
        new = np.full(self.n_points, -1, dtype=np.int64)
        new[idx] = np.arange(idx.size)
        rows = np.flatnonzero(new[self.owner] >= 0)
        rows = rows[np.argsort(new[self.owner[rows]], kind="stable")]
        return rows, new[self.owner[rows]], int(idx.size)


@dataclass(frozen=True)
class Legs:
    """What the chosen access leg of each attachment crosses.

    ``hard``/``soft``: hard and soft barriers crossed (0 but where no edge
    within reach avoids them); ``nearest_m``: distance to the nearest edge,
    barriers or not; ``avoided``: whether a nearer edge was passed over
    because its leg would have crossed.
    """

    hard: np.ndarray
    soft: np.ndarray
    nearest_m: np.ndarray
    avoided: np.ndarray


# --------------------------------------------------------------------------- plain snapping


def snap_points(network: WalkNetwork, points: gpd.GeoDataFrame | gpd.GeoSeries) -> Snap:
    """Snap points (in ``network.crs``) to their nearest edge.

    Polygons are represented by a point inside them
    (:func:`shapely.point_on_surface`).  Empty or missing geometries get an
    infinite access leg, so every distance to them is infinite (unreachable).
    """
    return snap_xy(network, representative_xy(network, points))


def representative_xy(network: WalkNetwork, points: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """``(n, 2)`` coordinates of a point inside each geometry (NaN where empty)."""
    geoms = points.geometry.values if isinstance(points, gpd.GeoDataFrame) else points.values
    if points.crs is not None and not points.crs.equals(network.crs):
        raise InputError("points must be in the network's metric CRS: call .to_crs(network.crs)")
    reps = shapely.point_on_surface(geoms)
    xy = np.full((len(reps), 2), np.nan)
    ok = ~(shapely.is_empty(reps) | shapely.is_missing(reps))
    xy[ok] = shapely.get_coordinates(reps[ok])
    return xy


def snap_xy(network: WalkNetwork, xy: np.ndarray | list[list[float]]) -> Snap:
    """Snap coordinates ``(k, 2)`` in metres to their nearest edge (numeric core)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if xy.shape[0] == 0:
        empty = np.zeros(0)
        return Snap(np.zeros(0, dtype=np.int64), empty, empty)
    valid = np.isfinite(xy).all(axis=1)
    xy = np.where(valid[:, None], xy, network.xy[0])
    edge = _nearest_edges(network, xy)
    t, gap = _foot(network, xy, edge)
    return Snap(edge=edge, t=t, access=np.where(valid, gap, np.inf))


def _foot(network: WalkNetwork, xy: np.ndarray, edge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of the nearest point of ``edge`` (m from its ``u``) and the distance to it."""
    a = network.xy[network.u[edge]]
    ab = network.xy[network.v[edge]] - a
    length = network.length[edge]
    frac = np.clip(np.einsum("ij,ij->i", xy - a, ab) / (length**2), 0.0, 1.0)
    foot = a + frac[:, None] * ab
    return frac * length, np.hypot(*(xy - foot).T)


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
    if k == network.sample_edge.shape[0]:  # every sample examined: nothing else to find
        unsure[:] = False
    if unsure.any():
        pts = shapely.points(xy[unsure])
        found = network.tree.query_nearest(pts, all_matches=False)
        fallback = np.empty(int(unsure.sum()), dtype=np.int64)
        fallback[found[0]] = network.snap_edges[found[1]]
        edge[unsure] = fallback
    return edge


# ------------------------------------------------------------------ legs that cross no barrier


def snap_avoiding(
    network: WalkNetwork,
    xy: np.ndarray,
    *,
    barriers: WalkBarriers,
    own: np.ndarray | None = None,
    owner: np.ndarray | None = None,
    n_points: int = -1,
    search_m: float = SEARCH_M,
) -> tuple[Snap, Legs]:
    """Snap coordinates to the nearest edge whose access leg crosses no barrier.

    Parameters
    ----------
    xy
        ``(k, 2)`` attachment coordinates in metres (NaN: no geometry).
    barriers
        Lines no leg may cross.
    own
        Per attachment, a polygon the leg may not meet (an entrance's own
        building shrunk by :data:`_INSIDE_M`), or None.
    owner, n_points
        The point each attachment belongs to (see :class:`Snap`).
    search_m
        How much farther than the nearest edge to look for one reachable
        without crossing.

    Returns
    -------
    Snap, Legs
    """
    plain = snap_xy(network, xy)
    k = plain.n_attachments
    snap = Snap(plain.edge, plain.t, plain.access, _ONE_EACH if owner is None else owner, n_points)
    hard, soft = _leg_crossings(network, xy, plain.edge, plain.t, barriers, own)
    nearest = plain.access.copy()
    blocked = np.flatnonzero((hard + soft > 0) & np.isfinite(plain.access))
    avoided = np.zeros(k, dtype=bool)
    if blocked.size:
        edge, t, access, h, s = _best_reachable(
            network,
            xy[blocked],
            plain.access[blocked],
            barriers,
            None if own is None else own[blocked],
            search_m=search_m,
        )
        moved = edge != plain.edge[blocked]
        avoided[blocked[moved]] = True
        for arr, new in ((snap.edge, edge), (snap.t, t), (snap.access, access)):
            arr[blocked] = new
        hard[blocked], soft[blocked] = h, s
    return snap, Legs(hard=hard, soft=soft, nearest_m=nearest, avoided=avoided)


def _leg_crossings(
    network: WalkNetwork,
    xy: np.ndarray,
    edge: np.ndarray,
    t: np.ndarray,
    barriers: WalkBarriers,
    own: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hard (own building included) and soft barriers crossed by the legs to ``(edge, t)``."""
    a = network.xy[network.u[edge]]
    unit = (network.xy[network.v[edge]] - a) / network.length[edge][:, None]
    foot = a + unit * t[:, None]
    start = np.where(np.isfinite(xy), xy, foot)
    hard, soft = count_crossings(barriers, start, foot)
    if own is not None:
        has = np.flatnonzero(~(shapely.is_missing(own) | shapely.is_empty(own)))
        if has.size:
            legs = shapely.linestrings(np.stack([start[has], foot[has]], axis=1))
            hard[has] += shapely.intersects(legs, own[has]).astype(np.int64)
    return hard, soft


#: Candidate edges examined per round (nearest first) before looking farther.
_ROUNDS = (8, 64)


def _best_reachable(
    network: WalkNetwork,
    xy: np.ndarray,
    nearest: np.ndarray,
    barriers: WalkBarriers,
    own: np.ndarray | None,
    *,
    search_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per point: the edge within ``nearest + search_m`` whose leg crosses the fewest
    hard, then soft, barriers, then is shortest; its position, leg and crossings.

    Candidates are examined nearest first, in rounds: a point whose round
    holds a leg crossing nothing is settled (every later candidate is
    farther), the others go on to the next round and finally to all.
    """
    pi, ti = network.tree.query(
        shapely.points(xy), predicate="dwithin", distance=nearest + search_m
    )
    ei = network.snap_edges[ti]
    t, gap = _foot(network, xy[pi], ei)
    order = np.lexsort((gap, pi))
    pi, ei, t, gap = pi[order], ei[order], t[order], gap[order]
    rank = np.arange(pi.size) - np.searchsorted(pi, pi)
    hard = np.full(pi.size, np.iinfo(np.int64).max // 2)
    soft = hard.copy()
    open_ = np.ones(len(xy), dtype=bool)
    low = 0
    for high in (*_ROUNDS, pi.size + 1):
        rows = np.flatnonzero((rank >= low) & (rank < high) & open_[pi])
        low = high
        if rows.size == 0:
            continue
        h, s = _leg_crossings(
            network,
            xy[pi[rows]],
            ei[rows],
            t[rows],
            barriers,
            None if own is None else own[pi[rows]],
        )
        hard[rows], soft[rows] = h, s
        open_[pi[rows[h + s == 0]]] = False
    best = np.lexsort((gap, soft, hard, pi))
    first = best[np.r_[True, pi[best][1:] != pi[best][:-1]]]
    return ei[first], t[first], gap[first], hard[first], soft[first]


# --------------------------------------------------------------------------- entrances


def usable_entrances(entrances: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The entrance nodes people may go in by: not ``entrance=no|emergency|exit``,
    not ``access=no|private``."""
    if entrances is None or entrances.empty:
        return entrances
    keep = np.ones(len(entrances), dtype=bool)
    for column, refused in (("entrance", NOT_ENTRANCES), ("access", frozenset({"no", "private"}))):
        if column in entrances.columns:
            value = entrances[column].astype("string").str.lower().fillna("")
            keep &= ~value.isin(list(refused)).to_numpy(bool)
    return entrances[keep]


def footway_ends(streets: gpd.GeoDataFrame, walkable: np.ndarray) -> np.ndarray:
    """``(k, 2)`` first and last vertices of the walkable footways, paths and steps."""
    if "highway" not in streets.columns:
        return np.zeros((0, 2))
    highway = streets["highway"].astype("string").fillna("")
    mask = walkable & highway.isin(list(FOOTWAYS)).to_numpy(bool)
    lines = streets.geometry.values[mask]
    lines = shapely.get_parts(lines[~(shapely.is_empty(lines) | shapely.is_missing(lines))])
    lines = lines[shapely.get_type_id(lines) == 1]
    if lines.size == 0:
        return np.zeros((0, 2))
    return np.vstack(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0)),
            shapely.get_coordinates(shapely.get_point(lines, -1)),
        ]
    )


def building_entrances(
    footprints: np.ndarray, points_xy: np.ndarray, *, tolerance_m: float = ENTRANCE_TOLERANCE_M
) -> tuple[np.ndarray, np.ndarray]:
    """The entrances of each building: candidate points on its outline.

    Parameters
    ----------
    footprints
        Building polygons (metric CRS).
    points_xy
        ``(k, 2)`` candidate entrances: entrance/door nodes and footway ends.
    tolerance_m
        How far from the outline a point may lie.

    Returns
    -------
    building, xy
        Building index and coordinates of each entrance, one row per building
        and distinct point (to the centimetre).
    """
    points_xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    if points_xy.shape[0] == 0 or len(footprints) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    outlines = shapely.boundary(footprints)
    pi, bi = shapely.STRtree(outlines).query(
        shapely.points(points_xy), predicate="dwithin", distance=tolerance_m
    )
    key = np.column_stack([bi, np.round(points_xy[pi], 2)])
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    return bi[first].astype(np.int64), points_xy[pi[first]]


def containing_building(footprints: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Index of the smallest building covering each point, -1 where none does."""
    out = np.full(len(xy), -1, dtype=np.int64)
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any() or len(footprints) == 0:
        return out
    idx = np.flatnonzero(ok)
    pi, bi = shapely.STRtree(footprints).query(shapely.points(xy[idx]), predicate="within")
    order = np.lexsort((shapely.area(footprints[bi]), pi))
    first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]] if order.size else order
    out[idx[pi[first]]] = bi[first]
    return out


@dataclass(frozen=True)
class Attached:
    """Points attached to the network, with their legs.

    ``entrances`` counts the mapped entrances each point is attached at
    (0: attached from a point inside it); ``xy`` is a point inside each (NaN:
    none) and ``start`` where each attachment's leg starts (an entrance, or
    that point), for reports and pictures.
    """

    snap: Snap
    legs: Legs
    entrances: np.ndarray
    xy: np.ndarray
    start: np.ndarray

    def subset(self, which: np.ndarray) -> Attached:
        """The points selected by a boolean mask or an index array, renumbered."""
        rows, owner, n = self.snap.rows(which)
        snap = Snap(self.snap.edge[rows], self.snap.t[rows], self.snap.access[rows], owner, n)
        legs = Legs(
            *(getattr(self.legs, f)[rows] for f in ("hard", "soft", "nearest_m", "avoided"))
        )
        return Attached(snap, legs, self.entrances[which], self.xy[which], self.start[rows])


def attach(
    network: WalkNetwork,
    xy: np.ndarray,
    *,
    barriers: WalkBarriers,
    footprints: np.ndarray,
    entrance_of: np.ndarray,
    entrance_xy: np.ndarray,
    building_of: np.ndarray,
) -> Attached:
    """Attach points at the entrances of their building, else where they are.

    Parameters
    ----------
    xy
        ``(n, 2)`` a point inside each building or service point (NaN: none).
    barriers
        What legs may not cross.
    footprints
        Building polygons.
    entrance_of, entrance_xy
        Entrances as :func:`building_entrances` gives them.
    building_of
        The building each point stands for or lies in (-1: none); a point
        whose building has entrances is attached at every one of them, and
        their legs do not enter that building.
    """
    n = xy.shape[0]
    footprints = np.asarray(footprints, dtype=object)
    order = np.argsort(entrance_of, kind="stable")
    starts = np.searchsorted(entrance_of[order], np.arange(len(footprints)))
    counts = np.bincount(entrance_of, minlength=len(footprints))
    per_point = np.where(building_of >= 0, counts[np.maximum(building_of, 0)], 0)
    own_b = np.repeat(building_of, per_point)
    rank = np.arange(int(per_point.sum())) - np.repeat(np.cumsum(per_point) - per_point, per_point)
    at_door = order[starts[np.maximum(own_b, 0)] + rank] if own_b.size else own_b
    plain = np.flatnonzero(per_point == 0)
    owner = np.concatenate([np.repeat(np.arange(n), per_point), plain])
    att_xy = np.vstack([entrance_xy[at_door].reshape(-1, 2), xy[plain].reshape(-1, 2)])
    inside = shapely.buffer(footprints[own_b], -_INSIDE_M)
    own = np.concatenate([inside, np.full(plain.size, None, dtype=object)])
    snap, legs = snap_avoiding(network, att_xy, barriers=barriers, own=own, owner=owner, n_points=n)
    return Attached(snap=snap, legs=legs, entrances=per_point, xy=xy, start=att_xy)
