"""Reading and writing the files of an output folder ``DIR``.

Every write is atomic: the data goes to a temporary file in the same folder,
which is then renamed over the target, so a crash never leaves a half-written
file.  GeoJSON is written per RFC 7946 (WGS 84 longitude/latitude, polygons
wound counter-clockwise outside and clockwise inside).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis._errors import CRSError, EmptyLayerError, UnreadableFileError

WGS84 = "EPSG:4326"

#: GeoJSON layers of a build folder, by name; each is also a layer of area.gpkg.
LAYER_FILES = {
    "grids": "grids.geojson",
    "buildings": "buildings.geojson",
    "communities": "communities.geojson",
    "streets": "streets.geojson",
    "pois": "pois.geojson",
    "boundary": "boundary.geojson",
}
GPKG_NAME = "area.gpkg"
#: GeoJSON coordinates are written to 7 decimals (about 1 cm), as GDAL does for RFC 7946.
GEOJSON_GRID_DEG = 1e-7
META_NAME = "build.json"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    Parameters
    ----------
    target
        Final file path.  Its folder must exist.

    Yields
    ------
    Path
        Where to write.  Removed if the block raises.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers that refuse to overwrite (GDAL) get a free name
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as JSON to ``target`` atomically."""
    write_text(target, json.dumps(payload, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def orient_rfc7946(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` in WGS 84 with polygons oriented by the right-hand rule."""
    if gdf.crs is None:
        raise CRSError("layer has no CRS: set one (e.g. gdf.set_crs('EPSG:4326')) before writing")
    out = gdf.to_crs(WGS84) if not gdf.crs.equals(WGS84) else gdf.copy()
    geoms = out.geometry.values
    is_poly = shapely.get_type_id(geoms) >= 3  # Polygon, MultiPolygon and collections
    if is_poly.any():  # snap to the written precision first, so rings stay valid when read
        valid = _valid(geoms[is_poly])
        snapped = _valid(shapely.set_precision(valid, GEOJSON_GRID_DEG))
        collapsed = shapely.is_empty(snapped) & ~shapely.is_empty(valid)
        snapped[collapsed] = valid[collapsed]  # slivers thinner than 1 cm keep their shape
        fixed = shapely.orient_polygons(snapped, exterior_cw=False)
        out.loc[is_poly, out.geometry.name] = fixed
    return out


def _valid(geoms: np.ndarray) -> np.ndarray:
    """Repair rings that reprojection or rounding made touch or cross (polygons only)."""
    bad = ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    repaired = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    out[bad] = [_polygonal(g) for g in repaired]
    return out


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.union_all(parts) if len(parts) != 1 else parts[0]


def write_geojson(gdf: gpd.GeoDataFrame, target: str | os.PathLike[str]) -> None:
    """Write ``gdf`` to ``target`` as RFC 7946 GeoJSON, atomically.

    Coordinates are kept to 7 decimals (about 1 cm), as GDAL does for RFC 7946.
    """
    out = orient_rfc7946(gdf)
    with atomic_path(target) as tmp:
        out.to_file(
            tmp,
            layer=Path(target).stem,
            driver="GeoJSON",
            engine="pyogrio",
            layer_options={"RFC7946": "YES"},
        )


def write_gpkg_layers(
    layers: Mapping[str, gpd.GeoDataFrame], target: str | os.PathLike[str]
) -> None:
    """Write or replace ``layers`` in the GeoPackage ``target``, atomically.

    Layers already in the file and not named in ``layers`` are kept.
    """
    target = Path(target)
    with atomic_path(target) as tmp:
        if target.exists():
            shutil.copyfile(target, tmp)
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return None


def read_layer(
    folder: str | os.PathLike[str], name: str, *, required: bool = True
) -> gpd.GeoDataFrame | None:
    """Read the layer ``name`` of an output folder (WGS 84).

    Parameters
    ----------
    folder
        An output folder ``DIR``.
    name
        A key of :data:`LAYER_FILES`.
    required
        Raise when the file is missing (else return ``None``).
    """
    path = Path(folder) / LAYER_FILES[name]
    if not path.exists():
        if required:
            raise UnreadableFileError(
                f"{path} does not exist: run `gridplan build SOURCE --out {folder}` first"
            )
        return None
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    if required and gdf.empty:
        raise EmptyLayerError(f"{path} holds no features")
    return gdf


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The build metadata of ``folder`` (``build.json``), or ``{}`` for grids made elsewhere."""
    path = Path(folder) / META_NAME
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def frame_to_csv(df: pd.DataFrame, target: str | os.PathLike[str]) -> None:
    """Write ``df`` to CSV atomically, without the index."""
    with atomic_path(target) as tmp:
        df.to_csv(tmp, index=False)
