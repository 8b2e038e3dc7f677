"""What a walker cannot cross on the way from a door to the street.

An access leg (a building or service point to its street, see
:mod:`gis.access`) and a link joining two network pieces (see
:mod:`gis.network`) are straight lines drawn by gridplan, not ways mapped by
anyone; they must not pass where nobody walks.  :func:`walk_barriers`
gathers those lines:

* *hard* barriers, which only a mapped bridge, tunnel or crossing passes:
  motorways, trunk roads closed to pedestrians, railways, rivers and canals,
  and the shores of water bodies;
* *soft* barriers, which a gate somewhere passes: walls and fences.

Ways in tunnels are not barriers (people walk over them).  A line *crosses* a
barrier when their interiors meet at a point; touching an end or running
along it is not crossing.  The numeric check is :func:`count_crossings`,
on the lines cut into straight segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._types import CRSLike

#: Barrier kinds only a mapped bridge, tunnel or crossing passes.
HARD_KINDS = frozenset({"motorway", "trunk", "railway", "waterway", "water"})
#: Barrier kinds a gate somewhere passes.
SOFT_KINDS = frozenset({"wall", "fence"})

#: A leg meeting a barrier this close (m) to one of its own ends touches it, not
#: crosses it: nodes are rounded to 1 mm, and a fence or wall often ends on the
#: street a leg attaches to.
TOUCH_M = 0.01

_MOTORWAYS = frozenset({"motorway", "motorway_link"})
_TRUNKS = frozenset({"trunk", "trunk_link"})
_TUNNEL = frozenset({"yes", "building_passage", "culvert"})


@dataclass(frozen=True)
class WalkBarriers:
    """Barrier lines in a metric CRS, cut into straight segments for fast checks.

    Attributes
    ----------
    lines
        LineStrings (shores of water bodies included as lines).
    kind
        Kind of each line, one of :data:`HARD_KINDS` or :data:`SOFT_KINDS`.
    seg_a, seg_b, seg_line
        Ends of every straight segment of the lines, and the line it belongs to.
    seg_opens, seg_closes
        Whether the segment's ``seg_a`` is the first vertex of its line, and
        its ``seg_b`` the last (a line's own ends are not its interior).
    tree
        STRtree over the segments.
    """

    lines: np.ndarray
    kind: np.ndarray
    seg_a: np.ndarray = field(repr=False)
    seg_b: np.ndarray = field(repr=False)
    seg_line: np.ndarray = field(repr=False)
    seg_opens: np.ndarray = field(repr=False)
    seg_closes: np.ndarray = field(repr=False)
    tree: shapely.STRtree = field(repr=False)

    @classmethod
    def from_lines(cls, lines: np.ndarray, kind: np.ndarray) -> WalkBarriers:
        """Barriers from LineStrings and their kinds."""
        coords, idx = shapely.get_coordinates(lines, return_index=True)
        same = idx[1:] == idx[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        line = idx[:-1][same]
        opens = np.r_[True, line[1:] != line[:-1]] if line.size else line.astype(bool)
        closes = np.r_[line[1:] != line[:-1], True] if line.size else line.astype(bool)
        segments = shapely.linestrings(np.stack([a, b], axis=1)) if line.size else line
        return cls(lines, kind, a, b, line, opens, closes, shapely.STRtree(segments))

    @property
    def hard(self) -> np.ndarray:
        """Whether each line is a hard barrier."""
        return np.isin(self.kind, list(HARD_KINDS))

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def counts(self) -> dict[str, int]:
        """How many lines of each kind (for reports)."""
        kinds, n = np.unique(self.kind.astype(str), return_counts=True)
        return {str(k): int(c) for k, c in zip(kinds, n, strict=True)}


def no_barriers() -> WalkBarriers:
    """An empty set of barriers: every leg is allowed."""
    return WalkBarriers.from_lines(np.array([], dtype=object), np.array([], dtype=object))


def walk_barriers(
    streets: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    *,
    crs: CRSLike,
    walkable: np.ndarray | None = None,
) -> WalkBarriers:
    """The lines access legs and piece links must not cross, in ``crs``.

    Parameters
    ----------
    streets
        Street lines with ``highway`` (and ``tunnel``) tags: motorways, and
        trunk roads that are not walkable, are barriers.
    barriers
        Lines and polygons with a ``kind`` column as :func:`gis.sources.read_osm`
        writes it (``railway``, ``waterway``, ``water``, ``wall``, ``fence``);
        other kinds are ignored, polygons count by their outline.
    crs
        Metric CRS of the result.
    walkable
        Which streets are walkable (:func:`gis.network.walkable_mask`);
        default: every trunk road is taken as walkable.
    """
    parts: list[tuple[np.ndarray, np.ndarray, Any]] = []
    if streets is not None and not streets.empty and "highway" in streets.columns:
        highway = streets["highway"].astype("string").fillna("").to_numpy(object)
        tunnel = _tag(streets, "tunnel").isin(list(_TUNNEL)).to_numpy(bool)
        open_trunk = np.ones(len(streets), bool) if walkable is None else np.asarray(walkable)
        rules = {
            "motorway": np.isin(highway, list(_MOTORWAYS)),
            "trunk": np.isin(highway, list(_TRUNKS)) & ~open_trunk,
        }
        for kind, mask in rules.items():
            mask = mask & ~tunnel
            geoms = streets.geometry.values[mask]
            parts.append((geoms, np.full(len(geoms), kind, dtype=object), streets.crs))
    if barriers is not None and not barriers.empty and "kind" in barriers.columns:
        kind = barriers["kind"].astype("string").fillna("").to_numpy(object)
        use = np.isin(kind, list(HARD_KINDS | SOFT_KINDS))
        geoms = barriers.geometry.values[use]
        polygonal = shapely.get_type_id(geoms) >= 3
        geoms = np.where(polygonal, shapely.boundary(geoms), geoms)
        parts.append((geoms, kind[use], barriers.crs))
    projected = [_project(g, k, src, crs) for g, k, src in parts if len(g)]
    if not projected:
        return no_barriers()
    lines = np.concatenate([p[0] for p in projected])
    kinds = np.concatenate([p[1] for p in projected])
    ok = ~(shapely.is_missing(lines) | shapely.is_empty(lines))
    return WalkBarriers.from_lines(lines[ok], kinds[ok])


def _tag(frame: gpd.GeoDataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("string").str.lower().fillna("")
    return pd.Series([""] * len(frame), index=frame.index, dtype="string")


def _project(
    geoms: np.ndarray, kinds: np.ndarray, crs_from: CRSLike, crs_to: CRSLike
) -> tuple[np.ndarray, np.ndarray]:
    """Lines in ``crs_to``, multi-part lines split into parts, with their kinds."""
    series = gpd.GeoSeries(geoms, crs=crs_from).to_crs(crs_to)  # a fresh RangeIndex
    parts = series.explode(index_parts=False)
    return np.asarray(parts.values, dtype=object), kinds[parts.index.to_numpy()]


def count_crossings(
    barriers: WalkBarriers, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How many hard and soft barrier lines each straight leg crosses.

    A leg ``start -> end`` crosses a line when they meet at a point inside
    both: more than :data:`TOUCH_M` from the leg's ends, and not at the
    line's own first or last vertex (touching an end is not crossing, nor is running along a
    segment) -- the interiors meet, as :func:`shapely.crosses` says.  Numeric
    core.

    Parameters
    ----------
    barriers
        From :func:`walk_barriers`.
    start, end
        ``(k, 2)`` leg ends in the barriers' CRS.

    Returns
    -------
    hard, soft
        Counts per leg (each line counted once).
    """
    start = np.asarray(start, dtype=float).reshape(-1, 2)
    end = np.asarray(end, dtype=float).reshape(-1, 2)
    n = start.shape[0]
    hard = np.zeros(n, dtype=np.int64)
    soft = np.zeros(n, dtype=np.int64)
    if n == 0 or len(barriers) == 0:
        return hard, soft
    legs = shapely.linestrings(np.stack([start, end], axis=1))
    li, si = barriers.tree.query(legs)  # bounding boxes meet
    p, r = start[li], end[li] - start[li]
    q, s = barriers.seg_a[si], barriers.seg_b[si] - barriers.seg_a[si]
    denom = _cross(r, s)
    ok = np.abs(denom) > 1e-12
    qp = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        along_leg = _cross(qp, s) / denom
        along_seg = _cross(qp, r) / denom
    eps = 1e-9
    inside_seg = (along_seg >= 0) & (along_seg <= 1)
    inside_seg &= ~(barriers.seg_opens[si] & (along_seg <= eps))
    inside_seg &= ~(barriers.seg_closes[si] & (along_seg >= 1 - eps))
    margin = TOUCH_M / np.maximum(np.hypot(*r.T), TOUCH_M)
    hit = ok & (along_leg > margin) & (along_leg < 1 - margin) & inside_seg
    pairs = np.unique(np.stack([li[hit], barriers.seg_line[si[hit]]], axis=1), axis=0)
    is_hard = barriers.hard[pairs[:, 1]]
    np.add.at(hard, pairs[is_hard, 0], 1)
    np.add.at(soft, pairs[~is_hard, 0], 1)
    return hard, soft


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
