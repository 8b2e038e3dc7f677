"""GCJ-02 and CGCS2000 transforms against published reference points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gis.crs import CGCS2000, WGS84, gcj02_to_wgs84, outside_china, utm_crs, wgs84_to_gcj02

# (wgs lat, wgs lon, gcj lat, gcj lon) from the eviltransform test suite
# (googollee/eviltransform, test.py: Shanghai, Shenzhen, Beijing)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]
# Tiananmen, from the test suite of an R GCJ-02 package (8 decimals)
R_PACKAGE = [(39.90734, 116.39089, 39.90874107, 116.39713094)]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM + R_PACKAGE)
def test_wgs84_to_gcj02_matches_reference(wlat, wlon, glat, glon) -> None:
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-8)
    assert lat == pytest.approx(glat, abs=1e-8)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM + R_PACKAGE)
def test_gcj02_to_wgs84_inverts_within_a_millimetre(wlat, wlon, glat, glon) -> None:
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert abs(lon - wlon) < 1e-8 and abs(lat - wlat) < 1e-8  # ~1 mm


def test_vectorised_round_trip_and_offset_size() -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(100, 125, 500)
    lat = rng.uniform(20, 45, 500)
    glon, glat = wgs84_to_gcj02(lon, lat)
    shift_m = np.hypot((glon - lon) * 111_000 * np.cos(np.radians(lat)), (glat - lat) * 111_000)
    assert shift_m.min() > 50 and shift_m.max() < 1_000  # a few hundred metres
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_no_offset_outside_china() -> None:
    assert outside_china(24.94, 60.17)  # Helsinki
    lon, lat = wgs84_to_gcj02(24.94, 60.17)
    assert (float(lon), float(lat)) == (24.94, 60.17)


def test_cgcs2000_is_epsg_4490_and_within_centimetres_of_wgs84() -> None:
    assert CGCS2000.to_epsg() == 4490
    t = Transformer.from_crs("EPSG:4326", CGCS2000, always_xy=True)
    lon, lat = t.transform(118.78, 32.04)
    assert abs(lon - 118.78) < 1e-6 and abs(lat - 32.04) < 1e-6


@settings(max_examples=25, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-80, 84),
    width=st.floats(0, 0.5),
    on_zone_edge=st.booleans(),
    on_equator=st.booleans(),
)
def test_the_utm_zone_is_the_one_geopandas_estimates(
    lon, lat, width, on_zone_edge, on_equator
) -> None:
    """The arithmetic zone equals the PROJ database's, at zone edges and the equator too."""
    lon = round(lon / 6) * 6.0 if on_zone_edge else lon
    lat = 0.0 if on_equator else lat
    west, east = max(lon - width, -180.0), min(lon + width, 180.0)
    box = gpd.GeoSeries([shapely.box(west, lat, east, lat + width)], crs=WGS84)
    assert utm_crs(box) == box.estimate_utm_crs()
    metric = box.to_crs(box.estimate_utm_crs())  # from a projected CRS: bounds in WGS 84 first
    assert utm_crs(metric) == metric.estimate_utm_crs()
