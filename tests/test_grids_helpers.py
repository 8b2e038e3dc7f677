"""The small helpers cutting and communities use in place of wider calls, checked against them."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

from gis.blocks import shared_lengths
from gis.communities import _bordering
from gis.grids import _components, _median


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=40))
def test_median_is_numpys_bit_for_bit(values: list[float]) -> None:
    v = np.array(values)
    assert _median(v) == float(np.median(v))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=40))
def test_components_are_scipys_in_its_order(pairs: list[tuple[int, int]]) -> None:
    n = 31
    i, j = zip(*pairs, strict=True)
    edges = sparse.coo_matrix((np.ones(len(pairs)), (i, j)), shape=(n, n))
    _, label = csgraph.connected_components(edges, directed=False)
    expected = [np.flatnonzero(label == c) for c in np.unique(label[list(i)]).tolist()]
    got = _components(pairs)
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]


@settings(max_examples=60, deadline=None)
@given(
    kept=st.lists(st.booleans(), min_size=16, max_size=16),
    which=st.lists(st.integers(0, 15), max_size=8, unique=True),
    apart=st.booleans(),
)
def test_bordering_is_shared_lengths_over_the_polygons_asked(kept, which, apart) -> None:
    """A 4 x 4 lattice with cells left out (corner touches, isolated cells) and one cell
    moved off by a millimetre: those of ``which`` sharing a segment, as shared_lengths says."""
    cells = [shapely.box(x, y, x + 10, y + 10) for x in range(0, 40, 10) for y in range(0, 40, 10)]
    polygons = [c for c, k in zip(cells, kept, strict=True) if k]
    if apart and polygons:
        polygons[0] = shapely.affinity.translate(polygons[0], 0.001, 0.0)
    asked = np.array([i for i in which if i < len(polygons)], dtype=np.int64)
    expected = {i for pair in shared_lengths(polygons) for i in pair} & set(asked.tolist())
    assert _bordering(polygons, asked) == expected
