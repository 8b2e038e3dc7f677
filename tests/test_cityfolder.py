"""A city's GeoJSON layers joined from its parts' files are one write of the whole layer.

:func:`gis.cityfolder.join_geojson` copies each part's features in the kernel
(``copy_file_range``) where it can, else through Python; either way, and
whatever the kernel copies at a time, the file is byte for byte what
:func:`gis.outputs.write_geojson` writes for the concatenated layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import cityfolder
from gis.outputs import write_geojson


def _layer(rows: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(13.0, 13.1, rows), rng.uniform(52.0, 52.1, rows)
    return gpd.GeoDataFrame(
        {"code": [f"c{seed}-{i}" for i in range(rows)], "households": rng.integers(0, 99, rows)},
        geometry=shapely.box(x, y, x + 1e-4, y + 1e-4),
        crs=4326,
    )


def _at_most(limit: int) -> Callable[..., int]:
    """``os.copy_file_range`` copying no more than ``limit`` bytes a call."""
    real = os.copy_file_range

    def copy(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        return real(src, dst, min(count, limit), offset_src)

    return copy


def _failing_after(calls: int) -> Callable[..., int]:
    """``os.copy_file_range`` copying 7 bytes ``calls`` times, then failing."""
    copy, left = _at_most(7), [calls]

    def fail(*args: int) -> int:
        left[0] -= 1
        if left[0] < 0:
            raise OSError(5, "Input/output error")
        return copy(*args)

    return fail


def _refused(*_args: object) -> int:
    raise OSError(18, "Invalid cross-device link")


@pytest.mark.parametrize(
    "kernel",
    ["whole", "seven bytes a call", "failing midway", "refused"],
    ids=lambda k: k.replace(" ", "-"),
)
def test_joined_parts_are_one_write_of_the_whole_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str
) -> None:
    if kernel == "seven bytes a call":
        monkeypatch.setattr(os, "copy_file_range", _at_most(7))
    elif kernel == "failing midway":
        monkeypatch.setattr(os, "copy_file_range", _failing_after(5))
    elif kernel == "refused":
        monkeypatch.setattr(os, "copy_file_range", _refused)
    parts = [_layer(n, seed) for seed, n in enumerate([3, 0, 40, 1, 0])]
    sources = []
    for i, part in enumerate(parts):
        sources.append(tmp_path / f"part{i}.geojson")
        write_geojson(part, sources[-1])
    whole = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326)
    write_geojson(whole, tmp_path / "grids.geojson")
    cityfolder.join_geojson(sources, tmp_path / "joined.geojson", name="grids")
    assert (tmp_path / "joined.geojson").read_bytes() == (tmp_path / "grids.geojson").read_bytes()
