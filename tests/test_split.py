"""Splitting one extract by sub-district: every building in exactly one part, nothing lost.

Two splits exist: osmium-tool's C++ passes (the buildings extracted per
sub-district, parsed by the workers) and the pyosmium pass (everything routed in
Python, for a user without osmium-tool). Both must give the same parts: the same
buildings, streets, POIs, barriers, water, land use, entrances and fences by id,
geometry and tags, on the real extracts and a generated town, and also for what
reaches a sub-district from far away (a street segment whose nodes lie past the
margin, a lake drawn as a multipolygon, land use around it all).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st

import gis.split
from gis.sources import OsmLayers, read_osm
from gis.split import degrees, osmium_tool, read_part, split_osm
from tests.city_fixtures import box_subdistricts
from tests.conftest import TEST_DATA

TOWN = TEST_DATA / "finland_town.osm.pbf"
ROOT = Path(__file__).resolve().parents[1]
#: The real extracts, as users download them (bundled).
REAL = {
    "adlershof": TEST_DATA / "berlin_adlershof.osm.xml.gz",
    "dublin": TEST_DATA / "dublin_docklands.osm.xml.gz",
    "helsinki": ROOT / "data" / "boundaries" / "helsinki" / "helsinki.osm",
    "nanjing": ROOT / "data" / "boundaries" / "nanjing_xinjiekou" / "xinjiekou.osm",
}
LAYERS = ("buildings", "streets", "barriers", "pois", "landuse", "entrances", "fences")


def test_osmium_tool_is_there() -> None:
    # CI installs it (scripts/setup.sh): the tests of the C++ split must not pass vacuously
    assert osmium_tool() is not None


@pytest.fixture(scope="module")
def whole() -> OsmLayers:
    """The town as one read of the whole extract."""
    return read_osm(TOWN)


@pytest.mark.parametrize("tool", [True, False], ids=["osmium-tool", "pyosmium"])
@settings(max_examples=4, deadline=None)
@given(cuts=st.lists(st.floats(0.05, 0.95), min_size=1, max_size=4, unique=True))
def test_parts_partition_the_buildings_and_keep_every_nearby_street(
    tool: bool, cuts: list[float], whole: OsmLayers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    w, s, e, n = whole.buildings.total_bounds
    xs = [w - 0.01, *sorted(w + c * (e - w) for c in cuts), e + 0.01]
    strips = [shapely.box(a, s - 0.01, b, n + 0.01) for a, b in itertools.pairwise(xs)]
    folder = Path(tmp_path_factory.mktemp("split"))
    margin = 0.002
    result = split_osm(TOWN, strips, folder, margin_deg=[margin] * len(strips), tool=tool)
    parts = [read_part(p, strip) for p, strip in zip(result.parts, strips, strict=True)]
    ids = [set(p.buildings["id"]) for p in parts]
    # disjoint, and together every building of the extract (the strips cover it all)
    assert sum(len(i) for i in ids) == len(set().union(*ids)) == len(whole.buildings)
    assert result.outside == (None if tool else 0)
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


def _both_splits(source: Path, polygons: list, margin_m: float, work: Path) -> list[tuple]:
    """Each polygon's part from osmium-tool's split and from the pyosmium pass.

    The osmium-tool parts are read both ways a worker reads them (``osmium
    export``; pyosmium, without osmium-tool): both must give the same layers.
    """
    margin = [degrees(margin_m, p) for p in polygons]
    new = split_osm(source, polygons, work / "tool", margin_deg=margin)
    old = split_osm(source, polygons, work / "pyosmium", margin_deg=margin, tool=False)
    assert all(p.suffix == ".split" for p in new.parts)  # the C++ split did run
    pairs = [
        (read_part(a, p), read_part(b, p))
        for a, b, p in zip(new.parts, old.parts, polygons, strict=True)
    ]
    with pytest.MonkeyPatch.context() as patch:  # a worker without osmium-tool
        patch.setattr(gis.split, "osmium_tool", lambda: None)
        by_pyosmium = [read_part(a, p) for a, p in zip(new.parts, polygons, strict=True)]
    _assert_same_parts([(new, old) for (new, _), old in zip(pairs, by_pyosmium, strict=True)])
    return pairs


def _assert_same_parts(pairs: list[tuple]) -> None:
    for index, (new, old) in enumerate(pairs):
        for layer in LAYERS:
            a, b = getattr(new, layer), getattr(old, layer)
            assert list(a["id"]) == list(b["id"]), (index, layer)
            assert list(a.columns) == list(b.columns), (index, layer)
            assert_geodataframe_equal(a, b, normalize=False)
            wkb = [shapely.to_wkb(f.geometry.values, include_srid=True) for f in (a, b)]
            assert np.array_equal(*wkb), (index, layer)  # vertex for vertex, no SRID


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL))
def test_both_splits_give_the_same_parts_of_a_real_extract(name: str, tmp_path: Path) -> None:
    source = REAL[name]
    bounds = tuple(read_osm(source).buildings.total_bounds)
    polygons = list(box_subdistricts(bounds, 3, 2).geometry)
    pairs = _both_splits(source, polygons, 525.0, tmp_path)
    _assert_same_parts(pairs)
    # a real comparison: every kind the extract has arrived somewhere
    for layer in ("buildings", "streets", "barriers", "pois", "landuse"):
        assert sum(len(getattr(new, layer)) for new, _ in pairs) > 0, layer


def test_both_splits_give_the_same_parts_of_a_generated_town(tmp_path: Path) -> None:
    from gis.synthetic import synthetic_town, to_osm_xml

    source = to_osm_xml(synthetic_town(3000, seed=7), tmp_path / "town.osm")
    bounds = tuple(read_osm(source).buildings.total_bounds)
    pairs = _both_splits(source, list(box_subdistricts(bounds, 4, 2).geometry), 300.0, tmp_path)
    _assert_same_parts(pairs)
    assert sum(len(new.buildings) for new, _ in pairs) == 3000


def test_what_reaches_a_subdistrict_from_far_away_arrives(tmp_path: Path) -> None:
    source = tmp_path / "far.osm"
    source.write_text(_FAR_AWAY)
    box = shapely.box(13.50, 52.50, 13.51, 52.51)  # about 680 m × 1110 m
    pairs = _both_splits(source, [box], 100.0, tmp_path)
    _assert_same_parts(pairs)
    new = pairs[0][0]
    assert list(new.buildings["id"]) == ["w10", "w11"]  # w11 reaches 400 m past the line
    assert list(new.streets["id"]) == ["w20"]  # its two nodes 10 km apart, none near
    assert sorted(new.barriers["id"]) == ["r40"]  # a lake drawn as a multipolygon
    assert list(new.landuse["id"]) == ["w30"]  # around all of it, its nodes 20 km off


def _nodes(first: int, coords: list[tuple[float, float]]) -> str:
    return "".join(
        f'<node id="{first + i}" version="1" lat="{lat}" lon="{lon}"/>\n'
        for i, (lon, lat) in enumerate(coords)
    )


def _way(way_id: int, refs: list[int], tags: dict[str, str]) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{way_id}" version="1">{nds}{tag}</way>\n'


_FAR_AWAY = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
    + _nodes(1, [(13.504, 52.504), (13.505, 52.504), (13.505, 52.505), (13.504, 52.505)])
    + _nodes(5, [(13.503, 52.502), (13.516, 52.502), (13.516, 52.503), (13.503, 52.503)])
    + _nodes(11, [(13.43, 52.505), (13.58, 52.505)])  # a street straight across the box
    + _nodes(21, [(13.2, 52.3), (13.8, 52.3), (13.8, 52.7), (13.2, 52.7)])  # land use
    + _nodes(31, [(13.3, 52.4), (13.7, 52.4), (13.7, 52.6), (13.3, 52.6)])  # the lake
    + _way(10, [1, 2, 3, 4, 1], {"building": "yes"})
    + _way(11, [5, 6, 7, 8, 5], {"building": "industrial"})
    + _way(20, [11, 12], {"highway": "residential"})
    + _way(30, [21, 22, 23, 24, 21], {"landuse": "residential"})
    + _way(35, [31, 32, 33, 34, 31], {})
    + '<relation id="40" version="1"><member type="way" ref="35" role="outer"/>'
    '<tag k="type" v="multipolygon"/><tag k="natural" v="water"/></relation>\n'
    "</osm>\n"
)


def test_odd_buildings_read_alike_by_osmium_export_and_pyosmium(tmp_path: Path) -> None:
    source = tmp_path / "odd.osm"
    source.write_text(_ODD, encoding="utf-8")
    box = shapely.box(13.50, 52.50, 13.51, 52.51)
    pairs = _both_splits(source, [box], 100.0, tmp_path)  # and the two readers of its part
    _assert_same_parts(pairs)
    buildings = pairs[0][0].buildings.set_index("id")
    # ways by id (9 before 100), then relations; no building=no, part, area=no or open way
    assert list(buildings.index) == ["w9", "w100", "w101", "r5", "r30"]
    assert buildings.loc["w9", "name"] == _ODD_NAME  # tab, newline, backslashes, quotes
    assert buildings.loc["w9", "levels"] == "3"
    assert buildings.loc["w100", "addr_street"] == "Straße 🏠"
    assert buildings["height"].isna().all()
    relation = buildings.loc["r5", "geometry"]
    assert len(relation.geoms) == 1 and len(relation.geoms[0].interiors) == 1  # the courtyard
    assert len(buildings.loc["r30", "geometry"].geoms) == 2  # two outer rings


#: A name with what the pg format escapes (tab, newline, backslash) and JSON quotes.
_ODD_NAME = 'Haus\t"A" \\n\nB\\C ü 新'  # a tab, a backslash before n, a newline, a backslash


def _xml_attr(text: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(text, {"\t": "&#9;", "\n": "&#10;"})


_ODD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
    + _nodes(1, [(13.501, 52.501), (13.502, 52.501), (13.502, 52.502), (13.501, 52.502)])
    + _nodes(5, [(13.503, 52.501), (13.505, 52.501), (13.505, 52.503), (13.503, 52.503)])
    + _nodes(9, [(13.5035, 52.5015), (13.5045, 52.5015), (13.5045, 52.5025), (13.5035, 52.5025)])
    + _nodes(13, [(13.506, 52.501), (13.507, 52.501), (13.507, 52.502), (13.506, 52.502)])
    + _nodes(17, [(13.508, 52.501), (13.509, 52.501), (13.509, 52.502), (13.508, 52.502)])
    + _nodes(21, [(13.501, 52.504), (13.502, 52.504), (13.502, 52.505), (13.501, 52.505)])
    + _nodes(25, [(13.503, 52.504), (13.504, 52.504), (13.504, 52.505), (13.503, 52.505)])
    + _nodes(29, [(13.505, 52.504), (13.506, 52.504), (13.506, 52.505), (13.505, 52.505)])
    + _nodes(33, [(13.507, 52.504), (13.508, 52.504), (13.508, 52.505), (13.507, 52.505)])
    + _nodes(37, [(13.501, 52.507), (13.502, 52.507), (13.502, 52.508), (13.501, 52.508)])
    + _way(9, [1, 2, 3, 4, 1], {"building": "yes", "building:levels": "3"}).replace(
        "</way>", f'<tag k="name" v={_xml_attr(_ODD_NAME)}/></way>'
    )
    + _way(11, [21, 22, 23, 24, 21], {"building": "no", "amenity": "school"})
    + _way(12, [25, 26, 27, 28, 25], {"building": "yes", "building:part": "yes"})
    + _way(13, [29, 30, 31, 32, 29], {"building": "yes", "area": "no"})
    + _way(14, [33, 34, 35, 36], {"building": "yes"})  # not closed
    + _way(40, [5, 6, 7, 8, 5], {})  # the relations' rings
    + _way(41, [9, 10, 11, 12, 9], {})
    + _way(42, [13, 14, 15, 16, 13], {})
    + _way(43, [17, 18, 19, 20, 17], {})
    + _way(100, [37, 38, 39, 40, 37], {"building": "house", "addr:street": "Straße 🏠"})
    + _way(101, [21, 22, 23, 24, 21], {"building": "yes", "area": "yes"})
    + '<relation id="5" version="1"><member type="way" ref="40" role="outer"/>'
    '<member type="way" ref="41" role="inner"/><tag k="type" v="multipolygon"/>'
    '<tag k="building" v="apartments"/></relation>\n'
    '<relation id="30" version="1"><member type="way" ref="42" role="outer"/>'
    '<member type="way" ref="43" role="outer"/><tag k="type" v="multipolygon"/>'
    '<tag k="building" v="industrial"/><tag k="name" v="\\"/></relation>\n'
    "</osm>\n"
)


@pytest.mark.parametrize("export", [True, False], ids=["osmium-export", "pyosmium"])
def test_a_damaged_part_is_refused_clearly(
    export: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gis._errors import UnreadableFileError

    box = shapely.box(24.0, 60.0, 25.0, 61.0)
    part = split_osm(TOWN, [box], tmp_path / "parts", margin_deg=[0.001]).parts[0]
    pbf = part / "buildings.pbf"
    pbf.write_bytes(pbf.read_bytes()[: pbf.stat().st_size // 2])
    if not export:  # a worker without osmium-tool
        monkeypatch.setattr(gis.split, "osmium_tool", lambda: None)
    with pytest.raises(UnreadableFileError, match=r"buildings\.pbf.*split"):
        read_part(part, box)


@pytest.mark.parametrize("tool", [True, False], ids=["osmium-tool", "pyosmium"])
def test_a_cut_off_extract_is_refused_clearly(tool: bool, tmp_path: Path) -> None:
    from gis._errors import UnreadableFileError

    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(TOWN.read_bytes()[: TOWN.stat().st_size // 2])
    box = shapely.box(24.0, 60.0, 25.0, 61.0)
    with pytest.raises(UnreadableFileError, match=r"cut\.osm\.pbf"):
        split_osm(cut, [box], tmp_path / "parts", margin_deg=[0.001], tool=tool)
