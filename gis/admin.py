"""Sub-districts from an extract's administrative boundaries (``--subdistricts osm``).

:func:`osm_subdistricts` reads the ``boundary=administrative`` relations of one
``admin_level`` and turns them into numbered :class:`~gis.subdistricts.Subdistrict`
polygons.  A relation whose every member is in the extract (as ``gridplan
fetch`` downloads them) is assembled as it is.  An extract cut to a box holds
only the pieces of boundary inside the box: those pieces and the box's edge
are polygonised, and each face goes to the relation whose ways bound most of
it.  Sub-districts are numbered 001, 002, … west → east in rows from north to
south, as grids are.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis._errors import EmptyLayerError
from gis.crs import WGS84, utm_crs
from gis.subdistricts import Subdistrict, from_frame

#: Levels tried when none is given: a sub-district (街道) is level 8 in China, a
#: Berlin Ortsteil 10, a Dublin electoral division 9.
LEVELS = (8, 9, 10, 7, 11)


def osm_subdistricts(
    path: str | os.PathLike[str], *, level: int | None = None
) -> list[Subdistrict]:
    """Sub-district polygons from the administrative boundaries in an OSM file.

    Parameters
    ----------
    path
        OSM XML (optionally compressed) or PBF.
    level
        The ``admin_level`` to use; None: level 8 when it gives two or more
        polygons, else the level giving the most.

    Returns
    -------
    list of Subdistrict
    """
    path = Path(path)
    relations, lines, box = _read_boundaries(path)
    by_level: dict[int, gpd.GeoDataFrame] = {}
    for lvl in [level] if level is not None else list(LEVELS):
        frame = _polygons(relations, lines, box, lvl)
        if len(frame):
            by_level[lvl] = frame
    if not by_level:
        asked = f"admin_level {level}" if level is not None else "admin_level 7-11"
        raise EmptyLayerError(
            f"{path.name} holds no administrative boundaries at {asked}: give your own "
            "sub-district file (--subdistricts FILE with code and name), or fetch the place "
            "with `gridplan fetch`, which downloads whole boundaries"
        )
    if level is None:
        level = (
            8 if len(by_level.get(8, [])) >= 2 else max(by_level, key=lambda k: len(by_level[k]))
        )
    frame = by_level[level]
    from gis.grids import number_west_east_north_south

    metric = frame.to_crs(utm_crs(frame))
    points = shapely.get_coordinates(shapely.point_on_surface(metric.geometry.values))
    order = number_west_east_north_south(
        points, row_height=float(np.sqrt(np.median(metric.geometry.area))) / 2
    )
    frame = frame.iloc[order].reset_index(drop=True)
    frame["code"] = [f"{i:03d}" for i in range(1, len(frame) + 1)]
    return from_frame(frame, what=f"{path.name} (admin_level {level})")


def _read_boundaries(
    path: Path,
) -> tuple[dict[int, dict[str, Any]], dict[int, BaseGeometry], BaseGeometry | None]:
    """Admin relations (members, tags, assembled area or None), member way lines, the box."""
    import osmium

    relations: dict[int, dict[str, Any]] = {}
    relation_reader: Any = osmium.FileProcessor(osmium.io.File(str(path)), osmium.osm.RELATION)
    for rel in relation_reader:
        if rel.tags.get("boundary") == "administrative" and rel.tags.get("admin_level"):
            relations[rel.id] = {
                "level": rel.tags.get("admin_level"),
                "name": rel.tags.get("name") or rel.tags.get("name:en") or f"r{rel.id}",
                "ways": [m.ref for m in rel.members if m.type == "w"],
                "area": None,
            }
    wanted = {w for r in relations.values() for w in r["ways"]}
    lines: dict[int, BaseGeometry] = {}
    factory = osmium.geom.WKBFactory()
    processor: Any = (
        osmium.FileProcessor(osmium.io.File(str(path)))
        .with_locations()
        .with_areas(osmium.filter.TagFilter(("boundary", "administrative")))
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY | osmium.osm.AREA))
    )
    for obj in processor:
        if obj.is_way() and obj.id in wanted:
            coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(coords) >= 2:
                lines[obj.id] = shapely.LineString(coords)
        elif obj.is_area() and not obj.from_way() and obj.orig_id() in relations:
            try:
                area = shapely.from_wkb(factory.create_multipolygon(obj))
            except RuntimeError:
                continue
            relations[obj.orig_id()]["area"] = area
    box = osmium.io.Reader(str(path)).header().box()
    extent = None
    if box.valid():
        extent = shapely.box(box.bottom_left.lon, box.bottom_left.lat,
                             box.top_right.lon, box.top_right.lat)  # fmt: skip
    return relations, lines, extent


def _polygons(
    relations: dict[int, dict[str, Any]],
    lines: dict[int, BaseGeometry],
    box: BaseGeometry | None,
    level: int,
) -> gpd.GeoDataFrame:
    """Named polygons of one level: whole relations, and faces of cut ones inside the box."""
    rows = []
    cut: dict[int, dict[str, Any]] = {}
    for rid, rel in relations.items():
        if rel["level"] != str(level):
            continue
        if rel["area"] is not None:
            geom = rel["area"] if box is None else shapely.intersection(rel["area"], box)
            if not geom.is_empty and geom.area > 0:
                rows.append({"name": rel["name"], "osm_id": f"r{rid}", "geometry": geom})
        elif box is not None:
            cut[rid] = rel
    if cut and box is not None:
        rows.extend(_faces(cut, lines, box))
    return (
        gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
        if rows
        else gpd.GeoDataFrame({"name": [], "osm_id": []}, geometry=[], crs=WGS84)
    )


def _faces(
    cut: dict[int, dict[str, Any]], lines: dict[int, BaseGeometry], box: BaseGeometry
) -> list[dict[str, Any]]:
    """Faces of the cut boundaries and the box, each given to the relation bounding most of it."""
    own: dict[int, list[int]] = {
        rid: [w for w in rel["ways"] if w in lines] for rid, rel in cut.items()
    }
    pieces = [lines[w] for ways in own.values() for w in ways]
    if not pieces:
        return []
    frame = gpd.GeoSeries([box], crs=WGS84)
    crs = utm_crs(frame)
    to_metric = gpd.GeoSeries([*pieces, box.exterior], crs=WGS84).to_crs(crs).values
    box_m = gpd.GeoSeries([box], crs=WGS84).to_crs(crs).iloc[0]
    noded = shapely.union_all(shapely.intersection(to_metric, box_m.buffer(1e-6)))
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
             if f.area > 1.0]  # fmt: skip
    ring_of = {
        rid: shapely.buffer(
            shapely.union_all(
                gpd.GeoSeries([lines[w] for w in ways], crs=WGS84).to_crs(crs).values
            ),
            2.0,
        )
        for rid, ways in own.items()
        if ways
    }
    owner: dict[int, list[BaseGeometry]] = defaultdict(list)
    for face in faces:
        edge = face.exterior
        share = {rid: shapely.intersection(edge, ring).length for rid, ring in ring_of.items()}
        best = max(share, key=lambda r: share[r])
        ranked = sorted(share.values(), reverse=True)
        if ranked[0] <= 0 or (len(ranked) > 1 and ranked[1] >= 0.98 * ranked[0]):
            continue  # bounded by no boundary of its own, or by two equally: nobody's for sure
        owner[best].append(face)
    rows = []
    for rid, parts in owner.items():
        geom = gpd.GeoSeries([shapely.union_all(parts)], crs=crs).to_crs(WGS84).iloc[0]
        rows.append({"name": cut[rid]["name"], "osm_id": f"r{rid}", "geometry": geom})
    return rows
