"""Coordinate reference systems: the metric CRS to compute in, and transforms.

Areas, lengths and buffers are computed in a projected metric CRS (the area
manifest's ``crs``, or the UTM zone of the data); files are exchanged in
WGS 84.  Layers without a CRS are refused, never guessed.
"""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS

from gis._errors import CRSError

WGS84 = CRS.from_epsg(4326)


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, preferred: str | None = None) -> CRS:
    """Choose the projected metric CRS to compute ``gdf`` in.

    Parameters
    ----------
    gdf
        Any layer with a CRS.
    preferred
        A CRS given by the user or the area manifest (e.g. ``"EPSG:32650"``);
        used when it is projected with metre units.

    Returns
    -------
    pyproj.CRS
        ``preferred`` when usable, else the UTM zone of the layer's centre.
    """
    require_crs(gdf, "layer")
    if preferred:
        crs = CRS.from_user_input(preferred)
        if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
            raise CRSError(f"{preferred} is not a projected CRS in metres: give e.g. a UTM zone")
        return crs
    if gdf.crs.is_projected and gdf.crs.axis_info[0].unit_name in ("metre", "meter"):
        return gdf.crs
    return gdf.estimate_utm_crs()


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Raise :class:`CRSError` when ``gdf`` has no CRS."""
    if gdf.crs is None:
        raise CRSError(
            f"the {what} has no coordinate reference system: set it in the file "
            "(GeoJSON is WGS 84 by definition) or reproject it before loading"
        )
