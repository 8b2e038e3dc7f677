"""An independent per-piece walk computation for a real OSM extract.

Shares no code with :mod:`gis.network`, :mod:`gis.access`, :mod:`gis.paths`
or :mod:`gis.barriers`:

* topology from OSM node ids, every connected piece kept;
* entrances: an ``entrance=*``/``door=*`` node, or the end of a footway,
  within 0.5 m of the building's outline (distance to each outline);
* barriers read here from the OSM tags (motorways, trunk roads closed to
  walkers, railways, rivers and canals, water shores, walls, fences);
* snapping by brute force over every ground-level segment (not bridges or
  tunnels): the nearest segment whose leg crosses the fewest hard, then soft,
  barriers (``shapely.crosses`` on whole lines, and for an entrance no leg
  into its own building shrunk by 0.6 m), within 250 m beyond the nearest;
* edges split at every foot; one networkx Dijkstra per service point from a
  temporary node joined to its attachments, so no walk passes through a
  service point or a building.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import shapely
from pyproj import Transformer

SEARCH_M = 250.0
_WALK_TAGS = ("highway", "foot", "access", "service", "area", "tunnel", "bridge")
_FOOTWAYS = {"footway", "path", "steps", "pedestrian", "corridor"}
_RAIL = {"rail", "light_rail", "narrow_gauge", "monorail"}
_NOT_IN = {"no", "emergency", "exit"}
_PRIVATE = ("no", "private")


@dataclass
class Extract:
    """What the reference reads from one OSM file (WGS 84 coordinates)."""

    ways: list[dict]  # walkable street ways: nodes, coords, tags
    buildings: list[dict]  # closed building ways: id, nodes, polygon
    entrance_nodes: set[int]
    node_lonlat: dict[int, tuple[float, float]]
    hard: list[shapely.Geometry]
    soft: list[shapely.Geometry]


def read_extract(path: Path) -> Extract:
    """Streets, closed-way buildings, entrance nodes and barriers of an OSM file."""
    ex = Extract([], [], set(), {}, [], [])
    for obj in osmium.FileProcessor(str(path)).with_locations().with_areas():
        if obj.is_node():
            _read_node(obj, ex)
        elif obj.is_area():
            _read_water(obj, ex)
        elif obj.is_way():
            _read_way(obj, ex)
    return ex


def _read_node(obj, ex: Extract) -> None:
    tags = obj.tags
    usable = tags.get("entrance") not in _NOT_IN and tags.get("access") not in _PRIVATE
    if ("entrance" in tags or "door" in tags) and usable:
        ex.entrance_nodes.add(obj.id)
        ex.node_lonlat[obj.id] = (obj.location.lon, obj.location.lat)


def _read_water(obj, ex: Extract) -> None:
    if obj.tags.get("natural") == "water" or obj.tags.get("waterway") == "riverbank":
        try:
            poly = shapely.from_wkb(osmium.geom.WKBFactory().create_multipolygon(obj))
        except RuntimeError:
            return
        ex.hard.append(poly.boundary)


def _read_way(obj, ex: Extract) -> None:
    tags = obj.tags
    nodes = [(n.ref, n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
    if len(nodes) < 2:
        return
    line = shapely.LineString([(x, y) for _, x, y in nodes])
    highway = tags.get("highway")
    if highway:
        closed = tags.get("foot") in _PRIVATE or (
            tags.get("access") in _PRIVATE and tags.get("foot") != "yes"
        )
        surface = tags.get("tunnel") not in ("yes", "building_passage", "culvert")
        motorway = highway in ("motorway", "motorway_link")
        if surface and (motorway or (highway in ("trunk", "trunk_link") and closed)):
            ex.hard.append(line)
        record = {k: tags.get(k) for k in _WALK_TAGS}
        ex.ways.append({"nodes": [n for n, _, _ in nodes], "line": line, **record})
        return
    if tags.get("building", "no") != "no" and "building:part" not in tags:
        _read_building(obj.id, nodes, ex)
    if tags.get("tunnel") in ("yes", "building_passage") or tags.get("layer", "0").startswith("-"):
        return
    if tags.get("railway") in _RAIL or tags.get("waterway") in ("river", "canal"):
        ex.hard.append(line)
    elif tags.get("barrier") in ("wall", "city_wall", "fence"):
        ex.soft.append(line)


def _read_building(way_id: int, nodes: list[tuple[int, float, float]], ex: Extract) -> None:
    ring = [(x, y) for _, x, y in nodes]
    if len(ring) >= 4 and ring[0] == ring[-1]:
        poly = shapely.Polygon(ring)
        if poly.is_valid and poly.area > 0:
            nodes_xy = {n: (x, y) for n, x, y in nodes}
            ex.buildings.append({"id": f"w{way_id}", "nodes": nodes_xy, "polygon": poly})


def _walkable(way: dict) -> bool:
    """The walk rules of docs/coverage.md, written out again."""
    foot_yes = way["foot"] in ("yes", "designated", "permissive", "official")
    return not (
        way["highway"]
        in {
            "motorway",
            "motorway_link",
            "construction",
            "proposed",
            "planned",
            "abandoned",
            "razed",
            "raceway",
            "bus_guideway",
            "busway",
            "escape",
        }
        or way["foot"] in ("no", "private")
        or ((way["access"] in ("no", "private") or way["service"] == "private") and not foot_yes)
        or way["area"] == "yes"
        or (way["highway"] == "cycleway" and not foot_yes)
    )


def reference_walks(
    ex: Extract, services: list[int], crs
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest and second-nearest service walk (m) per building of ``ex``.

    ``services`` are indices of buildings that hold a service point.  Also
    returns which buildings and which service points have a tied attachment
    (two segments equally near: either is right).
    """
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def proj(geom):
        return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    net = _segments(ex, tr)
    hard = np.array([proj(g) for g in ex.hard], dtype=object)
    soft = np.array([proj(g) for g in ex.soft], dtype=object)
    polys = [proj(b["polygon"]) for b in ex.buildings]
    candidates = np.array(
        [tr.transform(*ex.node_lonlat[n]) for n in sorted(ex.entrance_nodes)]
        + [tr.transform(*end) for end in net["footway_ends"]]
    ).reshape(-1, 2)
    feet = []  # (owner kind, owner, edge, t, leg, tied)
    for kind, owners in (("b", range(len(ex.buildings))), ("s", services)):
        for j, i in enumerate(owners):
            for p, own in _attachments(polys[i], candidates):
                snap = _snap(p, own, net["a"], net["b"], net["ground"], hard, soft)
                feet.append((kind, i if kind == "b" else j, *snap))
    g = _split_graph(net, feet)
    n = len(ex.buildings)
    dists = np.full((len(services), n), np.inf)
    for j in range(len(services)):
        dists[j] = _walks_from(g, feet, j, n)
    part = np.sort(dists, axis=0)
    tied = np.zeros(n, dtype=bool)
    service_tied = np.zeros(len(services), dtype=bool)
    for kind, owner, *_, tie in feet:
        (tied if kind == "b" else service_tied)[owner] |= tie
    second = part[1] if len(services) > 1 else np.full(n, np.inf)
    return part[0], second, tied, service_tied


def _segments(ex: Extract, tr: Transformer) -> dict:
    """Walkable segments keyed by OSM node ids, projected, with ground flags and footway ends."""
    keys, seg, ground, footway_ends = [], [], [], set()
    canon: dict[tuple[float, float], int] = {}
    raised = ("yes", "viaduct", "boardwalk", "aqueduct", "cantilever", "suspension")
    for way in ex.ways:
        if not _walkable(way):
            continue
        lonlat = np.asarray(way["line"].coords)
        ids = [
            canon.setdefault((round(x, 7), round(y, 7)), n)
            for n, (x, y) in zip(way["nodes"], lonlat, strict=True)
        ]
        if way["highway"] in _FOOTWAYS:
            footway_ends |= {tuple(lonlat[0]), tuple(lonlat[-1])}
        xs, ys = tr.transform(*lonlat.T)
        on_ground = (
            way["tunnel"] not in ("yes", "culvert", "flooded") and way["bridge"] not in raised
        )
        for k in range(len(ids) - 1):
            if ids[k] != ids[k + 1]:
                keys.append((ids[k], ids[k + 1]))
                seg.append((xs[k], ys[k], xs[k + 1], ys[k + 1]))
                ground.append(on_ground)
    seg_xy = np.asarray(seg)
    return {
        "keys": keys,
        "a": seg_xy[:, :2],
        "b": seg_xy[:, 2:],
        "ground": np.flatnonzero(ground),
        "footway_ends": footway_ends,
    }


def _attachments(poly, candidates: np.ndarray) -> list[tuple[np.ndarray, object]]:
    """Entrance points within 0.5 m of the outline (legs may not enter the building
    shrunk by 0.6 m), else a point inside the building."""
    near = shapely.distance(poly.boundary, shapely.points(candidates)) <= 0.5
    if near.any():
        pts = {tuple(np.round(q, 2)): q for q in candidates[near]}
        return [(q, poly.buffer(-0.6)) for q in pts.values()]
    return [(shapely.get_coordinates(shapely.point_on_surface(poly))[0], None)]


def _split_graph(net: dict, feet: list) -> nx.Graph:
    """The segments as a networkx graph, every edge split at the feet on it."""
    g = nx.Graph()
    by_edge: dict[int, list[tuple[float, int]]] = {}
    for f, (_, _, e, t, _, _) in enumerate(feet):
        by_edge.setdefault(e, []).append((t, f))
    for e, (a, b) in enumerate(net["keys"]):
        length = float(np.hypot(*(net["b"][e] - net["a"][e])))
        prev, prev_t = a, 0.0
        for t, f in sorted(by_edge.get(e, [])):
            _add(g, prev, ("foot", f), t - prev_t)
            prev, prev_t = ("foot", f), t
        _add(g, prev, b, length - prev_t)
    return g


def _walks_from(g: nx.Graph, feet: list, j: int, n: int) -> np.ndarray:
    """Walk (m) from service point ``j`` to each of ``n`` buildings: one Dijkstra from
    a temporary node joined to the service's attachments."""
    src = ("svc", j)
    for f, (kind, owner, _, _, leg, _) in enumerate(feet):
        if kind == "s" and owner == j:
            _add(g, src, ("foot", f), leg)
    lengths = nx.single_source_dijkstra_path_length(g, src, weight="weight")
    g.remove_node(src)
    out = np.full(n, np.inf)
    for f, (kind, owner, _, _, leg, _) in enumerate(feet):
        if kind == "b":
            out[owner] = min(out[owner], lengths.get(("foot", f), np.inf) + leg)
    return out


def _add(g: nx.Graph, a, b, w: float) -> None:
    if a == b:
        return
    w = max(w, 0.0)  # a foot at the very end of an edge: -1e-13 of rounding
    if not g.has_edge(a, b) or g[a][b]["weight"] > w:
        g.add_edge(a, b, weight=float(w))


def _snap(p, own, seg_a, seg_b, ground_idx, hard, soft) -> tuple[int, float, float, bool]:
    """Brute force: (edge, position along it, leg, tied) of the best reachable ground
    segment; ``tied`` when another segment is as good to the millimetre."""
    a, b = seg_a[ground_idx], seg_b[ground_idx]
    ab = b - a
    l2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / l2, 0, 1)
    foot = a + t[:, None] * ab
    d = np.hypot(*(p - foot).T)
    order = np.argsort(d, kind="stable")
    order = order[d[order] <= d[order[0]] + SEARCH_M]
    disk = shapely.Point(p).buffer(d[order[0]] + SEARCH_M + 1)
    hard = hard[shapely.intersects(hard, disk)] if len(hard) else hard
    soft = soft[shapely.intersects(soft, disk)] if len(soft) else soft
    seen = []
    for k in order:
        if seen and min(seen)[:2] == (0, 0) and d[k] > min(seen)[2] + 1e-3:
            break
        leg = shapely.LineString([p, foot[k]])
        n_hard = int(shapely.crosses(leg, hard).sum())
        if own is not None and not own.is_empty and leg.intersects(own):
            n_hard += 1
        n_soft = int(shapely.crosses(leg, soft).sum())
        seen.append((n_hard, n_soft, d[k], int(k)))
    best = min(seen)
    # another segment as good to the millimetre, with its foot elsewhere: a tie
    tied = any(
        o[:2] == best[:2]
        and o[2] - best[2] < 1e-3
        and np.hypot(*(foot[o[3]] - foot[best[3]])) > 1e-3
        for o in seen
        if o is not best
    )
    best = (best, best[3])
    k = best[1]
    e = int(ground_idx[k])
    return e, float(t[k] * np.sqrt(l2[k])), float(d[k]), tied


def gridplan_inputs(path: Path, ex: Extract):
    """The same extract as gridplan layers: streets and buildings as read here,
    barriers and entrances as gridplan's own reader gives them."""
    import geopandas as gpd
    import pandas as pd

    from gis.sources import read_osm

    streets = gpd.GeoDataFrame(
        [{k: w[k] for k in _WALK_TAGS} for w in ex.ways],
        geometry=[w["line"] for w in ex.ways],
        crs="EPSG:4326",
    )
    buildings = gpd.GeoDataFrame(
        {"id": [b["id"] for b in ex.buildings]},
        geometry=[b["polygon"] for b in ex.buildings],
        crs="EPSG:4326",
    )
    layers = read_osm(path)
    barriers = gpd.GeoDataFrame(
        pd.concat([layers.barriers, layers.fences], ignore_index=True), crs="EPSG:4326"
    )
    return streets, buildings, barriers, layers.entrances
