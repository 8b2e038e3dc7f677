"""Fetch any place from OpenStreetMap with osmnx and write an area folder that builds.

:func:`fetch_area` is the flow of ``gridplan fetch PLACE --out FOLDER``, the
only part of gridplan that reaches the internet, and only when asked: it
geocodes a place name with Nominatim (or reads a polygon file), downloads the
walk network's streets and the buildings, water, railways, points of interest
and administrative boundaries inside it from the Overpass API, and writes an
area folder: ``area.toml``, ``study_area.geojson``, ``extract.osm`` (OSM XML,
the elements as downloaded, read by ``gridplan build`` like any extract) and
``SOURCE.txt`` with the ODbL attribution and the query date.

Every request goes through osmnx, so its settings apply (``overpass_url``,
``nominatim_url``, ``cache_folder``, ``use_cache``, ``requests_timeout``,
``overpass_rate_limit``); :class:`FetchSettings` sets them for one fetch.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import FetchError, InputError
from gis.crs import WGS84
from gis.outputs import staged_folder

ATTRIBUTION = (
    "OpenStreetMap data, © OpenStreetMap contributors, available under the Open Database "
    "License (ODbL) 1.0: https://www.openstreetmap.org/copyright"
)
#: What is downloaded besides the walk network (osmnx ``tags`` dictionaries).
FEATURE_TAGS: dict[str, dict[str, bool | str | list[str]]] = {
    "buildings": {"building": True},
    "water": {"natural": "water", "waterway": ["river", "canal", "riverbank"]},
    "railways": {"railway": ["rail", "light_rail", "narrow_gauge", "monorail"]},
    "walls": {"barrier": ["wall", "city_wall"]},
    "points of interest": {
        "amenity": True,
        "office": "government",
        "healthcare": True,
        "shop": True,
        "tourism": True,
        "leisure": True,
    },
    # sub-districts (街道, level 8 or 9) and communities (社区, 10) where mapped; not the
    # country or province, whose boundary relations are too large to download
    "administrative boundaries": {"admin_level": ["7", "8", "9", "10", "11"]},
}
Progress = Callable[[str], None]
#: A PLACE ending so is a polygon file, not a name to geocode.
_POLYGON_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")


@dataclass(frozen=True)
class FetchSettings:
    """osmnx settings for one fetch; ``None`` keeps osmnx's own value.

    Attributes
    ----------
    overpass_url, nominatim_url
        The Overpass API and Nominatim endpoints.
    cache_folder
        Where osmnx caches responses.
    timeout
        Seconds to wait for a server (osmnx ``requests_timeout``).
    """

    overpass_url: str | None = None
    nominatim_url: str | None = None
    cache_folder: str | os.PathLike[str] | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_area` wrote: the folder and the counts of elements."""

    folder: Path
    name: str
    counts: dict[str, int]
    queried: str


def fetch_area(
    place: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    settings: FetchSettings | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Download a place from OpenStreetMap (osmnx) and write it as an area folder.

    Parameters
    ----------
    place
        A place name to geocode (``"新街口街道, 南京"``, ``"Kallio, Helsinki"``)
        or a polygon file (GeoJSON, GeoPackage, Shapefile).
    out_dir
        The area folder to write (replaced as a whole when the fetch succeeds).
    settings
        osmnx settings for this fetch.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    FetchResult
    """
    step = progress or (lambda _name: None)
    queried = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    with _osmnx_settings(settings or FetchSettings()) as ox:
        step("finding the place")
        name, polygon = resolve_place(place)
        step("downloading streets (walk network)")
        elements = ElementSet()
        elements.add(_overpass_network(ox, polygon))
        for what, tags in FEATURE_TAGS.items():
            step(f"downloading {what}")
            elements.add(_overpass_features(ox, polygon, tags))
        urls = {"overpass": ox.settings.overpass_url, "nominatim": ox.settings.nominatim_url}
    step("writing the area folder")
    folder = write_area_folder(out_dir, name, polygon, elements, place, queried, urls)
    return FetchResult(folder=folder, name=name, counts=elements.counts(), queried=queried)


def resolve_place(place: str | os.PathLike[str]) -> tuple[str, BaseGeometry]:
    """The name and polygon (WGS 84) of a place name (Nominatim) or a polygon file.

    Parameters
    ----------
    place
        A place name, or a path to a polygon file.

    Returns
    -------
    (str, Polygon or MultiPolygon)
    """
    from gis.sources import read_vector

    path = Path(place)
    if path.suffix.lower() in _POLYGON_SUFFIXES or path.exists():
        frame = read_vector(path, what="place polygon")
        polygon = _polygonal(frame.geometry.values, str(path))
        return path.name.split(".")[0], polygon
    import osmnx as ox

    text = str(place).strip()
    if not text:
        raise InputError("give a place name (e.g. 'Kallio, Helsinki') or a polygon file")
    try:
        found = ox.geocode_to_gdf(text)
    except ox._errors.InsufficientResponseError as exc:
        raise InputError(
            f"Nominatim found no place called {text!r}: check the spelling, add the city "
            "('Kallio, Helsinki'), or give a polygon file instead"
        ) from exc
    except TypeError as exc:  # osmnx: the best match is a point or a line, not an area
        raise InputError(
            f"Nominatim knows {text!r} only as a point or a line, not an area: give a "
            "larger place (a district or city) or a polygon file"
        ) from exc
    return text, _polygonal(found.geometry.values, text)


def _polygonal(geoms: Iterable[Any], what: str) -> BaseGeometry:
    parts = [p for g in geoms for p in shapely.get_parts(shapely.make_valid(g))]
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise InputError(f"{what} holds no polygon: give an area, not a point or a line")
    return shapely.union_all(polys)


@contextmanager
def _osmnx_settings(settings: FetchSettings) -> Iterator[Any]:
    """osmnx with ``settings`` applied; its settings and the socket module restored after.

    osmnx pins a host to one address by replacing ``socket.getaddrinfo``; the
    original is put back so that nothing outlives the fetch.
    """
    import osmnx as ox

    changes = {
        "overpass_url": settings.overpass_url,
        "nominatim_url": settings.nominatim_url,
        "cache_folder": None if settings.cache_folder is None else str(settings.cache_folder),
        "requests_timeout": settings.timeout,
    }
    saved = {k: getattr(ox.settings, k) for k in changes}
    getaddrinfo = socket.getaddrinfo
    try:
        for key, value in changes.items():
            if value is not None:
                setattr(ox.settings, key, value)
        yield ox
    except Exception as exc:
        clear = _network_error(exc, ox)
        if clear is exc:
            raise
        raise clear from exc
    finally:
        socket.getaddrinfo = getaddrinfo
        for key, value in saved.items():
            setattr(ox.settings, key, value)


def _network_error(exc: Exception, ox: Any) -> Exception:
    """A clear error for a server that cannot be reached or refuses; others pass through."""
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return FetchError(
            f"the OpenStreetMap servers did not answer within {ox.settings.requests_timeout} s "
            "(osmnx requests_timeout): try again later, raise --timeout, or fetch a smaller place"
        )
    if isinstance(exc, requests.exceptions.ConnectionError | OSError):
        return FetchError(
            f"cannot reach the OpenStreetMap servers ({ox.settings.nominatim_url}, "
            f"{ox.settings.overpass_url}): there seems to be no network. gridplan fetch is the "
            "only command that needs the internet; connect, or use --overpass-url/"
            "--nominatim-url for a mirror, or download an extract and run gridplan build on it"
        )
    if isinstance(exc, ox._errors.ResponseStatusCodeError):
        return FetchError(f"the OpenStreetMap server refused the request: {exc}")
    return exc


def _overpass_network(ox: Any, polygon: BaseGeometry) -> Iterator[dict[str, Any]]:
    """Overpass answers for the walk network's ways and their nodes (osmnx's query)."""
    from osmnx import _overpass

    _ = ox  # osmnx's settings are applied by the caller
    return _overpass._download_overpass_network(polygon, "walk", None)


def _overpass_features(
    ox: Any, polygon: BaseGeometry, tags: dict[str, bool | str | list[str]]
) -> Iterator[dict[str, Any]]:
    """Overpass answers for features with ``tags``, with the nodes and ways they use."""
    from osmnx import _overpass

    _ = ox
    return _overpass._download_overpass_features(polygon, tags)


class ElementSet:
    """OSM elements from several Overpass answers, each kept once."""

    def __init__(self) -> None:
        self.nodes: dict[int, dict[str, Any]] = {}
        self.ways: dict[int, dict[str, Any]] = {}
        self.relations: dict[int, dict[str, Any]] = {}

    def add(self, answers: Iterable[dict[str, Any]]) -> None:
        """Add the elements of Overpass JSON answers."""
        tables = {"node": self.nodes, "way": self.ways, "relation": self.relations}
        for answer in answers:
            for element in answer.get("elements", []):
                table = tables.get(element.get("type"))
                if table is not None:
                    table.setdefault(int(element["id"]), element)

    def counts(self) -> dict[str, int]:
        """How many nodes, ways and relations, and how many of the ways are buildings."""
        buildings = sum(1 for w in self.ways.values() if "building" in w.get("tags", {}))
        return {
            "nodes": len(self.nodes),
            "ways": len(self.ways),
            "relations": len(self.relations),
            "building_ways": buildings,
        }

    def write_xml(self, path: Path) -> None:
        """Write the elements as OSM XML 0.6 (nodes, then ways, then relations, by id)."""
        with path.open("w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            fh.write('<osm version="0.6" generator="gridplan fetch (osmnx)">\n')
            for nid in sorted(self.nodes):
                n = self.nodes[nid]
                head = f'  <node id="{nid}" lat="{n["lat"]:.7f}" lon="{n["lon"]:.7f}"'
                fh.write(_element(head, "node", [], n.get("tags", {})))
            for wid in sorted(self.ways):
                w = self.ways[wid]
                refs = [f'    <nd ref="{r}"/>\n' for r in w.get("nodes", [])]
                fh.write(_element(f'  <way id="{wid}"', "way", refs, w.get("tags", {})))
            for rid in sorted(self.relations):
                r = self.relations[rid]
                members = [
                    f'    <member type="{m["type"]}" ref="{m["ref"]}" '
                    f"role={quoteattr(m.get('role', ''))}/>\n"
                    for m in r.get("members", [])
                ]
                fh.write(
                    _element(f'  <relation id="{rid}"', "relation", members, r.get("tags", {}))
                )
            fh.write("</osm>\n")


def _element(head: str, kind: str, children: list[str], tags: dict[str, str]) -> str:
    tag_lines = [f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>\n" for k, v in tags.items()]
    if not children and not tag_lines:
        return f"{head}/>\n"
    return f"{head}>\n{''.join(children)}{''.join(tag_lines)}  </{kind}>\n"


def write_area_folder(
    out_dir: str | os.PathLike[str],
    name: str,
    polygon: BaseGeometry,
    elements: ElementSet,
    place: str | os.PathLike[str],
    queried: str,
    urls: dict[str, str],
) -> Path:
    """Write the area folder atomically (a temporary folder renamed into place).

    Parameters
    ----------
    out_dir
        The folder to write.
    name
        The area's name.
    polygon
        The study area (WGS 84).
    elements
        The downloaded elements.
    place
        What the user asked for (name or polygon file).
    queried
        When the servers were asked (ISO 8601, UTC).
    urls
        The Overpass and Nominatim endpoints used.

    Returns
    -------
    Path
        The folder.
    """
    import json

    if not elements.ways:
        raise FetchError(
            f"OpenStreetMap has no streets or buildings inside {name!r}: check the place, "
            "or draw a larger polygon"
        )
    with staged_folder(out_dir) as staging:
        elements.write_xml(staging / "extract.osm")
        gpd.GeoDataFrame({"name": [name]}, geometry=[polygon], crs=WGS84).to_file(
            staging / "study_area.geojson", driver="GeoJSON", engine="pyogrio"
        )
        language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in name) else "en"
        (staging / "area.toml").write_text(
            "# Area fetched from OpenStreetMap by `gridplan fetch` (see SOURCE.txt).\n"
            f"name = {json.dumps(name, ensure_ascii=False)}\n"
            f'language = "{language}"\n'
            'osm = "extract.osm"\n'
            'study_area = "study_area.geojson"\n'
            "# 6-digit admin division and 3-digit sub-district codes: set your own.\n"
            'admin_code = "000000"\n'
            'subdistrict_code = "001"\n',
            encoding="utf-8",
        )
        counts = elements.counts()
        (staging / "SOURCE.txt").write_text(
            f"extract.osm: {ATTRIBUTION}\n"
            f"What: {name} (asked for: {place}), {counts['building_ways']:,} building ways, "
            f"{counts['ways']:,} ways, {counts['nodes']:,} nodes, "
            f"{counts['relations']:,} relations.\n"
            f"Where from: the Overpass API at {urls['overpass']} (the place found by Nominatim "
            f"at {urls['nominatim']}), queried {queried} through osmnx by `gridplan fetch`.\n",
            encoding="utf-8",
        )
    return Path(out_dir)
