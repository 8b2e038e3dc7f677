"""The served build folder: its layers, loaded on first use, indexed for fast answers.

:class:`ServedFolder` holds the :class:`Area` being served and replaces it
whole when the folder changes on disk (a rebuild renames a new folder into
place): each request works on one :class:`Area`, old or new, never a mix.
Each layer becomes a :class:`FeatureIndex`: ids and bounds in arrays at once,
each feature's GeoJSON bytes made on first use and kept, so that a page of
features is a join of ready bytes and the first answer does not wait for a
whole layer.  Answers are cached by bytes (:class:`ByteLRU`), and their ETags
come from the data's version, never from hashing a body.  Tiles come from the
same geometries in Web Mercator with an STR-tree (:mod:`api.tiles`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from gis._errors import UnknownIdError
from gis.crs import WGS84
from gis.outputs import FILES, BuildFolder, json_safe, read_meta, round_quantities

log = logging.getLogger("gridplan.api")

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
    "subdistricts": (FILES["subdistricts"], "Sub-districts (街道) of a city", "subdistrict"),
}
#: Layers listed even when their file is missing (empty until built).
ALWAYS_LISTED = ("grids", "buildings", "communities", "districts")
#: Layers served as MultiPolygons throughout (their pieces come and go with edits).
MULTI_LAYERS = ("districts", "isochrones")
#: Features serialised per step when a layer is streamed or a page is made.
CHUNK = 2_000


class LRU:
    """A small thread-safe least-recently-used cache that makes each value once.

    Concurrent requests for the same missing key wait for one maker instead
    of all computing it.  Bounded by the number of entries (for values whose
    size is not known: metrics, graphs); :class:`ByteLRU` bounds by bytes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}
        self.used = 0

    def _weight(self, _value: Any) -> int:
        return 1

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value of ``key``, made when missing."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key][0]
            key_lock = self._making.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._data:
                    return self._data[key][0]
            value = make()
            self.put(key, value)
            with self._lock:
                self._making.pop(key, None)
        return value

    def get(self, key: Hashable) -> Any:
        """The cached value of ``key``, or None (nothing is made)."""
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key][0]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` (dropping the least recently used entries past the bound)."""
        weight = self._weight(value)
        with self._lock:
            if weight > self.size:  # larger than the whole cache: not kept
                return
            old = self._data.pop(key, None)
            self.used -= old[1] if old else 0
            self._data[key] = (value, weight)
            self.used += weight
            while self.used > self.size:
                _key, (_value, dropped) = self._data.popitem(last=False)
                self.used -= dropped


class ByteLRU(LRU):
    """An :class:`LRU` bounded by the bytes of its values (``bytes`` or tuples holding bytes)."""

    def _weight(self, value: Any) -> int:
        if isinstance(value, bytes | bytearray):
            return len(value) + 100
        if isinstance(value, tuple):
            return sum(self._weight(v) for v in value)
        if isinstance(value, str):
            return len(value) + 50
        return 100


class FeatureIndex:
    """A layer ready to serve: ids and bounds at once, each feature's bytes on first use.

    Parameters
    ----------
    name
        The collection id.
    frame
        The layer in WGS 84.
    id_column
        The column giving feature ids (row numbers when None or missing).
    version
        The data version of the served folder (part of every ETag).
    """

    def __init__(
        self, name: str, frame: gpd.GeoDataFrame, id_column: str | None, *, version: str
    ) -> None:
        self.name = name
        self.frame = one_geometry_type(frame.reset_index(drop=True), multi=name in MULTI_LAYERS)
        self.version = f"{version}.{name}"
        self._geoms = self.frame.geometry.values
        # served as the files hold them: estimated counts to one decimal
        self._attrs = round_quantities(
            pd.DataFrame(self.frame.drop(columns=self.frame.geometry.name))
        )
        if id_column and id_column in self._attrs.columns:
            self.ids: list[Any] = [json_safe(v) for v in self._attrs[id_column].tolist()]
        else:
            self.ids = list(range(len(self.frame)))
        self.bounds = shapely.bounds(self._geoms) if len(self.frame) else np.zeros((0, 4))
        self.position = {str(fid): i for i, fid in enumerate(self.ids)}
        self._features: list[bytes | None] = [None] * len(self.ids)
        self._records: list[dict[str, Any] | None] = [None] * len(self.ids)
        self._lock = threading.Lock()
        self._tiles: tuple[np.ndarray, shapely.STRtree] | None = None

    @classmethod
    def from_frame(
        cls, name: str, gdf: gpd.GeoDataFrame, id_column: str | None, *, version: str = "0"
    ) -> FeatureIndex:
        """Index ``gdf`` (WGS 84); features are serialised when first asked for."""
        return cls(name, gdf, id_column, version=version)

    def __len__(self) -> int:
        return len(self.ids)

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

    @property
    def fields(self) -> list[str]:
        """The property names of the layer's features."""
        return [str(c) for c in self._attrs.columns]

    def select(self, bbox: Sequence[float] | None) -> np.ndarray:
        """Row positions whose geometry intersects ``bbox`` (all when None).

        Bounds rule out most rows at once; the rest are tested on their
        geometry, so a street whose bounding box meets the box but which
        passes beside it is not matched.
        """
        if bbox is None:
            return np.arange(len(self.ids))
        w, s, e, n = bbox
        b = self.bounds
        near = np.flatnonzero((b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s))
        return near[shapely.intersects(self._geoms[near], shapely.box(w, s, e, n))]

    def _prepare(self, positions: np.ndarray) -> None:
        """Serialise the features at ``positions`` that are not ready yet."""
        todo = np.asarray([p for p in positions if self._features[p] is None], dtype=np.int64)
        if not len(todo):
            return
        records = [
            {str(k): json_safe(v) for k, v in row.items()}
            for row in self._attrs.iloc[todo].to_dict(orient="records")
        ]
        geometry = shapely.to_geojson(self._geoms[todo])
        with self._lock:
            for pos, props, geom in zip(todo.tolist(), records, geometry, strict=True):
                self._records[pos] = props
                raw = geom.encode() if geom is not None else b"null"
                self._features[pos] = _feature_bytes(self.ids[pos], raw, props)

    def properties(self, pos: int) -> dict[str, Any]:
        """The properties of the feature at row ``pos``."""
        if self._records[pos] is None:
            self._prepare(np.asarray([pos]))
        record = self._records[pos]
        assert record is not None
        return record

    def properties_at(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The properties of the features at ``positions``, made in one batch."""
        self._prepare(np.asarray(positions, dtype=np.int64))
        return [self.properties(int(pos)) for pos in positions]

    def feature(self, fid: str) -> bytes:
        """One feature's bytes by id."""
        pos = self.position.get(str(fid))
        if pos is None:
            raise UnknownIdError(f"collection {self.name!r} has no feature {fid!r}")
        return next(self.features_at(np.asarray([pos])))

    def features_at(
        self, positions: np.ndarray, properties: Sequence[str] | None = None
    ) -> Iterator[bytes]:
        """The features at ``positions``, chunk by chunk (only ``properties`` when given)."""
        for start in range(0, len(positions), CHUNK):
            chunk = positions[start : start + CHUNK]
            self._prepare(chunk)
            for pos in chunk.tolist():
                if properties is None:
                    feature = self._features[pos]
                    assert feature is not None
                    yield feature
                else:
                    props = self.properties(pos)
                    geom = shapely.to_geojson(self._geoms[pos])
                    raw = geom.encode() if geom is not None else b"null"
                    yield _feature_bytes(self.ids[pos], raw, {k: props.get(k) for k in properties})

    def tiles(self) -> tuple[np.ndarray, shapely.STRtree]:
        """Web-Mercator geometries and their STR-tree (built on first use)."""
        if self._tiles is None:
            merc = self.frame.geometry.to_crs(3857).values
            self._tiles = (np.asarray(merc), shapely.STRtree(merc))
        return self._tiles


_SINGLE_TO_MULTI = {  # single type → (its multi type, the function making one)
    int(shapely.GeometryType.POINT): (int(shapely.GeometryType.MULTIPOINT), shapely.multipoints),
    int(shapely.GeometryType.LINESTRING): (
        int(shapely.GeometryType.MULTILINESTRING),
        shapely.multilinestrings,
    ),
    int(shapely.GeometryType.POLYGON): (
        int(shapely.GeometryType.MULTIPOLYGON),
        shapely.multipolygons,
    ),
}


def one_geometry_type(frame: gpd.GeoDataFrame, *, multi: bool = False) -> gpd.GeoDataFrame:
    """``frame`` with one geometry type per layer, as GIS clients expect of a layer.

    A layer mixing single and multi parts (Polygon and MultiPolygon) has its
    single parts made multi; with ``multi``, single parts are made multi even
    when the layer has no multi part yet.  Other layers are returned as they are.
    """
    if not len(frame):
        return frame
    kinds = shapely.get_type_id(frame.geometry.values)
    present = set(np.unique(kinds[kinds >= 0]).tolist())
    if len(present) == 1 and not multi:
        return frame
    geoms = np.asarray(frame.geometry.values, dtype=object)
    for single, (multi_type, make) in _SINGLE_TO_MULTI.items():
        if single in present and (multi or multi_type in present):
            rows = np.flatnonzero(kinds == single)
            geoms[rows] = [make([g]) for g in geoms[rows]]
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
    return out


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


def folder_version(data_dir: Path) -> str:
    """The data version of a build folder: changes whenever a file is renamed into it.

    Every gridplan write is a rename (atomic), and a rebuild renames a whole
    new folder into place, so the folder's inode and modification time say
    when its data changed, for two ``stat`` calls.
    """
    st = os.stat(data_dir)
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}"


class Area:
    """One state of the build folder served by the app; layers load on first use.

    Parameters
    ----------
    data_dir
        The build folder ``DIR``.
    version
        Its data version (:func:`folder_version`) when the caller has it.
    """

    def __init__(self, data_dir: Path, *, version: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.version = version or folder_version(self.data_dir)
        self.meta: dict[str, Any] = read_meta(self.data_dir)
        self._indexes: dict[str, FeatureIndex] = {}
        self._lock = threading.Lock()
        self.responses = ByteLRU(64 * 1024 * 1024)
        self.tiles = ByteLRU(32 * 1024 * 1024)
        self.exports = ByteLRU(64 * 1024 * 1024)
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
                self._indexes[name] = FeatureIndex(
                    name, self._read(name), LAYERS[name][2], version=self.version
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
        codes: set[str] = self.derived.get_or_make(
            "grid_codes", lambda: {str(c) for c in self.grids["code"]}
        )
        return codes

    def bbox(self) -> list[float] | None:
        """The area's ``[w, s, e, n]``."""
        if isinstance(self.meta.get("bbox"), list) and len(self.meta["bbox"]) == 4:
            return [float(v) for v in self.meta["bbox"]]
        return self.index("grids").bbox


class ServedFolder:
    """The build folder a server serves, replaced whole when it changes on disk.

    Parameters
    ----------
    data_dir
        The build folder ``DIR``.
    on_change
        Called with the new :class:`Area` after a swap (e.g. to warm it up).
    """

    def __init__(
        self, data_dir: Path, *, on_change: Callable[[Area], None] | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self._area = Area(self.data_dir)
        self._lock = threading.Lock()
        self.on_change = on_change

    def current(self) -> Area:
        """The folder's current state (a new :class:`Area` once its files changed)."""
        try:
            version = folder_version(self.data_dir)
        except FileNotFoundError:  # between the two renames of a rebuild: keep the old state
            return self._area
        if version == self._area.version:
            return self._area
        with self._lock:
            if version != self._area.version:
                log.info("%s changed on disk: serving its new layers", self.data_dir)
                self._area = Area(self.data_dir, version=version)
                if self.on_change is not None:
                    self.on_change(self._area)
            return self._area


def _as_id(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def data_etag(version: str, key: Hashable) -> str:
    """A strong ETag from the data version and the recognised request parameters.

    Hashes the short parameter key, never the body: two answers share a tag
    exactly when they come from the same data and the same parameters.
    """
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()
    return f'"{version}-{digest}"'

