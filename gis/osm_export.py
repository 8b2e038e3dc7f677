"""The areas of an OSM file from osmium-tool's ``osmium export``, parsed in bulk.

pyosmium hands Python one object at a time, and a city part's buildings cost
a Python call per area and per tag. ``osmium export -f pg`` assembles the
same areas in C++ with libosmium's multipolygon manager (closed ways not
tagged ``area=no``, multipolygon and boundary relations; areas that cannot
be assembled are left out, as pyosmium's WKB factory refuses them) and
prints one line per area: hex EWKB, ``way``/``relation``, the id, and the
tags as JSON, keeping only the keys asked for. :func:`export_areas` reads
those lines with one ``from_wkb`` and one ``json.loads`` for all of them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from gis._errors import UnreadableFileError


@dataclass(frozen=True)
class Areas:
    """The areas of one file, column-wise, in the order osmium export wrote them.

    Attributes
    ----------
    from_way
        True where the area is a closed way, False where a relation.
    ids
        The way's or relation's id (int64).
    geometry
        MultiPolygons (WGS 84, no SRID), as pyosmium's WKB factory makes them.
    tags
        Each area's tags among the keys asked for.
    """

    from_way: np.ndarray
    ids: np.ndarray
    geometry: np.ndarray
    tags: list[dict[str, str]]


def export_areas(exe: str, path: Path, keys: Sequence[str]) -> Areas:
    """The areas of ``path`` with at least one of ``keys``, by ``osmium export``.

    Parameters
    ----------
    exe
        The osmium-tool executable.
    path
        A sorted OSM file (PBF or XML).
    keys
        The tag keys to keep; an area with none of them is not exported.

    Returns
    -------
    Areas
    """
    # C++: the areas assembled and written as text
    text = _run_export(exe, path, keys)
    # one line per area: geometry, type, id, tags (JSON escapes tabs and newlines)
    fields = text.replace("\n", "\t").split("\t")[:-1]
    hexwkb, types, ids, tags = (fields[i::4] for i in range(4))
    return Areas(
        from_way=np.array(types, dtype=object) == "way",
        ids=np.array(ids, dtype=np.int64),
        geometry=_geometries(hexwkb),
        tags=_tags(tags),
    )


def _run_export(exe: str, path: Path, keys: Sequence[str]) -> str:
    """osmium export's pg lines of the areas of ``path`` (an UnreadableFileError if it fails)."""
    config = {"attributes": {"type": True, "id": True}, "include_tags": list(keys)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="gridplan-export-") as fh:
        json.dump(config, fh)
        fh.flush()
        argv = [exe, "export", "--no-progress", "--config", fh.name]
        argv += ["--geometry-types", "polygon", "--output-format", "pg", "--output", "-"]
        done = subprocess.run([*argv, str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        raise UnreadableFileError(
            f"cannot read {path} with osmium export: "
            f"{done.stderr.decode(errors='replace').strip()}; split the city again"
        )
    return done.stdout.decode()


def _geometries(hexwkb: Sequence[str]) -> np.ndarray:
    """The areas' geometries from osmium's hex EWKB, without its SRID (pyosmium writes none).

    GEOS reads bytes far faster than hex, so the hex becomes bytes first. In
    little-endian EWKB (what osmium writes on x86) the SRID is the flag 0x20 in
    the last byte of the type and the four bytes after it: cut out of the hex
    here, cheaper than copying every geometry with ``set_srid`` afterwards.
    """
    blobs = [
        bytes.fromhex(h[:8] + "00" + h[18:] if h[:2] == "01" and h[8:10] == "20" else h)
        for h in hexwkb
    ]
    geometry = shapely.from_wkb(np.array(blobs, dtype=object)) if blobs else np.array([], object)
    srid = shapely.get_srid(geometry) != 0  # any other EWKB (big-endian): its SRID dropped
    if srid.any():
        geometry[srid] = shapely.set_srid(geometry[srid], 0)
    return np.asarray(geometry, dtype=object)


def _tags(columns: Sequence[str]) -> list[dict[str, Any]]:
    """The tag objects of the lines, parsed as one JSON array.

    The pg format doubles every backslash of the JSON (COPY's escaping; JSON
    itself escapes tabs and newlines), so halving them gives the JSON back.
    """
    if not columns:
        return []
    tags: list[dict[str, Any]] = json.loads("[" + ",".join(columns).replace("\\\\", "\\") + "]")
    return tags
