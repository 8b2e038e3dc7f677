"""Snapping polygons to the written grid fast gives what ``shapely.set_precision`` gives.

:func:`gis.precision.snap_polygons` computes GEOS's snap rounding itself for
simple polygons; these tests hold it to ``set_precision`` coordinate for
coordinate (after the right-hand-rule orientation every GeoJSON file gets), on
generated polygons that are simple, that have holes or several parts, whose
vertices come near an edge, that snapping collapses, and on buildings whose
outlines a reprojection moved off the grid.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gis.precision import CHECKED_GEOS, snap_polygons

GRID = 1e-7


def _oriented(geoms: np.ndarray) -> np.ndarray:
    return shapely.orient_polygons(geoms, exterior_cw=False)


def _assert_same_as_set_precision(geoms: np.ndarray) -> None:
    geoms = np.asarray(geoms, dtype=object)
    want = _oriented(shapely.set_precision(geoms, GRID))
    snapped, simple = snap_polygons(geoms, GRID)
    assert shapely.is_valid(snapped[simple]).all()
    assert (_oriented(snapped[simple]) == snapped[simple]).all()  # already oriented
    got = _oriented(snapped)
    assert list(shapely.get_type_id(got)) == list(shapely.get_type_id(want))
    for g, w, source in zip(got, want, geoms, strict=True):
        assert shapely.equals_exact(g, w, 0.0), (source.wkt, g.wkt, w.wkt)


@st.composite
def rings(draw: st.DrawFn, *, centre: tuple[float, float], size: float) -> np.ndarray:
    """A star-shaped ring around ``centre`` (any orientation, any first vertex)."""
    n = draw(st.integers(3, 12))
    angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n))))
    radii = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n)))
    xy = np.column_stack([np.cos(angles), np.sin(angles)]) * radii[:, None] * size + centre
    if draw(st.booleans()):  # on the grid already, as OSM's nodes are
        xy = np.round(xy / GRID) * GRID
    if draw(st.booleans()):
        xy = xy[::-1]
    return np.roll(xy, draw(st.integers(0, n - 1)), axis=0)


@st.composite
def polygons(draw: st.DrawFn) -> shapely.Geometry:
    """Valid polygons from a few grid cells to a kilometre, some with holes or parts."""
    centre = (draw(st.floats(-179.0, 179.0)), draw(st.floats(-80.0, 80.0)))
    size = 10.0 ** draw(st.floats(-6.5, -2.0))
    shell = draw(rings(centre=centre, size=size))
    holes = []
    if draw(st.integers(0, 3)) == 0:  # a hole in the middle
        holes.append(draw(rings(centre=centre, size=size * 0.1)))
    parts = _polygonal(shapely.Polygon(shell, holes))
    if draw(st.integers(0, 3)) == 0:  # a second part beside it
        other = draw(rings(centre=(centre[0] + 3 * size, centre[1]), size=size))
        parts += _polygonal(shapely.Polygon(other))
    assume(parts)
    if len(parts) > 1 or draw(st.booleans()):  # one part as a MultiPolygon, as buildings are
        return shapely.MultiPolygon(parts)
    return parts[0]


def _polygonal(geom: shapely.Geometry) -> list[shapely.Geometry]:
    valid = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    return [p for p in shapely.get_parts(valid) if p.geom_type == "Polygon" and not p.is_empty]


@settings(max_examples=150, deadline=None)
@given(st.lists(polygons(), min_size=1, max_size=8))
def test_snapping_gives_what_set_precision_gives(geoms: list[shapely.Geometry]) -> None:
    _assert_same_as_set_precision(np.array(geoms, dtype=object))


def test_buildings_moved_off_the_grid_by_a_projection_snap_back_as_set_precision_snaps_them() -> (
    None
):
    rng = np.random.default_rng(7)
    corners = np.round(rng.uniform([13.5, 52.4], [13.6, 52.5], size=(500, 2)) / GRID) * GRID
    boxes = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + 2e-4, corners[:, 1] + 1e-4)
    there = pyproj.Transformer.from_crs(4326, 32633, always_xy=True)
    back = pyproj.Transformer.from_crs(32633, 4326, always_xy=True)
    moved = shapely.transform(
        shapely.transform(boxes, lambda xy: np.column_stack(there.transform(*xy.T))),
        lambda xy: np.column_stack(back.transform(*xy.T)),
    )
    assert not shapely.equals_exact(moved, boxes, 0.0).all()  # off the grid now
    _assert_same_as_set_precision(shapely.multipolygons(moved[:, None]))
    # with the GEOS it was checked against, these plain boxes take the fast path
    _, simple = snap_polygons(moved, GRID)
    assert simple.all() == (shapely.geos_version[:2] in CHECKED_GEOS)


def test_polygons_snap_rounding_changes_are_left_to_geos() -> None:
    near = shapely.Polygon([(0, 0), (1e-5, 0), (1e-5, 1e-5), (5e-6, 1.5e-7), (0, 1e-5)])
    sliver = shapely.Polygon([(0, 0), (1e-4, 0), (1e-4, 3e-8), (0, 2e-8)])  # collapses
    tiny = shapely.Polygon([(0, 0), (2e-7, 0), (2e-7, 2e-7)])
    geoms = np.array([near, sliver, tiny], dtype=object)
    _assert_same_as_set_precision(geoms)
    assert shapely.is_empty(snap_polygons(geoms, GRID)[0][1])  # as set_precision collapses it


def test_under_a_geos_not_checked_every_polygon_goes_to_set_precision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another GEOS may snap differently: then GEOS snaps them all, so the files stay its own."""
    boxes = shapely.box(np.arange(5.0) * 1e-3, 0.0, np.arange(5.0) * 1e-3 + 3.3e-4, 2.7e-4)
    monkeypatch.setattr(shapely, "geos_version", (3, 99, 0))
    snapped, simple = snap_polygons(boxes, GRID)
    assert not simple.any()
    assert shapely.equals_exact(snapped, shapely.set_precision(boxes, GRID), 0.0).all()
