"""Walk network, snapping and exact shortest paths (gis.network)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

from gis._errors import InputError, NetworkError
from gis.network import (
    augmented_graph,
    build_walk_network,
    distances_from,
    nearest_sources,
    snap_points,
    snap_xy,
    speed_of,
    walkable_mask,
)
from tests.coverage_fixtures import (
    grid_streets,
    random_points,
    reference_distances,
    segments_by_coords,
)

CRS = "EPSG:32650"


def _lines(coords_list, **tags) -> gpd.GeoDataFrame:
    n = len(coords_list)
    data = {"id": [f"w{i}" for i in range(n)], "highway": ["footway"] * n}
    data.update(tags)
    return gpd.GeoDataFrame(data, geometry=[shapely.LineString(c) for c in coords_list], crs=CRS)


def _pts(xy) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=shapely.points(np.asarray(xy, dtype=float)), crs=CRS)


def test_straight_street_by_hand():
    net = build_walk_network(_lines([[(0, 0), (500, 0), (1000, 0)]]), crs=CRS)
    services = snap_points(net, _pts([(100, 10), (900, 0)]))
    assert services.access.tolist() == pytest.approx([10, 0])
    buildings = snap_points(net, _pts([(400, -20), (50, 5), (1200, 0)]))
    d1, src, d2 = distances_from(net, services, buildings)
    # same edge as service 0: 300 along + 10 + 20; the other: 500 along + 20
    assert d1 == pytest.approx([330, 50 + 10 + 5, 100 + 200])
    assert src.tolist() == [0, 0, 1]
    assert d2 == pytest.approx([520, 850 + 5, 900 + 10 + 200])


def test_single_service_has_no_second():
    net = build_walk_network(_lines([[(0, 0), (100, 0)]]), crs=CRS)
    d1, _, d2 = distances_from(net, snap_xy(net, [[0, 0]]), snap_xy(net, [[60, 3]]))
    assert d1 == pytest.approx([63])
    assert np.isinf(d2).all()


def test_grid_by_hand():
    streets = grid_streets(4, 4, spacing=100, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    assert net.n_nodes == 16 and net.n_edges == 24
    services = snap_xy(net, [[0, 0], [300, 300]])
    buildings = snap_xy(net, [[150, 110], [250, 300], [0, 0]])
    d1, src, d2 = distances_from(net, services, buildings)
    # (150, 110) snaps to street y=100 at x=150: 150 + 100 from (0,0), 150 + 200 from (300,300)
    assert d1 == pytest.approx([250 + 10, 50, 0])
    assert d2 == pytest.approx([350 + 10, 550, 600])
    assert src.tolist() == [0, 1, 0]


def test_walkable_rules():
    streets = _lines(
        [[(0, 0), (1, 0)]] * 7,
        highway=[
            "footway",
            "motorway",
            "residential",
            "residential",
            "service",
            "cycleway",
            "cycleway",
        ],
        foot=[None, None, "no", None, "yes", None, "designated"],
        access=[None, None, None, "private", "private", None, None],
    )
    keep, reasons = walkable_mask(streets)
    assert keep.tolist() == [True, False, False, False, True, False, True]
    assert reasons == {
        "motorway_or_unbuilt": 1,
        "foot_no": 1,
        "access_private": 1,
        "cycleway_without_foot": 1,
    }


def test_user_street_file_without_tags_is_all_walkable():
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (5, 0)])], crs=CRS)
    assert walkable_mask(lines)[0].tolist() == [True]


def test_crossing_without_shared_vertex_does_not_connect():
    # a bridge over a street: they cross but share no vertex
    net = build_walk_network(
        _lines([[(0, 0), (200, 0)], [(100, -50), (100, 50)], [(100, 50), (100, 60)]]), crs=CRS
    )
    assert net.report["components"] == 2
    assert net.report["dropped_components"] == 1
    assert net.report["dropped_length_m"] == pytest.approx(110)
    assert net.length.sum() == pytest.approx(200)


def test_shared_vertex_connects_and_oneway_is_ignored():
    net = build_walk_network(
        _lines([[(0, 0), (100, 0)], [(100, 0), (100, 100)]], oneway=["yes", "yes"]), crs=CRS
    )
    d1, _, _ = distances_from(net, snap_xy(net, [[100, 100]]), snap_xy(net, [[0, 0]]))
    assert d1 == pytest.approx([200])


def test_no_walkable_street_raises():
    with pytest.raises(NetworkError, match="no walkable"):
        build_walk_network(_lines([[(0, 0), (1, 0)]], highway=["motorway"]), crs=CRS)


def test_bad_speed():
    for bad in (0, -1.0, "0", "fast", float("nan")):
        with pytest.raises(InputError):
            speed_of(bad)
    assert speed_of("elderly") == pytest.approx(0.97)
    assert speed_of(1.5) == 1.5


def test_node_distances_match_dense_per_source():
    streets = grid_streets(6, 5, spacing=80, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    services = snap_xy(net, [[10, 5], [400, 300], [200, 170], [205, 175]])
    nodes = nearest_sources(net, services)
    from scipy.sparse import csgraph

    g = augmented_graph(net, services)
    dense = csgraph.dijkstra(g, indices=np.arange(net.n_nodes, net.n_nodes + 4))[:, : net.n_nodes]
    dense -= 1.0
    srt = np.sort(dense, axis=0)
    np.testing.assert_allclose(nodes.d1, srt[0], atol=1e-9)
    np.testing.assert_allclose(nodes.d2, srt[1], atol=1e-9)


@st.composite
def planar_towns(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(6, 40))
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1000, size=(n, 2)).round(2)
    pts = np.unique(pts, axis=0)
    tri = Delaunay(pts)
    edges = {tuple(sorted((s[i], s[(i + 1) % 3]))) for s in tri.simplices for i in range(3)}
    edges = sorted(edges)
    drop = rng.random(len(edges)) < draw(st.floats(0, 0.4))
    lines = [
        shapely.LineString([pts[a], pts[b]]) for (a, b), d in zip(edges, drop, strict=True) if not d
    ]
    if not lines:
        lines = [shapely.LineString([pts[edges[0][0]], pts[edges[0][1]]])]
    n_b = draw(st.integers(1, 30))
    n_s = draw(st.integers(1, 6))
    b = rng.uniform(-50, 1050, size=(n_b, 2))
    s = rng.uniform(-50, 1050, size=(n_s, 2))
    # sometimes put services or buildings exactly on vertices or on a shared edge
    if draw(st.booleans()):
        s[0] = pts[0]
    if draw(st.booleans()) and n_b > 1:
        b[1] = (pts[edges[0][0]] + pts[edges[0][1]]) / 2
    return gpd.GeoDataFrame(geometry=lines, crs=CRS), b, s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planar_towns())
def test_random_planar_graphs_agree_with_networkx(town):
    lines, b_xy, s_xy = town
    net = build_walk_network(lines, crs=CRS)
    d1, src, d2 = distances_from(net, snap_xy(net, s_xy), snap_xy(net, b_xy))
    keys, coords = segments_by_coords(lines)
    r1, r2 = reference_distances(keys, coords, b_xy, s_xy)
    np.testing.assert_allclose(d1, r1, atol=0.01)
    np.testing.assert_allclose(d2, r2, atol=0.01)
    # the reported nearest source really is at d1
    direct = np.array(
        [
            distances_from(net, snap_xy(net, s_xy[[j]]), snap_xy(net, b_xy[[i]]))[0][0]
            for i, j in enumerate(src)
        ]
    )
    np.testing.assert_allclose(direct, d1, atol=1e-6)


def test_random_lattice_with_many_points():
    streets = grid_streets(12, 10, spacing=90)
    net = build_walk_network(streets, crs=CRS)
    bounds = (500000 - 30, 3500000 - 30, 500000 + 1020, 3500000 + 840)
    b = random_points(300, bounds, seed=3, crs=CRS)
    s = random_points(12, bounds, seed=4, crs=CRS)
    d1, _, d2 = distances_from(net, snap_points(net, s), snap_points(net, b))
    keys, coords = segments_by_coords(streets)
    r1, r2 = reference_distances(
        keys, coords, shapely.get_coordinates(b.geometry), shapely.get_coordinates(s.geometry)
    )
    np.testing.assert_allclose(d1, r1, atol=0.01)
    np.testing.assert_allclose(d2, r2, atol=0.01)


def test_empty_geometry_is_unreachable():
    net = build_walk_network(_lines([[(0, 0), (100, 0)]]), crs=CRS)
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(10, 1), shapely.Polygon()], crs=CRS)
    d1, src, _ = distances_from(net, snap_xy(net, [[0, 0]]), snap_points(net, pts))
    assert d1[0] == pytest.approx(11)
    assert np.isinf(d1[1]) and src[1] == -1
