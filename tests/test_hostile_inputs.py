"""Files as users have them: unsorted or point-only OSM, office tables in GBK, stray CRSs.

Each case either builds a correct result (the grid invariants, the table's
numbers where it matches) or stops with exit 2, one line saying what is wrong
and what to do, and no output folder.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from api.cli import main
from gis.population import apply_household_table
from gis.sources import read_vector
from gis.synthetic import synthetic_town, to_osm_xml
from gis.tables import redecode_latin1
from tests.grid_invariants import check_counts_conserved

COLUMNS = ("building_id", "households")


@pytest.fixture(scope="module")
def town_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return to_osm_xml(synthetic_town(300, seed=3), tmp_path_factory.mktemp("town") / "town.osm")


@pytest.fixture(scope="module")
def town_build(town_osm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "out"
    assert main(["build", str(town_osm), "--out", str(out)]) == 0
    return out


def _build(source: Path, out: Path, *extra: str) -> int:
    return main(["build", str(source), "--out", str(out), *extra])


def _rewrite(source: Path, target: Path, edit) -> Path:
    tree = ET.parse(source)
    edit(tree.getroot())
    tree.write(target, encoding="utf-8", xml_declaration=True)
    return target


def _check_build(out: Path) -> None:
    """The grid invariants on the written files (7-decimal GeoJSON: tolerances of a few cm)."""
    metric = "EPSG:32650"
    grids = gpd.read_file(out / "grids.geojson").to_crs(metric)
    buildings = gpd.read_file(out / "buildings.geojson").to_crs(metric)
    communities = gpd.read_file(out / "communities.geojson").to_crs(metric)
    boundary = gpd.read_file(out / "boundary.geojson").to_crs(metric).geometry.union_all()
    geoms = grids.geometry.values
    assert shapely.is_valid(geoms).all()
    assert abs(shapely.area(geoms).sum() - boundary.area) <= 1e-5 * boundary.area  # no overlap
    assert shapely.symmetric_difference(shapely.union_all(geoms), boundary).area <= (
        1e-5 * boundary.area
    )  # no gap
    assert grids["code"].is_unique and grids["code"].str.fullmatch(r"\d{15}").all()
    assert set(grids["community"]) <= set(communities["code"])
    owner = grids.set_index("code").geometry.loc[buildings["grid"]].values
    points = buildings.geometry.representative_point().values
    assert shapely.dwithin(owner, points, 0.05).all(), "each building lies in the grid it names"
    check_counts_conserved(grids, buildings, communities, count_decimals=0)


# -- OSM files ----------------------------------------------------------------------------


def test_an_unsorted_osm_file_builds_the_same_grids(town_osm, town_build, tmp_path, capsys):
    """JOSM and hand-merged extracts list ways out of id order: read them all the same."""

    def shuffle(root: ET.Element) -> None:
        ways = root.findall("way")
        for way in ways:
            root.remove(way)
        root.extend(reversed(ways))

    unsorted = _rewrite(town_osm, tmp_path / "josm.osm", shuffle)
    out = tmp_path / "out"
    assert _build(unsorted, out) == 0, capsys.readouterr().err
    _check_build(out)
    ours = gpd.read_file(out / "grids.geojson").set_index("code")
    theirs = gpd.read_file(town_build / "grids.geojson").set_index("code")
    assert ours.index.tolist() == theirs.index.tolist()
    assert (ours["households"] == theirs["households"]).all()


def test_buildings_mapped_only_as_points_are_named_as_such(town_osm, tmp_path, capsys):
    def to_points(root: ET.Element) -> None:
        nodes = {n.get("id"): n for n in root.findall("node")}
        for way in root.findall("way"):
            tag = way.find("tag[@k='building']")
            if tag is not None:
                ET.SubElement(nodes[way.find("nd").get("ref")], "tag", k="building", v="house")
                root.remove(way)

    points = _rewrite(town_osm, tmp_path / "points.osm", to_points)
    out = tmp_path / "out"
    assert _build(points, out) == 2
    err = capsys.readouterr().err
    assert "300 buildings only as points" in err and "footprints" in err
    assert not out.exists()


def _clip_buildings(root: ET.Element, keep_every: int | None) -> list[str]:
    """Drop one node of building ways, as a bounding-box cut without complete ways does.

    Every building way loses a node, except every ``keep_every``-th kept whole
    (None: none kept); returns the ids of the ways cut.
    """
    nodes = {n.get("id"): n for n in root.findall("node")}
    cut = []
    buildings = [w for w in root.findall("way") if w.find("tag[@k='building']") is not None]
    for i, way in enumerate(buildings):
        if keep_every is not None and i % keep_every:
            continue
        node = nodes.pop(way.findall("nd")[1].get("ref"), None)
        if node is not None:
            root.remove(node)
        cut.append(f"w{way.get('id')}")
    return cut


def test_an_extract_cut_without_complete_ways_says_how_to_download_it(town_osm, tmp_path, capsys):
    clipped = _rewrite(town_osm, tmp_path / "bbox.osm", lambda r: _clip_buildings(r, None))
    out = tmp_path / "out"
    assert _build(clipped, out) == 2
    err = capsys.readouterr().err
    assert "300 building outlines but none is complete" in err and "complete ways" in err
    assert not out.exists()


def test_buildings_cut_at_the_extract_edge_are_named_in_the_warnings(town_osm, tmp_path, capsys):
    cut: list[str] = []
    clipped = _rewrite(
        town_osm, tmp_path / "edge.osm", lambda r: cut.extend(_clip_buildings(r, 50))
    )
    out = tmp_path / "out"
    assert _build(clipped, out) == 0, capsys.readouterr().err
    _check_build(out)
    warnings = json.loads((out / "build.json").read_text(encoding="utf-8"))["warnings"]
    said = [w for w in warnings if "not closed or miss nodes" in w]
    assert len(cut) == 6 and said and said[0].startswith("6 building outline(s)")
    assert all(way in said[0] for way in cut)
    ids = set(gpd.read_file(out / "buildings.geojson")["id"])
    assert not ids & set(cut) and len(ids) == 300 - len(cut)


@pytest.mark.parametrize("case", ["truncated.osm.gz", "empty.osm"])
def test_a_cut_off_or_empty_osm_file_says_download_again(town_osm, tmp_path, capsys, case):
    path = tmp_path / case
    data = gzip.compress(town_osm.read_bytes())
    path.write_bytes(data[: len(data) // 2] if case.endswith(".gz") else b"")
    assert _build(path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert case in err and "download the extract again" in err
    assert not (tmp_path / "out").exists()


# -- household tables as offices save them ---------------------------------------------


def _table_rows(town_build: Path) -> list[tuple[str, int]]:
    ids = gpd.read_file(town_build / "buildings.geojson")["id"].head(20)
    return [(str(i), 7 + k) for k, i in enumerate(ids)]


def _csv(rows, *, header=COLUMNS, sep=",", ids=str) -> str:
    lines = [sep.join(header)] + [f"{ids(i)}{sep}{h}" for i, h in rows]
    return "\n".join(lines) + "\n"


TABLES = {
    "gbk_with_chinese_remarks": lambda rows: (
        "building_id,households,备注\n" + "".join(f"{i},{h},一号楼\n" for i, h in rows)
    ).encode("gb18030"),
    "chinese_headers_gbk": lambda rows: _csv(rows, header=("建筑编号", "户数")).encode("gbk"),
    "chinese_headers_utf8_bom": lambda rows: _csv(rows, header=("建筑编号", "户数")).encode(
        "utf-8-sig"
    ),
    "semicolons": lambda rows: _csv(rows, sep=";").encode(),
    "tabs": lambda rows: _csv(rows, sep="\t").encode(),
    "spreadsheet_headers": lambda rows: _csv(rows, header=("Building ID", "Households")).encode(),
    "excel_float_ids": lambda rows: _csv(rows, ids=lambda i: f"{float(i[1:])}").encode(),
}


@pytest.mark.parametrize("case", sorted(TABLES))
def test_household_tables_as_offices_save_them(town_build, tmp_path, case):
    rows = _table_rows(town_build)
    path = tmp_path / "households.csv"
    path.write_bytes(TABLES[case](rows))
    buildings = gpd.read_file(town_build / "buildings.geojson")
    out, report = apply_household_table(buildings, path)
    assert report["matched_rows"] == len(rows) and report["buildings_replaced"] == len(rows)
    got = out.set_index("id")["households"]
    assert [got[i] for i, _ in rows] == [float(h) for _, h in rows]
    assert (out["population_source"] == "table").sum() == len(rows)


def test_a_gbk_household_table_builds_with_its_numbers(town_osm, town_build, tmp_path, capsys):
    rows = _table_rows(town_build)
    table = tmp_path / "户数.csv"
    table.write_bytes(TABLES["chinese_headers_gbk"](rows))
    out = tmp_path / "out"
    assert _build(town_osm, out, "--households", str(table)) == 0, capsys.readouterr().err
    _check_build(out)
    buildings = gpd.read_file(out / "buildings.geojson").set_index("id")
    assert [buildings.loc[i, "households"] for i, _ in rows] == [h for _, h in rows]


def _workbook(rows, path: Path, *, title: str | None = None) -> Path:
    """An .xlsx as an office saves it: a merged title line, Chinese headers, numbers as floats."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells("A1:C1")
        sheet.append([])
    sheet.append(["建筑编号", "户数", "备注"])
    for i, h in rows:
        sheet.append([i, float(h), None])
    book.create_sheet("说明")  # an empty second sheet, as templates have
    book.save(path)
    return path


def test_an_excel_workbook_builds_with_its_numbers(town_osm, town_build, tmp_path, capsys):
    rows = _table_rows(town_build)
    book = _workbook(rows, tmp_path / "户数.xlsx", title="某某社区住户统计表")
    out = tmp_path / "out"
    assert _build(town_osm, out, "--households", str(book)) == 0, capsys.readouterr().err
    _check_build(out)
    buildings = gpd.read_file(out / "buildings.geojson").set_index("id")
    assert [buildings.loc[i, "households"] for i, _ in rows] == [h for _, h in rows]


def test_a_title_line_above_the_header_is_skipped(town_build, tmp_path):
    rows = _table_rows(town_build)
    path = tmp_path / "households.csv"
    path.write_bytes(("某某社区住户统计表,,\n\n" + _csv(rows)).encode("gb18030"))
    buildings = gpd.read_file(town_build / "buildings.geojson")
    out, report = apply_household_table(buildings, path)
    assert report["matched_rows"] == len(rows)
    got = out.set_index("id")["households"]
    assert [got[i] for i, _ in rows] == [float(h) for _, h in rows]


@pytest.mark.parametrize(
    ("magic", "says"),
    [(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, ".xls"), (b"PK\x03\x04junk", "again")],
    ids=["excel_97_2003", "broken_xlsx"],
)
def test_workbooks_it_cannot_read_are_refused_with_what_to_do(
    town_osm, tmp_path, capsys, magic, says
):
    book = tmp_path / "households.xls"
    book.write_bytes(magic)
    out = tmp_path / "out"
    assert _build(town_osm, out, "--households", str(book)) == 2
    err = capsys.readouterr().err
    assert says in err and "CSV" in err
    assert not out.exists()


def test_an_empty_workbook_is_refused(town_osm, tmp_path, capsys):
    import openpyxl

    book = tmp_path / "households.xlsx"
    openpyxl.Workbook().save(book)
    assert _build(town_osm, tmp_path / "out", "--households", str(book)) == 2
    assert "empty" in capsys.readouterr().err


def test_the_api_keeps_an_excel_household_table_as_xlsx(tmp_path) -> None:
    from api.uploads import check_households, households_format

    data = _workbook([("w1", 3), ("w2", 4)], tmp_path / "h.xlsx").read_bytes()
    assert households_format(data) == "xlsx"
    summary = check_households(data)
    assert summary["features"] == 2 and "households" in summary["columns"]


def test_the_api_accepts_a_gbk_household_table() -> None:
    from api.uploads import check_households

    data = "建筑编号,户数\nw1,3\nw2,4\n".encode("gbk")
    summary = check_households(data)
    assert summary["features"] == 2 and "households" in summary["columns"]


# -- community files -------------------------------------------------------------------


def test_shapefile_names_in_gbk_without_a_code_page_read_right(town_build, tmp_path):
    names = ["南湖社区", "莫愁湖社区", "凤凰社区", "清凉门社区"]
    communities = gpd.read_file(town_build / "communities.geojson")[["geometry"]]
    communities["name"] = names[: len(communities)]
    path = tmp_path / "communities.shp"
    communities.to_file(path, encoding="gb18030")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as offices' files come
    assert read_vector(path)["name"].tolist() == names[: len(communities)]
    archive = tmp_path / "communities.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            z.write(path.with_suffix(suffix), path.with_suffix(suffix).name)
    assert read_vector(archive)["name"].tolist() == names[: len(communities)]


def test_latin1_names_are_left_as_they_are() -> None:
    """A European file without .cpg really is Latin-1: its names must not turn into hanzi."""
    for name in ("Müller", "Gräfenberg", "Köpenicker Straße", "Café"):
        assert redecode_latin1(pd.Series([name, None])).tolist()[0] == name
    gbk = "南湖社区".encode("gbk").decode("latin-1")
    assert redecode_latin1(pd.Series([gbk, "Straße"])).tolist() == [gbk, "Straße"]


def test_communities_that_miss_the_area_entirely_are_refused(
    town_osm, town_build, tmp_path, capsys
):
    """Polygons in the wrong CRS land far away: say so, not derive every community silently."""
    communities = gpd.read_file(town_build / "communities.geojson")[["name", "geometry"]]
    communities["geometry"] = communities.translate(3.0, 0.0)  # 280 km east
    path = tmp_path / "communities.geojson"
    communities.to_file(path)
    out = tmp_path / "out"
    assert _build(town_osm, out, "--communities", str(path)) == 2
    err = capsys.readouterr().err
    assert "none of the" in err and "CRS" in err
    assert not out.exists()


def test_a_shapefile_without_prj_is_refused_in_one_clear_sentence(
    town_osm, town_build, tmp_path, capsys
):
    communities = gpd.read_file(town_build / "communities.geojson")[["name", "geometry"]]
    path = tmp_path / "communities.shp"
    communities.to_file(path)
    path.with_suffix(".prj").unlink()
    out = tmp_path / "out"
    assert _build(town_osm, out, "--communities", str(path)) == 2
    err = capsys.readouterr().err
    assert "communities.shp: the community boundaries file has no coordinate reference" in err
    assert not out.exists()


# -- service points ---------------------------------------------------------------------


@pytest.mark.parametrize("geometry", ["line", "null"])
def test_a_service_file_without_points_is_refused(town_build, tmp_path, capsys, geometry):
    boundary = gpd.read_file(town_build / "boundary.geojson").geometry.iloc[0]
    geom = (
        shapely.geometry.mapping(
            shapely.LineString([boundary.centroid, boundary.representative_point()])
        )
        if geometry == "line"
        else None
    )
    path = tmp_path / "services.geojson"
    feature = {"type": "Feature", "properties": {"name": "x"}, "geometry": geom}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    before = sorted(p.name for p in town_build.iterdir())
    assert main(["coverage", str(town_build), "--services", str(path)]) == 2
    err = capsys.readouterr().err
    assert "holds no points" in err and "services.geojson" in err
    assert sorted(p.name for p in town_build.iterdir()) == before


# -- plans edited in a spreadsheet ------------------------------------------------------


@pytest.mark.parametrize("case", ["tabs", "gbk-semicolons"])
def test_a_plan_saved_by_excel_reads_as_the_plan(town_build, tmp_path, capsys, case):
    folder = tmp_path / "built"
    shutil.copytree(town_build, folder)
    assert main(["districts", str(folder), "--k", "4"]) == 0
    capsys.readouterr()
    plan = (folder / "plan.csv").read_text(encoding="utf-8")
    saved = tmp_path / "plan.csv"
    if case == "tabs":  # Excel's "Text (Tab delimited)"
        saved.write_bytes(plan.replace(",", "\t").encode("utf-8"))
    else:
        saved.write_bytes(plan.replace(",", ";").encode("gbk"))
    assert main(["suggest", str(folder), "--plan", str(folder / "plan.csv")]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert main(["suggest", str(folder), "--plan", str(saved)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out) == expected


def test_a_building_mapped_twice_counts_once(town_osm, town_build, tmp_path, capsys):
    """Duplicated ways (an import run twice) must not double a block's households."""

    def duplicate(root: ET.Element) -> None:
        copies = []
        for way in root.findall("way"):
            if way.find("tag[@k='building']") is not None:
                copy = ET.fromstring(ET.tostring(way))
                copy.set("id", str(int(way.get("id")) + 50_000_000))
                copies.append(copy)
        root.extend(copies)

    twice = _rewrite(town_osm, tmp_path / "twice.osm", duplicate)
    out = tmp_path / "out"
    assert _build(twice, out) == 0
    assert "300 building(s) mapped twice" in capsys.readouterr().err
    _check_build(out)
    ours, theirs = (json.loads((d / "build.json").read_text()) for d in (out, town_build))
    assert (ours["buildings"], ours["households"], ours["grids"]) == (
        theirs["buildings"],
        theirs["households"],
        theirs["grids"],
    )


def test_household_rows_that_match_no_building_are_named(town_osm, town_build, tmp_path, capsys):
    """A typo'd id silently dropped a row's households: say which rows were not counted."""
    rows = _table_rows(town_build)[:3]
    table = tmp_path / "households.csv"
    table.write_text(_csv([*rows, ("w99999999", 40), ("", 5)]), encoding="utf-8")
    out = tmp_path / "out"
    assert _build(town_osm, out, "--households", str(table)) == 0
    err = capsys.readouterr().err
    assert "2 of 5 rows of the household table match no building (e.g. w99999999)" in err


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32633"])
def test_a_metric_crs_that_distorts_areas_here_is_refused(town_osm, tmp_path, capsys, crs):
    """Web Mercator is in metres but inflates areas (and households) by 39% at 32°N."""
    out = tmp_path / "out"
    assert _build(town_osm, out, "--crs", crs) == 2
    err = capsys.readouterr().err
    assert f"{crs} distorts areas by" in err and "EPSG:32650" in err
    assert not out.exists()


def test_a_gauss_kruger_zone_of_the_region_is_accepted(town_osm, town_build, tmp_path):
    """CGCS2000 3-degree zones a few degrees off their meridian stay within 1% of true areas."""
    out = tmp_path / "out"
    assert _build(town_osm, out, "--crs", "EPSG:4549") == 0
    ours, theirs = (json.loads((d / "build.json").read_text()) for d in (out, town_build))
    assert ours["households"] == pytest.approx(theirs["households"], rel=0.01)


# -- GeoPackages from the office's GIS ------------------------------------------------------


def _geopackage(town_build: Path, path: Path, *, points: bool = False, streets: bool = True):
    buildings = gpd.read_file(town_build / "buildings.geojson")[["id", "geometry"]]
    if points:
        buildings["geometry"] = buildings.representative_point()
    lines = gpd.read_file(town_build / "streets.geojson")[["id", "highway", "geometry"]]
    buildings.to_file(path, layer="buildings")
    (lines if streets else lines.iloc[:0]).to_file(path, layer="streets")
    return path


def test_a_geopackage_of_building_points_is_refused_as_such(town_build, tmp_path, capsys):
    source = _geopackage(town_build, tmp_path / "points.gpkg", points=True)
    assert _build(source, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "holds no footprints (geometries: Point)" in err
    assert not (tmp_path / "out").exists()


def test_a_geopackage_with_an_empty_streets_layer_builds(town_build, tmp_path, capsys):
    """An OSM extract without streets builds; so does a GeoPackage whose streets layer is empty."""
    source = _geopackage(town_build, tmp_path / "nostreets.gpkg", streets=False)
    out = tmp_path / "out"
    assert _build(source, out) == 0, capsys.readouterr().err
    _check_build(out)
    assert json.loads((out / "build.json").read_text())["buildings"] == 300
