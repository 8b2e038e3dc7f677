"""The files of a city folder, written by the workers in parallel and joined in order.

A city of a million buildings writes hundreds of megabytes of GeoJSON and a
GeoPackage of a million features; one process encoding them would take longer
than building the grids.  Each worker writes its sub-district's grids,
buildings and communities (:func:`write_part_layers`: the same RFC 7946 files
a one-area build writes, and the same layers in a GeoPackage of its own, each
layer projected to WGS 84 once for both); :func:`write_city_folder` then joins
the parts' feature lists in sub-district order as bytes, writes the city-wide
layers (streets, POIs, boundary, ``subdistricts.geojson``), appends the parts'
GeoPackage layers to the city's in SQLite (:mod:`gis.gpkg_merge`: the
geometries copied, not re-encoded), writes ``build.json`` and renames the
finished folder into place, as a one-area build does.  The files are
independent: three threads write them at once (the GeoPackage in SQLite, the
joins as copies in the kernel, both without the GIL).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import pandas as pd

from gis import outputs
from gis._errors import UnreadableFileError
from gis.gpkg_merge import append_gpkg_layers

#: Layers each worker writes for its sub-district.
PART_LAYERS = ("grids", "buildings", "communities")
#: A part's :data:`PART_LAYERS` as GeoPackage layers, appended to the city's.
_PART_GPKG = "layers.gpkg"
#: How :func:`gis.outputs.write_geojson` frames the features (one per line).
_HEAD = b'"features":[\n'
_TAIL = b"\n]}\n"
#: Threads writing the city's files at once (the GeoPackage takes one throughout).
_WRITERS = 3
#: Bytes read at a time when joining GeoJSON files.
_CHUNK = 1 << 22


def write_part_layers(layers: Mapping[str, gpd.GeoDataFrame], folder: Path) -> None:
    """Write one sub-district's :data:`PART_LAYERS` as GeoJSON, and as a GeoPackage.

    Each layer is projected to WGS 84 once, for both files.

    Parameters
    ----------
    layers
        The build's output layers by name (any CRS).
    folder
        The part's folder (created; a work folder, so its files are not renamed into place).
    """
    folder.mkdir(parents=True, exist_ok=True)
    wgs84 = {name: layers[name].to_crs(outputs.WGS84) for name in PART_LAYERS}
    outputs.write_layer_files(wgs84, folder)
    outputs.write_gpkg_layers(wgs84, folder / _PART_GPKG)


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
        city = {n: g.to_crs(outputs.WGS84) for n, g in layers.items()}  # projected once
        own = {n: g.copy() for n, g in city.items()}  # a thread's own frames (no shared caches)
        gpkg = staging / outputs.FILES["gpkg"]

        def write_gpkg() -> None:
            outputs.write_gpkg_layers(city, gpkg)
            append_gpkg_layers(gpkg, [p / _PART_GPKG for p in parts], PART_LAYERS)

        def join(name: str) -> None:
            files = [p / outputs.LAYER_FILES[name] for p in parts]
            join_geojson(files, staging / outputs.LAYER_FILES[name], name=name)

        def write_tables() -> None:
            for name, table in (tables or {}).items():
                outputs.frame_to_csv(table, staging / outputs.FILES[name])

        jobs: list[Callable[[], object]] = [
            write_gpkg,
            *(functools.partial(join, name) for name in PART_LAYERS),
            functools.partial(outputs.write_layer_files, own, staging),
            write_tables,
        ]
        # independent files, at once: SQLite, file copies and fsyncs let go of the GIL
        with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
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
    with outputs.atomic_path(target) as tmp, tmp.open("wb") as out:
        out.write(b'{"type":"FeatureCollection","name":' + json.dumps(name).encode() + b"," + _HEAD)
        first = True
        for source in sources:
            with source.open("rb") as fh:
                size = _features_span(fh, source)
                if not size:
                    continue
                if not first:
                    out.write(b",\n")
                _copy(fh, out, size)
            first = False
        out.write(_TAIL)


def _features_span(fh: BinaryIO, path: Path) -> int:
    """Seek ``fh`` to its first feature; return the length of the features' text."""
    head = fh.read(256)
    start = head.find(_HEAD)
    end = fh.seek(0, os.SEEK_END) - len(_TAIL)
    fh.seek(max(end, 0))
    if start < 0 or fh.read() != _TAIL or end < start + len(_HEAD):
        raise UnreadableFileError(f"{path} is not a GeoJSON file written by gridplan")
    fh.seek(start + len(_HEAD))
    return end - start - len(_HEAD)


def _copy(source: BinaryIO, target: BinaryIO, size: int) -> None:
    """Copy ``size`` bytes from ``source``'s position to ``target``'s.

    The kernel copies them where it can (``copy_file_range``: no pass through
    Python's buffers, a third of the CPU time), else they are read and written.
    """
    start = source.tell()
    target.flush()  # the kernel writes at the file's position, after what is buffered
    copied = 0
    with contextlib.suppress(OSError, AttributeError):  # no copy_file_range here
        while copied < size:
            done = os.copy_file_range(
                source.fileno(), target.fileno(), size - copied, start + copied
            )
            if not done:
                break
            copied += done
    source.seek(start + copied)
    while copied < size:
        chunk = source.read(min(size - copied, _CHUNK))
        if not chunk:
            raise UnreadableFileError(f"{source.name} ended while it was being joined")
        target.write(chunk)
        copied += len(chunk)
