"""Split one large OSM extract by sub-district: C++ passes, the parsing on the workers.

A city or province extract does not fit in one process as frames.
:func:`split_osm` writes one part per sub-district, then each worker reads only
its part (:func:`read_part`) and keeps what the sub-district needs: a building
where its inside point is, a street, railway, river, land use or POI where it
comes within ``margin_deg`` of the sub-district (so walks may leave it).

With osmium-tool (``osmium`` on PATH) the buildings, nearly all of a city's
objects, never pass through Python here: ``osmium renumber`` gives the objects
small ids (osmium extract keeps a bit per id and extract), one ``osmium
extract`` (``smart``: ways and multipolygons complete) cuts every sub-district
with :data:`BUILDING_SLACK_M` around it, and each worker reads its own cut with
``osmium export`` (:mod:`gis.osm_export`: the areas assembled in C++, their
lines parsed in bulk; pyosmium on a worker without osmium-tool). Meanwhile
``osmium tags-filter`` picks the other features (:data:`OTHER_FILTER`) and the
pyosmium pass routes those few here, exactly as it routes everything without
osmium-tool: by their whole geometry, so that a street segment or a lake
reaching into the margin from far away still arrives. Without osmium-tool (a
user who only pip-installed) that pass routes every feature, buildings too, to
one pickle per sub-district (Python per OSM object: several times slower).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import pickle
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis import sources
from gis._errors import UnreadableFileError
from gis.crs import WGS84
from gis.osm_export import export_areas
from gis.sources import OsmLayers

#: Features routed per batch (bounds the memory of the pass besides node locations).
BATCH = 50_000
#: buildings, streets, barriers, POIs, land use, entrances, fences (as in gis.sources)
_KINDS = ("b", "s", "x", "p", "l", "e", "f")
#: How far past the sub-district osmium-tool's extract of its buildings reaches (m): a
#: building whose inside point is in the sub-district has a node this close to it
#: unless it is more than twice as wide.
BUILDING_SLACK_M = 150.0
#: osmium tags-filter expressions of all else :mod:`gis.sources` reads (keep in step with
#: it): streets, barriers, water, land use, POIs, entrances, fences.
OTHER_FILTER = (
    "nwr/highway",
    "nwr/railway",
    "nwr/waterway",
    "nwr/natural=water,coastline",
    "nwr/landuse",
    "nwr/route=ferry",
    "nwr/barrier=wall,city_wall,fence",
    "nwr/entrance",
    "nwr/door",
    *(f"nwr/{key}" for key in sources.POI_KEYS),
    "nwr/building=" + ",".join(v for (k, v) in sources.POI_KINDS if k == "building"),
)

#: Rows (tags) and WKB of one batch's features by kind, and one part's share of them.
Rows = dict[str, list[dict[str, Any]]]
Blobs = dict[str, list[bytes]]
Chunk = dict[str, tuple[list[dict[str, Any]], list[bytes]]]


@dataclass(frozen=True)
class SplitResult:
    """Where :func:`split_osm` put each sub-district's features.

    Attributes
    ----------
    parts
        One part file per sub-district, in the order of the polygons given:
        ``part-NNN.pbf`` (osmium-tool's extract, read with :func:`read_part`)
        or ``part-NNN.pickle`` (the pyosmium pass, features already routed).
    outside
        Buildings whose inside point lies in no sub-district (counted by the
        pyosmium pass only; None after osmium-tool).
    """

    parts: list[Path]
    outside: int | None


def split_osm(
    path: str | os.PathLike[str],
    polygons: Sequence[BaseGeometry],
    folder: str | os.PathLike[str],
    *,
    margin_deg: Sequence[float],
    tool: bool = True,
) -> SplitResult:
    """Split an OSM file into one part file per sub-district polygon.

    Parameters
    ----------
    path
        OSM XML (optionally ``.gz``/``.bz2``) or PBF.
    polygons
        Sub-district polygons (WGS 84), disjoint.
    folder
        Where to write the part files (created).
    margin_deg
        Per polygon, how far (degrees, WGS 84) past it streets, barriers and
        POIs are still routed to it.
    tool
        Use osmium-tool when it is on PATH (False: always the pyosmium pass).

    Returns
    -------
    SplitResult
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path} does not exist or is not a file")
    exe = osmium_tool() if tool else None
    if exe is not None:  # C++ passes; the workers parse their buildings
        return _extract(exe, path, polygons, margin_deg, folder)
    parts = [folder / f"part-{i:03d}.pickle" for i in range(len(polygons))]
    return SplitResult(parts=parts, outside=_route_all(path, polygons, parts, margin_deg))


def osmium_tool() -> str | None:
    """The osmium-tool executable on PATH, or None (the split then runs in pyosmium)."""
    return shutil.which("osmium")


def split_note() -> str:
    """What the progress line of the split adds: nothing, or how to make it faster."""
    if osmium_tool() is not None:
        return ""
    return " (in Python: install osmium-tool, e.g. apt install osmium-tool, for a faster split)"


def degrees(metres: float, polygon: BaseGeometry) -> float:
    """A buffer in degrees at least ``metres`` wide everywhere in ``polygon``."""
    lat = max(abs(polygon.bounds[1]), abs(polygon.bounds[3]))
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.05))


def _extract(
    exe: str,
    path: Path,
    polygons: Sequence[BaseGeometry],
    margin_deg: Sequence[float],
    folder: Path,
) -> SplitResult:
    """osmium-tool: the buildings extracted in C++, the (few) other features routed here."""
    # small ids: osmium extract keeps a bit per id and extract, sized by the largest id
    ids, numbered = folder / "ids", folder / "numbered.pbf"
    ids.mkdir(exist_ok=True)
    _run(exe, "renumber", "--index-directory", ids, "--output", numbered, path, source=path)
    parts = [folder / f"part-{i:03d}.split" for i in range(len(polygons))]
    for part in parts:
        part.mkdir(exist_ok=True)
    with ThreadPoolExecutor(1) as pool:  # osmium extract on one core, the rest on the other
        near = shapely.buffer(
            np.asarray(polygons), [degrees(BUILDING_SLACK_M, p) for p in polygons]
        )
        buildings = pool.submit(_extract_buildings, exe, numbered, parts, near, source=path)
        others = folder / "others.pbf"
        _run(exe, "tags-filter", "--output", others, numbered, *OTHER_FILTER, source=path)
        _route_all(others, polygons, [p / "others.pickle" for p in parts], margin_deg)
        buildings.result()
    numbered.unlink()
    others.unlink()
    return SplitResult(parts=parts, outside=None)


def _extract_buildings(
    exe: str, numbered: Path, parts: list[Path], reach: np.ndarray, *, source: Path
) -> None:
    """``buildings.pbf`` in each part: all of ``numbered`` within its reach, ways complete."""
    extracts = [
        {"output": f"{part.name}/buildings.pbf", "output_format": "pbf", **_config_polygon(g)}
        for part, g in zip(parts, reach, strict=True)
    ]
    config = numbered.parent / "extract.json"
    config.write_text(json.dumps({"directory": str(numbered.parent), "extracts": extracts}))
    options = ("--strategy", "smart", "--option", "types=multipolygon,boundary")
    _run(exe, "extract", "--config", config, *options, numbered, source=source)


def _run(exe: str, command: str, *args: str | Path, source: Path) -> None:
    """One osmium-tool command; its complaint about ``source`` as an UnreadableFileError."""
    argv = [exe, command, "--overwrite", "--no-progress", *map(str, args)]
    if command == "renumber":
        argv[2:2] = ["--input-format", sources.osm_format(source)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UnreadableFileError(
            f"cannot split {source} with osmium-tool ({command}): {done.stderr.strip()}; "
            "download the extract again (a cut-off or renamed file reads like this)"
        )


def _config_polygon(geom: BaseGeometry) -> dict[str, Any]:
    """An extract's region in osmium-tool's config: its rings as lon/lat lists."""

    def rings(polygon: BaseGeometry) -> list[list[list[float]]]:
        return [np.asarray(r.coords).tolist() for r in (polygon.exterior, *polygon.interiors)]

    if geom.geom_type == "Polygon":
        return {"polygon": rings(geom)}
    return {"multipolygon": [rings(g) for g in geom.geoms]}


def _route_all(
    path: Path, polygons: Sequence[BaseGeometry], parts: list[Path], margin_deg: Sequence[float]
) -> int:
    """The pyosmium pass: every feature of ``path`` read, routed to the ``parts`` (pickles).

    Returns the buildings outside every polygon.
    """
    inner_tree, wide_tree = _trees(polygons, margin_deg)
    outside = 0
    with ExitStack() as stack:
        files = [stack.enter_context(p.open("wb")) for p in parts]
        for rows, wkb in _batches(path):
            chunks, out = _route(rows, wkb, inner_tree, wide_tree, len(parts))
            outside += out
            for fh, chunk in zip(files, chunks, strict=True):
                if chunk:
                    pickle.dump(chunk, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return outside


def _trees(
    polygons: Sequence[BaseGeometry], margin_deg: Sequence[float]
) -> tuple[shapely.STRtree, shapely.STRtree]:
    """Trees of the sub-districts and of the sub-districts widened by their margins."""
    inner = np.asarray(polygons, dtype=object)
    wide = shapely.buffer(inner, np.asarray(margin_deg, dtype=float))
    shapely.prepare(inner)
    shapely.prepare(wide)
    return shapely.STRtree(inner), shapely.STRtree(wide)


def _batches(path: Path) -> Iterator[tuple[Rows, Blobs]]:
    """The features gridplan reads, ``BATCH`` at a time, as rows and WKB per kind."""
    import osmium

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
    rows: Rows, wkb: Blobs, inner_tree: shapely.STRtree, wide_tree: shapely.STRtree, n: int
) -> tuple[list[Chunk], int]:
    """One batch's features of each of ``n`` parts, and the buildings outside every part."""
    outside = 0
    chunks: list[Chunk] = [{} for _ in range(n)]
    for kind in _KINDS:
        if not wkb[kind]:
            continue
        geoms = sources.from_wkb(wkb[kind])
        if kind == "b":  # a building belongs where its inside point is (as gis.area clips)
            points = shapely.point_on_surface(geoms)
            geom_idx, part_idx = inner_tree.query(points, predicate="within")
            outside += len(geoms) - len(np.unique(geom_idx))
        else:
            geom_idx, part_idx = wide_tree.query(geoms, predicate="intersects")
        if len(geom_idx) == 0:  # none of this kind in any part
            continue
        order = np.lexsort((geom_idx, part_idx))
        geom_idx, part_idx = geom_idx[order], part_idx[order]
        bounds = np.flatnonzero(np.r_[True, part_idx[1:] != part_idx[:-1], True])
        for lo, hi in itertools.pairwise(bounds):
            part = int(part_idx[lo])
            members = geom_idx[lo:hi].tolist()
            chunks[part][kind] = ([rows[kind][i] for i in members], [wkb[kind][i] for i in members])
    return chunks, outside


def read_part(path: str | os.PathLike[str], polygon: BaseGeometry) -> OsmLayers:
    """The layers of one sub-district's part file written by :func:`split_osm` (WGS 84).

    Parameters
    ----------
    path
        A ``part-NNN.split`` folder (osmium-tool's extract of the buildings,
        read here and kept by their inside point as the pyosmium pass keeps
        them, and the other features routed) or ``part-NNN.pickle`` (the
        pyosmium pass: everything routed already).
    polygon
        The sub-district's polygon given to :func:`split_osm`.

    Returns
    -------
    OsmLayers
        As :func:`gis.sources.read_osm` returns for the sub-district's features.
    """
    path = Path(path)
    if path.suffix == ".pickle":  # routed by the pyosmium pass already
        return _layers(_unpickled(path))
    ids = _OriginalIds(path.parent / "ids")  # the ids before osmium renumber
    # the other features, routed in the split: their ids restored
    others = _layers(
        {k: (ids.restore(r), w) for k, (r, w) in chunk.items() if k != "b"}
        for chunk in _unpickled(path / "others.pickle")
    )
    # the buildings of the extract whose inside point is in the sub-district
    return replace(others, buildings=_part_buildings(path / "buildings.pbf", polygon, ids))


def _layers(chunks: Iterable[Chunk]) -> OsmLayers:
    """The frames of the features in ``chunks``, each kind in the order of its ids."""
    rows: Rows = {k: [] for k in _KINDS}
    wkb: Blobs = {k: [] for k in _KINDS}
    for chunk in chunks:
        for kind, (r, w) in chunk.items():
            rows[kind].extend(r)
            wkb[kind].extend(w)
    frames = {k: _with_columns(sources._frame(*_by_id(rows[k], wkb[k])), k) for k in _KINDS}
    return OsmLayers(
        buildings=frames["b"],
        streets=frames["s"],
        barriers=frames["x"],
        pois=frames["p"],
        landuse=frames["l"],
        entrances=frames["e"],
        fences=frames["f"],
    )


def _part_buildings(path: Path, polygon: BaseGeometry, ids: _OriginalIds) -> gpd.GeoDataFrame:
    """The buildings of an extract inside ``polygon``, with their original ids, by id.

    ``osmium export`` makes the areas in C++ and the rows are built column-wise;
    a worker without osmium-tool reads them with pyosmium (a Python call per area).
    """
    exe = osmium_tool()
    if exe is None:
        rows, wkb = _buildings(path)
        keep = _inside(sources.from_wkb(wkb), polygon).tolist()
        rows, wkb = _by_id(ids.restore([rows[i] for i in keep]), [wkb[i] for i in keep])
        return _with_columns(sources._frame(rows, wkb), "b")
    areas = export_areas(exe, path, sources.BUILDING_KEYS)
    buildings = np.flatnonzero([sources.is_building_area(t) for t in areas.tags])
    keep = buildings[_inside(areas.geometry[buildings], polygon)]
    if len(keep) == 0:
        return _with_columns(sources._frame([], []), "b")
    from_way = areas.from_way[keep]
    old = ids.original(from_way, areas.ids[keep])
    order = np.lexsort((old, ~from_way))  # ways, then relations, each by id (as _by_id)
    keep, from_way, old = keep[order], from_way[order], old[order].tolist()
    columns = {
        "id": [f"{'w' if w else 'r'}{i}" for w, i in zip(from_way.tolist(), old, strict=True)],
        **sources.building_columns([areas.tags[i] for i in keep.tolist()]),
    }
    return gpd.GeoDataFrame(pd.DataFrame(columns), geometry=areas.geometry[keep], crs=WGS84)


def _inside(geoms: np.ndarray, polygon: BaseGeometry) -> np.ndarray:
    """The indices of the buildings whose inside point is in ``polygon`` (as gis.area clips)."""
    points = shapely.point_on_surface(geoms)
    shapely.prepare(polygon)
    return np.flatnonzero(shapely.within(points, polygon))


def _buildings(path: Path) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The buildings of an extract by pyosmium (only areas give them: nodes, ways not looked at)."""
    import osmium

    rows: Rows = {k: [] for k in _KINDS}
    wkb: Blobs = {k: [] for k in _KINDS}
    factory = osmium.geom.WKBFactory()
    try:
        processor: Any = (
            osmium.FileProcessor(osmium.io.File(str(path)))
            .with_locations()
            .with_areas()
            .with_filter(osmium.filter.EmptyTagFilter())
        )
        for obj in processor:
            if obj.is_area():
                sources._take_area(obj, factory, rows, wkb)
    except RuntimeError as exc:
        raise UnreadableFileError(f"cannot read the part {path}: {exc}; split again") from exc
    return rows["b"], wkb["b"]


def _unpickled(path: Path) -> Iterator[Chunk]:
    """The chunks of one pickle part, as :func:`_route_all` appended them."""
    with path.open("rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


def _by_id(
    rows: list[dict[str, Any]], wkb: list[bytes]
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Rows in the order of their ids (nodes, ways, relations), whichever pass read them.

    pyosmium hands over areas when its buffer fills, between the ways: the order
    of the features read depends on what else the file holds.
    """
    ranks = {"n": 0, "w": 1, "r": 2}
    order = sorted(
        range(len(rows)), key=lambda i: (ranks[rows[i]["id"][0]], int(rows[i]["id"][1:]))
    )
    return [rows[i] for i in order], [wkb[i] for i in order]


class _OriginalIds:
    """The extract's ids before ``osmium renumber`` (its index: old id by new id - 1)."""

    def __init__(self, folder: Path) -> None:
        self.old = {t[0]: _index(folder / f"{t}.idx") for t in ("node", "way", "relation")}

    def restore(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` with their ``id`` ("w5") the original one ("w4616435"), in place."""
        for row in rows:
            kind, new = row["id"][0], int(row["id"][1:])
            row["id"] = f"{kind}{self.old[kind][new - 1]}"
        return rows

    def original(self, from_way: np.ndarray, new: np.ndarray) -> np.ndarray:
        """The original ids of areas: ``new`` ids of ways where ``from_way``, else of relations."""
        old = np.empty(len(new), dtype=np.int64)
        old[from_way] = self.old["w"][new[from_way] - 1]
        old[~from_way] = self.old["r"][new[~from_way] - 1]
        return old


def _index(path: Path) -> np.ndarray:
    """One of osmium renumber's index files (int64, native order), mapped, not read."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.memmap(path, dtype=np.int64, mode="r")


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
