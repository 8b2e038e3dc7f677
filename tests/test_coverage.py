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
from tests.access_reference import gridplan_inputs, read_extract, reference_walks
from tests.coverage_fixtures import FINLAND_PBF, HELSINKI_OSM, NANJING_OSM

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


def test_services_off_network_long_legs_and_pieces_without_service_are_reported():
    # the main street y=0 with the service; a 50 m footway at y=500, a piece of its own
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
    b = _buildings([100, 400, 20]).assign(
        geometry=[shapely.Point(100, 5), shapely.Point(400, 150), shapely.Point(20, 490)]
    )
    res = compute_coverage(b, streets, services, n_sites=0)
    assert any("left out: far" in w for w in res.warnings)
    assert res.figures["services"]["count"] == 1
    # a long leg is listed with its building
    assert [leg["id"] for leg in res.figures["access"]["long_legs"]] == ["w101"]
    assert res.figures["access"]["long_legs"][0]["access_m"] == 150.0
    # the building by the footway walks within its own piece: none, so no walk
    assert res.buildings["walk_m"].isna().tolist() == [False, False, True]
    assert res.buildings["piece"].tolist() == [0, 0, 1]
    (piece,) = res.figures["network"]["pieces_without_service"]
    assert piece["piece"] == 1 and piece["buildings"] == 1 and piece["households"] == 5
    assert piece["length_m"] == pytest.approx(50)
    assert any("bridge, tunnel or ferry" in w for w in res.warnings)
    cause = res.figures["uncovered_by_cause"]["5"]
    assert cause["no_service_on_piece"]["households"] == 5
    assert cause["far"]["households"] == 5  # w101: 400 m along + 150 m leg > 375 m
    json.dumps(res.figures)


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
def test_real_areas_agree_with_an_independent_per_piece_computation(path):
    """walk_m and walk2_m of compute_coverage, with the extract's barriers and
    entrances and every network piece, equal the brute-force networkx
    reference of tests/access_reference.py to 0.01 m for every building."""
    ex = read_extract(path)
    streets, buildings, barriers, entrances = gridplan_inputs(path, ex)
    rng = np.random.default_rng(7)
    services = np.sort(rng.choice(len(buildings), 15, replace=False))
    crs = buildings.estimate_utm_crs()
    for _ in range(2):  # a service point with two equally near streets is dropped, once
        res = compute_coverage(
            buildings,
            streets,
            buildings.iloc[services],
            crs=crs,
            minutes=(5,),
            n_sites=0,
            barriers=barriers,
            entrances=entrances,
        )
        ids = buildings["id"].to_numpy()
        services = services[np.isin(ids[services], res.figures["services"]["ids"])]
        r1, r2, tied, service_tied = reference_walks(ex, list(services), crs)
        services = services[~service_tied]
        if not service_tied.any():
            break
    assert not service_tied.any() and len(services) >= 10
    assert tied.mean() < 0.02  # buildings with equally near streets: either is right
    d1 = res.buildings["walk_m"].to_numpy(dtype=float, na_value=np.inf)[~tied]
    d2 = res.buildings["walk2_m"].to_numpy(dtype=float, na_value=np.inf)[~tied]
    np.testing.assert_allclose(d1, r1[~tied], atol=0.01)
    np.testing.assert_allclose(d2, r2[~tied], atol=0.01)
    np.testing.assert_allclose(res.state.dist[~tied], r1[~tied], atol=0.01)
    # the real areas exercise what the reference checks
    assert np.isinf(d1).any()  # buildings on pieces without a service point
    if path != FINLAND_PBF:  # the Finnish town maps one entrance
        assert res.figures["access"]["buildings_at_entrances"] > 10
        assert res.figures["access"]["buildings_leg_avoided_barrier"] > 0


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
