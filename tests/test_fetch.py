"""`gridplan fetch` through osmnx against the local Overpass/Nominatim stand-in.

The stand-in (:mod:`tests.osm_standin`) answers on 127.0.0.1 from a bundled
extract; the session's network guard fails any test that reaches anywhere
else.  A fetched folder must build, hold the same buildings as the bundled
extract it came from, carry the ODbL attribution and the query date, and —
for a city — give its sub-districts from the administrative boundaries.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from api.cli import main
from gis._errors import FetchError, InputError
from gis.fetch import FetchSettings, fetch_area
from tests.conftest import AREAS
from tests.grid_invariants import check_grid_invariants
from tests.osm_standin import OsmStandIn

NANJING = AREAS / "nanjing_xinjiekou"
PLACE = "新街口街道, 南京"


def _study_polygon() -> shapely.Geometry:
    return shapely.union_all(gpd.read_file(NANJING / "study_area.geojson").to_crs(4326).geometry)


def _settings(standin: OsmStandIn, cache: Path) -> FetchSettings:
    return FetchSettings(
        overpass_url=f"{standin.base}/api", nominatim_url=f"{standin.base}/", cache_folder=cache
    )


@pytest.fixture(scope="module")
def standin() -> Any:
    with OsmStandIn(NANJING / "xinjiekou.osm", {PLACE: _study_polygon()}) as server:
        yield server


@pytest.fixture(scope="module")
def fetched(standin: OsmStandIn, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import osmnx as ox

    base = tmp_path_factory.mktemp("fetch")
    before = {"url": ox.settings.overpass_url, "getaddrinfo": socket.getaddrinfo}
    result = fetch_area(PLACE, base / "area", settings=_settings(standin, base / "cache"))
    after = {"url": ox.settings.overpass_url, "getaddrinfo": socket.getaddrinfo}
    return {"result": result, "before": before, "after": after, "base": base}


def test_fetch_by_name_writes_an_area_folder_that_builds(fetched: dict[str, Any]) -> None:
    from gis.area import load_area
    from gis.pipeline import build

    folder = fetched["result"].folder
    manifest = tomllib.loads((folder / "area.toml").read_text(encoding="utf-8"))
    assert manifest["name"] == PLACE and manifest["language"] == "zh"
    source = (folder / "SOURCE.txt").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in source and "ODbL" in source
    assert dt.datetime.now(dt.UTC).date().isoformat() in source  # the query date
    # the same buildings as the bundled extract holds in the same study area
    mine = set(load_area(folder).layers.buildings["id"])
    bundled = set(load_area(NANJING).layers.buildings["id"])
    assert mine == bundled and len(mine) > 1000
    result = build(folder, fetched["base"] / "built")
    metric = result.grids.crs
    boundary = gpd.GeoSeries([_study_polygon()], crs=4326).to_crs(metric).iloc[0]
    check_grid_invariants(result.grids, result.buildings, result.communities, boundary)


def test_fetch_asks_only_the_configured_servers_and_restores_osmnx(
    fetched: dict[str, Any], standin: OsmStandIn
) -> None:
    assert "GET /search" in standin.requests  # Nominatim geocoded the name
    assert standin.requests.count("POST /api/interpreter") >= 7  # streets + six feature sets
    assert fetched["after"] == fetched["before"]  # osmnx's settings and the socket module


def test_the_extract_is_osm_xml_that_osmnx_reads(fetched: dict[str, Any]) -> None:
    import osmnx as ox

    graph = ox.graph_from_xml(fetched["result"].folder / "extract.osm", retain_all=True)
    assert graph.number_of_nodes() > 500


def test_no_network_is_said_clearly_and_nothing_is_written(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{port}"
    settings = FetchSettings(overpass_url=f"{dead}/api", nominatim_url=f"{dead}/",
                             cache_folder=tmp_path / "cache", timeout=5)  # fmt: skip
    with pytest.raises(FetchError, match="no network"):
        fetch_area(PLACE, tmp_path / "area", settings=settings)
    code = main(["fetch", PLACE, "--out", str(tmp_path / "cli"), "--overpass-url", f"{dead}/api",
                 "--nominatim-url", f"{dead}/", "--cache-folder", str(tmp_path / "cache"),
                 "--timeout", "5"])  # fmt: skip
    assert code == 2
    assert not (tmp_path / "area").exists() and not (tmp_path / "cli").exists()


def test_an_unknown_place_is_refused(standin: OsmStandIn, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="found no place"):
        fetch_area("Atlantis", tmp_path / "a", settings=_settings(standin, tmp_path / "c"))
    assert not (tmp_path / "a").exists()


def _admin_town(folder: Path) -> tuple[Path, Path]:
    """A synthetic town with two admin_level 8 relations (West, East) and its outline."""
    from gis.synthetic import synthetic_town, to_osm_xml

    town = synthetic_town(3000, seed=4)
    osm = to_osm_xml(town, folder / "town.osm")
    outline = gpd.GeoSeries([town.boundary], crs=town.crs).to_crs(4326).iloc[0]
    w, s, e, n = outline.buffer(0.002).bounds
    mid = (w + e) / 2
    corners = [(w, s), (mid, s), (mid, n), (w, n), (e, s), (e, n)]
    nodes = "".join(
        f'  <node id="{900000 + i}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n'
        for i, (lon, lat) in enumerate(corners)
    )
    ways = {  # shared middle line, a western and an eastern outer line
        "800001": [900001, 900002],
        "800002": [900002, 900003, 900000, 900001],
        "800003": [900001, 900004, 900005, 900002],
    }
    xml_ways = "".join(
        f'  <way id="{wid}">\n' + "".join(f'    <nd ref="{r}"/>\n' for r in refs)
        + '    <tag k="boundary" v="administrative"/>\n  </way>\n'
        for wid, refs in ways.items()
    )  # fmt: skip
    rels = ""
    for rid, name, members in (("700001", "West", ("800001", "800002")),
                               ("700002", "East", ("800001", "800003"))):  # fmt: skip
        rels += f'  <relation id="{rid}">\n'
        rels += "".join(f'    <member type="way" ref="{m}" role="outer"/>\n' for m in members)
        rels += ('    <tag k="type" v="boundary"/>\n    <tag k="boundary" v="administrative"/>\n'
                 f'    <tag k="admin_level" v="8"/>\n    <tag k="name" v="{name}"/>\n'
                 "  </relation>\n")  # fmt: skip
    text = osm.read_text(encoding="utf-8")
    head, _, _ = text.rpartition("</osm>")
    # nodes must come before ways: put the new ones right after the <bounds> line
    first_way = head.index("  <way ")
    osm.write_text(head[:first_way] + nodes + head[first_way:] + xml_ways + rels + "</osm>\n",
                   encoding="utf-8")  # fmt: skip
    polygon = folder / "town.geojson"
    gpd.GeoDataFrame({"name": ["town"]}, geometry=[outline], crs=4326).to_file(polygon)
    return osm, polygon


def test_a_fetched_city_builds_by_its_osm_subdistricts_on_two_workers(tmp_path: Path) -> None:
    from gis.city import build_city
    from gis.outputs import read_layer

    osm, polygon = _admin_town(tmp_path)
    with OsmStandIn(osm, {}) as server:
        result = fetch_area(polygon, tmp_path / "town", settings=_settings(server, tmp_path / "c"))
    assert result.name == "town"
    city = build_city(result.folder, tmp_path / "city", subdistricts="osm", workers=2)
    subs = read_layer(tmp_path / "city", "subdistricts")
    assert list(subs["subdistrict"]) == ["001", "002"]
    assert list(subs["name"]) == ["West", "East"]  # numbered west to east
    grids = city.grids
    assert set(grids["code"].str[6:9]) == {"001", "002"}
    centres = grids.to_crs(4326).geometry.representative_point().x
    mid = float(np.mean(subs.total_bounds[[0, 2]]))
    west = grids["code"].str[6:9] == "001"
    assert (centres[west] < mid + 1e-3).all() and (centres[~west] > mid - 1e-3).all()
    assert json.loads((tmp_path / "city" / "build.json").read_text())["subdistricts"] == 2


def test_a_cut_extract_gives_its_boundaries_pieces_as_subdistricts() -> None:
    """Berlin-Adlershof is cut to a box: the Ortsteile come from the pieces inside it."""
    from gis.admin import osm_subdistricts
    from tests.city_fixtures import ADLERSHOF

    subs = osm_subdistricts(ADLERSHOF)
    names = [s.name for s in subs]
    assert {"Adlershof", "Johannisthal", "Altglienicke"} <= set(names)
    metric = gpd.GeoSeries([s.polygon for s in subs], crs=4326).to_crs(32633)
    box = gpd.GeoSeries([shapely.box(13.5114, 52.4223, 13.5588, 52.4379)], crs=4326)
    box_area = box.to_crs(32633).area.iloc[0]
    assert metric.area.sum() == pytest.approx(box_area, rel=0.02)  # the box, covered once
    assert shapely.union_all(metric.values).area == pytest.approx(metric.area.sum(), rel=1e-6)
    assert [s.code for s in subs] == [f"{i:03d}" for i in range(1, len(subs) + 1)]
