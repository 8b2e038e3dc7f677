"""Synthetic towns: deterministic, exact counts, no building on a street, valid OSM XML."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from gis._errors import InputError
from gis.synthetic import SyntheticTown, synthetic_town, to_osm_xml, write_area


@pytest.fixture(scope="module")
def town() -> SyntheticTown:
    return synthetic_town(1500, seed=11)


def test_same_seed_same_town_other_seed_other_town(town: SyntheticTown) -> None:
    again = synthetic_town(1500, seed=11)
    assert again.buildings.geometry.geom_equals_exact(town.buildings.geometry, 0).all()
    assert again.buildings.drop(columns="geometry").equals(town.buildings.drop(columns="geometry"))
    assert again.streets.geometry.geom_equals_exact(town.streets.geometry, 0).all()
    other = synthetic_town(1500, seed=12)
    assert not other.buildings.geometry.geom_equals_exact(town.buildings.geometry, 0).all()


@pytest.mark.parametrize("n", [1, 37, 1500, 5000])
def test_exact_building_count_and_unique_ids(n: int) -> None:
    t = synthetic_town(n, seed=2)
    assert len(t.buildings) == n
    assert t.buildings["id"].is_unique and t.streets["id"].is_unique
    assert set(t.buildings["id"]).isdisjoint(t.streets["id"])


def test_layers_are_metric_and_typed(town: SyntheticTown) -> None:
    for layer in (town.buildings, town.streets):
        assert layer.crs.is_projected and layer.crs.to_epsg() == 32650
    assert (shapely.get_type_id(town.buildings.geometry.values) == 3).all()
    assert (shapely.get_type_id(town.streets.geometry.values) == 1).all()
    assert town.buildings.is_valid.all() and (town.buildings.area > 20).all()
    highways = set(town.streets["highway"].dropna())
    assert {"primary", "secondary", "tertiary", "residential", "footway"} <= highways
    assert (town.streets["waterway"] == "river").sum() == 1
    assert (town.streets["railway"] == "rail").sum() == 1
    levels = town.buildings["levels"].dropna()
    assert 0.2 < len(levels) / len(town.buildings) < 0.4
    assert levels.astype(int).between(1, 30).all()


def test_buildings_do_not_cross_or_touch_streets(town: SyntheticTown) -> None:
    tree = shapely.STRtree(town.buildings.geometry.values)
    hits = tree.query(town.streets.geometry.values, predicate="intersects")
    assert hits.size == 0
    assert not tree.query(town.buildings.geometry.values, predicate="overlaps").size
    assert town.buildings.within(town.boundary).all()


def test_streets_are_not_parallel_only(town: SyntheticTown) -> None:
    start = shapely.get_coordinates(shapely.get_point(town.streets.geometry.values, 0))
    end = shapely.get_coordinates(shapely.get_point(town.streets.geometry.values, -1))
    d = end - start
    angles = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180
    assert ((angles > 5) & (angles < 85)).any()  # a diagonal street


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InputError, match="≥ 1"):
        synthetic_town(0, seed=1)
    with pytest.raises(InputError, match="projected"):
        synthetic_town(10, seed=1, crs="EPSG:4326")


class _Collect(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[int, tuple[float, float]] = {}
        self.ways: list[tuple[int, dict[str, str], list[int]]] = []

    def node(self, n: osmium.osm.Node) -> None:
        self.nodes[n.id] = (n.location.lon, n.location.lat)

    def way(self, w: osmium.osm.Way) -> None:
        self.ways.append((w.id, dict(w.tags), [r.ref for r in w.nodes]))


def test_osm_xml_parses_with_osmium_and_shares_street_nodes(
    town: SyntheticTown, tmp_path: Path
) -> None:
    path = to_osm_xml(town, tmp_path / "town.osm")
    handler = _Collect()
    handler.apply_file(str(path))
    buildings = [w for w in handler.ways if "building" in w[1]]
    streets = [w for w in handler.ways if "highway" in w[1]]
    assert len(buildings) == len(town.buildings)
    assert len(streets) == town.streets["highway"].notna().sum()
    assert {w[1].get("waterway") for w in handler.ways} >= {"river"}
    refs = [r for _, _, nds in handler.ways for r in nds]
    assert set(refs) <= set(handler.nodes)  # no dangling reference
    assert all(nds[0] == nds[-1] and len(nds) == 5 for _, _, nds in buildings)
    street_use = Counter(r for _, _, nds in streets for r in set(nds))
    crossings = sum(1 for c in street_use.values() if c >= 2)
    assert crossings >= len(town.streets) // 2  # streets share nodes where they cross
    lon, lat = np.array(list(handler.nodes.values())).T
    assert lon.min() > 118.7 and lon.max() < 119.0 and lat.min() > 32.0 and lat.max() < 32.2
    ids = {f"w{w[0]}" for w in buildings}
    assert ids == set(town.buildings["id"])
    levels = {f"w{i}": t.get("building:levels") for i, t, _ in buildings}
    assert levels == dict(zip(town.buildings["id"], town.buildings["levels"], strict=True))


def test_osm_xml_round_trips_building_geometry(town: SyntheticTown, tmp_path: Path) -> None:
    path = to_osm_xml(town, tmp_path / "town.osm")
    handler = _Collect()
    handler.apply_file(str(path))
    rings = {
        f"w{i}": shapely.Polygon([handler.nodes[r] for r in nds])
        for i, t, nds in handler.ways
        if "building" in t
    }
    back = gpd.GeoSeries(
        [rings[i] for i in town.buildings["id"]], crs="EPSG:4326", index=town.buildings.index
    ).to_crs(town.crs)
    assert back.hausdorff_distance(town.buildings.geometry, align=False).max() < 0.05


def test_write_area_makes_a_manifest_folder(town: SyntheticTown, tmp_path: Path) -> None:
    folder = write_area(town, tmp_path / "syn", name='Town "A"')
    manifest = tomllib.loads((folder / "area.toml").read_text(encoding="utf-8"))
    assert manifest["name"] == 'Town "A"'
    assert (folder / manifest["osm"]).exists()
    study = gpd.read_file(folder / manifest["study_area"])
    assert study.crs.to_epsg() == 4326
    assert study.to_crs(town.crs).geometry.iloc[0].symmetric_difference(town.boundary).area < 1.0
