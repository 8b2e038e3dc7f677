"""Reading OSM XML and PBF, and vector files, offline."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gis._errors import CRSError, EmptyLayerError, UnreadableFileError
from gis.area import load_area
from gis.sources import STREET_HIGHWAYS, is_osm_file, osm_format, read_osm, read_vector
from tests.conftest import AREAS, TEST_DATA


def test_osm_xml_yields_buildings_streets_and_pois():
    layers = read_osm(AREAS / "nanjing_xinjiekou" / "xinjiekou.osm")
    assert len(layers.buildings) > 1200
    assert set(layers.buildings.geom_type) <= {"Polygon", "MultiPolygon"}
    assert layers.buildings["id"].str.fullmatch(r"[wr]\d+").all()
    # only street ways: no building or land-use way became a street
    assert set(layers.streets["highway"]) <= STREET_HIGHWAYS
    assert (layers.streets.geom_type == "LineString").all()
    assert not set(layers.streets["id"]) & set(layers.buildings["id"])
    assert (layers.pois.geom_type == "Point").all()
    assert "school" in set(layers.pois["kind"])


def test_pbf_is_read_directly_and_ways_share_vertices():
    layers = read_osm(TEST_DATA / "finland_town.osm.pbf")
    assert len(layers.buildings) > 2000
    coords = shapely.get_coordinates(layers.streets.geometry.values)
    # streets meet at shared OSM nodes: some vertex is used by more than one way
    _, counts = __import__("numpy").unique(coords.round(9), axis=0, return_counts=True)
    assert (counts > 1).sum() > 50


def test_a_garbage_file_is_unreadable(tmp_path: Path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x01 not a pbf")
    with pytest.raises(UnreadableFileError, match=r"bad\.osm\.pbf"):
        read_osm(bad)


def test_an_extract_without_buildings_or_streets_is_empty(tmp_path: Path):
    empty = tmp_path / "empty.osm"
    empty.write_text("<?xml version='1.0'?><osm version='0.6'><node id='1' lat='1' lon='1'/></osm>")
    with pytest.raises(EmptyLayerError):
        read_osm(empty)


def test_a_vector_file_without_crs_is_refused(tmp_path: Path):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)])
    path = tmp_path / "nocrs.shp"
    frame.to_file(path)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        read_vector(path, what="community boundaries")


def test_a_geopackage_source_builds_like_an_osm_one(tmp_path: Path):
    layers = read_osm(AREAS / "helsinki" / "helsinki.osm")
    gpkg = tmp_path / "area.gpkg"
    layers.buildings.to_file(gpkg, layer="buildings")
    layers.streets.to_file(gpkg, layer="streets")
    area = load_area(gpkg)
    assert area.study_area_source == "built-up extent"
    assert len(area.layers.buildings) > 300
    assert len(area.layers.streets) > 100


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("h.osm.gz", "gzip"),
        ("h.osm.bz2", "bz2"),
        ("h.osm.xml.gz", "gzip"),
        ("h.osm.xml.bz2", "bz2"),
        ("h.osm.xml", None),
        ("h.osm", None),
    ],
)
def test_osm_xml_is_read_compressed_or_not_bare_or_in_a_folder(tmp_path: Path, name, compress):
    import bz2
    import gzip

    raw = (AREAS / "helsinki" / "helsinki.osm").read_bytes()
    data = {"gzip": gzip.compress, "bz2": bz2.compress, None: lambda b: b}[compress](raw)
    path = tmp_path / name
    path.write_bytes(data)
    assert is_osm_file(path)
    layers = read_osm(path)
    plain = read_osm(AREAS / "helsinki" / "helsinki.osm")
    assert len(layers.buildings) == len(plain.buildings) > 400
    assert len(layers.streets) == len(plain.streets)
    # a bare file, and a folder holding only that file, build with zero configuration
    assert load_area(path).study_area_source == "built-up extent"
    assert len(load_area(tmp_path).layers.buildings) > 400


def test_a_pbf_named_like_xml_is_still_read_as_pbf(tmp_path: Path):
    path = tmp_path / "town.osm"
    path.write_bytes((TEST_DATA / "finland_town.osm.pbf").read_bytes())
    assert osm_format(path) == "pbf"
    assert len(read_osm(path).buildings) > 2000


@pytest.mark.parametrize(
    ("name", "is_osm"),
    [
        ("a.osm.pbf", True),
        ("a.pbf", True),
        ("a.OSM.XML.GZ", True),
        ("a.xml.bz2", True),
        ("a.geojson", False),
        ("a.tar.gz", False),
        ("a.csv.bz2", False),
    ],
)
def test_osm_file_names(name: str, is_osm: bool):
    assert is_osm_file(name) is is_osm


def test_a_corrupt_compressed_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.osm.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(UnreadableFileError, match=r"bad\.osm\.gz"):
        read_osm(bad)


def test_water_coast_ferries_and_land_use_are_read():
    helsinki = read_osm(AREAS / "helsinki" / "helsinki.osm")
    kinds = set(helsinki.barriers["kind"])
    assert {"water", "coastline", "railway", "ferry"} <= kinds
    assert "commercial" in set(helsinki.landuse["landuse"])
    assert (helsinki.landuse.geom_type.isin(["Polygon", "MultiPolygon"])).all()
    dublin = read_osm(TEST_DATA / "dublin_docklands.osm.xml.gz")
    roofs = dublin.buildings[dublin.buildings["building"] == "roof"]
    assert len(roofs) > 5
    assert "barrier" in dublin.buildings.columns


def _names(*names: str):
    frame = gpd.GeoDataFrame({"name": list(names)}, geometry=[shapely.Point(0, 0)] * len(names))
    empty = gpd.GeoDataFrame({"name": []}, geometry=[])
    from gis.sources import OsmLayers

    return OsmLayers(buildings=empty, streets=frame, barriers=empty, pois=empty)


@pytest.mark.parametrize(
    ("names", "language"),
    [
        (["新街口", "中山路", "汉中路"], "zh"),
        (["大通り", "さくら通り", "中央駅", "市役所"], "ja"),  # kanji names with some kana
        (["カフェ", "東京"], "ja"),
        (["세종대로", "광화문"], "ko"),
        (["Aleksanterinkatu", "Mannerheimintie"], "en"),
        (["Hauptstraße", "Café Müller"], "en"),
        ([], "en"),
    ],
)
def test_the_area_language_comes_from_the_script_of_its_names(names, language):
    from gis.area import guess_language

    assert guess_language(_names(*names)) == language


def test_entrances_and_fences_are_read_apart_from_grid_barriers():
    layers = read_osm(AREAS / "helsinki" / "helsinki.osm")
    # entrance and door nodes with their tags, for walks from doors (gis.access)
    assert len(layers.entrances) > 300
    assert {"entrance", "door", "access"} <= set(layers.entrances.columns)
    assert set(shapely.get_type_id(layers.entrances.geometry.values)) == {0}
    # fences are walkers' barriers, kept out of the barriers that grids follow
    assert len(layers.fences) > 50 and set(layers.fences["kind"]) == {"fence"}
    assert "fence" not in set(layers.barriers["kind"])
