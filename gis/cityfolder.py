"""The files of a city folder, written by the workers in parallel and joined in order.

A city of a million buildings writes hundreds of megabytes of GeoJSON; one
process writing them would take longer than building the grids.  Each worker
writes its sub-district's grids, buildings and communities
(:func:`write_part_layers`, the same RFC 7946 files a one-area build writes)
and keeps the same layers in WGS 84 as a pickle; :func:`write_city_folder`
then joins the parts' feature lists in sub-district order as text, writes
each GeoPackage layer of the whole city in one bulk write (a GeoPackage takes
appends at about half the speed, and reading the parts back costs as much
again), adds the city-wide layers (streets, POIs, boundary,
``subdistricts.geojson``) and ``build.json``, and renames the finished folder
into place, as a one-area build does.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gis import outputs
from gis._errors import UnreadableFileError

#: Layers each worker writes for its sub-district.
PART_LAYERS = ("grids", "buildings", "communities")
#: A part's :data:`PART_LAYERS` in WGS 84, for the city's GeoPackage.
_PART_FRAMES = "layers.pickle"
#: How :func:`gis.outputs.write_geojson` frames the features (one per line).
_HEAD = '"features":[\n'
_TAIL = "\n]}\n"


def write_part_layers(layers: Mapping[str, gpd.GeoDataFrame], folder: Path) -> None:
    """Write one sub-district's :data:`PART_LAYERS` as GeoJSON, and as frames for the GeoPackage.

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
    frames = {name: layers[name].to_crs(outputs.WGS84) for name in PART_LAYERS}
    with (folder / _PART_FRAMES).open("wb") as fh:
        pickle.dump(frames, fh, protocol=pickle.HIGHEST_PROTOCOL)


def write_city_folder(
    out_dir: str | os.PathLike[str],
    parts: Sequence[Path],
    layers: Mapping[str, gpd.GeoDataFrame],
    summary: dict[str, Any],
    tables: Mapping[str, pd.DataFrame] | None = None,
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
    tables
        CSV files by name (the city's ``adjacency``).
    """
    with outputs.staged_folder(out_dir) as staging:
        for name in PART_LAYERS:
            join_geojson(
                [p / outputs.LAYER_FILES[name] for p in parts],
                staging / outputs.LAYER_FILES[name],
                name=name,
            )
        for name, gdf in layers.items():
            outputs.write_geojson(gdf, staging / outputs.LAYER_FILES[name])
        city = {n: g.to_crs(outputs.WGS84) for n, g in layers.items()}
        outputs.write_gpkg_layers({**city, **join_frames(parts)}, staging / outputs.FILES["gpkg"])
        for name, table in (tables or {}).items():
            outputs.frame_to_csv(table, staging / outputs.FILES[name])
        outputs.write_json(staging / outputs.FILES["meta"], summary)


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
        fh.write(f'{{"type":"FeatureCollection","name":{json.dumps(name)},{_HEAD}')
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


def join_frames(parts: Sequence[Path]) -> dict[str, gpd.GeoDataFrame]:
    """The parts' :data:`PART_LAYERS` (WGS 84), each concatenated in sub-district order.

    Parameters
    ----------
    parts
        Part folders written by :func:`write_part_layers`, in order.

    Returns
    -------
    dict
        One frame per layer name, for one bulk write each.
    """
    frames: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in PART_LAYERS}
    for part in parts:
        with (part / _PART_FRAMES).open("rb") as fh:
            written: dict[str, gpd.GeoDataFrame] = pickle.load(fh)
        for name in PART_LAYERS:
            frames[name].append(written[name])
    return {
        name: gpd.GeoDataFrame(pd.concat(fs, ignore_index=True), crs=outputs.WGS84)
        for name, fs in frames.items()
    }
