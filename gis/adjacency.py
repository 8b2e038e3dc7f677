"""The grid neighbour graph: shared boundaries on land, street links over water, bridges.

Two grids are neighbours when they share a boundary *segment* on land (a
positive length, within a snapping tolerance of a few centimetres); grids
touching only at a corner are not.  Grids are drawn on land only (open water
is outside the study area, see :mod:`gis.water`), so grids on two banks of a
river share no boundary: they are neighbours only where a street *link* joins
them, a bridge, a tunnel or a ferry (:func:`link_pairs`).  Islands and
enclaves still in a component of their own are bridged to the nearest grid of
another component ("nearest"), so the graph is connected and every district
can be made contiguous; every bridge is recorded so the map can draw it.

A build writes the graph to its folder's ``adjacency.csv``
(:func:`adjacency_frame`, :data:`ADJACENCY_COLUMNS`); :func:`read_adjacency`
reads it back, and :func:`load_adjacency`, what the districting calls, takes
it from a build folder when it is there (else computes the graph from the
grids alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely.geometry.base import BaseGeometry

from gis._errors import CRSError, EmptyLayerError, UnreadableFileError
from gis._types import PathLike
from gis.outputs import BuildFolder

#: Length (m) stored in the matrix for a bridge, which shares no boundary.
BRIDGE_LENGTH = 1e-3
#: Gap (m) across which two boundaries still count as shared.
SNAP = 0.05
#: Shortest shared length (m) that makes two grids neighbours.
MIN_SHARED = 0.5
#: A link's end over water must come this close (m) to a grid to join it.
LINK_REACH_M = 25.0
#: The columns of ``adjacency.csv`` (``BuildFolder.file("adjacency")``): the two grid
#: codes (``grid_a`` < ``grid_b``), the boundary they
#: share on land (m, 0 for links), ``link`` ("" for land, else "bridge",
#: "tunnel", "ferry" or "nearest": no link exists, joined to the nearest grid
#: across the gap), ``via`` (the OSM way ids of the links, ";"-separated) and
#: ``gap_m`` (the water or gap a link crosses, m).
ADJACENCY_COLUMNS = ("grid_a", "grid_b", "shared_m", "link", "via", "gap_m")


@dataclass(frozen=True)
class Link:
    """Two grids joined without a shared land boundary.

    Attributes
    ----------
    grid_a, grid_b
        Grid codes, ``grid_a < grid_b``.
    kind
        "bridge", "tunnel", "ferry", or "nearest" (no link exists).
    via
        OSM ids of the ways that join them (empty for "nearest").
    gap_m
        Length of the water (or gap) crossed, m.
    """

    grid_a: str
    grid_b: str
    kind: str
    via: tuple[str, ...]
    gap_m: float


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
        ``(code_a, code_b, distance_m)`` for each pair joined without a shared
        land boundary: street links over water, then "nearest" bridges.
    links
        The same pairs with how they are joined (:class:`Link`).
    """

    codes: np.ndarray
    matrix: sparse.csr_matrix
    bridges: list[tuple[str, str, float]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @classmethod
    def from_links(
        cls, codes: np.ndarray, matrix: sparse.csr_matrix, links: list[Link]
    ) -> Adjacency:
        """The graph of ``matrix`` over ``codes`` whose non-land pairs are ``links``."""
        bridges = [(k.grid_a, k.grid_b, k.gap_m) for k in links]
        return cls(codes=codes, matrix=matrix, bridges=bridges, links=links)

    @property
    def n(self) -> int:
        """Number of grids."""
        return len(self.codes)

    def neighbours(self, code: str) -> list[str]:
        """Codes of the neighbours of ``code`` (bridges included)."""
        i = int(np.flatnonzero(self.codes == code)[0])
        row = self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]
        return [str(c) for c in self.codes[row]]


def grid_adjacency(
    grids_metric: gpd.GeoDataFrame,
    *,
    links: gpd.GeoDataFrame | None = None,
    water: BaseGeometry | None = None,
) -> Adjacency:
    """Build the neighbour graph of ``grids_metric``.

    Parameters
    ----------
    grids_metric
        Grids in a projected metric CRS, with a ``code`` column.
    links
        Street and ferry lines that may join grids across water (same CRS):
        ``id`` and ``kind`` ("bridge", "tunnel", "ferry") columns; see
        :func:`link_lines`.
    water
        The open water between grids (same CRS).  Without it, any gap
        between grids a link spans counts.

    Returns
    -------
    Adjacency
        Shared lengths between neighbours on land, the street links joining
        grids across water, and the "nearest" bridges added so that the graph
        is connected.
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
    joined: list[tuple[int, int, str, tuple[str, ...], float]] = []
    if links is not None and len(links):
        for i, j, kind, via, gap in link_pairs(geoms, links, water):
            if matrix[i, j] == 0:
                joined.append((i, j, kind, via, gap))
        matrix = _with_edges(matrix, [(i, j) for i, j, *_ in joined])
    matrix, pairs = bridge_components(geoms, matrix)
    joined.extend((a, b, "nearest", (), d) for a, b, d in pairs)
    found = []
    for i, j, kind, via, gap in joined:
        a, b = sorted((str(codes[i]), str(codes[j])))
        found.append(Link(a, b, kind, via, round(float(gap), 2)))
    return Adjacency.from_links(codes, matrix, found)


def link_lines(streets: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The lines that may join grids across water: streets (bridges, tunnels) and ferries.

    Parameters
    ----------
    streets
        Street lines with ``id`` and optionally ``tunnel`` (metric CRS).
    barriers
        Barriers with ``kind``; those of kind "ferry" are ferry routes.

    Returns
    -------
    GeoDataFrame
        ``id``, ``kind`` ("tunnel" for streets in a tunnel, else "bridge";
        "ferry"), in the CRS of ``streets``.
    """
    frames = []
    if not streets.empty:
        tunnel = (
            streets["tunnel"].isin(["yes", "culvert"]).to_numpy()
            if "tunnel" in streets
            else np.zeros(len(streets), dtype=bool)
        )
        frames.append(
            gpd.GeoDataFrame(
                {
                    "id": streets["id"].astype(str).to_numpy(),
                    "kind": np.where(tunnel, "tunnel", "bridge"),
                },
                geometry=streets.geometry.to_numpy(),
                crs=streets.crs,
            )
        )
    if not barriers.empty and "kind" in barriers.columns:
        ferry = barriers[barriers["kind"] == "ferry"]
        if len(ferry):
            frames.append(
                gpd.GeoDataFrame(
                    {"id": ferry["id"].astype(str).to_numpy(), "kind": "ferry"},
                    geometry=ferry.geometry.to_numpy(),
                    crs=barriers.crs,
                )
            )
    if not frames:
        return gpd.GeoDataFrame({"id": [], "kind": []}, geometry=[], crs=streets.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def link_pairs(
    geoms: np.ndarray, links: gpd.GeoDataFrame, water: BaseGeometry | None
) -> list[tuple[int, int, str, tuple[str, ...], float]]:
    """Pairs of grids that a link joins across water.

    A link joins grids ``i`` and ``j`` when a stretch of it over water (or
    over a gap between grids, without ``water``) starts within
    :data:`LINK_REACH_M` of grid ``i`` and ends within it of grid ``j``.

    Returns
    -------
    list of (i, j, kind, via, gap_m)
        One per pair (``i < j``); ``via`` lists every link id that joins them,
        ``gap_m`` is the shortest crossing.
    """
    lines = links.geometry.to_numpy()
    if water is not None:  # only the links meeting the water (a prepared test) are cut by it
        shapely.prepare(water)
        wet = np.flatnonzero(shapely.intersects(water, lines))
        over = shapely.intersection(lines[wet], water)
    else:
        wet = np.arange(len(lines))
        over = shapely.difference(lines, shapely.union_all(geoms))
    parts, which = shapely.get_parts(over, return_index=True)
    which = wet[which]
    parts_ok = shapely.get_type_id(parts) == 1
    parts, which = parts[parts_ok], which[parts_ok]
    if len(parts) == 0:
        return []
    tree = shapely.STRtree(geoms)
    ends = [shapely.get_point(parts, 0), shapely.get_point(parts, -1)]
    owner = []
    for points in ends:
        (src, dst), _ = tree.query_nearest(
            points, max_distance=LINK_REACH_M, return_distance=True, all_matches=False
        )
        grid = np.full(len(parts), -1, dtype=np.int64)
        grid[src] = dst
        owner.append(grid)
    a, b = owner
    ok = (a >= 0) & (b >= 0) & (a != b)
    ids = links["id"].astype(str).to_numpy()
    kinds = links["kind"].astype(str).to_numpy()
    found: dict[tuple[int, int], tuple[str, list[str], float]] = {}
    for i, j, k, gap in zip(
        a[ok].tolist(),
        b[ok].tolist(),
        which[ok].tolist(),
        shapely.length(parts[ok]).tolist(),
        strict=True,
    ):
        key = (min(i, j), max(i, j))
        kind, via, best = found.get(key, (kinds[k], [], gap))
        if ids[k] not in via:
            via.append(ids[k])
        found[key] = (kind, via, min(best, gap))
    return [(i, j, kind, tuple(via), gap) for (i, j), (kind, via, gap) in sorted(found.items())]


def _with_edges(matrix: sparse.csr_matrix, pairs: list[tuple[int, int]]) -> sparse.csr_matrix:
    if not pairs:
        return matrix
    i = np.array([p[0] for p in pairs])
    j = np.array([p[1] for p in pairs])
    extra = sparse.coo_matrix(
        (np.full(2 * len(i), BRIDGE_LENGTH), (np.r_[i, j], np.r_[j, i])), shape=matrix.shape
    )
    return (matrix + extra).tocsr()


def adjacency_frame(adjacency: Adjacency) -> pd.DataFrame:
    """The graph as the rows of ``adjacency.csv`` (see :data:`ADJACENCY_COLUMNS`).

    One row per pair of codes (the lesser first), in code order; a link's row
    replaces the pair's shared length by how it is joined.
    """
    m = sparse.triu(adjacency.matrix, k=1).tocoo()
    codes = np.asarray(adjacency.codes)
    if len(np.unique(codes)) != len(codes):  # repeated codes: pairs fold as a dict folds them
        return _adjacency_frame_folded(adjacency, m)
    ca, cb = codes[m.row], codes[m.col]
    swap = cb < ca
    shared = pd.DataFrame(
        {
            "grid_a": np.where(swap, cb, ca).astype(object),
            "grid_b": np.where(swap, ca, cb).astype(object),
            "shared_m": [round(float(v), 2) for v in m.data.tolist()],
            "link": "",
            "via": "",
            "gap_m": 0.0,
        }
    )
    links = pd.DataFrame(
        [(k.grid_a, k.grid_b, 0.0, k.kind, ";".join(k.via), k.gap_m) for k in adjacency.links],
        columns=list(ADJACENCY_COLUMNS),
    )
    frame = pd.concat([shared, links], ignore_index=True) if len(links) else shared
    if len(links):  # a link's row replaces the pair's (the last row of a pair wins)
        frame = frame.drop_duplicates(["grid_a", "grid_b"], keep="last")
    order = np.lexsort((frame["grid_b"].to_numpy(dtype=str), frame["grid_a"].to_numpy(dtype=str)))
    return frame.iloc[order].reset_index(drop=True)


def _adjacency_frame_folded(adjacency: Adjacency, m: sparse.coo_matrix) -> pd.DataFrame:
    """:func:`adjacency_frame` of a graph whose codes repeat: one row per distinct pair."""
    codes = adjacency.codes
    rows = {
        (min(codes[i], codes[j]), max(codes[i], codes[j])): (float(v), "", "", 0.0)
        for i, j, v in zip(m.row, m.col, m.data, strict=True)
    }
    for link in adjacency.links:
        rows[(link.grid_a, link.grid_b)] = (0.0, link.kind, ";".join(link.via), link.gap_m)
    return pd.DataFrame(
        [(a, b, round(s, 2), k, v, g) for (a, b), (s, k, v, g) in sorted(rows.items())],
        columns=list(ADJACENCY_COLUMNS),
    )


def read_adjacency(path: PathLike, codes: np.ndarray) -> Adjacency:
    """Read ``adjacency.csv`` into an :class:`Adjacency` over ``codes`` (in that row order).

    Raises
    ------
    UnreadableFileError
        When the file is missing, lacks a column, or names a grid not in ``codes``.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"grid_a": str, "grid_b": str, "link": str, "via": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UnreadableFileError(f"cannot read the grid adjacency {path}: {exc}") from exc
    missing = [c for c in ADJACENCY_COLUMNS if c not in frame.columns]
    if missing:
        raise UnreadableFileError(
            f"{path} lacks the column(s) {', '.join(missing)}: rebuild with `gridplan build`"
        )
    codes = np.asarray(codes).astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    unknown = sorted(set(frame["grid_a"]).union(frame["grid_b"]) - set(pos))
    if unknown:
        raise UnreadableFileError(
            f"{path} names grids that are not in the grids ({', '.join(unknown[:3])}): "
            "it belongs to another build; rebuild with `gridplan build`"
        )
    return frame_adjacency(frame, codes)


def frame_adjacency(frame: pd.DataFrame, codes: np.ndarray) -> Adjacency:
    """The :class:`Adjacency` over ``codes`` (in that row order) of rows of ``adjacency.csv``.

    Every grid ``frame`` names must be in ``codes`` (:func:`read_adjacency` checks it).
    """
    codes = np.asarray(codes).astype(str)
    index = pd.Index(codes)
    if index.is_unique:  # a hash lookup over the column at once
        i = index.get_indexer(frame["grid_a"].to_numpy(dtype=str))
        j = index.get_indexer(frame["grid_b"].to_numpy(dtype=str))
    else:  # the last grid of a repeated code, as a dict of them gives
        pos = {c: n for n, c in enumerate(codes)}
        i = frame["grid_a"].map(pos).to_numpy(dtype=np.int64)
        j = frame["grid_b"].map(pos).to_numpy(dtype=np.int64)
    kind = frame["link"].fillna("").to_numpy(dtype=str)
    value = np.where(kind == "", frame["shared_m"].to_numpy(dtype=float), BRIDGE_LENGTH)
    n = len(codes)
    matrix = sparse.coo_matrix((np.r_[value, value], (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    linked = frame[kind != ""]
    links = [
        Link(
            str(r.grid_a),
            str(r.grid_b),
            str(r.link),
            tuple(v for v in (r.via if isinstance(r.via, str) else "").split(";") if v),
            float(r.gap_m),
        )
        for r in linked.itertuples(index=False)
    ]
    return Adjacency.from_links(codes, matrix.tocsr(), links)


def load_adjacency(folder: PathLike | BuildFolder, grids_metric: gpd.GeoDataFrame) -> Adjacency:
    """The neighbour graph of a build folder's grids: its ``adjacency.csv``, else computed.

    Parameters
    ----------
    folder
        A build folder ``DIR``.
    grids_metric
        Its grids in a metric CRS (their ``code`` order is the matrix order).

    Returns
    -------
    Adjacency
        Read from ``DIR/adjacency.csv`` when the build wrote one (so districts
        keep off the river); otherwise :func:`grid_adjacency` of the grids alone.
    """
    path = (folder if isinstance(folder, BuildFolder) else BuildFolder(folder)).file("adjacency")
    if path.is_file():
        return read_adjacency(path, grids_metric["code"].astype(str).to_numpy())
    return grid_adjacency(grids_metric)


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
