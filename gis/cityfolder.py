"""The files of a city folder, written by the workers in parallel and joined in order.

A city of a million buildings writes hundreds of megabytes of GeoJSON; one
process writing them would take longer than building the grids.  Each worker
writes its sub-district's grids, buildings and communities
(:func:`write_part_layers`, the same RFC 7946 files a one-area build writes);
:func:`write_city_folder` then joins the parts' feature lists in sub-district
order as text, appends their GeoPackage layers, adds the city-wide layers
(streets, POIs, boundary, ``subdistricts.geojson``) and ``build.json``, and
renames the finished folder into place, as a one-area build does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from gis import outputs
from gis._errors import OutputError, UnreadableFileError

#: Layers each worker writes for its sub-district.
PART_LAYERS = ("grids", "buildings", "communities")
_HEAD = '"features": [\n'
_TAIL = "\n]\n}\n"


def write_part_layers(layers: Mapping[str, gpd.GeoDataFrame], folder: Path) -> None:
    """Write one sub-district's :data:`PART_LAYERS` as GeoJSON and a GeoPackage.

    Parameters
    ----------
    layers
        The build's output layers by name (any CRS).
    folder
        The part's folder (created).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in PART_LAYERS:
        outputs.write_geojson(layers[name], folder / outputs.LAYER_FILES[name])
    outputs.write_gpkg_layers(
        {name: layers[name].to_crs(outputs.WGS84) for name in PART_LAYERS},
        folder / outputs.FILES["gpkg"],
    )


def write_city_folder(
    out_dir: str | os.PathLike[str],
    parts: Sequence[Path],
    layers: Mapping[str, gpd.GeoDataFrame],
    summary: dict[str, Any],
) -> None:
    """Join the parts and the city-wide layers into ``out_dir``, atomically.

    Parameters
    ----------
    out_dir
        The city folder (an older one is replaced only when all is written).
    parts
        The parts' folders, in sub-district order.
    layers
        City-wide layers: streets, pois, boundary, subdistricts.
    summary
        Written as ``build.json``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder: choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in PART_LAYERS:
            join_geojson(
                [p / outputs.LAYER_FILES[name] for p in parts],
                staging / outputs.LAYER_FILES[name],
                name=name,
            )
        for name, gdf in layers.items():
            outputs.write_geojson(gdf, staging / outputs.LAYER_FILES[name])
        gpkg = staging / outputs.FILES["gpkg"]
        outputs.write_gpkg_layers({n: g.to_crs(outputs.WGS84) for n, g in layers.items()}, gpkg)
        for name in PART_LAYERS:
            append_gpkg_layer([p / outputs.FILES["gpkg"] for p in parts], gpkg, name)
        outputs.write_json(staging / outputs.FILES["meta"], summary)
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def join_geojson(sources: Sequence[Path], target: Path, *, name: str) -> None:
    """Concatenate the features of GeoJSON files written by :func:`gis.outputs.write_geojson`.

    Parameters
    ----------
    sources
        Files in the order their features are wanted.
    target
        The joined FeatureCollection, named ``name``.
    """
    with outputs.atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.write(f'{{\n"type": "FeatureCollection",\n"name": "{name}",\n{_HEAD}')
        first = True
        for source in sources:
            features = _features_text(source)
            if not features:
                continue
            fh.write(features if first else ",\n" + features)
            first = False
        fh.write(_TAIL)


def _features_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find(_HEAD)
    if start < 0 or not text.endswith(_TAIL):
        raise UnreadableFileError(f"{path} is not a GeoJSON file written by gridplan")
    return text[start + len(_HEAD) : -len(_TAIL)].strip("\n")


def append_gpkg_layer(sources: Sequence[Path], target: Path, layer: str) -> None:
    """Append layer ``layer`` of each GeoPackage in ``sources`` to ``target``, in order.

    The features pass as WKB and arrays (pyogrio's raw I/O), without shapely.
    """
    from pyogrio import raw

    for i, source in enumerate(sources):
        meta, _fids, geometry, fields = raw.read(source, layer=layer)
        raw.write(
            target,
            geometry,
            fields,
            fields=meta["fields"],
            layer=layer,
            driver="GPKG",
            crs=meta["crs"],
            geometry_type=meta["geometry_type"],
            append=i > 0,
        )


def _replace_folder(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)
