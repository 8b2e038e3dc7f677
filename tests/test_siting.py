"""New sites: coverage matrix, lazy greedy vs exact MILP, what-if (gis.siting)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from scipy import sparse

from gis._errors import InputError
from gis.access import snap_xy
from gis.coverage import compute_coverage
from gis.network import build_walk_network
from gis.paths import distances_from
from gis.siting import (
    coverage_matrix,
    exact_max_coverage,
    greedy_max_coverage,
    suggest_sites,
    what_if,
)
from tests.coverage_fixtures import grid_streets, random_points

CRS = "EPSG:32650"


def _naive_greedy(cover: np.ndarray, w: np.ndarray, k: int) -> list[int]:
    covered = np.zeros(cover.shape[1], dtype=bool)
    chosen = []
    for _ in range(k):
        gains = (cover & ~covered) @ w
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        chosen.append(best)
        covered |= cover[best]
    return chosen


def _town(seed: int, *, n_b: int = 120, n_c: int = 25):
    streets = grid_streets(9, 9, spacing=100)
    net = build_walk_network(streets, crs=CRS)
    bounds = (500000, 3500000, 500800, 3500800)
    b = snap_xy(
        net, shapely.get_coordinates(random_points(n_b, bounds, seed=seed, crs=CRS).geometry)
    )
    c = snap_xy(
        net, shapely.get_coordinates(random_points(n_c, bounds, seed=seed + 1, crs=CRS).geometry)
    )
    return net, b, c


def test_coverage_matrix_matches_per_candidate_distances():
    net, b, c = _town(1)
    cover = coverage_matrix(net, c, b, radius=250, chunk=7).toarray()
    for j in range(len(c)):
        d = distances_from(net, c.subset([j]), b).d1
        np.testing.assert_array_equal(cover[j], d <= 250)


def test_lazy_greedy_takes_the_best_marginal_gain_at_every_step():
    rng = np.random.default_rng(5)
    for _ in range(20):
        cover = rng.random((30, 80)) < 0.1
        w = rng.integers(0, 50, 80).astype(float)
        chosen, gains = greedy_max_coverage(sparse.csr_matrix(cover), w, k=6)
        covered = np.zeros(80, dtype=bool)
        for i, g in zip(chosen, gains, strict=True):
            best = ((cover & ~covered) @ w).max()  # ties may be broken either way
            assert g == best == w[cover[i] & ~covered].sum()
            covered |= cover[i]
        assert len(set(chosen.tolist())) == len(chosen)
        if len(chosen) < 6:
            assert ((cover & ~covered) @ w).max() == 0


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_greedy_within_a_few_percent_of_exact(seed):
    net, b, c = _town(seed, n_b=150, n_c=30)
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 100, len(b)).astype(float)
    cover = coverage_matrix(net, c, b, radius=200)
    for k in (2, 3, 5):
        _chosen, gains = greedy_max_coverage(cover, w, k=k)
        best, value = exact_max_coverage(cover, w, k=k)
        covered = np.asarray(cover[best].sum(axis=0)).ravel() > 0
        assert value == pytest.approx(w[covered].sum())
        assert gains.sum() <= value + 1e-9
        assert gains.sum() >= 0.95 * value


def test_suggest_sites_by_hand():
    street = gpd.GeoDataFrame(
        {"highway": ["residential"]},
        geometry=[shapely.LineString([(0, 0), (2000, 0)])],
        crs=CRS,
    )
    xs = [50, 100, 1500, 1520, 1540, 1900]
    buildings = gpd.GeoDataFrame(
        {
            "id": [f"w{i}" for i in range(6)],
            "population": [5, 5, 10, 10, 10, 3],
            "households": [2, 2, 4, 4, 4, 1],
        },
        geometry=[shapely.Point(x, 20) for x in xs],
        crs=CRS,
    )
    services = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=CRS)
    res = compute_coverage(buildings, street, services, minutes=(5,), n_sites=0)
    # 5 minutes at 1.25 m/s = 375 m.  A at 1520 reaches 1500-1540 (30 people);
    # B at 1900 only 1900 (3); C at 1700 all four (200 + 20 m, 33 people).
    candidates = gpd.GeoDataFrame(
        {"kind": "street", "id": ["A", "B", "C"], "name": None},
        geometry=[shapely.Point(1520, 0), shapely.Point(1900, 0), shapely.Point(1700, 0)],
        crs=CRS,
    )
    sites = suggest_sites(res.state, candidates, k=3)
    assert sites["id"].tolist() == ["C"]  # after C nothing is left to gain
    assert sites["gain_population"].iloc[0] == 33
    assert sites["gain_households"].iloc[0] == 13
    assert sites["population_share_after"].iloc[0] == 1.0
    two = suggest_sites(res.state, candidates.iloc[:2], k=3)
    assert two["id"].tolist() == ["A", "B"]
    assert two["gain_population"].tolist() == [30, 3]


def test_compute_coverage_suggests_sites():
    streets = grid_streets(10, 10, spacing=100)
    bounds = (500000, 3500000, 500900, 3500900)
    buildings = random_points(300, bounds, seed=8, crs=CRS)
    buildings["population"] = 10.0
    services = random_points(1, bounds, seed=9, crs=CRS)
    res = compute_coverage(buildings, streets, services, minutes=(5,), n_sites=4)
    assert 1 <= len(res.sites) <= 4
    assert res.sites.crs.to_epsg() == 4326
    gains = res.sites["gain_population"].to_numpy()
    assert (np.diff(gains) <= 0).all() and (gains > 0).all()


def test_what_if_matches_recount():
    streets = grid_streets(40, 40, spacing=80)
    bounds = (500000, 3500000, 500000 + 39 * 80, 3500000 + 39 * 80)
    buildings = random_points(4000, bounds, seed=2, crs=CRS)
    rng = np.random.default_rng(2)
    buildings["population"] = rng.integers(1, 60, len(buildings)).astype(float)
    buildings["households"] = buildings["population"] / 2.5
    services = random_points(5, bounds, seed=3, crs=CRS)
    res = compute_coverage(buildings, streets, services, minutes=(5, 10), n_sites=0)
    x, y = 500000 + 1510.0, 3500000 + 1490.0  # one nearest street, no tie
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    answer = what_if(res.state, lon, lat)  # its speed: benchmarks/bench_coverage.py
    json.dumps(answer)
    both = gpd.GeoDataFrame(geometry=[*list(services.geometry), shapely.Point(x, y)], crs=CRS)
    again = compute_coverage(buildings, streets, both, minutes=(5, 10), n_sites=0)
    for m in ("5", "10"):
        before = res.figures["profiles"]["adult"]["area"]["within"][m]["population"]
        after = again.figures["profiles"]["adult"]["area"]["within"][m]["population"]
        assert answer["thresholds"][m]["gain_population"] == pytest.approx(after - before)


def test_what_if_far_from_streets_is_refused():
    streets = grid_streets(3, 3, spacing=100)
    buildings = random_points(10, (500000, 3500000, 500200, 3500200), seed=1, crs=CRS)
    services = random_points(1, (500000, 3500000, 500200, 3500200), seed=2, crs=CRS)
    res = compute_coverage(buildings, streets, services, n_sites=0)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(520000, 3520000)
    with pytest.raises(InputError, match="street"):
        what_if(res.state, lon, lat)
    with pytest.raises(InputError):
        suggest_sites(res.state, gpd.GeoDataFrame(geometry=[], crs=CRS), minutes=7)
