"""Coordinate reference systems: the metric CRS to compute in, and transforms.

Areas, lengths and buffers are computed in a projected metric CRS (the area
manifest's ``crs``, or the UTM zone of the data); files are exchanged in
WGS 84.  Layers without a CRS are refused, never guessed.
"""

from __future__ import annotations

import functools
import math

import geopandas as gpd
from pyproj import CRS

from gis._errors import CRSError
from gis._types import CRSLike

#: WGS 84 longitude/latitude: the CRS of every file gridplan exchanges (RFC 7946).
WGS84 = "EPSG:4326"


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, preferred: CRSLike | None = None) -> CRS:
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
        scale = areal_scale(crs, gdf)
        if abs(scale - 1.0) > MAX_AREAL_DISTORTION:
            raise CRSError(
                f"{preferred} distorts areas by {100 * (scale - 1):+.0f}% here (a web map "
                "projection, or a zone far from the area), which would skew every household "
                f"estimate: give the area's UTM or Gauss-Kruger zone, e.g. "
                f"{utm_crs(gdf).to_string()}"
            )
        return crs
    metric = gdf.crs.is_projected and gdf.crs.axis_info[0].unit_name in ("metre", "meter")
    if metric and abs(areal_scale(gdf.crs, gdf) - 1.0) <= MAX_AREAL_DISTORTION:
        return gdf.crs
    return utm_crs(gdf)


#: How close (degrees) to a zone edge or the equator the PROJ database decides the zone.
_ZONE_EDGE_DEG = 1e-6


def utm_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The WGS 84 UTM zone at the centre of ``gdf``'s bounds, as geopandas estimates it.

    ``GeoSeries.estimate_utm_crs`` asks the PROJ database each time (about
    0.15 s); the zone of a point is arithmetic: 6° bands from 180°W, north of
    the equator 326zz, south 327zz.  Points within :data:`_ZONE_EDGE_DEG` of
    an edge, and beyond the zones' 80°S–84°N, are still asked of the database,
    so the answer is always the one geopandas gives.

    Parameters
    ----------
    gdf
        Any layer with a CRS.

    Returns
    -------
    pyproj.CRS
    """
    require_crs(gdf, "layer")
    w, s, e, n = gdf.total_bounds
    if not gdf.crs.is_geographic:  # as geopandas: the bounds' corners in WGS 84
        from pyproj import Transformer

        to_wgs = Transformer.from_crs(gdf.crs, WGS84, always_xy=True)
        w, s, e, n = to_wgs.transform_bounds(w, s, e, n)
    lon, lat = (w + e) / 2, (s + n) / 2
    band = (lon + 180.0) / 6.0
    near_edge = abs(band - round(band)) * 6.0 < _ZONE_EDGE_DEG or any(
        abs(lat - edge) < _ZONE_EDGE_DEG for edge in (-80.0, 0.0, 84.0)
    )
    odd = not (math.isfinite(lon) and math.isfinite(lat)) or w > e  # empty, or over 180°
    if odd or near_edge or not -80 <= lat <= 84:
        return gdf.estimate_utm_crs()
    zone = min(int(band) + 1, 60)
    return _epsg((32600 if lat > 0 else 32700) + zone)


@functools.lru_cache(maxsize=64)
def _epsg(code: int) -> CRS:
    return CRS.from_epsg(code)


#: Largest areal scale error of a metric CRS at the data (1%: 3-degree zones reach 0.5%).
MAX_AREAL_DISTORTION = 0.01


def areal_scale(crs: CRS, gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> float:
    """The factor by which ``crs`` scales areas at the centre of ``gdf`` (1.0: true areas)."""
    from pyproj import Proj

    w, s, e, n = gdf.to_crs(WGS84).total_bounds
    factors = Proj(crs).get_factors((w + e) / 2, (s + n) / 2)
    return float(factors.areal_scale)


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Raise :class:`CRSError` when ``gdf`` has no CRS."""
    if gdf.crs is None:
        raise CRSError(
            f"the {what} has no coordinate reference system: set it in the file "
            "(GeoJSON is WGS 84 by definition) or reproject it before loading"
        )


# -- Chinese coordinate systems (exports) -------------------------------------
# CGCS2000 (EPSG:4490) is the national geodetic system; it differs from WGS 84
# by centimetres, and PROJ treats the transform as a no-op ("ballpark").
# GCJ-02 is the obfuscated system of Chinese web maps (AMap, Tencent): WGS 84
# plus a published polynomial offset of a few hundred metres inside China.

import numpy as np  # noqa: E402  (kept with the part that uses it)

CGCS2000 = CRS.from_epsg(4490)

#: GCJ-02 has no EPSG code.  Files in it get this CRS of their own, named for what
#: it is, so that GIS software never takes the shifted coordinates for WGS 84
#: (QGIS would draw them about 500 m off without a word).
GCJ02_NAME = "GCJ-02 (WGS 84 with the offset of Chinese web maps; not EPSG:4326)"
GCJ02_DESCRIPTION = (
    "GCJ-02: longitude/latitude on the WGS 84 ellipsoid shifted by the published "
    "GCJ-02 offset (a few hundred metres inside China) used by AMap and Tencent maps. "
    "Not WGS 84: convert back (gridplan's gcj02_to_wgs84) before mixing with WGS 84 data."
)
GCJ02 = CRS.from_wkt(
    f'''GEOGCRS["{GCJ02_NAME}",
    DATUM["GCJ-02 offset of World Geodetic System 1984",
        ELLIPSOID["WGS 84",6378137,298.257223563,LENGTHUNIT["metre",1]]],
    PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],
    CS[ellipsoidal,2],
        AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],
        AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],
    REMARK["{GCJ02_DESCRIPTION}"]]'''
)

_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_GCJ_EE = 0.00669342162296594323  # its first eccentricity squared


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Where GCJ-02 applies no offset (the rough box used by every implementation)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS 84 longitude/latitude to GCJ-02 (unchanged outside China).

    Parameters
    ----------
    lon, lat
        Degrees, scalars or arrays.

    Returns
    -------
    tuple of arrays
        GCJ-02 longitude and latitude.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    out = outside_china(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def gcj02_to_wgs84(
    lon: np.ndarray, lat: np.ndarray, *, tol: float = 1e-9, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (better than 1e-9°, ~0.1 mm)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(max_iter):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if np.all(np.abs(dlon) < tol) and np.all(np.abs(dlat) < tol):
            break
    return wlon, wlat
