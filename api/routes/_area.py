"""The served build folder: its layers, loaded once, indexed for fast answers.

Each layer becomes a :class:`FeatureIndex`: every feature serialised to
GeoJSON bytes once, with its bounds in arrays, so that a page of features is a
join of ready bytes (and the full-layer answer is cached as a whole).  Tiles
come from the same geometries in Web Mercator with an STR-tree.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from gis._errors import UnknownIdError
from gis.crs import WGS84
from gis.outputs import FILES, BuildFolder, json_safe, read_meta

#: Every layer the API can serve, by collection id → (file name, title, id column).
LAYERS: dict[str, tuple[str, str, str | None]] = {
    "grids": (FILES["grids"], "Grids (网格)", "code"),
    "buildings": (FILES["buildings"], "Buildings", "id"),
    "communities": (FILES["communities"], "Communities (社区)", "code"),
    "districts": (FILES["districts"], "Districts (片区) of a plan", "district"),
    "streets": (FILES["streets"], "Streets", "id"),
    "pois": (FILES["pois"], "Points of interest", "id"),
    "boundary": (FILES["boundary"], "Study area boundary", None),
    "services": (FILES["services"], "Service points", "id"),
    "isochrones": (FILES["isochrones"], "Walking isochrones", None),
    "gaps": (FILES["gaps"], "Coverage gaps", None),
    "sites": (FILES["sites"], "Suggested service sites", None),
}
#: Layers listed even when their file is missing (empty until built).
ALWAYS_LISTED = ("grids", "buildings", "communities", "districts")
#: Layers served as vector tiles.
TILE_LAYERS = ("grids", "buildings")

WEB_MERCATOR_HALF = 20037508.342789244


class LRU:
    """A small thread-safe least-recently-used cache that makes each value once.

    Concurrent requests for the same missing key wait for one maker instead
    of all computing it.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value of ``key``, made when missing."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            key_lock = self._making.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._data:
                    return self._data[key]
            value = make()
            with self._lock:
                self._data[key] = value
                self._making.pop(key, None)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return value


@dataclass
class FeatureIndex:
    """A layer ready to serve: ids, bounds, properties and feature bytes."""

    name: str
    frame: gpd.GeoDataFrame
    ids: list[Any]
    bounds: np.ndarray
    properties: list[dict[str, Any]]
    geometry_json: list[bytes]
    features: list[bytes]
    position: dict[str, int] = field(default_factory=dict)
    _tiles: Any = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_frame(cls, name: str, gdf: gpd.GeoDataFrame, id_column: str | None) -> FeatureIndex:
        """Serialise every feature of ``gdf`` (WGS 84) once."""
        gdf = gdf.reset_index(drop=True)
        geoms = gdf.geometry.values
        attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        records = [
            {k: json_safe(v) for k, v in row.items()} for row in attrs.to_dict(orient="records")
        ]
        if id_column and id_column in attrs.columns:
            ids = [json_safe(v) for v in attrs[id_column].tolist()]
        else:
            ids = list(range(len(gdf)))
        geometry_json = [
            g.encode() if g is not None else b"null" for g in shapely.to_geojson(geoms)
        ]
        features = [
            _feature_bytes(fid, geom, props)
            for fid, geom, props in zip(ids, geometry_json, records, strict=True)
        ]
        bounds = shapely.bounds(geoms) if len(gdf) else np.zeros((0, 4))
        position = {str(fid): i for i, fid in enumerate(ids)}
        return cls(name, gdf, ids, bounds, records, geometry_json, features, position)

    @property
    def bbox(self) -> list[float] | None:
        """``[w, s, e, n]`` of the layer."""
        if not len(self.bounds):
            return None
        b = self.bounds
        return [
            float(np.nanmin(b[:, 0])),
            float(np.nanmin(b[:, 1])),
            float(np.nanmax(b[:, 2])),
            float(np.nanmax(b[:, 3])),
        ]

    def select(self, bbox: Sequence[float] | None) -> np.ndarray:
        """Row positions whose bounds intersect ``bbox`` (all when None)."""
        if bbox is None:
            return np.arange(len(self.ids))
        w, s, e, n = bbox
        b = self.bounds
        hit = (b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s)
        return np.flatnonzero(hit)

    def feature(self, fid: str) -> bytes:
        """One feature's bytes by id."""
        pos = self.position.get(str(fid))
        if pos is None:
            raise UnknownIdError(f"collection {self.name!r} has no feature {fid!r}")
        return self.features[pos]

    def feature_with(self, pos: int, properties: Sequence[str] | None) -> bytes:
        """A feature's bytes, keeping only ``properties`` when given."""
        if properties is None:
            return self.features[pos]
        props = {k: self.properties[pos].get(k) for k in properties}
        return _feature_bytes(self.ids[pos], self.geometry_json[pos], props)

    def tiles(self) -> Any:
        """Web-Mercator geometries and their STR-tree (built on first use)."""
        if self._tiles is None:
            merc = self.frame.geometry.to_crs(3857).values
            self._tiles = (np.asarray(merc), shapely.STRtree(merc))
        return self._tiles


def _feature_bytes(fid: Any, geometry: bytes, props: dict[str, Any]) -> bytes:
    return b"".join(
        (
            b'{"type":"Feature","id":',
            orjson.dumps(fid),
            b',"geometry":',
            geometry,
            b',"properties":',
            orjson.dumps(props, option=orjson.OPT_SERIALIZE_NUMPY),
            b"}",
        )
    )


class Area:
    """The build folder served by the app.

    Parameters
    ----------
    data_dir
        The build folder ``DIR``.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.meta: dict[str, Any] = read_meta(self.data_dir)
        self._indexes: dict[str, FeatureIndex] = {}
        self._lock = threading.Lock()
        self.responses = LRU(256)
        self.tiles = LRU(2048)
        self.derived = LRU(64)

    def available(self) -> list[str]:
        """Collection ids whose file exists (plus those always listed)."""
        out = []
        for name, (filename, _title, _id) in LAYERS.items():
            if name in ALWAYS_LISTED or (self.data_dir / filename).exists():
                out.append(name)
        return out

    def index(self, name: str) -> FeatureIndex:
        """The indexed layer ``name`` (an empty one when its file is missing)."""
        if name not in LAYERS:
            raise UnknownIdError(
                f"no collection {name!r}: GET /collections lists them ({', '.join(LAYERS)})"
            )
        with self._lock:
            if name not in self._indexes:
                self._indexes[name] = FeatureIndex.from_frame(
                    name, self._read(name), LAYERS[name][2]
                )
            return self._indexes[name]

    def _read(self, name: str) -> gpd.GeoDataFrame:
        gdf = BuildFolder(self.data_dir).read(name, required=False)
        if gdf is None:
            return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=WGS84)
        for column in ("code", "grid", "community", "id"):
            if column in gdf.columns and gdf[column].dtype != object:
                gdf[column] = gdf[column].map(_as_id)
        return gdf

    @property
    def grids(self) -> gpd.GeoDataFrame:
        """The grid layer (WGS 84), ``code`` as strings."""
        return self.index("grids").frame

    @property
    def grid_codes(self) -> set[str]:
        """Every grid code."""
        return self.derived.get_or_make("grid_codes", lambda: {str(c) for c in self.grids["code"]})

    def bbox(self) -> list[float] | None:
        """The area's ``[w, s, e, n]``."""
        if isinstance(self.meta.get("bbox"), list) and len(self.meta["bbox"]) == 4:
            return [float(v) for v in self.meta["bbox"]]
        return self.index("grids").bbox


def _as_id(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tagged(body: bytes) -> tuple[bytes, str]:
    """``body`` with its strong ETag (a content hash)."""
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web-Mercator bounds ``(minx, miny, maxx, maxy)`` of tile ``z/x/y`` (XYZ scheme)."""
    size = 2 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * size
    maxy = WEB_MERCATOR_HALF - y * size
    return (minx, maxy - size, minx + size, maxy)


def encode_tile(index: FeatureIndex, z: int, x: int, y: int, *, extent: int = 4096) -> bytes:
    """The Mapbox vector tile of one layer (clipped, simplified to the tile's pixel)."""
    import mapbox_vector_tile

    geoms, tree = index.tiles()
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * 16 / extent
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    hits = tree.query(box, predicate="intersects")
    if not len(hits):
        return b""
    hits.sort()
    clipped = shapely.intersection(geoms[hits], box)
    clipped = shapely.simplify(clipped, (maxx - minx) / extent / 2)
    features = []
    for pos, geom in zip(hits, clipped, strict=True):
        if geom is None or geom.is_empty:
            continue
        props = {k: v for k, v in index.properties[pos].items() if _tile_value(v)}
        features.append({"geometry": geom, "properties": props})
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": index.name, "features": features}],
        default_options={"quantize_bounds": (minx, miny, maxx, maxy), "extents": extent},
    )


def _tile_value(value: Any) -> bool:
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return isinstance(value, str | int | bool)
