"""The small helpers cutting uses in place of numpy's and scipy's, checked against them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

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
