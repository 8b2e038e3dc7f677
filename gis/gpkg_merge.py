"""Appending the layers of several GeoPackages to one, in SQLite, without re-encoding a geometry.

A city's workers each write their sub-district's layers to a GeoPackage of
their own (in parallel); :func:`append_gpkg_layers` then copies the rows of
each layer into the city's GeoPackage in part order, with SQLite's
``ATTACH`` and ``INSERT INTO … SELECT``: the geometries are copied as the
blobs GDAL wrote, which takes a fraction of the time of decoding and
re-encoding a million of them.  The result is what one bulk write of the
concatenated layers gives: the same table (schema as GDAL created it), the
features in the same order with ``fid`` 1…n, the spatial index (the parts'
R-tree entries, read from their nodes, renumbered and packed by
:mod:`gis.gpkg_rtree` in a thread while SQLite copies the rows, then
bulk-loaded; and GDAL's triggers that keep it), and the GeoPackage's
bookkeeping (``gpkg_contents`` with the union of the extents,
``gpkg_geometry_columns``, ``gpkg_extensions``, ``gpkg_ogr_contents``).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gis._errors import UnreadableFileError
from gis.gpkg_rtree import PackedRtree, node_size, pack_rtree, read_rtree, write_rtree

#: GeoPackage tables that hold one row per layer, copied from the first part.
_REGISTRY = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")


@dataclass(frozen=True)
class _Layer:
    """One layer of one part: its table's definition, size and extent."""

    schema: tuple[str, ...]  # CREATE TABLE, then the geometry column's registration
    rows: int
    extent: tuple[float, float, float, float] | None  # None: GDAL recorded none
    rtree: str | None  # the R-tree table's name, when the layer has a spatial index


def append_gpkg_layers(target: Path, sources: Sequence[Path], layers: Sequence[str]) -> None:
    """Append ``layers`` of the GeoPackages ``sources``, in order, to the GeoPackage ``target``.

    Parameters
    ----------
    target
        An existing GeoPackage (written by GDAL) that has none of ``layers``.
    sources
        GeoPackages each holding ``layers`` (written by GDAL, ``fid`` 1…n), in
        the order their features are wanted.
    layers
        The layer names; each becomes one table of ``target``.

    Raises
    ------
    UnreadableFileError
        A source lacks a layer, or the sources' tables for one layer differ
        (column names or types, geometry type).
    """
    con = sqlite3.connect(target, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")  # the file is a temporary: atomic by its rename
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")  # up to 256 MB: fewer pages written twice
        info = [_read_layers(con, source, layers) for source in sources]
        for name in layers:
            _create_layer(con, sources, name, [part[name] for part in info])
        # the spatial indexes packed in a thread while SQLite copies the rows (without the GIL)
        with ThreadPoolExecutor(max_workers=1) as packer:
            packed = {}
            for name in layers:
                parts = [part[name] for part in info]
                rtree = parts[_model(parts)].rtree
                if rtree is not None:
                    size = node_size(con, rtree)
                    packed[name] = packer.submit(_pack_index, sources, parts, size)
            for source, part in zip(sources, info, strict=True):
                _copy_rows(con, source, layers, part)
            for name in layers:
                index = packed[name].result() if name in packed else None
                _finish_layer(con, sources, name, [part[name] for part in info], index)
    finally:
        con.close()
    with target.open("rb+") as fh:  # on disk before the caller renames it into place
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _attached(con: sqlite3.Connection, source: Path) -> Iterator[None]:
    """``source`` attached as ``part`` for one transaction (SQLite detaches only outside one)."""
    con.execute("ATTACH DATABASE ? AS part", (str(source),))
    try:
        con.execute("BEGIN")
        yield
        con.execute("COMMIT")
    finally:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.execute("DETACH DATABASE part")


def _read_layers(con: sqlite3.Connection, source: Path, layers: Sequence[str]) -> dict[str, _Layer]:
    """The definition, row count and extent of each of ``layers`` in ``source``."""
    with _attached(con, source):
        out = {}
        for name in layers:
            table = con.execute(
                "SELECT sql FROM part.sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            geometry = con.execute(
                "SELECT column_name, geometry_type_name, srs_id, z, m "
                "FROM part.gpkg_geometry_columns WHERE table_name = ?",
                (name,),
            ).fetchone()
            if table is None or geometry is None:
                raise UnreadableFileError(
                    f"{source} has no layer {name!r}: rebuild the city (its parts are incomplete)"
                )
            rows, top = con.execute(  # the count GDAL keeps, else counted (a table scan)
                "SELECT coalesce((SELECT feature_count FROM part.gpkg_ogr_contents "
                f'WHERE table_name = ?), (SELECT count(*) FROM part."{name}")), '
                f'(SELECT max(fid) FROM part."{name}")',
                (name,),
            ).fetchone()
            if rows and top != rows:
                raise UnreadableFileError(f"{source}: layer {name!r} is not numbered 1…n")
            extent = con.execute(
                "SELECT min_x, min_y, max_x, max_y FROM part.gpkg_contents WHERE table_name = ?",
                (name,),
            ).fetchone()
            rtree = f"rtree_{name}_{geometry[0]}"
            has_rtree = con.execute(
                "SELECT 1 FROM part.sqlite_master WHERE name = ?", (rtree,)
            ).fetchone()
            out[name] = _Layer(
                schema=(table[0], *map(str, geometry)),
                rows=int(rows),
                extent=None if extent is None or None in extent else tuple(extent),
                rtree=rtree if has_rtree else None,
            )
    return out


def _model(parts: Sequence[_Layer]) -> int:
    """The index of the part whose table the layer takes: the first with features."""
    return next((i for i, p in enumerate(parts) if p.rows), 0)


def _create_layer(
    con: sqlite3.Connection, sources: Sequence[Path], name: str, parts: Sequence[_Layer]
) -> None:
    """Create the table, its R-tree and its registry rows, as in the model part (no triggers)."""
    model = _model(parts)
    for source, part in zip(sources, parts, strict=True):
        if part.rows and part.schema != parts[model].schema:
            raise UnreadableFileError(
                f"layer {name!r} of {source} has other columns than that of {sources[model]}: "
                "rebuild the city with one version of gridplan"
            )
    with _attached(con, sources[model]):
        objects = con.execute(
            "SELECT name, sql FROM part.sqlite_master "
            "WHERE type = 'table' AND (name = ? OR name = ?)",
            (name, parts[model].rtree),
        ).fetchall()
        for _, sql in sorted(objects, key=lambda o: o[0] != name):  # the layer's table first
            con.execute(sql)
        for registry in _REGISTRY:
            con.execute(
                f"INSERT INTO main.{registry} SELECT * FROM part.{registry} WHERE table_name = ?",
                (name,),
            )


def _copy_rows(
    con: sqlite3.Connection, source: Path, layers: Sequence[str], part: dict[str, _Layer]
) -> None:
    """Append one part's rows to each layer, renumbered after the rows there."""
    with _attached(con, source):
        for name in layers:
            if not part[name].rows:
                continue
            columns = [row[1] for row in con.execute(f'PRAGMA part.table_info("{name}")')]
            rest = ", ".join(f'"{c}"' for c in columns if c != "fid")
            (offset,) = con.execute(f'SELECT coalesce(max(fid), 0) FROM main."{name}"').fetchone()
            con.execute(
                f'INSERT INTO main."{name}" ("fid", {rest}) '
                f'SELECT fid + ?, {rest} FROM part."{name}" ORDER BY fid',
                (offset,),
            )


def _pack_index(sources: Sequence[Path], parts: Sequence[_Layer], size: int) -> PackedRtree | None:
    """The layer's spatial index: the parts' R-tree entries, renumbered as :func:`_copy_rows`
    numbers their rows, packed into nodes of ``size`` bytes (None: no entries)."""
    ids, boxes = [], []
    offset = 0
    for source, part in zip(sources, parts, strict=True):
        if part.rows and part.rtree is not None:
            con = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
            try:
                part_ids, part_boxes = read_rtree(con, part.rtree)
            finally:
                con.close()
            ids.append(part_ids + offset)
            boxes.append(part_boxes.astype(np.float64))  # centres sorted as float64 sums
        offset += part.rows
    if not ids or not sum(map(len, ids)):
        return None
    return pack_rtree(np.concatenate(ids), np.concatenate(boxes), size)


def record_layer(
    con: sqlite3.Connection,
    name: str,
    extent: Sequence[float | None],
    count: int,
) -> None:
    """Record a layer's extent, time of change and feature count, as GDAL records them.

    Parameters
    ----------
    con
        The GeoPackage, open.
    name
        The layer (its table).
    extent
        ``(min_x, min_y, max_x, max_y)``, or Nones for an empty layer.
    count
        Its features.
    """
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    con.execute(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? "
        "WHERE table_name = ?",
        (*extent, now, name),
    )
    con.execute(
        "UPDATE gpkg_ogr_contents SET feature_count = ? WHERE table_name = ?", (count, name)
    )


def _finish_layer(
    con: sqlite3.Connection,
    sources: Sequence[Path],
    name: str,
    parts: Sequence[_Layer],
    index: PackedRtree | None,
) -> None:
    """The layer's spatial index, triggers, feature count, extent and sequence, once all rows
    are in."""
    model = _model(parts)
    with _attached(con, sources[model]):
        triggers = con.execute(
            "SELECT sql FROM part.sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (name,)
        ).fetchall()
        rtree = parts[model].rtree
        if rtree is not None and index is not None:
            write_rtree(con, rtree, index)
    for (sql,) in triggers:
        con.execute(sql)
    total = sum(p.rows for p in parts)
    extents = [p.extent for p in parts if p.rows and p.extent is not None]
    bounds = (
        (
            min(e[0] for e in extents),
            min(e[1] for e in extents),
            max(e[2] for e in extents),
            max(e[3] for e in extents),
        )
        if extents
        else parts[model].extent or (None, None, None, None)
    )
    record_layer(con, name, bounds, total)
    con.execute("DELETE FROM sqlite_sequence WHERE name = ?", (name,))
    if total:
        con.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, total))
