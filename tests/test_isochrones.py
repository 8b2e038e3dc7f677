"""Display isochrones from reached edges (gis.isochrones)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.access import snap_xy
from gis.isochrones import (
    hull_polygon,
    isochrone_polygon,
    isochrones,
    polygon_agreement,
    reached_pieces,
)
from gis.network import build_walk_network
from gis.paths import nearest_sources
from tests.coverage_fixtures import grid_streets

CRS = "EPSG:32650"


def _street(coords) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"highway": ["footway"]}, geometry=[shapely.LineString(coords)], crs=CRS
    )


def _pieces_as_intervals(pieces: np.ndarray) -> list[tuple[float, float]]:
    xs = np.sort(pieces[:, :, 0], axis=1)
    return sorted((round(a, 6), round(b, 6)) for a, b in xs)


def test_partly_reached_edge_around_a_service_on_it():
    net = build_walk_network(_street([(0, 0), (1000, 0)]), crs=CRS)
    src = snap_xy(net, [[400, 10]])
    nodes = nearest_sources(net, src)
    pieces = reached_pieces(net, nodes, src, radius=110)
    # 10 m access leg: 100 m either side of x = 400
    assert _pieces_as_intervals(pieces) == [(300, 500)]


def test_partly_reached_edges_from_both_ends():
    # three edges: 0-100, 100-400, 400-500; service at x = 0
    net = build_walk_network(_street([(0, 0), (100, 0), (400, 0), (500, 0)]), crs=CRS)
    src = snap_xy(net, [[0, 0], [500, 0]])
    nodes = nearest_sources(net, src)
    merged = shapely.line_merge(
        shapely.union_all(shapely.linestrings(reached_pieces(net, nodes, src, radius=150)))
    )
    covered = sorted(
        (round(g.bounds[0], 6), round(g.bounds[2], 6)) for g in shapely.get_parts(merged)
    )
    assert covered == [(0, 150), (350, 500)]
    full = reached_pieces(net, nodes, src, radius=250)
    total = shapely.union_all(shapely.linestrings(full)).length
    assert total == pytest.approx(500)


def test_polygon_has_holes_where_nothing_is_reached():
    streets = grid_streets(3, 3, spacing=400, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    src = snap_xy(net, [[400, 400]])
    nodes = nearest_sources(net, src)
    poly = isochrone_polygon(reached_pieces(net, nodes, src, radius=2000), width_m=50)
    assert poly.geom_type == "Polygon"
    assert len(poly.interiors) == 4  # the four blocks are 400 m wide, bands 2 x 50 m
    # the middle of a block is not covered, a street point is
    assert not shapely.contains_xy(poly, 200, 200)
    assert shapely.contains_xy(poly, 200, 400)


def test_isochrones_frame_and_nesting():
    streets = grid_streets(6, 6, spacing=100, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    src = snap_xy(net, [[250, 250]])
    nodes = nearest_sources(net, src)
    frame = isochrones(net, nodes, src, radii={5: 200.0, 10: 400.0}, width_m=20)
    assert frame["minutes"].tolist() == [5, 10]
    small, big = frame.geometry.values
    assert big.buffer(1e-6).contains(small)
    assert frame.crs == net.crs


def test_agreement_counts_by_hand():
    square = shapely.box(0, 0, 10, 10)
    pts = np.array([[5, 5], [20, 20], [1, 1], [30, 0]])
    truth = np.array([True, True, False, False])
    out = polygon_agreement(square, pts, truth)
    assert out["missed"] == 1 and out["false"] == 1
    assert out["missed_share"] == 0.5 and out["misclassified_share"] == 0.5


def test_hull_covers_reached_nodes():
    streets = grid_streets(4, 4, spacing=100, origin=(0, 0))
    net = build_walk_network(streets, crs=CRS)
    src = snap_xy(net, [[0, 0]])
    hull = hull_polygon(net, nearest_sources(net, src), radius=200)
    assert hull.area == pytest.approx(200 * 200 / 2)
