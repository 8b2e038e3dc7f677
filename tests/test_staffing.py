"""Apportionment methods and office proposals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis._errors import InputError
from gis.staffing import apportion, propose_offices
from tests.districting_fixtures import lattice

METHODS = ["hamilton", "webster", "jefferson", "adams", "huntington-hill"]


@settings(max_examples=60, deadline=None)
@given(
    loads=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=30),
    workers=st.integers(0, 300),
    method=st.sampled_from(METHODS),
)
def test_apportion_sums_and_stays_near_quota(loads, workers, method) -> None:
    named = {str(i + 1): v for i, v in enumerate(loads)}
    out = apportion(named, workers, method=method)
    assert list(out) == list(named)
    assert sum(out.values()) == workers
    total = sum(loads)
    if method == "hamilton" and total > 0:
        for d, v in named.items():
            quota = v / total * workers
            assert np.floor(quota) <= out[d] <= np.ceil(quota)


def test_known_example_108_workers_in_25_districts() -> None:
    loads = {str(i + 1): 4000 + 37 * i for i in range(25)}
    for method in METHODS:
        out = apportion(loads, 108, method=method)
        assert sum(out.values()) == 108
        assert min(out.values()) >= 4
    # the classic 1792 US House example where Hamilton and Jefferson differ
    assert apportion({"a": 5.5, "b": 3.4, "c": 1.1}, 10, method="hamilton") == {
        "a": 6,
        "b": 3,
        "c": 1,
    }
    assert apportion({"a": 5.5, "b": 3.4, "c": 1.1}, 10, method="jefferson")["a"] >= 5


def test_minimum_and_errors() -> None:
    out = apportion({"a": 100.0, "b": 0.0}, 5, minimum=1)
    assert out == {"a": 4, "b": 1}
    with pytest.raises(InputError):
        apportion({"a": 1.0}, 3, method="borda")
    with pytest.raises(InputError):
        apportion({"a": 1.0, "b": 1.0}, 1, minimum=1)


def test_offices_prefer_public_buildings_inside_the_district() -> None:
    grids = lattice(6, 6, seed=0)
    plan = pd.Series(np.where(np.arange(36) % 6 < 3, "1", "2"), index=grids["code"])
    centre_1 = grids.geometry.iloc[14].centroid  # row 2, col 2: district 1
    corner_1 = grids.geometry.iloc[0].centroid
    pois = gpd.GeoDataFrame(
        {"kind": ["community_centre", "school", "other"], "name": ["Hall", "School", "Shop"]},
        geometry=[centre_1, corner_1, grids.geometry.iloc[20].centroid],
        crs=grids.crs,
    ).to_crs("EPSG:4326")
    offices = propose_offices(grids, plan, pois=pois)
    assert [o["district"] for o in offices] == ["1", "2"]
    one, two = offices
    assert one["source"] == "poi" and one["name"] == "Hall" and one["candidates"] == 2
    assert one["grid"] == grids["code"].iloc[14]
    assert two["source"] == "grid_centre"  # no public building in district 2
    assert plan[two["grid"]] == "2"
    assert two["mean_distance_m"] > 0


def test_offices_with_buildings_as_residents() -> None:
    grids = lattice(4, 4, seed=1)
    plan = pd.Series(["1"] * 16, index=grids["code"])
    # all residents live in the corner grid: the office goes there
    corner = grids.geometry.iloc[15]
    buildings = gpd.GeoDataFrame(
        {"grid": [grids["code"].iloc[15]], "population": [500.0]},
        geometry=[shapely.box(*corner.buffer(-10).bounds)],
        crs=grids.crs,
    )
    (office,) = propose_offices(grids, plan, buildings=buildings)
    assert office["grid"] == grids["code"].iloc[15]
    assert office["mean_distance_m"] < 20
