"""Test helpers for walking coverage: synthetic towns, OSM readers and an
independent networkx reference.

The reference shares no code with :mod:`gis.network`: topology comes from OSM
node ids (not coordinates), snapping is a brute-force search over every
segment, points are inserted into the graph by splitting edges, and distances
come from networkx Dijkstra runs, one per service point.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parent.parent
NANJING_OSM = ROOT / "data" / "boundaries" / "nanjing_xinjiekou" / "xinjiekou.osm"
HELSINKI_OSM = ROOT / "data" / "boundaries" / "helsinki" / "helsinki.osm"
FINLAND_PBF = ROOT / "tests" / "data" / "finland_town.osm.pbf"

_TAGS = ("highway", "foot", "access", "service", "area", "name")


def read_osm(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Streets (with ``nodes`` id lists), building polygons and amenity points of an OSM file.

    Ways with missing node locations (clipped extracts) are cut at the gap.
    """
    streets: list[dict] = []
    buildings: list[dict] = []
    pois: list[dict] = []
    fp = osmium.FileProcessor(str(path)).with_locations()
    for obj in fp:
        if obj.is_node():
            pois.extend(_amenity(obj))
        elif obj.is_way():
            runs = _located_runs(obj)
            tags = {k: obj.tags.get(k) for k in _TAGS}
            if tags["highway"]:
                streets.extend(_street_rows(obj.id, tags, runs))
            elif obj.tags.get("building") and len(runs) == 1 and len(runs[0]) >= 4:
                buildings.extend(_building(obj.id, obj.tags.get("building"), runs[0]))
    crs = "EPSG:4326"
    return (
        gpd.GeoDataFrame(streets, geometry="geometry", crs=crs),
        gpd.GeoDataFrame(buildings, geometry="geometry", crs=crs),
        gpd.GeoDataFrame(pois, geometry="geometry", crs=crs),
    )


def _amenity(node) -> list[dict]:
    amenity = node.tags.get("amenity")
    if not amenity or not node.location.valid():
        return []
    point = shapely.Point(node.location.lon, node.location.lat)
    return [{"id": f"n{node.id}", "amenity": amenity, "geometry": point}]


def _located_runs(way) -> list[list[tuple[int, float, float]]]:
    """The way's nodes as runs of located nodes, cut where a location is missing."""
    runs: list[list[tuple[int, float, float]]] = [[]]
    for nd in way.nodes:
        if nd.location.valid():
            runs[-1].append((nd.ref, nd.location.lon, nd.location.lat))
        elif runs[-1]:
            runs.append([])
    return runs


def _street_rows(way_id: int, tags: dict, runs: list[list[tuple[int, float, float]]]) -> list:
    return [
        {
            "id": f"w{way_id}",
            **tags,
            "nodes": [r[0] for r in run],
            "geometry": shapely.LineString([(r[1], r[2]) for r in run]),
        }
        for run in runs
        if len(run) >= 2
    ]


def _building(way_id: int, kind: str, run: list[tuple[int, float, float]]) -> list[dict]:
    ring = [(r[1], r[2]) for r in run]
    if ring[0] != ring[-1]:
        return []
    poly = shapely.Polygon(ring)
    if not poly.is_valid or poly.area <= 0:
        return []
    return [{"id": f"w{way_id}", "building": kind, "geometry": poly}]


def grid_streets(
    nx_: int,
    ny_: int,
    *,
    spacing: float = 100.0,
    crs: str = "EPSG:32650",
    origin: tuple[float, float] = (500000.0, 3500000.0),
) -> gpd.GeoDataFrame:
    """A lattice of straight streets, one way per row and column (metric CRS)."""
    x0, y0 = origin
    lines = []
    for j in range(ny_):
        y = y0 + j * spacing
        lines.append(shapely.LineString([(x0 + i * spacing, y) for i in range(nx_)]))
    for i in range(nx_):
        x = x0 + i * spacing
        lines.append(shapely.LineString([(x, y0 + j * spacing) for j in range(ny_)]))
    return gpd.GeoDataFrame(
        {"id": [f"w{k}" for k in range(len(lines))], "highway": "residential"},
        geometry=lines,
        crs=crs,
    )


def random_points(
    n: int, bounds: tuple[float, float, float, float], *, seed: int, crs: str
) -> gpd.GeoDataFrame:
    """``n`` uniform random points within ``bounds`` (seeded)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(bounds[0], bounds[2], n)
    y = rng.uniform(bounds[1], bounds[3], n)
    return gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=crs)


# --------------------------------------------------------------------------- reference


def segments_by_ids(streets: gpd.GeoDataFrame, crs) -> tuple[list, np.ndarray]:
    """Edge list keyed by OSM node id, with projected end coordinates.

    Distinct OSM nodes at the very same location are one node, as the street
    contract says (ways that connect share vertex coordinates).
    """
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    keys, coords = [], []
    canon: dict[tuple[float, float], int] = {}
    for nodes, geom in zip(streets["nodes"], streets.geometry, strict=True):
        lonlat = np.asarray(geom.coords)
        ids = [
            canon.setdefault((round(x, 7), round(y, 7)), n)
            for n, (x, y) in zip(nodes, lonlat, strict=True)
        ]
        xs, ys = tr.transform(*lonlat.T)
        for k in range(len(ids) - 1):
            if ids[k] == ids[k + 1]:
                continue
            keys.append((ids[k], ids[k + 1]))
            coords.append((xs[k], ys[k], xs[k + 1], ys[k + 1]))
    return keys, np.asarray(coords)


def segments_by_coords(lines: gpd.GeoDataFrame) -> tuple[list, np.ndarray]:
    """Edge list keyed by exact (metric) coordinates, for synthetic towns."""
    keys, coords = [], []
    for geom in lines.geometry:
        c = np.asarray(geom.coords)
        for k in range(len(c) - 1):
            a, b = tuple(np.round(c[k], 3)), tuple(np.round(c[k + 1], 3))
            if a != b:
                keys.append((a, b))
                coords.append((*c[k], *c[k + 1]))
    return keys, np.asarray(coords)


def reference_distances(
    keys: list, coords: np.ndarray, points_xy: np.ndarray, services_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest and second-nearest service distance per point, by networkx.

    Every connected piece of the segments is kept: a point snaps to the
    nearest segment of any piece and is reached only from services on its
    own piece (inf otherwise).
    """
    g = nx.Graph()
    for (a, b), c in zip(keys, coords, strict=True):
        w = float(np.hypot(c[2] - c[0], c[3] - c[1]))
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    seg_keys = list(keys)
    seg = np.asarray(coords)
    # brute-force nearest segment for every point
    alls = np.vstack([points_xy, services_xy])
    a, b = seg[:, :2], seg[:, 2:]
    ab = b - a
    l2 = np.einsum("ij,ij->i", ab, ab)
    foot_info = []
    for p in alls:
        t = np.clip(np.einsum("ij,j->i", ab, p) - np.einsum("ij,ij->i", ab, a), None, None)
        t = np.clip(t / np.where(l2 > 0, l2, 1), 0, 1)
        f = a + t[:, None] * ab
        d = np.hypot(*(p - f).T)
        k = int(np.argmin(d))
        foot_info.append((k, float(t[k] * np.sqrt(l2[k])), float(d[k])))
    # split edges at the feet
    by_edge: dict[int, list[tuple[float, object]]] = {}
    names = [("p", i) for i in range(len(points_xy))] + [("s", j) for j in range(len(services_xy))]
    for name, (k, t, d) in zip(names, foot_info, strict=True):
        by_edge.setdefault(k, []).append((t, name))
        g.add_edge(name, ("foot", name), weight=d)
    for k, items in by_edge.items():
        u, v = seg_keys[k]
        length = float(np.sqrt(l2[k]))
        if g.has_edge(u, v) and abs(g[u][v]["weight"] - length) < 1e-9:
            g.remove_edge(u, v)
        items.sort(key=lambda it: it[0])
        prev, prev_t = u, 0.0
        for t, name in items:
            g.add_edge(prev, ("foot", name), weight=t - prev_t)
            prev, prev_t = ("foot", name), t
        g.add_edge(prev, v, weight=length - prev_t)
    n = len(points_xy)
    dists = np.full((len(services_xy), n), np.inf)
    for j in range(len(services_xy)):
        lengths = nx.single_source_dijkstra_path_length(g, ("s", j), weight="weight")
        for i in range(n):
            dists[j, i] = lengths.get(("p", i), np.inf)
    part = np.sort(dists, axis=0)
    d1 = part[0]
    d2 = part[1] if len(services_xy) > 1 else np.full(n, np.inf)
    return d1, d2


# --------------------------------------------------------------------------- build folders


def add_lonely_piece(folder: Path, origin: tuple[float, float]) -> dict[str, list]:
    """Give a synthetic build folder (WGS 84) a footway of its own, about 9 km north
    of ``origin``, with a 40-household building beside it, and a 12-household
    building about 230 m west of the town; the town's streets are noded where
    they cross.  Returns where the footway and the buildings are."""
    import json

    island = [[origin[0] + 0.002, origin[1] + 0.08], [origin[0] + 0.004, origin[1] + 0.08]]
    lonely = (origin[0] + 0.003, origin[1] + 0.0802)
    far = (origin[0] - 0.0025, origin[1] + 0.01)

    def square(lon: float, lat: float, d: float = 0.0001) -> list:
        return [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]

    def add(name: str, features: list[dict]) -> None:
        data = json.loads((folder / name).read_text("utf-8"))
        data["features"] += features
        (folder / name).write_text(json.dumps(data), "utf-8")

    # the town's streets cross without shared vertices: node them, as OSM ways share nodes
    town = json.loads((folder / "streets.geojson").read_text("utf-8"))
    lines = [shapely.LineString(f["geometry"]["coordinates"]) for f in town["features"]]
    town["features"] = [
        {
            "type": "Feature",
            "properties": {"highway": "residential"},
            "geometry": part.__geo_interface__,
        }
        for part in shapely.get_parts(shapely.union_all(lines))
    ]
    (folder / "streets.geojson").write_text(json.dumps(town), "utf-8")
    footway = {"highway": "footway"}
    add(
        "streets.geojson",
        [
            {
                "type": "Feature",
                "properties": footway,
                "geometry": {"type": "LineString", "coordinates": island},
            }
        ],
    )
    grid = json.loads((folder / "grids.geojson").read_text("utf-8"))["features"][0]
    add(
        "buildings.geojson",
        [
            {
                "type": "Feature",
                "properties": {"id": bid, "grid": grid["properties"]["code"], "households": hh},
                "geometry": {"type": "Polygon", "coordinates": square(*where)},
            }
            for bid, where, hh in (("lonely", lonely, 40), ("far", far, 12))
        ],
    )
    return {"island": island, "lonely": list(lonely), "far": list(far)}
