"""Per-building coverage and figures (gis.coverage), checked by hand and against
an independent networkx computation on both real areas and an unseen town."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis._errors import InputError, NetworkError, ServiceError
from gis.coverage import compute_coverage, default_services
from gis.network import walkable_mask
from tests.coverage_fixtures import (
    FINLAND_PBF,
    HELSINKI_OSM,
    NANJING_OSM,
    read_osm,
    reference_distances,
    segments_by_ids,
)

CRS = "EPSG:32650"


def _street(length: float = 1000.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["w1"], "highway": ["residential"]},
        geometry=[shapely.LineString([(0, 0), (length, 0)])],
        crs=CRS,
    )


def _buildings(xs, *, pop=None, grid=None) -> gpd.GeoDataFrame:
    n = len(xs)
    return gpd.GeoDataFrame(
        {
            "id": [f"w{100 + i}" for i in range(n)],
            "population": pop if pop is not None else [10.0] * n,
            "households": [p / 2 for p in (pop if pop is not None else [10.0] * n)],
            "grid": grid if grid is not None else ["320104001001001"] * n,
            "community": ["320104001001"] * n,
        },
        geometry=[shapely.Point(x, 0) for x in xs],
        crs=CRS,
    )


def _services(xs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"n{i}" for i in range(len(xs))]},
        geometry=[shapely.Point(x, 0) for x in xs],
        crs=CRS,
    )


def test_figures_by_hand():
    # service at 0; buildings at 100..900 m; adult 1.25 m/s: 5 min = 375 m, 10 min = 750 m
    b = _buildings([100, 300, 500, 700, 900], pop=[1, 2, 3, 4, 5], grid=["a", "a", "b", "b", "b"])
    res = compute_coverage(b, _street(), _services([0]), minutes=(5, 10), n_sites=0)
    assert res.buildings["walk_s"].tolist() == pytest.approx([80, 240, 400, 560, 720])
    assert res.buildings["walk2_s"].isna().all()  # one service: no backup
    assert res.buildings.index.equals(b.index)
    area = res.figures["profiles"]["adult"]["area"]
    assert area["within"]["5"]["population"] == 3
    assert area["within"]["5"]["population_share"] == pytest.approx(0.2)
    assert area["within"]["10"]["buildings"] == 4
    grid = res.figures["profiles"]["adult"]["grid"]
    assert grid["a"]["within"]["5"]["population_share"] == 1.0
    assert grid["b"]["within"]["10"]["population"] == 7
    # elderly 0.97 m/s: 5 min = 291 m, so 300 m is lost; 10 min = 582 m, so 700 m is lost
    lost = res.figures["lost_at_slower_speed"]["elderly"]
    assert lost["5"]["population"] == 2 and lost["5"]["grids"] == ["a"]
    assert lost["10"]["population"] == 4
    assert res.buildings["walk_s_elderly"].tolist() == pytest.approx(
        [d / 0.97 for d in (100, 300, 500, 700, 900)], abs=0.05
    )
    json.dumps(res.figures)  # plain JSON for the HTTP API, no numpy types


def test_standard_mode_uses_living_circle_distances():
    b = _buildings([290, 310, 490, 510, 990, 1000])
    res = compute_coverage(
        b, _street(), _services([0]), mode="standard", profiles=("elderly",), n_sites=0
    )
    prof = res.figures["profiles"]["elderly"]
    assert prof["distance_m"] == {"5": 300, "10": 500, "15": 1000}
    within = prof["area"]["within"]
    assert [within[m]["buildings"] for m in ("5", "10", "15")] == [1, 3, 6]


def test_per_district_with_plan():
    b = _buildings([100, 300, 500], grid=["g1", "g2", "g2"])
    plan = pd.DataFrame({"grid": ["g1", "g2"], "district": ["1", "2"]})
    res = compute_coverage(b, _street(), _services([0]), minutes=(5,), plan=plan, n_sites=0)
    districts = res.figures["profiles"]["adult"]["district"]
    assert districts["1"]["within"]["5"]["buildings"] == 1
    assert districts["2"]["within"]["5"]["buildings"] == 1
    assert "community" in res.figures["profiles"]["adult"]


def test_zero_coverage_is_reported_not_silent():
    b = _buildings([900, 950])
    res = compute_coverage(b, _street(), _services([0]), minutes=(5,), n_sites=0)
    assert res.figures["profiles"]["adult"]["area"]["within"]["5"]["buildings"] == 0
    assert any("no building is within 5 minutes" in w for w in res.warnings)
    full = compute_coverage(_buildings([10]), _street(), _services([0]), minutes=(5,), n_sites=0)
    assert any("every building" in w for w in full.warnings)


def test_bad_inputs():
    b = _buildings([100])
    with pytest.raises(ServiceError, match="no service points"):
        compute_coverage(b, _street(), _services([]))
    with pytest.raises(InputError, match="speed"):
        compute_coverage(b, _street(), _services([0]), profiles=(0,))
    with pytest.raises(InputError, match="speed"):
        compute_coverage(b, _street(), _services([0]), profiles=(-1.2,))
    with pytest.raises(InputError, match="unknown speed profile"):
        compute_coverage(b, _street(), _services([0]), profiles=("fast",))
    with pytest.raises(InputError, match="positive"):
        compute_coverage(b, _street(), _services([0]), minutes=(0, 5))
    custom = compute_coverage(b, _street(), _services([0]), profiles=("1.1",), n_sites=0)
    assert custom.figures["profiles"]["1.1m_s"]["speed_m_s"] == 1.1
    with pytest.raises(InputError, match="standard"):
        compute_coverage(b, _street(), _services([0]), minutes=(7,), mode="standard")
    far = gpd.GeoDataFrame(geometry=[shapely.Point(0, 50_000)], crs=CRS)
    with pytest.raises(ServiceError, match="from the walk network"):
        compute_coverage(b, _street(), far)
    motorway = _street().assign(highway="motorway")
    with pytest.raises(NetworkError):
        compute_coverage(b, motorway, _services([0]))


def test_some_services_off_network_and_disconnected_pieces_are_warned():
    streets = pd.concat(
        [
            _street(),
            gpd.GeoDataFrame(
                {"id": ["w2"], "highway": ["footway"]},
                geometry=[shapely.LineString([(0, 500), (50, 500)])],
                crs=CRS,
            ),
        ],
        ignore_index=True,
    )
    services = pd.concat(
        [
            _services([0]),
            gpd.GeoDataFrame({"id": ["far"]}, geometry=[shapely.Point(0, 9000)], crs=CRS),
        ],
        ignore_index=True,
    )
    res = compute_coverage(_buildings([100]), streets, services, n_sites=0)
    assert any("left out: far" in w for w in res.warnings)
    long = compute_coverage(
        _buildings([100, 400]).assign(geometry=[shapely.Point(100, 5), shapely.Point(400, 150)]),
        streets,
        services,
        n_sites=0,
    )
    assert long.figures["snapping"]["long_snap_ids"] == ["w101"]
    assert any("disconnected" in w for w in res.warnings)
    assert res.figures["services"]["count"] == 1


def test_default_services_from_pois():
    pois = gpd.GeoDataFrame(
        {"kind": ["clinic", "school", "community_centre", "other"]},
        geometry=[shapely.Point(i, 0) for i in range(4)],
        crs=CRS,
    )
    chosen, kinds = default_services(pois)
    assert len(chosen) == 2 and kinds == {"clinic": 1, "community_centre": 1}
    with pytest.raises(ServiceError):
        default_services(pois[pois["kind"] == "school"])


@pytest.mark.parametrize(
    "path", [NANJING_OSM, HELSINKI_OSM, FINLAND_PBF], ids=["nanjing", "helsinki", "finland"]
)
def test_real_areas_agree_with_networkx(path):
    """walk_m of compute_coverage vs networkx on an OSM-node-id graph, ≤ 0.01 m."""
    streets, buildings, _ = read_osm(path)
    streets = streets[walkable_mask(streets)[0]].reset_index(drop=True)
    rng = np.random.default_rng(7)
    services = buildings.iloc[np.sort(rng.choice(len(buildings), 15, replace=False))]
    crs = buildings.estimate_utm_crs()
    res = compute_coverage(buildings, streets, services, crs=crs, minutes=(5,), n_sites=0)
    kept = services[services["id"].isin(res.figures["services"]["ids"])]
    assert len(kept) >= 10  # a few may lie more than 250 m from any street: left out, warned
    services = kept
    b_xy = shapely.get_coordinates(shapely.point_on_surface(buildings.to_crs(crs).geometry.values))
    s_xy = shapely.get_coordinates(shapely.point_on_surface(services.to_crs(crs).geometry.values))
    keys, coords = segments_by_ids(streets, crs)
    r1, r2 = reference_distances(keys, coords, b_xy, s_xy)
    d1 = res.buildings["walk_m"].to_numpy(dtype=float, na_value=np.inf)
    d2 = res.buildings["walk2_m"].to_numpy(dtype=float, na_value=np.inf)
    np.testing.assert_allclose(d1, r1, atol=0.01)
    np.testing.assert_allclose(d2, r2, atol=0.01)
    np.testing.assert_allclose(res.state.dist, r1, atol=0.01)


def test_gaps_by_hand():
    # 5 minutes = 375 m: 100 is covered; 800 and 830 form one gap, 1900 another
    street = _street(2000)
    b = _buildings([100, 800, 830, 1900], pop=[1, 2, 3, 4])
    b["geometry"] = b.geometry.buffer(5, cap_style="square")
    res = compute_coverage(b, street, _services([0]), minutes=(5,), n_sites=0)
    gaps = res.gaps
    assert len(gaps) == 2
    assert gaps["population"].tolist() == [5, 4]  # sorted by population
    assert gaps["buildings"].tolist() == [2, 1]
    assert gaps.crs.to_epsg() == 4326
    assert res.figures["profiles"]["adult"]["area"]["within"]["5"]["buildings"] == 1
