"""Filling a GeoPackage's spatial index (a SQLite R-tree) in one bulk load.

Inserting a million boxes into a SQLite R-tree one by one costs about 14 µs
each (every insert walks and splits nodes); GDAL fills the index of a bulk
write with its own bulk loader instead.  :func:`load_rtree` does the same for
boxes already computed (the parts' R-tree entries): it packs them
sort-tile-recursive (Leutenegger et al., 1997) into full nodes, then writes the
R-tree's three shadow tables (``_node``, ``_rowid``, ``_parent``) in the
format of SQLite's ``rtree`` module: each node a blob of its depth (the root
only), its cell count and its cells (a 64-bit id and the box as four 32-bit
floats, ``minx, maxx, miny, maxy``), all big-endian.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass

import numpy as np

#: One cell of a two-dimensional R-tree node.
_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])
#: Bytes before a node's cells: the tree's depth (root only), then the cell count.
_HEADER = 4


@dataclass(frozen=True)
class PackedRtree:
    """An R-tree's shadow tables' rows, computed (:func:`pack_rtree`) apart from writing them."""

    levels: list[tuple[np.ndarray, list[bytes]]]  # node numbers and blobs by level, leaves first
    leaves: np.ndarray  # the entries' ids in leaf order, ``fanout`` to a leaf
    fanout: int


def load_rtree(con: sqlite3.Connection, rtree: str, ids: np.ndarray, boxes: np.ndarray) -> None:
    """Replace the contents of the empty two-dimensional R-tree ``rtree`` by these entries.

    Parameters
    ----------
    con
        A connection to the database holding the R-tree (a virtual table just
        created, with its empty root node).
    rtree
        The R-tree's table name.
    ids
        The entries' ids (int64), unique.
    boxes
        ``(n, 4)`` boxes as ``minx, maxx, miny, maxy``, exact in float32 (as read
        from another R-tree).
    """
    if len(ids):
        write_rtree(con, rtree, pack_rtree(ids, boxes, node_size(con, rtree)))


def node_size(con: sqlite3.Connection, rtree: str) -> int:
    """The bytes of a node of the R-tree ``rtree`` (its root's, written when it was created)."""
    (size,) = con.execute(f'SELECT length(data) FROM "{rtree}_node" WHERE nodeno = 1').fetchone()
    return int(size)


def pack_rtree(ids: np.ndarray, boxes: np.ndarray, size: int) -> PackedRtree:
    """The nodes of an R-tree of nodes of ``size`` bytes holding these entries (at least one),
    packed sort-tile-recursive (see :func:`load_rtree` for the parameters)."""
    fanout = (size - _HEADER) // _CELL.itemsize
    order = _str_order(boxes, fanout)
    level_ids, level_boxes = ids[order].astype(np.int64), boxes[order].astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = []  # each level's cells, fanout to a node
    while True:
        levels.append((level_ids, level_boxes))
        nodes = math.ceil(len(level_ids) / fanout)
        if nodes == 1:
            break
        level_boxes = _node_boxes(level_boxes, fanout)
        level_ids = np.zeros(nodes, dtype=np.int64)  # numbered below, root first
    numbers = _number_nodes([math.ceil(len(c) / fanout) for c, _ in levels])
    for depth in range(1, len(levels)):  # the cells of a level above point to the nodes below
        levels[depth][0][:] = numbers[depth - 1]
    blobs = [
        _node_blobs(cell_ids, cell_boxes, fanout, size, height=len(levels) - 1)
        for cell_ids, cell_boxes in levels
    ]
    return PackedRtree(list(zip(numbers, blobs, strict=True)), levels[0][0], fanout)


def write_rtree(con: sqlite3.Connection, rtree: str, packed: PackedRtree) -> None:
    """Replace the contents of the empty R-tree ``rtree`` by the nodes ``packed``."""
    con.execute(f'DELETE FROM "{rtree}_node"')
    fanout = packed.fanout
    for depth, (numbers, blobs) in enumerate(packed.levels):
        con.executemany(
            f'INSERT INTO "{rtree}_node" (nodeno, data) VALUES (?, ?)',
            zip(numbers.tolist(), blobs, strict=True),
        )
        if depth == 0:
            _write_leaves(con, rtree, packed.leaves, int(numbers[0]), fanout)
        if depth + 1 < len(packed.levels):
            parent_of = np.repeat(packed.levels[depth + 1][0], fanout)[: len(numbers)]
            con.executemany(
                f'INSERT INTO "{rtree}_parent" (nodeno, parentnode) VALUES (?, ?)',
                zip(numbers.tolist(), parent_of.tolist(), strict=True),
            )


def _write_leaves(
    con: sqlite3.Connection, rtree: str, ids: np.ndarray, first: int, fanout: int
) -> None:
    """Record the leaf of each entry: the k-th of ``ids`` is in leaf ``first + k // fanout``.

    Ids that run without a gap (the rows of a layer) are inserted in their order,
    three times faster than in the leaves' order (no B-tree page split).
    """
    low = int(ids.min())
    if int(ids.max()) - low + 1 == len(ids):  # unique, so low, low + 1, …
        leaf_of = np.empty(len(ids), dtype=np.int64)
        leaf_of[ids - low] = first + np.arange(len(ids)) // fanout
        con.execute(
            f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) SELECT ? + key, value FROM json_each(?)',
            (low, json.dumps(leaf_of.tolist())),
        )
        return
    con.execute(
        f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) SELECT value, ? + key / ? FROM json_each(?)',
        (first, fanout, json.dumps(ids.tolist())),
    )


def read_rtree(con: sqlite3.Connection, rtree: str) -> tuple[np.ndarray, np.ndarray]:
    """The entries of the two-dimensional R-tree ``rtree``, in the order a scan of the
    table gives them: depth first, each node's cells in order.

    Read from the node blobs, several times faster than a ``SELECT`` of the table.

    Returns
    -------
    ids, boxes
        The entries' ids (int64) and their boxes, ``(n, 4)`` float32 as
        ``minx, maxx, miny, maxy``.
    """
    nodes = dict(con.execute(f'SELECT nodeno, data FROM "{rtree}_node"').fetchall())
    depth = int.from_bytes(nodes[1][:2], "big")
    order = [1]
    for _ in range(depth):  # the nodes of each level below, in the order a scan visits them
        order = [int(child) for node in order for child in _cells(nodes[node])["id"]]
    cells = np.concatenate([_cells(nodes[node]) for node in order])
    return cells["id"].astype(np.int64), cells["box"].astype(np.float32)


def _cells(node: bytes) -> np.ndarray:
    """The cells of one node blob."""
    return np.frombuffer(node, dtype=_CELL, count=int.from_bytes(node[2:4], "big"), offset=_HEADER)


def _str_order(boxes: np.ndarray, fanout: int) -> np.ndarray:
    """Sort-tile-recursive order: vertical slices by x centre, each sorted by y centre."""
    n = len(boxes)
    cx, cy = boxes[:, 0] + boxes[:, 1], boxes[:, 2] + boxes[:, 3]
    slices = math.ceil(math.sqrt(math.ceil(n / fanout)))
    per_slice = fanout * math.ceil(n / (fanout * slices))
    by_x = np.argsort(cx, kind="stable")
    slice_of = np.empty(n, dtype=np.int64)
    slice_of[by_x] = np.arange(n) // per_slice
    return np.lexsort((cy, slice_of))


def _node_boxes(boxes: np.ndarray, fanout: int) -> np.ndarray:
    """The box of each run of ``fanout`` consecutive cells (the last run may be shorter)."""
    starts = np.arange(0, len(boxes), fanout)
    return np.column_stack(
        [
            np.minimum.reduceat(boxes[:, 0], starts),
            np.maximum.reduceat(boxes[:, 1], starts),
            np.minimum.reduceat(boxes[:, 2], starts),
            np.maximum.reduceat(boxes[:, 3], starts),
        ]
    ).astype(np.float32)


def _number_nodes(counts: list[int]) -> list[np.ndarray]:
    """Node numbers per level (leaves first): the root is 1, then from the top level down."""
    numbers: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(counts)
    first = 1
    for depth in reversed(range(len(counts))):
        numbers[depth] = np.arange(first, first + counts[depth], dtype=np.int64)
        first += counts[depth]
    return numbers


def _node_blobs(
    ids: np.ndarray, boxes: np.ndarray, fanout: int, size: int, *, height: int
) -> list[bytes]:
    """The nodes holding these cells, ``fanout`` to a node, as SQLite's rtree writes them."""
    nodes = math.ceil(len(ids) / fanout)
    cells = np.zeros(nodes * fanout, dtype=_CELL)
    cells["id"][: len(ids)] = ids
    cells["box"][: len(ids)] = boxes
    body = cells.view(np.uint8).reshape(nodes, fanout * _CELL.itemsize)
    header = np.zeros((nodes, _HEADER), dtype=np.uint8)
    counts = np.full(nodes, fanout, dtype=">u2")
    counts[-1] = len(ids) - fanout * (nodes - 1)
    header[:, 2:] = counts.view(np.uint8).reshape(nodes, 2)
    if nodes == 1:  # the root holds the tree's depth
        header[0, :2] = np.array([height], dtype=">u2").view(np.uint8)
    pad = np.zeros((nodes, size - _HEADER - body.shape[1]), dtype=np.uint8)
    rows = np.hstack([header, body, pad])
    return [row.tobytes() for row in rows]
