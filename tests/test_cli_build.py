"""`gridplan build`: help, clear errors on bad input, and no half-written output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from tests.conftest import AREAS


def test_every_command_has_help(capsys):
    from api.cli import cli

    assert {"build", "districts", "suggest", "coverage", "respond", "serve", "run"} <= set(
        cli.commands
    )
    for command in cli.commands:
        assert main([command, "--help"]) == 0
        assert "Usage" in capsys.readouterr().out


def test_a_missing_source_is_a_clear_error(tmp_path: Path, capsys):
    code = main(["build", str(tmp_path / "nowhere.osm"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unreadable_osm_file_is_a_clear_error(tmp_path: Path, capsys):
    bad = tmp_path / "broken.osm"
    bad.write_text("<osm><node id='1' lat='x'", encoding="utf-8")
    assert main(["build", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "broken.osm" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_study_area_without_buildings_leaves_the_old_output_untouched(tmp_path: Path, capsys):
    area = tmp_path / "empty_area"
    area.mkdir()
    (area / "x.osm").write_bytes((AREAS / "nanjing_xinjiekou" / "xinjiekou.osm").read_bytes())
    # a study polygon in the sea: no building inside
    (area / "sea.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [
                                    [120.0, 30.0],
                                    [120.01, 30.0],
                                    [120.01, 30.01],
                                    [120.0, 30.01],
                                    [120.0, 30.0],
                                ]
                            ],
                        },
                    }
                ],
            }
        )
    )
    (area / "area.toml").write_text('name = "sea"\nosm = "x.osm"\nstudy_area = "sea.geojson"\n')
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    assert main(["build", str(area), "--out", str(out)]) == 2
    assert "no buildings" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "earlier work"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('name = "x"\n', "osm"),
        ('osm = "x.osm"\nadmin_code = "12"\n', "admin_code must be 6 digits"),
        ('osm = "x.osm"\n[defaults\n', "not valid TOML"),
    ],
)
def test_a_bad_manifest_names_what_is_wrong(tmp_path: Path, capsys, manifest: str, message: str):
    area = tmp_path / "area"
    area.mkdir()
    (area / "x.osm").write_bytes((AREAS / "nanjing_xinjiekou" / "xinjiekou.osm").read_bytes())
    (area / "area.toml").write_text(manifest)
    assert main(["build", str(area), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_inverted_household_targets_are_refused(tmp_path: Path, capsys):
    code = main(
        [
            "build",
            str(AREAS / "helsinki"),
            "--out",
            str(tmp_path / "o"),
            "--households-min",
            "600",
            "--households-max",
            "500",
        ]
    )
    assert code == 2
    assert "households_min" in capsys.readouterr().err


def test_a_household_table_replaces_the_estimate(tmp_path: Path, capsys):
    out = tmp_path / "hk"
    assert main(["build", str(AREAS / "helsinki"), "--out", str(out)]) == 0
    first = json.loads(capsys.readouterr().out)
    import geopandas as gpd

    buildings = gpd.read_file(out / "buildings.geojson")
    target = buildings.sort_values("id").iloc[0]
    table = tmp_path / "households.csv"
    table.write_text(f"building_id,households\n{target['id']},777\nw999999999999,5\n")
    assert (
        main(["build", str(AREAS / "helsinki"), "--out", str(out), "--households", str(table)]) == 0
    )
    second = json.loads(capsys.readouterr().out)
    rebuilt = gpd.read_file(out / "buildings.geojson").set_index("id")
    assert rebuilt.loc[target["id"], "households"] == pytest.approx(777)
    assert second["household_table"]["unmatched_rows"] == 1
    assert second["households"] != first["households"]


def test_invalid_footprints_are_repaired_and_counted(tmp_path: Path, capsys):
    import geopandas as gpd
    import shapely

    from gis.sources import read_osm

    layers = read_osm(AREAS / "helsinki" / "helsinki.osm")
    buildings = layers.buildings.copy()
    x, y = buildings.geometry.iloc[0].representative_point().coords[0]
    d = 0.0002
    bowtie = shapely.Polygon([(x - d, y - d), (x + d, y + d), (x + d, y - d), (x - d, y + d)])
    assert not bowtie.is_valid
    buildings.loc[0, "geometry"] = bowtie
    gpkg = tmp_path / "area.gpkg"
    gpd.GeoDataFrame(buildings, crs=4326).to_file(gpkg, layer="buildings")
    layers.streets.to_file(gpkg, layer="streets")
    assert main(["build", str(gpkg), "--out", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["geometry_repaired"] == 1
    written = gpd.read_file(tmp_path / "out" / "buildings.geojson")
    assert written.is_valid.all()
    assert buildings["id"].iloc[0] in set(written["id"])
