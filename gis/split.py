"""Split one large OSM extract by sub-district, in one streaming pass (pyosmium).

A city or province extract does not fit in one process as frames.
:func:`split_osm` reads the file once with pyosmium, keeps the features
gridplan reads (the same buildings, streets, barriers and POIs as
:func:`gis.sources.read_osm`), and routes them in batches to one part file per
sub-district: a building to the sub-district holding its inside point, a
street, railway, river or POI to every sub-district it comes within
``margin_m`` of (so walks may leave a sub-district). Only one batch and the
node-location index are held in memory; a worker then reads only its part
(:func:`read_part`).
"""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis import sources
from gis._errors import UnreadableFileError
from gis.sources import OsmLayers

#: Features routed per batch (bounds the memory of the pass besides node locations).
BATCH = 50_000
#: buildings, streets, barriers, POIs, land use, entrances, fences (as in gis.sources)
_KINDS = ("b", "s", "x", "p", "l", "e", "f")


@dataclass(frozen=True)
class SplitResult:
    """Where :func:`split_osm` put each sub-district's features.

    Attributes
    ----------
    parts
        One part file per sub-district, in the order of the polygons given.
    features
        How many features each part received, by kind ("b", "s", "x", "p", "l", "e", "f").
    outside
        Buildings whose inside point lies in no sub-district.
    """

    parts: list[Path]
    features: list[dict[str, int]]
    outside: int


def split_osm(
    path: str | os.PathLike[str],
    polygons: Sequence[BaseGeometry],
    folder: str | os.PathLike[str],
    *,
    margin_deg: Sequence[float],
) -> SplitResult:
    """Read an OSM file once and write one part file per sub-district polygon.

    Parameters
    ----------
    path
        OSM XML (optionally ``.gz``/``.bz2``) or PBF.
    polygons
        Sub-district polygons (WGS 84), disjoint.
    folder
        Where to write ``part-NNN.pickle`` files (created).
    margin_deg
        Per polygon, how far (degrees, WGS 84) past it streets, barriers and
        POIs are still routed to it.

    Returns
    -------
    SplitResult
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inner = np.asarray(polygons, dtype=object)
    wide = shapely.buffer(inner, np.asarray(margin_deg, dtype=float))
    shapely.prepare(inner)
    shapely.prepare(wide)
    inner_tree, wide_tree = shapely.STRtree(inner), shapely.STRtree(wide)
    parts = [folder / f"part-{i:03d}.pickle" for i in range(len(inner))]
    counts = [dict.fromkeys(_KINDS, 0) for _ in parts]
    outside = 0
    with ExitStack() as stack:
        files = [stack.enter_context(p.open("wb")) for p in parts]
        for rows, wkb in _batches(Path(path)):
            outside += _route(rows, wkb, inner_tree, wide_tree, files, counts)
    return SplitResult(parts=parts, features=counts, outside=outside)


Rows = dict[str, list[dict[str, Any]]]
Blobs = dict[str, list[bytes]]


def _batches(path: Path) -> Iterator[tuple[Rows, Blobs]]:
    """The features gridplan reads, ``BATCH`` at a time, as rows and WKB per kind."""
    import osmium

    if not path.is_file():
        raise UnreadableFileError(f"{path} does not exist or is not a file")
    factory = osmium.geom.WKBFactory()
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _KINDS}
    wkb: dict[str, list[bytes]] = {k: [] for k in _KINDS}
    try:
        processor: Any = (
            osmium.FileProcessor(osmium.io.File(str(path)))
            .with_locations()
            .with_areas()
            .with_filter(osmium.filter.EmptyTagFilter())  # untagged nodes: locations only
        )
        for n, obj in enumerate(processor):
            if obj.is_node():
                sources._take_node(obj, factory, rows, wkb)
            elif obj.is_way():
                sources._take_way(obj, factory, rows, wkb)
            elif obj.is_area():
                sources._take_area(obj, factory, rows, wkb)
            if n % 10_000 == 0 and sum(len(v) for v in wkb.values()) >= BATCH:
                yield rows, wkb
                rows = {k: [] for k in _KINDS}
                wkb = {k: [] for k in _KINDS}
    except RuntimeError as exc:
        raise UnreadableFileError(f"cannot read {path} as OSM: {exc}") from exc
    yield rows, wkb


def _route(
    rows: dict[str, list[dict[str, Any]]],
    wkb: dict[str, list[bytes]],
    inner_tree: shapely.STRtree,
    wide_tree: shapely.STRtree,
    files: Sequence[BinaryIO],
    counts: list[dict[str, int]],
) -> int:
    """Append one batch to the part files; returns the buildings outside every part."""
    outside = 0
    chunks: list[dict[str, tuple[list[dict[str, Any]], list[bytes]]]] = [{} for _ in files]
    for kind in _KINDS:
        if not wkb[kind]:
            continue
        geoms = shapely.from_wkb(np.array(wkb[kind], dtype=object))
        if kind == "b":  # a building belongs where its inside point is (as gis.area clips)
            points = shapely.point_on_surface(geoms)
            geom_idx, part_idx = inner_tree.query(points, predicate="within")
            outside += len(geoms) - len(np.unique(geom_idx))
        else:
            geom_idx, part_idx = wide_tree.query(geoms, predicate="intersects")
        order = np.lexsort((geom_idx, part_idx))
        geom_idx, part_idx = geom_idx[order], part_idx[order]
        bounds = np.flatnonzero(np.r_[True, part_idx[1:] != part_idx[:-1], True])
        for lo, hi in itertools.pairwise(bounds):
            part = int(part_idx[lo])
            members = geom_idx[lo:hi].tolist()
            chunks[part][kind] = ([rows[kind][i] for i in members], [wkb[kind][i] for i in members])
            counts[part][kind] += len(members)
    for fh, chunk in zip(files, chunks, strict=True):
        if chunk:
            pickle.dump(chunk, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return outside


def read_part(path: str | os.PathLike[str]) -> OsmLayers:
    """The layers of one part file written by :func:`split_osm` (WGS 84 frames).

    Parameters
    ----------
    path
        A ``part-NNN.pickle`` file.

    Returns
    -------
    OsmLayers
        As :func:`gis.sources.read_osm` returns for the sub-district's features.
    """
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _KINDS}
    wkb: dict[str, list[bytes]] = {k: [] for k in _KINDS}
    with Path(path).open("rb") as fh:
        while True:
            try:
                chunk = pickle.load(fh)
            except EOFError:
                break
            for kind, (r, w) in chunk.items():
                rows[kind].extend(r)
                wkb[kind].extend(w)
    frames = {k: sources._frame(rows[k], wkb[k]) for k in _KINDS}
    frames = {k: _with_columns(f, k) for k, f in frames.items()}
    return OsmLayers(
        buildings=frames["b"],
        streets=frames["s"],
        barriers=frames["x"],
        pois=frames["p"],
        landuse=frames["l"],
        entrances=frames["e"],
        fences=frames["f"],
    )


#: The columns of each kind's frame (those :func:`gis.sources.read_osm` gives).
_COLUMNS = {
    # the building tags, as gis.sources names them ("building:levels" → "levels")
    "b": (
        "id",
        *(
            "levels" if tag == "building:levels" else tag.replace(":", "_")
            for tag in sources._BUILDING_TAGS + sources._ADDR_TAGS
        ),
    ),
    "s": ("id", *sources._STREET_TAGS),
    "x": ("id", "kind", "width"),
    "p": ("id", "kind", "amenity", "shop", "office", "name"),
    "l": ("id", "landuse"),
    "e": ("id", "entrance", "door", "access"),
    "f": ("id", "kind"),
}


def _with_columns(frame: Any, kind: str) -> Any:
    """An empty part still has the columns a non-empty one has."""
    for column in _COLUMNS[kind]:
        if column not in frame.columns:
            frame[column] = None
    return frame
