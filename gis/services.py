"""Which points a flow measures from: service points for coverage, worker bases for 1310.

:func:`coverage_services` takes the user's file, else the area's own service
POIs (:func:`gis.coverage.default_services`).  :func:`worker_bases` takes the
user's file, else the build folder's ``services.geojson``, else those POIs,
as the API does.  Both say where the points came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd

from gis._errors import EmptyLayerError, ServiceError, UnreadableFileError
from gis._types import PathLike
from gis.outputs import BuildFolder
from gis.sources import read_vector

#: The geometry types accepted as points (polygons count at a point inside).
POINT_TYPES = ("Point", "MultiPoint", "Polygon", "MultiPolygon")


def coverage_services(
    path: PathLike | None, pois: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The service points of a coverage run and their source (for coverage.json).

    Returns
    -------
    services, source
        The points, and ``{"file": path}`` or ``{"pois": {kind: count}}``.
    """
    from gis.coverage import default_services

    if path is not None:
        advice = "give a GeoJSON or GeoPackage of the service points (clinics, centres, ...)"
        return _points_file(path, "service points", advice), {"file": str(path)}
    services, kinds = default_services(pois)
    return services, {"pois": kinds}


def worker_bases(
    folder: BuildFolder, path: PathLike | None
) -> tuple[gpd.GeoDataFrame, str, list[str]]:
    """The worker bases of a 1310 check, where they came from, and what was passed over.

    Raises
    ------
    UnreadableFileError
        The bases file does not exist.
    ServiceError
        The file (or the folder) gives no usable point.
    """
    advice = "give a GeoJSON or GeoPackage of the points workers start from"
    if path is not None:
        return _points_file(path, "bases", advice), str(path), []
    notes: list[str] = []
    services = folder.file("services")
    if services.is_file():
        try:
            bases = usable_points(read_vector(services, what="service points"))
        except EmptyLayerError:
            bases = None
        if bases is not None and not bases.empty:
            return bases, str(services), notes
        notes.append(f"{services} holds no points; looking at the area's POIs")
    bases, kinds = _poi_bases(folder)
    return bases, "POIs (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")", notes


def _points_file(path: PathLike, what: str, advice: str) -> gpd.GeoDataFrame:
    """The usable points of a user's file of ``what`` (bases, service points), else why not."""
    if not Path(path).is_file():
        raise UnreadableFileError(f"the {what} file {path} does not exist: {advice}")
    try:
        raw = read_vector(path, what=what)
    except EmptyLayerError:
        raise ServiceError(f"the {what} file {path} holds no features: {advice}") from None
    points = usable_points(raw)
    if points.empty:
        found = ", ".join(sorted(set(raw.geometry.dropna().geom_type))) or "only empty ones"
        raise ServiceError(
            f"the {what} file {path} holds no points (geometries: {found}): {advice}"
        )
    return points


def _poi_bases(folder: BuildFolder) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    from gis.coverage import default_services

    try:
        chosen, kinds = default_services(folder.read("pois", required=False))
    except ServiceError:
        raise ServiceError(
            f"no worker bases: {folder.path} has no services.geojson and no community centres, "
            "clinics or government offices among its POIs: pass --bases FILE (points where "
            "workers start, e.g. district offices)"
        ) from None
    bases = usable_points(chosen)
    if bases.empty:
        raise ServiceError(
            f"no worker bases: the service POIs of {folder.path} have no usable geometry: "
            "pass --bases FILE"
        )
    return bases, kinds


def usable_points(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features of ``gdf`` usable as points: non-empty points and polygons, parts split."""
    geoms = gdf.geometry
    keep = geoms.notna() & ~geoms.is_empty & geoms.geom_type.isin(POINT_TYPES)
    return gdf[keep].explode(index_parts=False).reset_index(drop=True)
