"""Neighbour graph: shared segments only, snapping, bridges for islands."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

from gis._errors import CRSError, UnreadableFileError
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


def _two_banks():
    """Four 100 m grids, two on each bank of a 40 m river (y 100-140), one bridge over it."""
    import geopandas as gpd

    south = [shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)]
    north = [shapely.box(0, 140, 100, 240), shapely.box(100, 140, 200, 240)]
    grids = gpd.GeoDataFrame(
        {"code": [f"32010600100{i}001" for i in range(1, 5)]},
        geometry=south + north,
        crs="EPSG:32650",
    )
    river = shapely.box(-50, 100, 250, 140)
    links = gpd.GeoDataFrame(
        {"id": ["w1", "w2"], "kind": ["bridge", "bridge"]},
        geometry=[shapely.LineString([(50, 20), (50, 220)]),  # crosses the river
                  shapely.LineString([(150, 20), (150, 90)])],  # stays on the south bank
        crs="EPSG:32650",
    )  # fmt: skip
    return grids, river, links


def test_grids_on_two_banks_are_joined_only_where_a_street_crosses() -> None:
    grids, river, links = _two_banks()
    alone = grid_adjacency(grids)  # no street known: one "nearest" bridge joins the banks
    assert [k.kind for k in alone.links] == ["nearest"]
    linked = grid_adjacency(grids, links=links, water=river)
    assert [(k.grid_a, k.grid_b, k.kind, k.via) for k in linked.links] == [
        (grids["code"][0], grids["code"][2], "bridge", ("w1",))
    ]
    assert linked.links[0].gap_m == pytest.approx(40.0)
    assert csgraph.connected_components(linked.matrix, directed=False)[0] == 1
    # the banks do not touch: no pair across the river shares a boundary
    m = linked.matrix.toarray()
    assert m[0, 3] == 0 and m[1, 2] == 0 and m[1, 3] == 0


def test_the_adjacency_file_reads_back_as_the_same_graph(tmp_path) -> None:
    from gis.adjacency import adjacency_frame, load_adjacency, read_adjacency

    grids, river, links = _two_banks()
    graph = grid_adjacency(grids, links=links, water=river)
    path = tmp_path / "adjacency.csv"
    adjacency_frame(graph).to_csv(path, index=False)
    back = read_adjacency(path, grids["code"].to_numpy())
    assert (back.matrix != graph.matrix).nnz == 0
    assert back.links == graph.links
    assert load_adjacency(tmp_path, grids).links == graph.links
    # without the file, the graph comes from the grids alone
    assert [k.kind for k in load_adjacency(tmp_path / "nowhere", grids).links] == ["nearest"]
    path.write_text("grid_a,grid_b\n1,2\n")
    with pytest.raises(UnreadableFileError, match="lacks the column"):
        read_adjacency(path, grids["code"].to_numpy())


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=30),
    edges=st.lists(
        st.tuples(st.integers(0, 29), st.integers(0, 29), st.floats(0.001, 500.0)), max_size=80
    ),
    links=st.lists(
        st.tuples(
            st.integers(0, 29),
            st.integers(0, 29),
            st.sampled_from(["bridge", "ferry"]),
            st.floats(0.0, 90.0),
        ),
        max_size=6,
    ),
    on_edges=st.lists(st.integers(0, 79), max_size=4),
    seed=st.integers(0, 1000),
)
def test_adjacency_rows_are_one_per_pair_in_code_order_links_winning(
    n: int,
    edges: list[tuple[int, int, float]],
    links: list[tuple[int, int, str, float]],
    on_edges: list[int],
    seed: int,
) -> None:
    """The rows of adjacency.csv equal a dictionary of pairs folded and sorted one by one."""
    from scipy import sparse

    from gis.adjacency import Adjacency, Link, _adjacency_frame_folded, adjacency_frame

    rng = np.random.default_rng(seed)
    codes = np.array([f"320100001{c:06d}" for c in rng.permutation(1000)[:n]])
    pairs = [(i % n, j % n, v) for i, j, v in edges if i % n != j % n]
    links = links + [(*pairs[k % len(pairs)][:2], "tunnel", 1.5) for k in on_edges if pairs]
    rows = [p[0] for p in pairs] + [p[1] for p in pairs]
    cols = [p[1] for p in pairs] + [p[0] for p in pairs]
    data = [p[2] for p in pairs] * 2
    matrix = sparse.coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
    joined = [
        Link(
            min(codes[i % n], codes[j % n]),
            max(codes[i % n], codes[j % n]),
            kind,
            (f"w{i}", f"w{j}"),
            gap,
        )
        for i, j, kind, gap in links
        if i % n != j % n
    ]
    graph = Adjacency(codes=codes, matrix=matrix, links=joined)
    got = adjacency_frame(graph)
    want = _adjacency_frame_folded(graph, sparse.triu(matrix, k=1).tocoo())
    assert got.to_csv(index=False) == want.to_csv(index=False)
