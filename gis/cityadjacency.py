"""The neighbour graph of a city: each sub-district's own, joined across the lines between them.

Each worker builds its sub-district's graph as one build does
(:func:`gis.adjacency.grid_adjacency` over its grids, streets and water).
:func:`city_adjacency` joins them into the graph of the whole city, which the
city folder's ``adjacency.csv`` holds:

- every part's pairs on land and over its bridges, tunnels and ferries;
- the pairs across the sub-district lines: grids of two parts that share a
  boundary on land (:func:`gis.adjacency.shared_lengths` over the grids along
  the lines), or that a link joins over the water between them
  (:func:`gis.adjacency.link_pairs` over the links within reach of the lines,
  with the city's water);
- the "nearest" bridges, drawn again for the whole city
  (:func:`gis.adjacency.bridge_components`): an island a part had to bridge may
  reach another part by land or over a bridge, and two parts with no pair
  across their line are still joined.

The result is the graph one build computes over the merged grids with the
city's streets and water (:func:`gis.adjacency.grid_adjacency`; compared row
for row on Berlin-Adlershof in six sub-districts in tests/test_city.py), save
two things a part decides from its own streets' order: the order of a pair's
``via`` ids, and which kind a pair is named when a bridge and a tunnel both
join it (the first link listed; on Dublin Docklands in six sub-districts one
pair of 49 is a "bridge" here and a "tunnel" in one build of the whole; on
Helsinki, Nanjing and Adlershof one pair each lists its links in another order).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from shapely.geometry.base import BaseGeometry

from gis.adjacency import (
    BRIDGE_LENGTH,
    LINK_REACH_M,
    SNAP,
    Adjacency,
    Link,
    bridge_components,
    frame_adjacency,
    link_pairs,
    shared_lengths,
)

#: Length (m) of the pieces a sub-district line is queried in (:func:`_near`).
_SEGMENT_M = 50.0


def city_adjacency(
    grids_metric: gpd.GeoDataFrame,
    part_of: np.ndarray,
    part_rows: Sequence[pd.DataFrame],
    *,
    links: gpd.GeoDataFrame,
    water: BaseGeometry,
    lines: BaseGeometry,
) -> Adjacency:
    """Join the parts' neighbour graphs into the city's.

    Parameters
    ----------
    grids_metric
        The merged grids (metric CRS), with ``code``: the matrix order.
    part_of
        The part (sub-district index) of each grid.
    part_rows
        Each part's ``adjacency.csv`` rows (:func:`gis.adjacency.adjacency_frame`).
    links
        The city's streets and ferries that may join grids over water
        (:func:`gis.adjacency.link_lines`, same CRS).
    water
        The city's open water (same CRS).
    lines
        The sub-district lines (their polygons' boundaries, same CRS).

    Returns
    -------
    Adjacency
        Connected: the parts' pairs, the pairs across the lines, and the bridges
        to the nearest grid where no land or link joins a component to the rest.
    """
    geoms = np.asarray(grids_metric.geometry.values, dtype=object)
    codes = grids_metric["code"].astype(str).to_numpy()
    part_of = np.asarray(part_of)
    # each part's pairs on land and over its links; its "nearest" bridges are drawn again
    own = pd.concat(part_rows, ignore_index=True)
    graph = frame_adjacency(own[own["link"] != "nearest"], codes)
    # pairs across the lines on land
    matrix = graph.matrix + _across_on_land(geoms, part_of, lines)
    # pairs across the lines over a bridge, tunnel or ferry
    near = links.iloc[links.sindex.query(lines, predicate="dwithin", distance=LINK_REACH_M)]
    joined = [
        (i, j, kind, via, gap)
        for i, j, kind, via, gap in (link_pairs(geoms, near, water) if len(near) else [])
        if part_of[i] != part_of[j] and matrix[i, j] == 0
    ]
    matrix = matrix + _edges(len(codes), [(i, j) for i, j, *_ in joined])
    # the whole city in one piece
    matrix, pairs = bridge_components(geoms, matrix.tocsr())
    found = list(graph.links)
    found += [_link(codes, i, j, kind, via, gap) for i, j, kind, via, gap in joined]
    found += [_link(codes, i, j, "nearest", (), d) for i, j, d in pairs]
    return Adjacency.from_links(codes, matrix, found)


def within(adjacency: Adjacency, members: np.ndarray, geoms: np.ndarray) -> Adjacency:
    """The graph of the grids ``members`` (positions in ``adjacency.codes``), in one piece.

    Its pairs on land and over links, with "nearest" bridges drawn again among
    them only (:func:`gis.adjacency.bridge_components`): the graph a build of
    that sub-district alone computes, for districts drawn inside it.

    Parameters
    ----------
    adjacency
        The city's graph.
    members
        Positions of the grids kept, in their order.
    geoms
        Their geometries (metric CRS), in the same order.
    """
    codes = adjacency.codes[members]
    kept = set(codes.tolist())
    nearest = [k for k in adjacency.links if k.kind == "nearest"]
    matrix = adjacency.matrix[members][:, members].tocsr()
    if nearest:  # drawn again below, among these grids only
        pos = {c: i for i, c in enumerate(codes.tolist())}
        mine = [(pos[k.grid_a], pos[k.grid_b]) for k in nearest if {k.grid_a, k.grid_b} <= kept]
        matrix = (matrix - _edges(len(codes), mine)).tocsr()
        matrix.eliminate_zeros()
    matrix, pairs = bridge_components(geoms, matrix)
    found = [k for k in adjacency.links if k.kind != "nearest" and {k.grid_a, k.grid_b} <= kept]
    found += [_link(codes, i, j, "nearest", (), d) for i, j, d in pairs]
    return Adjacency.from_links(codes, matrix, found)


def _across_on_land(
    geoms: np.ndarray, part_of: np.ndarray, lines: BaseGeometry
) -> sparse.csr_matrix:
    """Shared boundary lengths (m) of grids of different parts.

    Only the grids within :data:`~gis.adjacency.SNAP` of a sub-district line
    are looked at: two grids of different parts that come that close are both
    that close to the line between them.
    """
    n = len(geoms)
    border = _near(geoms, lines, SNAP)  # the grids along the lines
    sub = shared_lengths(geoms[border]).tocoo()
    i, j = border[sub.row], border[sub.col]
    keep = part_of[i] != part_of[j]
    return sparse.coo_matrix((sub.data[keep], (i[keep], j[keep])), shape=(n, n)).tocsr()


def _near(geoms: np.ndarray, lines: BaseGeometry, distance: float) -> np.ndarray:
    """Positions (sorted) of ``geoms`` within ``distance`` of ``lines``.

    The lines are queried as short segments, so that each looks only at the
    grids beside it, not at every grid in its polygon's box.
    """
    pieces = shapely.segmentize(shapely.get_parts(shapely.line_merge(lines)), _SEGMENT_M)
    coords, ring = shapely.get_coordinates(pieces, return_index=True)
    same = ring[1:] == ring[:-1]
    segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    _, hit = shapely.STRtree(geoms).query(segments, predicate="dwithin", distance=distance)
    return np.unique(hit)


def _edges(n: int, pairs: list[tuple[int, int]]) -> sparse.csr_matrix:
    """Symmetric :data:`gis.adjacency.BRIDGE_LENGTH` entries for ``pairs``."""
    i = np.array([p[0] for p in pairs], dtype=np.int64)
    j = np.array([p[1] for p in pairs], dtype=np.int64)
    data = np.full(2 * len(i), BRIDGE_LENGTH)
    return sparse.coo_matrix((data, (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()


def _link(codes: np.ndarray, i: int, j: int, kind: str, via: tuple[str, ...], gap: float) -> Link:
    a, b = sorted((str(codes[i]), str(codes[j])))
    return Link(a, b, kind, via, round(float(gap), 2))


__all__ = ["city_adjacency", "within"]
