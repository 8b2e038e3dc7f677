"""Splitting one extract by sub-district: every building in exactly one part, nothing lost."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.sources import OsmLayers, read_osm
from gis.split import read_part, split_osm
from tests.conftest import TEST_DATA

TOWN = TEST_DATA / "finland_town.osm.pbf"


@pytest.fixture(scope="module")
def whole() -> OsmLayers:
    """The town as one read of the whole extract."""
    return read_osm(TOWN)


@settings(max_examples=6, deadline=None)
@given(cuts=st.lists(st.floats(0.05, 0.95), min_size=1, max_size=4, unique=True))
def test_parts_partition_the_buildings_and_keep_every_nearby_street(
    cuts: list[float], whole: OsmLayers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    w, s, e, n = whole.buildings.total_bounds
    xs = [w - 0.01, *sorted(w + c * (e - w) for c in cuts), e + 0.01]
    strips = [shapely.box(a, s - 0.01, b, n + 0.01) for a, b in itertools.pairwise(xs)]
    folder = Path(tmp_path_factory.mktemp("split"))
    margin = 0.002
    result = split_osm(TOWN, strips, folder, margin_deg=[margin] * len(strips))
    parts = [read_part(p) for p in result.parts]
    ids = [set(p.buildings["id"]) for p in parts]
    # disjoint, and together every building of the extract (the strips cover it all)
    assert sum(len(i) for i in ids) == len(set().union(*ids)) == len(whole.buildings)
    assert result.outside == 0
    # each building is in the part holding its inside point
    points = shapely.point_on_surface(whole.buildings.geometry.values)
    for strip, part_ids in zip(strips, ids, strict=True):
        inside = set(whole.buildings["id"][shapely.within(points, strip)])
        assert part_ids == inside
    # every street within the margin of a strip went to that strip's part
    for strip, part in zip(strips, parts, strict=True):
        near = whole.streets[
            shapely.intersects(whole.streets.geometry.values, strip.buffer(margin))
        ]
        assert set(near["id"]) == set(part.streets["id"])
        assert np.array_equal(part.streets.columns, whole.streets.columns)
        # land use (it sets the residential share) reaches the part as it does a whole read
        near_use = whole.landuse[
            shapely.intersects(whole.landuse.geometry.values, strip.buffer(margin))
        ]
        assert set(near_use["id"]) == set(part.landuse["id"])
        assert set(whole.buildings.columns) <= set(part.buildings.columns)
