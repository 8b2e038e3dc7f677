"""Neighbour graph: shared segments only, snapping, bridges for islands."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.sparse import csgraph

from gis._errors import CRSError
from gis.adjacency import grid_adjacency
from tests.districting_fixtures import lattice, voronoi_grids


def test_lattice_has_rook_neighbours_only() -> None:
    g = lattice(4, 5)
    adj = grid_adjacency(g)
    m = adj.matrix
    assert (m != m.T).nnz == 0
    # 4 x 5 lattice: 4*4 + 3*5 = 31 edges, each of length 100 m
    assert m.nnz == 2 * 31
    assert np.allclose(m.data, 100.0)
    degree = np.diff(m.indptr)
    assert degree.min() == 2 and degree.max() == 4
    assert adj.bridges == []


def test_small_gaps_are_snapped_but_corners_are_not() -> None:
    g = lattice(3, 3)
    g["geometry"] = g.geometry.buffer(-0.01, join_style="mitre")  # 2 cm gaps
    adj = grid_adjacency(g)
    assert adj.matrix.nnz == 2 * 12
    centre = g["code"].iloc[4]
    assert len(adj.neighbours(centre)) == 4


def test_islands_are_bridged_and_recorded() -> None:
    g = voronoi_grids(60, seed=3)
    adj = grid_adjacency(g)
    assert csgraph.connected_components(adj.matrix, directed=False)[0] == 1
    assert len(adj.bridges) == 1
    a, b, dist = adj.bridges[0]
    assert g["code"].iloc[-1] in (a, b)
    assert dist > 0


def test_corner_touch_only_pair_gets_a_bridge() -> None:
    g = lattice(2, 2)
    g = g.iloc[[0, 3]].reset_index(drop=True)  # diagonal pair touching at one corner
    adj = grid_adjacency(g)
    assert len(adj.bridges) == 1
    assert adj.bridges[0][2] == 0.0


def test_refuses_geographic_crs() -> None:
    with pytest.raises(CRSError):
        grid_adjacency(lattice(2, 2, crs="EPSG:4326"))


def test_bridge_ids_are_codes() -> None:
    g = voronoi_grids(30, seed=1)
    adj = grid_adjacency(g)
    codes = set(g["code"])
    assert all(a in codes and b in codes for a, b, _ in adj.bridges)
    assert shapely.get_num_geometries(g.geometry.values).min() >= 1
