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
from gis.access import snap_points, snap_xy
from gis.network import build_walk_network, speed_of, walkable_mask
from gis.paths import PointWalks, augmented_graph, distances_from, nearest_sources
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


def _triple(walks: PointWalks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest distance, nearest source and second-nearest distance per point."""
    return walks.d1, walks.src1, walks.d2


def test_straight_street_by_hand():
    net = build_walk_network(_lines([[(0, 0), (500, 0), (1000, 0)]]), crs=CRS)
    services = snap_points(net, _pts([(100, 10), (900, 0)]))
    assert services.access.tolist() == pytest.approx([10, 0])
    buildings = snap_points(net, _pts([(400, -20), (50, 5), (1200, 0)]))
    d1, src, d2 = _triple(distances_from(net, services, buildings))
    # same edge as service 0: 300 along + 10 + 20; the other: 500 along + 20
    assert d1 == pytest.approx([330, 50 + 10 + 5, 100 + 200])
    assert src.tolist() == [0, 0, 1]
    assert d2 == pytest.approx([520, 850 + 5, 900 + 10 + 200])


def test_single_service_has_no_second():
    net = build_walk_network(_lines([[(0, 0), (100, 0)]]), crs=CRS)
    d1, _, d2 = _triple(distances_from(net, snap_xy(net, [[0, 0]]), snap_xy(net, [[60, 3]])))
    assert d1 == pytest.approx([63])
    assert np.isinf(d2).all()


def test_grid_by_hand():
    streets = grid_streets(4, 4, spacing=100, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    assert net.n_nodes == 16 and net.n_edges == 24
    services = snap_xy(net, [[0, 0], [300, 300]])
    buildings = snap_xy(net, [[150, 110], [250, 300], [0, 0]])
    d1, src, d2 = _triple(distances_from(net, services, buildings))
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
    assert net.report["pieces"] == 2
    assert net.piece_length.tolist() == pytest.approx([200, 110])  # both kept, longest first
    assert net.report["other_pieces_length_m"] == pytest.approx(110)
    walks = distances_from(net, snap_xy(net, [[0, 0]]), snap_xy(net, [[100, 55], [150, 0]]))
    assert np.isinf(walks.d1[0]) and walks.src1[0] == -1  # on the bridge: no walk
    assert walks.d1[1] == pytest.approx(150)


def test_shared_vertex_connects_and_oneway_is_ignored():
    net = build_walk_network(
        _lines([[(0, 0), (100, 0)], [(100, 0), (100, 100)]], oneway=["yes", "yes"]), crs=CRS
    )
    d1, _, _ = _triple(distances_from(net, snap_xy(net, [[100, 100]]), snap_xy(net, [[0, 0]])))
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
    d1, src, d2 = _triple(distances_from(net, snap_xy(net, s_xy), snap_xy(net, b_xy)))
    keys, coords = segments_by_coords(lines)
    r1, r2 = reference_distances(keys, coords, b_xy, s_xy)
    np.testing.assert_allclose(d1, r1, atol=0.01)
    np.testing.assert_allclose(d2, r2, atol=0.01)
    # the reported nearest source really is at d1
    direct = np.array(
        [
            distances_from(net, snap_xy(net, s_xy[[j]]), snap_xy(net, b_xy[[i]])).d1[0]
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
    d1, _, d2 = _triple(distances_from(net, snap_points(net, s), snap_points(net, b)))
    keys, coords = segments_by_coords(streets)
    r1, r2 = reference_distances(
        keys, coords, shapely.get_coordinates(b.geometry), shapely.get_coordinates(s.geometry)
    )
    np.testing.assert_allclose(d1, r1, atol=0.01)
    np.testing.assert_allclose(d2, r2, atol=0.01)


def test_empty_geometry_is_unreachable():
    net = build_walk_network(_lines([[(0, 0), (100, 0)]]), crs=CRS)
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(10, 1), shapely.Polygon()], crs=CRS)
    d1, src, _ = _triple(distances_from(net, snap_xy(net, [[0, 0]]), snap_points(net, pts)))
    assert d1[0] == pytest.approx(11)
    assert np.isinf(d1[1]) and src[1] == -1


# --------------------------------------------------------------------------- pieces


@st.composite
def towns_in_pieces(draw):
    """2-4 random planar towns 5 km apart (pieces), services in some of them only."""
    k = draw(st.integers(2, 4))
    lines, b_all, s_all = [], [], []
    for i in range(k):
        lines_i, b, s = draw(planar_towns())
        shift = np.array([5000.0 * i, 0.0])
        lines += [shapely.transform(g, lambda c, d=shift: c + d) for g in lines_i.geometry]
        b_all.append(b + shift)
        if draw(st.booleans()) or (i == k - 1 and not s_all):
            s_all.append(s + shift)
    return (
        gpd.GeoDataFrame(geometry=lines, crs=CRS),
        np.vstack(b_all),
        np.vstack(s_all),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(towns_in_pieces())
def test_walks_stay_within_a_piece_and_unreachable_is_inf(town):
    lines, b_xy, s_xy = town
    net = build_walk_network(lines, crs=CRS)
    b, s = snap_xy(net, b_xy), snap_xy(net, s_xy)
    walks = distances_from(net, s, b)
    keys, coords = segments_by_coords(lines)
    r1, r2 = reference_distances(keys, coords, b_xy, s_xy)
    np.testing.assert_allclose(walks.d1, r1, atol=0.01)
    np.testing.assert_allclose(walks.d2, r2, atol=0.01)
    b_piece = net.piece[net.u[b.edge]]
    s_piece = net.piece[net.u[s.edge]]
    reached = walks.src1 >= 0
    # a walk ends at a service point of the building's own piece ...
    assert (s_piece[walks.src1[reached]] == b_piece[reached]).all()
    # ... and a building on a piece without one has none
    lacking = ~np.isin(b_piece, s_piece)
    assert np.isinf(walks.d1[lacking]).all() and (walks.src1[lacking] == -1).all()
    assert np.isfinite(walks.d1[~lacking]).all()


def test_pieces_are_numbered_longest_first_and_all_kept():
    net = build_walk_network(
        _lines([[(0, 0), (10, 0)], [(100, 0), (400, 0)], [(0, 50), (50, 50)]]), crs=CRS
    )
    assert net.piece_length.tolist() == pytest.approx([300, 50, 10])
    mid = (net.xy[net.u] + net.xy[net.v]) / 2
    assert dict(zip(mid[:, 0].round(), net.edge_piece, strict=True)) == {5: 2, 250: 0, 25: 1}
    assert net.report["pieces"] == 3 and net.report["main_piece_share_of_length"] == 0.8333


def test_join_pieces_links_dead_ends_within_the_distance_and_reports_each():
    # a street; a footway ending 5 m short of its middle; another 40 m away
    lines = _lines(
        [[(0, 0), (200, 0)], [(100, 5), (100, 60)], [(300, 40), (300, 90)]],
        highway=["residential"] * 3,
    )
    joined = build_walk_network(lines, crs=CRS, join_within_m=30)
    assert joined.report["pieces_found"] == 3 and joined.report["pieces"] == 2
    (link,) = joined.report["joined"]["links"]
    assert link["length_m"] == pytest.approx(5)
    assert link["from_piece_length_m"] == pytest.approx(55)
    assert link["to_piece_length_m"] == pytest.approx(200)
    # the walk from the footway's end goes down the link and along the split street
    walks = distances_from(joined, snap_xy(joined, [[0, 0]]), snap_xy(joined, [[100, 60]]))
    assert walks.d1[0] == pytest.approx(100 + 5 + 55)
    # the link itself is not a snap target: a point beside it attaches to a street
    assert joined.report["edges_off_ground"] == 1
    apart = build_walk_network(lines, crs=CRS)
    assert "joined" not in apart.report and apart.report["pieces"] == 3


def test_join_pieces_does_not_link_across_a_barrier():
    from gis.barriers import walk_barriers

    lines = _lines([[(0, 0), (200, 0)], [(100, 20), (100, 60)]], highway=["residential"] * 2)
    river = gpd.GeoDataFrame(
        {"kind": ["waterway"]}, geometry=[shapely.LineString([(0, 10), (200, 10)])], crs=CRS
    )
    net = build_walk_network(
        lines, crs=CRS, join_within_m=30, barriers=walk_barriers(None, river, crs=CRS)
    )
    assert net.report["pieces"] == 2 and net.report["joined"]["links"] == []


def test_join_pieces_on_a_dead_end_lying_on_another_street_merges_it():
    # a T junction drawn without a shared vertex: the footway ends on the street
    lines = _lines([[(0, 0), (200, 0)], [(80, 0), (80, 50)]], highway=["residential"] * 2)
    net = build_walk_network(lines, crs=CRS, join_within_m=1)
    assert net.report["pieces"] == 1 and net.n_nodes == 4  # the end became the junction
    assert net.report["joined"]["links"][0]["length_m"] == 0
    walks = distances_from(net, snap_xy(net, [[0, 0]]), snap_xy(net, [[80, 50]]))
    assert walks.d1[0] == pytest.approx(130)


def test_join_distance_must_be_positive():
    with pytest.raises(InputError, match="positive"):
        build_walk_network(_lines([[(0, 0), (1, 0)]]), crs=CRS, join_within_m=0)


def test_pieces_joined_only_by_private_ways_are_named():
    lines = _lines(
        [[(0, 0), (100, 0)], [(100, 0), (100, 50)], [(100, 50), (150, 50)], [(300, 0), (400, 0)]],
        highway=["residential"] * 4,
        access=[None, "private", None, None],
    )
    net = build_walk_network(lines, crs=CRS)
    assert net.report["pieces"] == 3
    estate = int(net.piece[np.argmin(np.hypot(*(net.xy - [150, 50]).T))])
    main = int(net.piece[np.argmin(np.hypot(*(net.xy - [0, 0]).T))])
    assert net.report["pieces_joined_by_private_ways"] == sorted([estate, main])
