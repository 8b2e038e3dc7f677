"""Polygons as written to GeoJSON: on the 1e-7° grid, valid, counter-clockwise, the same shape.

:func:`gis.outputs.orient_rfc7946` rounds most polygons vertex by vertex and
sends only those that rounding breaks (rings that touch, cross or collapse) to
GEOS's snap-rounding; these tests draw polygons a few grid steps wide, where
rounding breaks many of them, and hold every result to what a reader relies on.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.outputs import GEOJSON_GRID_DEG, orient_rfc7946


@st.composite
def stars(draw: st.DrawFn, *, max_radius: float) -> list[tuple[float, float]]:
    """A simple ring around the origin: vertices at increasing angles, radii in grid steps."""
    n = draw(st.integers(min_value=3, max_value=9))
    angles = np.sort(draw(st.lists(st.floats(0.0, 2 * np.pi), min_size=n, max_size=n, unique=True)))
    radii = draw(st.lists(st.floats(0.2, max_radius), min_size=n, max_size=n))
    return [(r * np.cos(a), r * np.sin(a)) for a, r in zip(angles, radii, strict=True)]


@st.composite
def small_polygons(draw: st.DrawFn) -> shapely.Polygon:
    """A polygon 0.4 to 60 grid steps across (1e-7° is about 1 cm), maybe with a hole."""
    shell = draw(stars(max_radius=30.0))
    x0 = draw(st.floats(-170.0, 170.0))
    y0 = draw(st.floats(-80.0, 80.0))
    holes = []
    inner = min(np.hypot(x, y) for x, y in shell) * np.cos(np.pi / 3)  # inside every edge
    if draw(st.booleans()) and inner > 0.4:
        hole = draw(stars(max_radius=inner))
        holes = [[(x0 + x * GEOJSON_GRID_DEG, y0 + y * GEOJSON_GRID_DEG) for x, y in hole]]
    ring = [(x0 + x * GEOJSON_GRID_DEG, y0 + y * GEOJSON_GRID_DEG) for x, y in shell]
    polygon = shapely.Polygon(ring, holes)
    return polygon if polygon.is_valid else shapely.Polygon(ring)


@settings(max_examples=300, deadline=None)
@given(st.lists(small_polygons(), min_size=1, max_size=8))
def test_written_polygons_are_valid_ccw_on_the_grid_and_keep_their_shape(polygons) -> None:
    source = np.array([p for p in polygons if p.is_valid], dtype=object)
    frame = gpd.GeoDataFrame({"i": range(len(source))}, geometry=source, crs="EPSG:4326")
    written = orient_rfc7946(frame).geometry.values
    assert shapely.is_valid(written).all(), "every ring stays valid when read back"
    for before, after in zip(source, written, strict=True):
        for part in shapely.get_parts(after):
            assert part.exterior.is_ccw, "exterior rings counter-clockwise (RFC 7946)"
            assert not any(ring.is_ccw for ring in part.interiors), "holes clockwise"
        if shapely.normalize(after).equals_exact(shapely.normalize(before), 0.0):
            continue  # thinner than the grid: kept as it was
        steps = shapely.get_coordinates(after) / GEOJSON_GRID_DEG
        assert np.allclose(steps, np.round(steps), atol=1e-6, rtol=0.0), "vertices on the grid"
        once = shapely.remove_repeated_points(after)
        assert shapely.get_num_coordinates(once) == shapely.get_num_coordinates(after), (
            "no vertex written twice in a row"
        )
        moved = shapely.symmetric_difference(before, after).area
        assert moved <= before.length * GEOJSON_GRID_DEG, "the shape moves by under one grid step"
