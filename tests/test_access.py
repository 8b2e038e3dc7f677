"""Access legs: entrances, and legs that never cross a motorway, a river or a fence
(gis.access, gis.barriers), checked by hand on small maps."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.barriers import WalkBarriers, count_crossings, walk_barriers
from gis.coverage import compute_coverage
from gis.network import build_walk_network

CRS = "EPSG:32650"


def _streets(rows: list[tuple[list[tuple[float, float]], dict]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [{"highway": "residential", **tags} for _, tags in rows],
        geometry=[shapely.LineString(c) for c, _ in rows],
        crs=CRS,
    )


def _box(x0: float, y0: float, x1: float, y1: float, **props) -> dict:
    return {"geometry": shapely.box(x0, y0, x1, y1), **props}


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def test_crossing_is_interiors_meeting_not_touching():
    b = WalkBarriers.from_lines(
        np.array([shapely.LineString([(0, -10), (0, 10)])], dtype=object),
        np.array(["fence"], dtype=object),
    )
    start = np.array([[-5, 0], [-5, 0], [-5, 10], [0, 0], [-5, 20], [-5, 3], [-5, 0]])
    end = np.array([[5, 0], [0, 0], [5, 10], [5, 0], [5, 20], [5, -3], [0.0005, 0]])
    hard, soft = count_crossings(b, start, end)
    # across; ending on it; through its end; starting on it; beside it; across at a
    # slant; ending half a millimetre past it (a street node rounded to 1 mm)
    assert soft.tolist() == [1, 0, 0, 0, 0, 1, 0] and hard.tolist() == [0] * 7


def test_motorways_and_closed_trunks_are_barriers_tunnels_are_not():
    streets = _streets(
        [
            ([(0, 0), (100, 0)], {"highway": "motorway"}),
            ([(0, 10), (100, 10)], {"highway": "motorway", "tunnel": "yes"}),
            ([(0, 20), (100, 20)], {"highway": "trunk", "foot": "no"}),
            ([(0, 30), (100, 30)], {"highway": "trunk"}),
        ]
    )
    walkable = np.array([False, False, False, True])
    b = walk_barriers(streets, None, crs=CRS, walkable=walkable)
    assert sorted(b.kind.tolist()) == ["motorway", "trunk"]


def test_leg_does_not_cross_a_motorway_it_goes_to_a_street_on_its_side():
    # a motorway at y=20, a street beyond it at y=30, the building's own street at y=-60
    streets = _streets(
        [
            ([(0, 20), (400, 20)], {"highway": "motorway"}),
            ([(0, 30), (400, 30)], {}),
            ([(0, -60), (400, -60)], {}),
            ([(400, -60), (400, 30)], {}),  # the two streets meet beyond the motorway's end
        ]
    )
    buildings = _frame([_box(95, 0, 105, 10, id="b", households=10)])
    services = _frame([{"id": "s", "geometry": shapely.Point(100, 31)}])
    res = compute_coverage(buildings, streets, services, n_sites=0, barriers=None)
    leg = res.buildings["access_m"].iloc[0]
    assert leg == pytest.approx(65)  # from (100, 5) down to y=-60, not 25 m over the motorway
    # then along y=-60 to x=400, up to y=30 and back to the service: 300 + 90 + 300 + 1
    assert res.buildings["walk_m"].iloc[0] == pytest.approx(65 + 300 + 90 + 300 + 1)
    assert res.figures["access"]["buildings_leg_avoided_barrier"] == 1


def test_leg_does_not_cross_a_river():
    # a river (water polygon and its centre line) between the building and the near street
    streets = _streets([([(0, 40), (300, 40)], {}), ([(0, -80), (300, -80)], {})])
    barriers = _frame(
        [
            {"kind": "water", "geometry": shapely.box(0, 15, 300, 35)},
            {"kind": "waterway", "geometry": shapely.LineString([(0, 25), (300, 25)])},
        ]
    )
    buildings = _frame([_box(145, 0, 155, 10, id="b", households=10)])
    services = _frame([{"id": "s", "geometry": shapely.Point(150, -80)}])
    res = compute_coverage(buildings, streets, services, n_sites=0, barriers=barriers)
    assert res.buildings["access_m"].iloc[0] == pytest.approx(85)  # not the 35 m over water
    assert res.buildings["walk_m"].iloc[0] == pytest.approx(85)
    plain = compute_coverage(buildings, streets, services, n_sites=0, barriers=barriers.iloc[:0])
    assert plain.buildings["access_m"].iloc[0] == pytest.approx(35)  # the rule, not the map
    assert plain.buildings["walk_m"].isna().iloc[0]  # the far bank has no walk to the service


def test_fenced_in_building_crosses_one_fence_and_is_reported():
    # every street lies beyond the fence: the leg crosses it to the nearest one
    streets = _streets([([(0, 50), (200, 50)], {}), ([(0, -70), (200, -70)], {})])
    fence = _frame([{"kind": "fence", "geometry": shapely.box(50, -20, 150, 30).exterior}])
    buildings = _frame([_box(95, 0, 105, 10, id="b", households=10)])
    services = _frame([{"id": "s", "geometry": shapely.Point(100, 50)}])
    res = compute_coverage(buildings, streets, services, n_sites=0, barriers=fence)
    assert res.buildings["access_m"].iloc[0] == pytest.approx(45)
    assert res.figures["access"]["buildings_leg_crossing_wall_or_fence"] == 1
    assert res.figures["access"]["buildings_leg_crossing_hard"] == 0


def test_entrances_library_and_neighbour_walk_through_the_front_door():
    # a campus: the front street y=0, a service road behind at y=60 joined far to the east.
    # The library (30..70 x 20..50) has its door on the front, at (50, 20); its nearest
    # segment is the service road behind it (10 m), which is 600 m round from the front.
    streets = _streets(
        [
            ([(0, 0), (50, 0), (400, 0)], {}),
            ([(0, 60), (400, 60)], {"highway": "service"}),
            ([(400, 0), (400, 60)], {}),
            ([(50, 0), (50, 20)], {"highway": "footway"}),  # a footway ending on the outline
        ]
    )
    buildings = _frame(
        [
            _box(30, 20, 70, 50, id="library", households=0),
            _box(90, 45, 110, 55, id="neighbour", households=20),  # 10 m from the service road
        ]
    )
    services = _frame([{"id": "lib", "geometry": shapely.Point(50, 45)}])  # inside the library
    res = compute_coverage(buildings, streets, services, n_sites=0, entrances=None)
    walk = dict(zip(res.buildings["id"], res.buildings["walk_m"], strict=True))
    # service at the door (50, 20): footway 20 to the front street, 350 east, 60 up the
    # side street, 300 back west along the service road to x=100, 10 m leg
    assert walk["neighbour"] == pytest.approx(20 + 350 + 60 + 300 + 10)
    assert walk["library"] == pytest.approx(0)
    assert res.figures["access"]["services_at_entrances"] == 1
    # without the footway the library is reached from the service road behind it
    back = compute_coverage(buildings, streets.iloc[:3], services, n_sites=0)
    assert back.buildings["walk_m"].iloc[1] == pytest.approx(15 + 50 + 10)


def test_mapped_entrance_nodes_are_where_walks_start():
    # streets y=0 and y=100 joined at x=200; the main door faces north, 40 m from y=100;
    # an emergency exit faces south, 30 m from y=0 where the service is: not a way in
    streets = _streets(
        [
            ([(0, 0), (200, 0)], {}),
            ([(0, 100), (200, 100)], {}),
            ([(200, 0), (200, 100)], {}),
        ]
    )
    buildings = _frame([_box(90, 30, 110, 60, id="b", households=10)])
    entrances = _frame(
        [
            {"id": "n1", "entrance": "main", "geometry": shapely.Point(100, 60)},
            {"id": "n2", "entrance": "emergency", "geometry": shapely.Point(100, 30)},
        ]
    )
    services = _frame([{"id": "s", "geometry": shapely.Point(100, -1)}])
    res = compute_coverage(buildings, streets, services, n_sites=0, entrances=entrances)
    assert res.buildings["access_m"].iloc[0] == pytest.approx(40)  # from the main door
    assert res.buildings["walk_m"].iloc[0] == pytest.approx(40 + 100 + 100 + 100 + 1)
    assert res.figures["access"]["buildings_at_entrances"] == 1


def test_entrance_leg_does_not_cut_through_its_own_building():
    # the door faces west, 80 m from the street there; the street behind the building
    # (east, another piece) is 55 m from the door, through the building
    streets = _streets([([(-60, -100), (-60, 100)], {}), ([(75, -100), (75, 100)], {})])
    buildings = _frame([_box(20, -10, 70, 10, id="b", households=10)])
    entrances = _frame([{"id": "n1", "door": "yes", "geometry": shapely.Point(20, 0)}])
    services = _frame([{"id": "s", "geometry": shapely.Point(-60, -50)}])
    res = compute_coverage(buildings, streets, services, n_sites=0, entrances=entrances)
    assert res.buildings["access_m"].iloc[0] == pytest.approx(80)  # out of the door, west
    assert res.buildings["walk_m"].iloc[0] == pytest.approx(130)


def test_legs_do_not_attach_to_bridges_or_tunnels():
    # an underpass right beside the building, unconnected; the street 40 m away
    streets = _streets(
        [
            ([(0, 0), (200, 0)], {}),
            ([(80, 45), (120, 45)], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
        ]
    )
    buildings = _frame([_box(90, 40, 110, 44, id="b", households=10)])
    services = _frame([{"id": "s", "geometry": shapely.Point(0, 0)}])
    res = compute_coverage(buildings, streets, services, n_sites=0)
    assert res.buildings["walk_m"].iloc[0] == pytest.approx(42 + 100)
    assert res.figures["network"]["pieces"] == 2
    assert res.figures["network"]["pieces_without_service"] == []  # no building on it


def test_ground_level_edges_are_the_only_snap_targets():
    net = build_walk_network(
        _streets([([(0, 0), (10, 0)], {"bridge": "yes"}), ([(10, 0), (10, 10)], {})]), crs=CRS
    )
    assert net.u[net.snap_edges].size == 1 and net.report["edges_off_ground"] == 1
