"""Households and residents never carry long decimals: files, API features and tiles.

The engine estimates households per building as fractions (``334.26982605892255``);
every layer file, GeoPackage, API feature and vector tile gives them to one
decimal (``gis.outputs.QUANTITY_DECIMALS``), as the CSV exports do, while the
frames the engine computes with keep every digit.  Sums stay conserved within
the rounding (tests/grid_invariants.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np

from api.area import FeatureIndex
from api.tiles import encode_tile
from gis.outputs import QUANTITIES, QUANTITY_DECIMALS, BuildFolder, read_layer
from tests.api_fixtures import make_build_dir
from tests.grid_invariants import check_counts_conserved

#: A count printed with more decimals than the files keep.
LONG = re.compile(rf'"(?:{"|".join(QUANTITIES)})": -?\d+\.\d{{{QUANTITY_DECIMALS + 1},}}')
COUNT = re.compile(rf'"(?:{"|".join(QUANTITIES)})": -?\d+(?:\.\d+)?')


def _decimals(value: float) -> int:
    return len(repr(float(value)).partition(".")[2].rstrip("0"))


def _estimated(folder: Path, name: str) -> gpd.GeoDataFrame:
    """A layer of the synthetic town with counts as the engine makes them (long fractions)."""
    frame = gpd.read_file(folder / f"{name}.geojson")
    for column in QUANTITIES:
        frame[column] = frame[column] / 3 + 1e-9
    return frame


def test_layer_files_and_geopackage_hold_counts_to_one_decimal(tmp_path: Path) -> None:
    town = make_build_dir(tmp_path / "town")
    layers = {name: _estimated(town, name) for name in ("grids", "buildings")}
    folder = BuildFolder(tmp_path / "build")
    folder.write_build(layers, {"name": "town"})
    for name, frame in layers.items():
        text = (folder.path / f"{name}.geojson").read_text()
        assert len(COUNT.findall(text)) == 2 * len(frame)  # every count is there
        assert not LONG.findall(text), LONG.findall(text)[:3]
        packed = gpd.read_file(folder.path / "area.gpkg", layer=name)
        for column in QUANTITIES:
            assert max(map(_decimals, packed[column])) <= QUANTITY_DECIMALS
            # rounded, not cut: within half a unit of the estimate, and the engine's frame intact
            room = 0.5 * 10.0**-QUANTITY_DECIMALS + 1e-9
            assert np.allclose(packed[column], frame[column], rtol=0, atol=room)
            assert max(map(_decimals, frame[column])) > QUANTITY_DECIMALS
        # what the folder holds in memory is what a fresh process reads from the file
        held, fresh = folder.read(name), read_layer(folder.path, name)
        assert held[list(QUANTITIES)].equals(fresh[list(QUANTITIES)])


def test_api_features_and_tiles_give_counts_to_one_decimal(tmp_path: Path) -> None:
    grids = _estimated(make_build_dir(tmp_path / "town"), "grids")
    index = FeatureIndex.from_frame("grids", grids, "code")
    features = [json.loads(index.feature(code)) for code in grids["code"]]
    for column in QUANTITIES:
        served = [f["properties"][column] for f in features]
        assert max(map(_decimals, served)) <= QUANTITY_DECIMALS
        assert np.allclose(served, grids[column], rtol=0, atol=0.05 + 1e-9)
        assert index.frame[column].equals(grids[column])  # the engine's numbers keep their digits
    w, s, e, n = grids.total_bounds
    x, y = _tile_of((w + e) / 2, (s + n) / 2, 14)
    tile = mapbox_vector_tile.decode(encode_tile(index, 14, x, y))["grids"]["features"]
    assert tile
    for feature in tile:
        for column in QUANTITIES:
            assert _decimals(feature["properties"][column]) <= QUANTITY_DECIMALS


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    from api.tiles import tile_matrix

    t = tile_matrix().tile(lon, lat, z)
    return t.x, t.y


def test_the_real_area_writes_counts_to_one_decimal_and_keeps_its_sums(
    nanjing_build: Path,
) -> None:
    for name in ("grids", "buildings", "communities", "districts"):
        text = (nanjing_build / f"{name}.geojson").read_text()
        assert COUNT.findall(text), name
        assert not LONG.findall(text), (name, LONG.findall(text)[:3])
    grids, buildings, communities = (
        read_layer(nanjing_build, n) for n in ("grids", "buildings", "communities")
    )
    check_counts_conserved(grids, buildings, communities, count_decimals=QUANTITY_DECIMALS)
