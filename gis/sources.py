"""Read the inputs of an area, offline: OSM XML or PBF, GeoPackage, GeoJSON, Shapefile.

:func:`read_osm` turns an OpenStreetMap file into the layers gridplan needs
(buildings, streets, barriers, points of interest), keeping only street ways
for the street network.  :func:`read_vector` reads any vector file with a CRS.
Both return WGS 84 frames; nothing here touches the network.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import CRSError, EmptyLayerError, UnreadableFileError
from gis.crs import WGS84
from gis.tables import redecode_latin1

#: Names of OSM files, as users download them: XML or PBF, XML also gzip- or bzip2-compressed.
OSM_SUFFIXES = (".osm", ".osm.xml", ".xml", ".pbf", ".osm.pbf")
#: Compression suffixes read as they come (XML inside).
COMPRESSED_SUFFIXES = (".gz", ".bz2")

#: Ways kept as streets (``highway=*`` values people or vehicles move along).
STREET_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "footway",
        "path",
        "steps",
        "cycleway",
        "track",
        "corridor",
        "bridleway",
        "road",
    }
)

#: POI tag values normalised to the ``kind`` column of ``pois``.
POI_KINDS: dict[tuple[str, str], str] = {
    ("amenity", "community_centre"): "community_centre",
    ("amenity", "social_facility"): "social_facility",
    ("amenity", "social_centre"): "community_centre",
    ("amenity", "clinic"): "clinic",
    ("amenity", "doctors"): "clinic",
    ("amenity", "hospital"): "hospital",
    ("amenity", "pharmacy"): "pharmacy",
    ("amenity", "townhall"): "townhall",
    ("amenity", "police"): "police",
    ("amenity", "school"): "school",
    ("amenity", "kindergarten"): "kindergarten",
    ("amenity", "library"): "library",
    ("amenity", "post_office"): "post_office",
    ("office", "government"): "government",
    ("healthcare", "clinic"): "clinic",
    ("healthcare", "doctor"): "clinic",
    ("healthcare", "hospital"): "hospital",
    ("healthcare", "centre"): "clinic",
    ("building", "civic"): "government",
    ("building", "government"): "government",
    ("building", "public"): "government",
}
POI_KEYS = ("amenity", "office", "healthcare", "shop", "tourism", "leisure")
#: :data:`POI_KINDS` by key, the keys in its order (one lookup per key); buildings last.
_POI_KINDS_BY_KEY: dict[str, dict[str, str]] = {
    key: {v: kind for (k, v), kind in POI_KINDS.items() if k == key}
    for key in sorted(dict.fromkeys(k for k, _ in POI_KINDS), key=lambda k: k == "building")
}

_BUILDING_TAGS = (
    "building",
    "building:levels",
    "height",
    "amenity",
    "shop",
    "office",
    "name",
    "barrier",
    "ruins",
    "construction",
)
_ADDR_TAGS = ("addr:street", "addr:housenumber")
_STREET_TAGS = ("highway", "name", "foot", "access", "service", "area", "tunnel", "bridge", "layer")
#: (column, key) pairs of each layer: ``addr:street`` is the column ``addr_street``
_STREET_COLUMNS = tuple((k, k) for k in _STREET_TAGS)
_ENTRANCE_COLUMNS = (("entrance", "entrance"), ("door", "door"), ("access", "access"))
#: buildings' columns; ``building:levels`` is the column ``levels``, after the others
_BUILDING_COLUMNS = (
    *((k.replace(":", "_"), k) for k in _BUILDING_TAGS + _ADDR_TAGS if k != "building:levels"),
    ("levels", "building:levels"),
)
#: The keys of an area that make its building row: :func:`is_building` and the columns.
BUILDING_KEYS = ("building:part", *_BUILDING_TAGS, *_ADDR_TAGS)


@dataclass(frozen=True)
class OsmLayers:
    """The layers gridplan reads from one OSM file (all WGS 84).

    Attributes
    ----------
    buildings
        Polygons with ``id`` ("w123", "r45"), ``building``, ``levels`` and
        ``height`` (raw tags), ``amenity``, ``shop``, ``office``, ``name``,
        ``barrier``, ``ruins``, ``construction``, ``addr_street``,
        ``addr_housenumber``.
    streets
        One LineString per street way: ``id``, ``highway``, ``name``, ``foot``,
        ``access``, ``service``, ``area``, ``tunnel``, ``bridge``, ``layer``.
        Ways that meet share vertex coordinates exactly (OSM shared nodes).
    barriers
        ``id``, ``kind`` and ``width`` (the raw tag): railways, walls, rivers and
        canals ("railway", "wall", "waterway": lines), the coast ("coastline":
        lines with the sea on their right, as OSM draws them), water bodies
        ("water": polygons) and ferry routes ("ferry": lines, which join banks
        but cut nothing).
    pois
        Points: ``id``, ``kind`` (see :data:`POI_KINDS`, else "other"),
        ``amenity``, ``shop``, ``office``, ``name``.
    landuse
        Land-use polygons: ``id``, ``landuse`` (the tag's value).
    entrances
        Entrance and door nodes: ``id``, ``entrance``, ``door``, ``access``.
    fences
        Fence lines (``kind`` "fence"): barriers for walkers, not grid edges.
    building_nodes
        Buildings mapped only as a point (nodes tagged ``building``), not read.
    incomplete_buildings
        Ids of building ways that gave no footprint: not closed, or with nodes
        missing from a clipped extract.
    """

    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame = field(default_factory=lambda: _empty(("id", "landuse")))
    entrances: gpd.GeoDataFrame = field(default_factory=lambda: _frame([], []))
    fences: gpd.GeoDataFrame = field(default_factory=lambda: _frame([], []))
    building_nodes: int = 0
    incomplete_buildings: list[str] = field(default_factory=list)


def _empty(columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=[], crs=WGS84)


def is_osm_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an OSM file by its suffix: XML or PBF, XML maybe compressed.

    ``.osm``, ``.osm.xml``, ``.osm.pbf`` and ``.pbf``, and ``.osm``/``.xml``
    followed by ``.gz`` or ``.bz2`` (``.osm.gz``, ``.osm.xml.bz2``, …).
    """
    name = Path(path).name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            return name.endswith((".osm", ".xml"))
    return name.endswith(OSM_SUFFIXES)


def osm_format(path: str | os.PathLike[str]) -> str:
    """The libosmium format of an OSM file, from its first bytes (else its name).

    Returns ``"pbf"``, ``"osm"`` (XML), ``"osm.gz"`` or ``"osm.bz2"``; a file
    named ``.osm`` that is really gzip-compressed is read all the same.
    """
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    if head.startswith(b"BZh"):
        return "osm.bz2"
    if head[4:14] == b"\n\tOSMHeader" or b"OSMHeader" in head:
        return "pbf"
    if head.lstrip().startswith(b"<"):
        return "osm"
    return "pbf" if Path(path).name.lower().endswith(".pbf") else "osm"


def read_osm(path: str | os.PathLike[str]) -> OsmLayers:
    """Read buildings, streets, barriers and POIs from an OSM XML or PBF file.

    Ways with references to nodes missing from a clipped extract are kept with
    the nodes that exist, or dropped when fewer than two remain; multipolygon
    relations with missing members are dropped.

    Parameters
    ----------
    path
        OSM XML (``.osm``, ``.osm.xml``; gzip- or bzip2-compressed as well:
        ``.osm.gz``, ``.osm.xml.bz2``, …) or PBF (``.osm.pbf``); the format is
        read from the file's first bytes.

    Returns
    -------
    OsmLayers
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path} does not exist or is not a file")
    fmt = osm_format(path)
    try:
        layers = _read_layers(path, fmt)
    except RuntimeError as exc:
        if "out of order" not in str(exc):
            raise _unreadable(path, fmt, exc) from exc
        # JOSM saves and merged extracts list objects unsorted: sort a copy, read that
        with tempfile.TemporaryDirectory(prefix="gridplan-osm-") as tmp:
            try:
                layers = _read_layers(_sorted_copy(path, fmt, Path(tmp)), "pbf")
            except RuntimeError as exc2:
                raise _unreadable(path, fmt, exc2) from exc2
    if layers.buildings.empty and layers.streets.empty:
        raise EmptyLayerError(f"{path} holds neither buildings nor streets: is it an OSM extract?")
    if layers.buildings.empty and layers.incomplete_buildings:
        raise EmptyLayerError(
            f"{path} has {len(layers.incomplete_buildings)} building outlines but none is "
            "complete: their nodes are missing from the file (an extract cut by a bounding "
            "box without the ways' nodes). Download it again with complete ways: Overpass "
            "`(way[building]({{bbox}}); >;); out;`, `osmium extract` (complete_ways, the "
            "default) or openstreetmap.org's Export"
        )
    if layers.buildings.empty and layers.building_nodes:
        raise EmptyLayerError(
            f"{path} maps its {layers.building_nodes} buildings only as points (nodes tagged "
            "building=*), without footprints: grids need building outlines; trace the "
            "footprints in OpenStreetMap or give a GeoPackage with a buildings polygon layer"
        )
    return layers


def _unreadable(path: Path, fmt: str, exc: Exception) -> UnreadableFileError:
    what = {"pbf": "PBF", "osm": "XML"}.get(fmt, f"XML ({fmt.split('.')[-1]})")
    return UnreadableFileError(
        f"cannot read {path} as OSM {what}: {exc}; download the extract again "
        "(a cut-off or renamed file reads like this)"
    )


def _sorted_copy(path: Path, fmt: str, folder: Path) -> Path:
    """``path`` with its objects sorted by type and id, as a PBF in ``folder``."""
    import osmium

    merge = osmium.MergeInputReader()
    merge.add_buffer(path.read_bytes(), fmt)
    target = folder / "sorted.osm.pbf"
    writer = osmium.SimpleWriter(str(target))
    try:
        merge.apply(writer, simplify=True)
    finally:
        writer.close()
    return target


def _read_layers(path: Path, fmt: str) -> OsmLayers:
    """One pass of pyosmium over a sorted OSM file; raises RuntimeError on a bad file."""
    import osmium

    rows: dict[str, list[Any]] = {k: [] for k in ("b", "s", "x", "p", "l", "e", "f", "n", "w")}
    wkb: dict[str, list[bytes]] = {k: [] for k in ("b", "s", "x", "p", "l", "e", "f")}
    factory = osmium.geom.WKBFactory()
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt))
        .with_locations()
        .with_areas()
        .with_filter(osmium.filter.EmptyTagFilter())  # untagged nodes stay in C++
    )
    for obj in processor:
        if isinstance(obj, osmium.osm.Node):
            _take_node(obj, factory, rows, wkb)
        elif isinstance(obj, osmium.osm.Way):
            _take_way(obj, factory, rows, wkb)
        elif isinstance(obj, osmium.osm.Area):
            _take_area(obj, factory, rows, wkb)
    return OsmLayers(
        buildings=_frame(rows["b"], wkb["b"]),
        streets=_frame(rows["s"], wkb["s"]),
        barriers=_frame(rows["x"], wkb["x"]),
        pois=_frame(rows["p"], wkb["p"]),
        landuse=_frame(rows["l"], wkb["l"]) if rows["l"] else _empty(("id", "landuse")),
        entrances=_frame(rows["e"], wkb["e"]),
        fences=_frame(rows["f"], wkb["f"]),
        building_nodes=len(rows["n"]),
        incomplete_buildings=_incomplete(rows["w"], rows["b"]),
    )


def _incomplete(building_ways: list[str], buildings: list[dict[str, Any]]) -> list[str]:
    """Building ways that gave no footprint: not closed, or nodes missing from the file."""
    read = {row["id"] for row in buildings}
    return [way for way in building_ways if way not in read]


def _tags(tags: dict[str, str], columns: tuple[tuple[str, str], ...]) -> dict[str, str | None]:
    """The values of ``columns`` ((column, key) pairs) in ``tags``, None where missing."""
    return {column: tags.get(key) for column, key in columns}


def _tag_dict(obj: Any) -> dict[str, str]:
    """The tags of an OSM object as a plain dict (one pass instead of a lookup per key).

    The tags are taken by count: pyosmium ends an iteration by raising
    StopIteration from C++, which cost more than reading the tags themselves.
    """
    tags = obj.tags
    it = iter(tags)
    return {tag.k: tag.v for tag in (next(it) for _ in range(len(tags)))}


def _take_node(obj: Any, factory: Any, rows: dict, wkb: dict) -> None:
    if len(obj.tags) == 0:  # most nodes are untagged way vertices
        return
    tags = _tag_dict(obj)
    if tags.get("building", "no") != "no" and "n" in rows:  # where the caller tallies them
        rows["n"].append({})  # counted only: a point has no footprint to plan with
    _take_entrance(obj, tags, factory, rows, wkb)
    kind = _poi_kind(tags)
    if kind is None:
        return
    rows["p"].append(
        {
            "id": f"n{obj.id}",
            "kind": kind,
            "amenity": tags.get("amenity"),
            "shop": tags.get("shop"),
            "office": tags.get("office"),
            "name": tags.get("name"),
        }
    )
    wkb["p"].append(factory.create_point(obj))


def _take_way(obj: Any, factory: Any, rows: dict, wkb: dict) -> None:
    tags = _tag_dict(obj)
    highway = tags.get("highway")
    if highway in STREET_HIGHWAYS and tags.get("area") != "yes":
        geom = _linestring(obj, factory)
        if geom is not None:
            rows["s"].append({"id": f"w{obj.id}", **_tags(tags, _STREET_COLUMNS)})
            wkb["s"].append(geom)
        return
    if tags.get("building", "no") != "no":  # a footprint: read as an area
        if "w" in rows:  # where the caller tallies them, to name those that give none
            rows["w"].append(f"w{obj.id}")
        return
    _take_fence(obj, tags, factory, rows, wkb)
    kind = _barrier_line_kind(tags)
    if kind is not None:
        geom = _linestring(obj, factory)
        if geom is not None:
            rows["x"].append({"id": f"w{obj.id}", "kind": kind, "width": tags.get("width")})
            wkb["x"].append(geom)


def _take_entrance(obj: Any, tags: dict[str, str], factory: Any, rows: dict, wkb: dict) -> None:
    """Entrance and door nodes, where walks into buildings start (see gis.access)."""
    if "entrance" not in tags and "door" not in tags:
        return
    rows["e"].append({"id": f"n{obj.id}", **_tags(tags, _ENTRANCE_COLUMNS)})
    wkb["e"].append(factory.create_point(obj))


def _take_fence(obj: Any, tags: dict[str, str], factory: Any, rows: dict, wkb: dict) -> None:
    """Fence lines: walkers cannot cross them, grids need not follow them."""
    if tags.get("barrier") != "fence":
        return
    geom = _linestring(obj, factory)
    if geom is not None:
        rows["f"].append({"id": f"w{obj.id}", "kind": "fence"})
        wkb["f"].append(geom)


def _take_area(obj: Any, factory: Any, rows: dict, wkb: dict) -> None:
    tags = _tag_dict(obj)
    oid = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
    is_building = is_building_area(tags)
    is_water = _is_water_area(tags)
    landuse = tags.get("landuse")
    kind = _poi_kind(tags)
    if not (is_building or is_water or kind or landuse):
        return
    try:
        geom = factory.create_multipolygon(obj)
    except RuntimeError:
        return  # incomplete ring in a clipped extract
    if is_building:
        rows["b"].append({"id": oid, **_tags(tags, _BUILDING_COLUMNS)})
        wkb["b"].append(geom)
    if is_water:
        rows["x"].append({"id": oid, "kind": "water", "width": None})
        wkb["x"].append(geom)
    if landuse:
        rows["l"].append({"id": oid, "landuse": landuse})
        wkb["l"].append(geom)
    if kind:
        rows["p"].append(
            {
                "id": oid,
                "kind": kind,
                "amenity": tags.get("amenity"),
                "shop": tags.get("shop"),
                "office": tags.get("office"),
                "name": tags.get("name"),
                "_area": True,
            }
        )
        wkb["p"].append(geom)


def is_building_area(tags: dict[str, str]) -> bool:
    """Whether an area with these tags is a building's footprint (not a building part)."""
    return tags.get("building", "no") != "no" and "building:part" not in tags


def building_columns(tags: list[dict[str, str]]) -> dict[str, list[str | None]]:
    """The buildings' tag columns (those of :data:`OsmLayers.buildings`) of many areas' tags."""
    return {column: [t.get(key) for t in tags] for column, key in _BUILDING_COLUMNS}


def _linestring(obj: Any, factory: Any) -> bytes | None:
    import osmium

    try:
        return factory.create_linestring(obj)
    except (osmium.InvalidLocationError, RuntimeError):
        return _partial_linestring(obj)


def _partial_linestring(obj: Any) -> bytes | None:
    """A way whose nodes are partly outside a clipped extract: keep the valid ones."""
    coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
    if len(coords) < 2:
        return None
    return shapely.to_wkb(shapely.LineString(coords))


def _is_water_area(tags: Any) -> bool:
    """Open water drawn as an area: lakes, rivers, docks, reservoirs (not culverts)."""
    if tags.get("tunnel") or tags.get("covered") == "yes":
        return False
    return (
        tags.get("natural") == "water"
        or tags.get("waterway") in ("riverbank", "dock")
        or tags.get("landuse") in ("reservoir", "basin")
    )


def _barrier_line_kind(tags: Any) -> str | None:
    if tags.get("route") == "ferry":
        return "ferry"
    if tags.get("natural") == "coastline":
        return "coastline"
    if tags.get("tunnel") in ("yes", "building_passage", "culvert") or tags.get(
        "layer", "0"
    ).startswith("-"):
        return None
    railway = tags.get("railway")
    if railway in ("rail", "light_rail", "narrow_gauge", "monorail"):
        # tracks of a yard or siding fan out and end at buffer stops: only lines cut blocks
        if tags.get("service") in ("yard", "siding", "spur", "crossover"):
            return None
        return "railway"
    if tags.get("waterway") in ("river", "canal"):
        return "waterway"
    if tags.get("barrier") in ("wall", "city_wall"):
        return "wall"
    return None


def _poi_kind(tags: Any) -> str | None:
    """The ``kind`` of a POI (:data:`POI_KINDS`, the first key in its order; "other"), or None."""
    for key, kinds in _POI_KINDS_BY_KEY.items():
        value = tags.get(key)
        if value in kinds:
            return kinds[value]
    if any(k in tags for k in POI_KEYS):
        return "other"
    return None


def from_wkb(wkb: list[Any]) -> np.ndarray:
    """The geometries of WKB as pyosmium writes it (hex text) or shapely (bytes), at once.

    GEOS reads hex text about ten times slower than bytes, so the hex becomes
    bytes first.
    """
    blobs = [bytes.fromhex(w) if isinstance(w, str) else w for w in wkb]
    return shapely.from_wkb(np.array(blobs, dtype=object)) if blobs else np.array([], dtype=object)


def _frame(rows: list[dict[str, Any]], wkb: list[bytes]) -> gpd.GeoDataFrame:
    geoms = from_wkb(wkb)
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=WGS84)
    if "_area" in frame.columns:  # POIs mapped as areas become their inside point
        areas = frame["_area"].fillna(False).astype(bool).to_numpy()
        frame.loc[areas, "geometry"] = frame.geometry[areas].representative_point()
        frame = frame.drop(columns="_area")
    return frame


def read_vector(
    path: str | os.PathLike[str], *, layer: str | None = None, what: str = "layer"
) -> gpd.GeoDataFrame:
    """Read a vector file (GeoPackage, GeoJSON, Shapefile or zipped Shapefile).

    Parameters
    ----------
    path
        The file.
    layer
        Layer name inside a multi-layer file (GeoPackage).
    what
        What the layer is, for error messages ("community boundaries").

    Returns
    -------
    GeoDataFrame
        In WGS 84, with invalid geometries left as they are (repair is the
        caller's, so that it can count them).
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableFileError(f"the {what} file {path} does not exist")
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises its own and GDAL's errors
        raise UnreadableFileError(f"cannot read the {what} file {path}: {exc}") from exc
    if gdf.crs is None:
        raise CRSError(
            f"the {what} file {path} has no coordinate reference system: "
            "add a .prj (Shapefile) or set the CRS in the file, then try again"
        )
    if gdf.empty:
        raise EmptyLayerError(f"the {what} file {path} holds no features")
    if _dbf_without_cpg(path):  # a .dbf without its code page is read as Latin-1
        for column in gdf.columns:
            if column != gdf.geometry.name and pd.api.types.is_string_dtype(gdf[column]):
                gdf[column] = redecode_latin1(gdf[column])
    return gdf.to_crs(WGS84)


def _dbf_without_cpg(path: Path) -> bool:
    """Whether ``path`` is a Shapefile (or a zip of one) without its ``.cpg``."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        return not path.with_suffix(".cpg").exists() and not path.with_suffix(".CPG").exists()
    if suffix == ".zip":
        import zipfile

        try:
            names = [n.lower() for n in zipfile.ZipFile(path).namelist()]
        except (zipfile.BadZipFile, OSError):
            return False
        return any(n.endswith(".dbf") for n in names) and not any(n.endswith(".cpg") for n in names)
    return False


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a multi-layer vector file."""
    import pyogrio

    try:
        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # pyogrio raises several types
        raise UnreadableFileError(f"cannot list the layers of {path}: {exc}") from exc
