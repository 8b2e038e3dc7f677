"""Properties encoded a column at a time are the bytes :func:`json.dumps` writes per feature.

Every GeoJSON file's properties come from :func:`gis.geojson_text.properties_text`;
these tests hold it to ``json.dumps(record, ensure_ascii=False, allow_nan=False)``
of each row (missing and non-finite numbers as null), on frames of every dtype a
build's layers hold: numpy numbers and booleans, text (object and pandas'
string dtype) with gaps, nullable integers, mixed objects, dates.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.geojson_text import properties_text


def _expected(frame: pd.DataFrame) -> list[str]:
    """What the writer wrote before: one dict per row through :func:`json.dumps`."""

    def plain(value: Any) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
            return None
        if isinstance(value, np.generic):
            return plain(value.item())
        if isinstance(value, datetime.date):
            return value.isoformat()
        return value

    return [
        json.dumps({str(k): plain(v) for k, v in row.items()}, ensure_ascii=False, allow_nan=False)
        for row in frame.astype(object).to_dict(orient="records")
    ]


texts = st.one_of(st.none(), st.text(max_size=8))
floats = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 15))
    column = {
        "float": lambda: np.array(draw(st.lists(floats, min_size=n, max_size=n)), dtype=float),
        "int": lambda: np.array(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)), dtype=np.int64
        ),
        "bool": lambda: np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool),
        "text": lambda: draw(st.lists(texts, min_size=n, max_size=n)),
        "string": lambda: pd.array(draw(st.lists(texts, min_size=n, max_size=n)), dtype="string"),
        "nullable": lambda: pd.array(
            draw(st.lists(st.one_of(st.none(), st.integers(-99, 99)), min_size=n, max_size=n)),
            dtype="Int64",
        ),
        "mixed": lambda: draw(
            st.lists(
                st.one_of(texts, st.integers(-5, 5), st.booleans(), floats), min_size=n, max_size=n
            )
        ),
        "date": lambda: [datetime.date(2026, 1, 1 + i % 28) for i in range(n)],
    }
    kinds = draw(st.lists(st.sampled_from(sorted(column)), max_size=6))
    data = {f"{kind}{i}": column[kind]() for i, kind in enumerate(kinds)}
    return pd.DataFrame(data, index=range(n))


@settings(max_examples=300, deadline=None)
@given(frames())
def test_properties_are_the_bytes_json_writes_per_feature(frame: pd.DataFrame) -> None:
    mixed = [c for c in frame.columns if c.startswith("mixed")]
    if any(isinstance(v, float) and np.isinf(v) for c in mixed for v in frame[c]):
        with pytest.raises(ValueError):  # json.dumps refuses infinity in a mixed column
            properties_text(frame)
        return
    assert properties_text(frame) == _expected(frame)


def test_a_value_json_cannot_hold_is_refused_with_its_type() -> None:
    with pytest.raises(TypeError, match="complex"):
        properties_text(pd.DataFrame({"z": [1j]}))
