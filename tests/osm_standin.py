"""A small Overpass API and Nominatim stand-in on 127.0.0.1, answering from a bundled extract.

``gridplan fetch`` goes through osmnx to the Overpass API and Nominatim.  In
tests it talks to :class:`OsmStandIn` instead: an HTTP server on loopback that
holds one OSM file in memory and answers

* ``GET  /api/status``: one free slot (osmnx asks before each query);
* ``POST /api/interpreter``: the subset of Overpass QL osmnx sends — a union of
  ``node``/``way``/``relation`` selectors with tag filters (``["k"]``,
  ``["k"="v"]``, ``["k"~"re"]``, ``["k"!~"re"]``) and a ``(poly:"lat lon …")``
  area, each followed by a recursion down (``>``) to the nodes of ways and the
  members of relations; ``out;`` as JSON;
* ``GET  /search?q=…``: the places it was given by name, as Nominatim answers
  with ``polygon_geojson=1``.

Every request is recorded in :attr:`OsmStandIn.requests`.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

_SELECTOR = re.compile(r"(node|way|relation)((?:\[[^\]]*\])*)\(poly:\s*['\"]([^'\"]*)['\"]\)")
_FILTER = re.compile(r"\[\s*(['\"])(.*?)\1\s*(?:(!?[=~])\s*(['\"])(.*?)\4)?\s*\]")


class OsmData:
    """An OSM file in memory: nodes (lon, lat, tags), ways (refs, tags), relations."""

    def __init__(self, path: Path) -> None:
        import osmium

        self.nodes: dict[int, tuple[float, float, dict[str, str]]] = {}
        self.ways: dict[int, tuple[list[int], dict[str, str]]] = {}
        self.relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = {}
        for obj in osmium.FileProcessor(str(path)):
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node():
                if obj.location.valid():
                    self.nodes[obj.id] = (obj.location.lon, obj.location.lat, tags)
            elif obj.is_way():
                refs = [n.ref for n in obj.nodes if n.ref in self.nodes]
                if refs:
                    self.ways[obj.id] = (refs, tags)
            elif obj.is_relation():
                members = [(m.type, m.ref, m.role) for m in obj.members]
                self.relations[obj.id] = (members, tags)
        self._way_lines = {
            wid: shapely.LineString([self.nodes[r][:2] for r in refs])
            if len(refs) > 1
            else shapely.Point(self.nodes[refs[0]][:2])
            for wid, (refs, _tags) in self.ways.items()
        }

    def select(
        self, kind: str, filters: list[tuple[str, str | None, str | None]], area: BaseGeometry
    ) -> set[tuple[str, int]]:
        """Elements of ``kind`` whose tags pass ``filters`` and that meet ``area``."""
        shapely.prepare(area)
        if kind == "node":
            ids = [n for n, (_x, _y, tags) in self.nodes.items() if tags and _passes(tags, filters)]
            xy = np.array([self.nodes[n][:2] for n in ids]).reshape(-1, 2)
            inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1]) if len(ids) else []
            return {("n", n) for n, ok in zip(ids, inside, strict=True) if ok}
        if kind == "way":
            ids = [w for w, (_refs, tags) in self.ways.items() if _passes(tags, filters)]
            lines = np.array([self._way_lines[w] for w in ids], dtype=object)
            meets = shapely.intersects(area, lines) if len(ids) else []
            return {("w", w) for w, ok in zip(ids, meets, strict=True) if ok}
        found: set[tuple[str, int]] = set()
        for rid, (members, tags) in self.relations.items():
            if _passes(tags, filters) and any(
                self._member_meets(t, ref, area) for t, ref, _role in members
            ):
                found.add(("r", rid))
        return found

    def _member_meets(self, kind: str, ref: int, area: BaseGeometry) -> bool:
        if kind == "w" and ref in self._way_lines:
            return bool(area.intersects(self._way_lines[ref]))
        if kind == "n" and ref in self.nodes:
            return bool(area.contains(shapely.Point(self.nodes[ref][:2])))
        return False

    def down(self, found: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Overpass ``>``: the members of relations and the nodes of ways, recursively."""
        out = set(found)
        stack = list(found)
        while stack:
            kind, oid = stack.pop()
            children: list[tuple[str, int]] = []
            if kind == "w":
                children = [("n", r) for r in self.ways[oid][0]]
            elif kind == "r":
                children = [(t, ref) for t, ref, _ in self.relations[oid][0]
                            if (t == "n" and ref in self.nodes) or (t == "w" and ref in self.ways)
                            or (t == "r" and ref in self.relations)]  # fmt: skip
            for child in children:
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def to_json(self, elements: set[tuple[str, int]]) -> dict[str, Any]:
        """An Overpass ``[out:json]`` answer with ``elements``."""
        names = {"n": "node", "w": "way", "r": "relation"}
        rows: list[dict[str, Any]] = []
        for kind, oid in sorted(elements, key=lambda e: ("nwr".index(e[0]), e[1])):
            row: dict[str, Any] = {"type": names[kind], "id": oid}
            if kind == "n":
                lon, lat, tags = self.nodes[oid]
                row.update(lat=lat, lon=lon)
            elif kind == "w":
                refs, tags = self.ways[oid]
                row["nodes"] = refs
            else:
                members, tags = self.relations[oid]
                row["members"] = [{"type": names[t], "ref": ref, "role": role}
                                  for t, ref, role in members]  # fmt: skip
            if tags:
                row["tags"] = tags
            rows.append(row)
        return {"version": 0.6, "generator": "gridplan Overpass stand-in", "elements": rows}


def _passes(tags: dict[str, str], filters: list[tuple[str, str | None, str | None]]) -> bool:
    for key, op, value in filters:
        have = tags.get(key)
        if op is None:
            if have is None:
                return False
        elif op == "=":
            if have != value:
                return False
        elif op == "~":
            if have is None or not re.search(value or "", have):
                return False
        elif op == "!~" and have is not None and re.search(value or "", have):
            return False
    return True


def parse_query(query: str) -> list[tuple[str, list[tuple[str, str | None, str | None]], Any]]:
    """The selectors of an osmnx Overpass query: (kind, tag filters, polygon)."""
    out = []
    for kind, filters, poly in _SELECTOR.findall(query):
        numbers = [float(v) for v in poly.split()]
        ring = [(numbers[i + 1], numbers[i]) for i in range(0, len(numbers), 2)]
        parsed = [
            (k, op or None, v if op else None) for _q, k, op, _q2, v in _FILTER.findall(filters)
        ]
        out.append((kind, parsed, shapely.Polygon(ring)))
    return out


class OsmStandIn:
    """Serve an OSM file as Overpass and a few named places as Nominatim, on 127.0.0.1.

    Parameters
    ----------
    extract
        The OSM file to answer from.
    places
        Names Nominatim knows, with their polygons (WGS 84).
    """

    def __init__(self, extract: Path, places: dict[str, BaseGeometry]) -> None:
        self.data = OsmData(extract)
        self.places = places
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> OsmStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def overpass(self, query: str) -> dict[str, Any]:
        """The answer to an osmnx Overpass query."""
        found: set[tuple[str, int]] = set()
        for kind, filters, area in parse_query(query):
            found |= self.data.down(self.data.select(kind, filters, area))
        return self.data.to_json(found)

    def search(self, q: str) -> list[dict[str, Any]]:
        """Nominatim ``/search`` results for ``q`` (exact name, case-insensitive)."""
        results = []
        for rank, (name, polygon) in enumerate(self.places.items()):
            if name.casefold() != q.strip().casefold():
                continue
            w, s, e, n = polygon.bounds
            c = polygon.representative_point()
            results.append({
                "place_id": rank + 1, "osm_type": "relation", "osm_id": rank + 1,
                "lat": str(c.y), "lon": str(c.x), "display_name": name,
                "class": "boundary", "type": "administrative", "importance": 0.5,
                "boundingbox": [str(s), str(n), str(w), str(e)],
                "geojson": mapping(polygon),
            })  # fmt: skip
        return results

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # quiet
                return

            def _send(self, status: int, body: Any, kind: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                standin.requests.append(f"GET {url.path}")
                if url.path.endswith("/status"):
                    status = "Connected as: 1\nCurrent time: now\nAnnounced endpoint: none\n"
                    self._send(
                        200, status + "Rate limit: 2\n2 slots available now.\n", "text/plain"
                    )
                elif url.path.endswith("/search"):
                    q = parse_qs(url.query).get("q", [""])[0]
                    self._send(200, standin.search(q))
                else:
                    self._send(404, {"error": f"no {url.path} here"})

            def do_POST(self) -> None:
                url = urlparse(self.path)
                standin.requests.append(f"POST {url.path}")
                size = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(size).decode())
                if not url.path.endswith("/interpreter"):
                    self._send(404, {"error": f"no {url.path} here"})
                    return
                self._send(200, standin.overpass(form.get("data", [""])[0]))

        return Handler
