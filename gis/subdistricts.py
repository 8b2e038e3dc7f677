"""Sub-district (街道) polygons of a city: from the office's file, checked and made disjoint.

:func:`read_subdistricts` reads a polygon file with ``code`` (3 digits, or 9 =
6 admin + 3 sub-district) and ``name`` columns.  Codes must be unique, and
polygons may not overlap by more than digitising noise (a shared edge drawn
twice); such slivers go to the sub-district listed first.  Each row becomes a
:class:`Subdistrict` carrying the two code parts a grid code needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import InputError, ManifestError
from gis.crs import WGS84, utm_crs

#: Overlap (share of the smaller polygon) still taken for digitising noise.
OVERLAP_NOISE = 0.01


@dataclass(frozen=True)
class Subdistrict:
    """One sub-district to build as an area.

    Attributes
    ----------
    code
        Its 3-digit code (digits 7–9 of every grid code in it).
    admin_code
        The 6-digit admin division code, or None to keep the area's.
    name
        Display name.
    polygon
        Its territory (WGS 84), disjoint from every other sub-district's.
    """

    code: str
    admin_code: str | None
    name: str
    polygon: BaseGeometry


def read_subdistricts(path: str | os.PathLike[str]) -> list[Subdistrict]:
    """Read and check a sub-district file (GeoJSON, GeoPackage, Shapefile).

    Parameters
    ----------
    path
        Polygons with ``code`` (3 or 9 digits) and ``name``.

    Returns
    -------
    list of Subdistrict
        In the file's order, made disjoint.
    """
    from gis.sources import read_vector

    frame = read_vector(path, what="sub-district")
    return from_frame(frame, what=str(path))


def from_frame(frame: gpd.GeoDataFrame, *, what: str) -> list[Subdistrict]:
    """Check a frame of sub-districts (``code``, ``name``, polygons) and make it disjoint.

    Parameters
    ----------
    frame
        WGS 84 polygons with ``code`` and ``name``.
    what
        Where the frame came from, for messages.

    Returns
    -------
    list of Subdistrict
    """
    missing = {"code", "name"} - set(frame.columns)
    if missing:
        raise ManifestError(
            f"the sub-district file {what} lacks the column(s) {sorted(missing)}: each polygon "
            "needs a `code` (3 digits, or 9 = 6 admin + 3 sub-district) and a `name`"
        )
    codes = [_code(value, what) for value in frame["code"]]
    short = [c[-3:] for c in codes]
    dupes = sorted({c for c in short if short.count(c) > 1})
    if dupes:
        raise ManifestError(
            f"the sub-district file {what} repeats the sub-district code(s) {dupes}: "
            "give every sub-district its own 3-digit code"
        )
    polygons = _disjoint(list(frame.geometry.values), short, what)
    return [
        Subdistrict(
            code=c[-3:],
            admin_code=c[:6] if len(c) == 9 else None,
            name=str(name),
            polygon=poly,
        )
        for c, name, poly in zip(codes, frame["name"], polygons, strict=True)
    ]


def _code(value: object, what: str) -> str:
    text = str(value).strip()
    if text.endswith(".0"):  # a numeric column read as float
        text = text[:-2]
    if not (text.isdigit() and len(text) in (3, 9)):
        raise ManifestError(
            f"sub-district code {value!r} in {what} is not 3 or 9 digits: give the 3-digit "
            "sub-district code, or 6 admin digits followed by it (e.g. 320102001), as text"
        )
    return text


def _disjoint(geoms: list[BaseGeometry], codes: list[str], what: str) -> list[BaseGeometry]:
    """Repair, check the overlaps and give shared slivers to the polygon listed first."""
    polys = []
    for geom, code in zip(geoms, codes, strict=True):
        fixed = shapely.make_valid(geom) if geom is not None else None
        parts = (
            [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
            if fixed is not None
            else []
        )
        if not parts:
            raise InputError(f"sub-district {code} in {what} has no polygon: draw its territory")
        polys.append(shapely.union_all(parts))
    metric = gpd.GeoSeries(polys, crs=WGS84)
    metric = metric.to_crs(utm_crs(metric))
    arr = metric.values
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    taken = np.zeros(len(arr), dtype=bool)
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(arr[i], arr[j]).area
        smaller = min(arr[i].area, arr[j].area)
        if shared > OVERLAP_NOISE * smaller:
            raise InputError(
                f"sub-districts {codes[i]} and {codes[j]} in {what} overlap by "
                f"{shared / smaller:.0%} of the smaller one: a building must belong to one "
                "sub-district, so fix the boundaries"
            )
        if shared > 0:
            taken[j] = True
    out = list(polys)
    for j in np.flatnonzero(taken).tolist():  # slivers go to the sub-district listed first
        earlier = [polys[i] for i in range(j) if shapely.intersects(polys[i], polys[j])]
        out[j] = shapely.difference(polys[j], shapely.union_all(earlier))
    return out
