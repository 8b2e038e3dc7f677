"""The 1310 response check and the spacing check (gis.response)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from gis._errors import InputError, ServiceError
from gis.response import check_1310, spacing

CRS = "EPSG:32650"


def _street() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"highway": ["residential"]},
        geometry=[shapely.LineString([(0, 0), (3000, 0)])],
        crs=CRS,
    )


def _buildings() -> gpd.GeoDataFrame:
    # 1.25 m/s walking: 3 min = 225 m, 10 min = 750 m
    xs = [100, 200, 500, 800, 2900]
    return gpd.GeoDataFrame(
        {
            "id": [f"w{i}" for i in range(5)],
            "households": [10, 20, 30, 40, 0],
            "grid": ["g1", "g1", "g2", "g2", ""],
            "community": ["c1"] * 5,
        },
        geometry=[shapely.Point(x, 0) for x in xs],
        crs=CRS,
    )


def _bases(xs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.Point(x, 0) for x in xs], crs=CRS)


def test_1310_walk_by_hand():
    out = check_1310(_buildings(), _street(), _bases([0]), mode="walk")
    assert out["share_households"] == {"3": 0.3, "10": 0.6}
    assert out["worst_case_s"] == pytest.approx(800 / 1.25)  # the empty building is ignored
    assert out["outside_count"] == 1
    assert out["outside"][0] == {
        "id": "w3",
        "grid": "g2",
        "community": "c1",
        "response_s": 640.0,
        "households": 40.0,
    }
    assert out["without_grid"] == ["w4"]
    assert out["worst_case_s_per_grid"] == {"g1": 160.0, "g2": 640.0}
    assert out["response_s"]["w0"] == 80.0
    json.dumps(out)


def test_1310_per_district_by_hand():
    import pandas as pd

    plan = pd.DataFrame({"grid": ["g1", "g2"], "district": ["A", "B"]})
    out = check_1310(_buildings(), _street(), _bases([0]), mode="walk", plan=plan)
    # A holds w0 (80 s) and w1 (160 s); B holds w2 (400 s) and w3 (640 s)
    assert out["per_district"]["A"] == {
        "households": 30.0,
        "share_households": {"3": 1.0, "10": 1.0},
        "worst_case_s": 160.0,
    }
    assert out["per_district"]["B"]["share_households"] == {
        "3": 0.0,
        "10": pytest.approx(3 / 7, abs=1e-4),
    }
    assert out["per_district"]["B"]["worst_case_s"] == 640.0


def test_1310_bicycle_reaches_everyone():
    out = check_1310(_buildings(), _street(), _bases([0]), mode="bicycle")
    assert out["speed_m_s"] == 4.2
    # 500 m / 4.2 m/s = 119 s; 800 m = 190 s, beyond 3 minutes
    assert out["share_households"] == {"3": 0.6, "10": 1.0}
    assert out["outside_count"] == 0


def test_1310_bad_input():
    with pytest.raises(ServiceError):
        check_1310(_buildings(), _street(), _bases([]))
    with pytest.raises(InputError):
        check_1310(_buildings(), _street(), _bases([0]), mode="car")
    with pytest.raises(InputError):
        check_1310(_buildings(), _street(), _bases([0]), speed=0)
    with pytest.raises(ServiceError, match="more than"):
        check_1310(
            _buildings(), _street(), gpd.GeoDataFrame(geometry=[shapely.Point(0, 5000)], crs=CRS)
        )


def test_spacing_straight_and_network():
    b = _buildings()
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(150, 50), shapely.Point(2900, 0)], crs=CRS)
    straight = spacing(b, pts, spacings_m=(200, 80))
    assert straight["metric"] == "straight"
    # straight distances: 70.7, 70.7, 353.6, 650.2, 0
    assert straight["share_buildings"] == {"200": 0.6, "80": 0.6}
    assert straight["share_households"]["200"] == pytest.approx(0.3)
    net = spacing(b, pts, spacings_m=(200, 80), streets=_street())
    assert net["metric"] == "network"
    # over the street with a 50 m access leg: 100, 100, 400, 700, 0
    assert net["distance_m"] == {"w0": 100.0, "w1": 100.0, "w2": 400.0, "w3": 700.0, "w4": 0.0}
    assert net["share_buildings"] == {"200": 0.6, "80": 0.2}
    json.dumps(net)
    with pytest.raises(InputError):
        spacing(b, pts, spacings_m=(0,))
    with pytest.raises(ServiceError):
        spacing(b, pts.iloc[:0])
