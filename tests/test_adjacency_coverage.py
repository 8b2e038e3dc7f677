"""Shared lengths of a coverage by matching segments: the neighbours and written figures of
the overlay, on coverages with the cases matching cannot vouch for."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis import adjacency
from gis.adjacency import adjacency_frame, coverage_shared_lengths, grid_adjacency, shared_lengths


def _cells(rng: np.random.Generator, n: int, box: shapely.Polygon) -> np.ndarray:
    """A clean coverage of ``box``: Voronoi cells of ``n`` random points."""
    x0, y0, x1, y1 = box.bounds
    points = rng.random((n, 2)) * [x1 - x0, y1 - y0] + [x0, y0]
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points))), box
    )
    return shapely.coverage_clean(cells[shapely.area(cells) > 0])


def _coverage(seed: int, n: int, gap: bool, sliver: bool) -> np.ndarray:
    """Two halves cut apart (their common border meets vertex to segment, T-junctions),
    optionally one cell shrunk off its neighbours by a centimetre (a gap to snap across)
    and a 2 cm strip along the border that only corners of the halves touch."""
    rng = np.random.default_rng(seed)
    west = _cells(rng, n, shapely.box(0, 0, 500, 1000))
    east = _cells(rng, n, shapely.box(500, 0, 1000, 1000))
    cells = np.concatenate([west, east])
    if gap:
        cells[0] = shapely.buffer(cells[0], -0.01, join_style="mitre")
    if sliver:
        cells = np.concatenate(
            [shapely.difference(cells, shapely.box(-1, 999.98, 1001, 1001)),
             [shapely.box(0, 999.98, 1000, 1000)]]
        )  # fmt: skip
    return cells[shapely.area(cells) > 0]


def _frame(geoms: np.ndarray) -> gpd.GeoDataFrame:
    codes = [f"320106001001{i:03d}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs="EPSG:32650")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 40),
    gap=st.booleans(),
    sliver=st.booleans(),
)
def test_matching_finds_the_neighbours_and_writes_the_figures_of_the_overlay(seed, n, gap, sliver):
    geoms = _coverage(seed, n, gap, sliver)
    overlay = shared_lengths(geoms)
    matched = coverage_shared_lengths(geoms)
    assert (overlay.indptr == matched.indptr).all()
    assert (overlay.indices == matched.indices).all()
    np.testing.assert_allclose(matched.data, overlay.data, rtol=1e-12)
    frame = _frame(geoms)
    written = adjacency_frame(grid_adjacency(frame))
    assert adjacency_frame(grid_adjacency(frame, coverage=True)).equals(written)


def test_a_sum_on_a_rounding_step_is_measured_by_overlay(monkeypatch):
    """0.625 m lies on a step of the centimetre rounding: the order of a sum could tip it."""
    seen: list[tuple[int, int]] = []
    overlay = adjacency._overlay_lengths

    def spy(geoms, bounds, left, right):
        seen.extend(zip(left.tolist(), right.tolist(), strict=True))
        return overlay(geoms, bounds, left, right)

    monkeypatch.setattr(adjacency, "_overlay_lengths", spy)
    squares = np.array([shapely.box(0, 0, 10, 0.625), shapely.box(10, 0, 20, 0.625)])
    matrix = coverage_shared_lengths(squares)
    assert seen == [(0, 1)]
    assert matrix[0, 1] == 0.625
    seen.clear()
    coverage_shared_lengths(np.array([shapely.box(0, 0, 10, 0.75), shapely.box(10, 0, 20, 0.75)]))
    assert seen == []  # 0.75 m is far from a step: the matched sum is written
