"""Communities: the office's polygons fitted to the area, derived ones where they do not reach."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.communities import fit_communities
from gis.grids import Buildings

AREA = shapely.box(0, 0, 3000, 1000)


def _buildings(n_per_row: int = 30) -> Buildings:
    xs = np.linspace(50, 2950, n_per_row)
    points = np.array([(x, y) for x in xs for y in (250.0, 750.0)])
    shapes = np.array([shapely.box(x - 5, y - 5, x + 5, y + 5) for x, y in points], dtype=object)
    households = np.full(len(points), 100.0)
    return Buildings(points, shapes, households, households * 2.5)


def _major_roads() -> np.ndarray:
    return np.array(
        [shapely.LineString([(x, -10), (x, 1010)]) for x in (1000, 2000)], dtype=object
    )


def test_where_the_given_communities_do_not_reach_communities_are_derived():
    given = [shapely.box(-100, -100, 1000, 1100)]  # covers only the west third
    fitted = fit_communities(
        AREA, given, ["Xiyuan"], major_lines=_major_roads(), buildings=_buildings()
    )
    assert fitted.names[0] == "Xiyuan" and fitted.derived[0] is False
    assert fitted.derived[1:] == [True] * (len(fitted.polygons) - 1)
    assert len(fitted.polygons) == 3  # the rest is two super-blocks of 2,000 households
    # the given community keeps its own area: it does not swallow the rest
    assert fitted.polygons[0].area == pytest.approx(1000 * 1000)
    union = shapely.union_all(fitted.polygons)
    assert union.symmetric_difference(AREA).area < 1e-6
    assert sum(p.area for p in fitted.polygons) == pytest.approx(AREA.area)
    assert any("derived" in note for note in fitted.notes)


def test_small_gaps_between_given_communities_join_a_neighbour():
    given = [shapely.box(0, 0, 1502, 1000), shapely.box(1505, 0, 3000, 1000)]  # a 3 m gap
    fitted = fit_communities(
        AREA, given, ["East", "West"], major_lines=_major_roads(), buildings=_buildings()
    )
    assert fitted.derived == [False, False]
    assert sum(p.area for p in fitted.polygons) == pytest.approx(AREA.area)


def test_messages_name_communities_by_their_name():
    given = [shapely.box(5000, 0, 6000, 1000), AREA]
    fitted = fit_communities(
        AREA, given, ["Far away", None], major_lines=_major_roads(), buildings=_buildings()
    )
    assert any("'Far away' (#1)" in note for note in fitted.notes)
    assert fitted.names == [None]
