"""`gridplan coverage DIR` end to end on a small synthetic folder and the real ones."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from api.cli import main
from gis import outputs
from tests.coverage_fixtures import ROOT, grid_streets

CRS = "EPSG:32650"


def _folder(tmp_path: Path, *, with_pois: bool = True) -> Path:
    """A 6 x 6 street lattice (100 m), 60 buildings, two POIs (one clinic)."""
    streets = grid_streets(6, 6, spacing=100)
    streets["foot"] = None
    streets["access"] = None
    streets["service"] = None
    streets["area"] = None
    streets["name"] = None
    rng = np.random.default_rng(4)
    xy = rng.uniform([500010, 3500010], [500490, 3500490], size=(60, 2))
    buildings = gpd.GeoDataFrame(
        {
            "id": [f"w{i}" for i in range(60)],
            "grid": [f"320104001001{1 + i % 3:03d}" for i in range(60)],
            "community": "320104001001",
            "households": 10.0,
            "population": 25.0,
            "building": "apartments",
        },
        geometry=[shapely.box(x - 5, y - 5, x + 5, y + 5) for x, y in xy],
        crs=CRS,
    )
    buildings.loc[59, "geometry"] = shapely.box(520000, 3520000, 520010, 3520010)  # far away
    pois = gpd.GeoDataFrame(
        {
            "id": ["n1", "n2"],
            "kind": ["clinic", "school"],
            "amenity": ["clinic", "school"],
            "name": ["Clinic", "School"],
        },
        geometry=[shapely.Point(500000, 3500000), shapely.Point(500500, 3500500)],
        crs=CRS,
    )
    folder = tmp_path / "area"
    folder.mkdir(parents=True)
    outputs.write_geojson(buildings, folder / "buildings.geojson")
    outputs.write_geojson(streets, folder / "streets.geojson")
    if with_pois:
        outputs.write_geojson(pois, folder / "pois.geojson")
    outputs.write_json(folder / "build.json", {"crs": CRS, "name": "test"})
    return folder


def test_cli_writes_every_output(tmp_path, capsys):
    folder = _folder(tmp_path)
    assert main(["coverage", str(folder), "--minutes", "3,5", "--sites", "3"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["services"] == 1
    assert "1 clinic" in captured.err  # says which POIs it used
    for name in ("coverage.json", "isochrones.geojson", "gaps.geojson", "sites.geojson"):
        assert (folder / name).exists(), name
    figures = json.loads((folder / "coverage.json").read_text())
    assert figures["services"]["source"] == {"pois": {"clinic": 1}}
    assert set(figures["profiles"]) == {"adult", "elderly"}
    buildings = gpd.read_file(folder / "buildings.geojson")
    assert {"walk_s", "walk2_s"} <= set(buildings.columns)
    assert buildings["walk2_s"].isna().all()  # one service point: no backup
    walk = buildings["walk_s"].to_numpy()
    assert np.isfinite(walk).all() and (walk > 0).all()
    # the far building walks its access leg: more than 20 km at 1.25 m/s
    assert walk[59] > 20_000 / 1.25
    raw = json.loads((folder / "buildings.geojson").read_text())
    assert isinstance(raw["features"][0]["properties"]["walk_s"], float)
    iso = gpd.read_file(folder / "isochrones.geojson")
    assert iso["minutes"].tolist() == [3, 5]


def test_cli_services_file_speed_and_nulls(tmp_path, capsys):
    folder = _folder(tmp_path)
    svc = gpd.GeoDataFrame(
        {"id": ["a", "b"]},
        geometry=[shapely.Point(500250, 3500250), shapely.Point(500100, 3500400)],
        crs=CRS,
    )
    svc_path = tmp_path / "services.geojson"
    outputs.write_geojson(svc, svc_path)
    # an empty geometry must come out as null, not 0
    b = gpd.read_file(folder / "buildings.geojson")
    b.loc[0, "geometry"] = shapely.MultiPolygon()
    outputs.write_geojson(b, folder / "buildings.geojson")
    code = main(["coverage", str(folder), "--services", str(svc_path), "--speed", "elderly"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["profile"] == "elderly" and out["services"] == 2
    raw = json.loads((folder / "buildings.geojson").read_text())
    props = raw["features"][0]["properties"]
    assert props["walk_s"] is None and props["walk2_s"] is None
    # two service points: a second-nearest walk, never shorter than the nearest
    second = raw["features"][1]["properties"]
    assert second["walk2_s"] >= second["walk_s"] > 0


def test_cli_errors_are_clear(tmp_path, capsys):
    folder = _folder(tmp_path, with_pois=False)
    assert main(["coverage", str(folder)]) == 2
    assert "pass --services FILE" in capsys.readouterr().err
    folder2 = _folder(tmp_path / "x")
    assert main(["coverage", str(folder2), "--speed", "-1"]) == 2
    assert "speed" in capsys.readouterr().err
    assert main(["coverage", str(folder2), "--minutes", "five"]) != 0


@pytest.mark.slow
@pytest.mark.parametrize("area", ["nanjing_xinjiekou", "helsinki"])
def test_cli_on_real_folder(tmp_path, area, capsys):
    folder = tmp_path / area
    assert main(["build", str(ROOT / "data" / "boundaries" / area), "--out", str(folder)]) == 0
    assert main(["coverage", str(folder)]) == 0
    capsys.readouterr()
    figures = json.loads((folder / "coverage.json").read_text())
    shares = figures["profiles"]["adult"]["area"]["within"]
    assert 0 < shares["15"]["households_share"] <= 1
    # who an elderly walker loses: covered at 1.25 m/s but not at 0.97 m/s, per building
    adult = figures["profiles"]["adult"]["area"]["within"]
    elderly = figures["profiles"]["elderly"]["area"]["within"]
    walk_m = gpd.read_file(folder / "buildings.geojson")["walk_m"].to_numpy(float)
    for m in ("5", "10", "15"):
        lost = figures["lost_at_slower_speed"]["elderly"][m]
        assert lost["buildings"] == adult[m]["buildings"] - elderly[m]["buildings"]
        assert lost["households"] == pytest.approx(
            adult[m]["households"] - elderly[m]["households"], abs=0.2
        )
        seconds = int(m) * 60
        recount = (walk_m <= 1.25 * seconds) & ~(walk_m <= 0.97 * seconds)
        assert lost["buildings"] == pytest.approx(recount.sum(), abs=1)  # walk_m is rounded
    # the build's barriers and entrances were used: no warning that they are missing
    assert not any("no barrier layer" in w or "no entrance layer" in w for w in figures["warnings"])
    assert figures["access"]["entrances_found"] > 0
    # every piece without a service point is listed, and what the summary says adds up
    lacking = figures["network"]["pieces_without_service"]
    cause = figures["uncovered_by_cause"]["5"]["no_service_on_piece"]
    assert sum(p["households"] for p in lacking) == pytest.approx(cause["households"], abs=0.5)
    walks = gpd.read_file(folder / "buildings.geojson")
    no_walk = walks["walk_s"].isna() & walks["piece"].isin([p["piece"] for p in lacking])
    assert int(no_walk.sum()) == sum(p["buildings"] for p in lacking)
    # joining pieces across short gaps: each link reported, fewer pieces left without service
    assert main(["coverage", str(folder), "--join-pieces", "30"]) == 0
    summary = json.loads(capsys.readouterr().out)
    joined = json.loads((folder / "coverage.json").read_text())
    assert summary["links"] == joined["network"]["joined"]["links"] and summary["links"]
    assert all(0 <= link["length_m"] <= 30 for link in summary["links"])
    assert joined["network"]["pieces"] < figures["network"]["pieces"]
    assert main(["coverage", str(folder), "--join-pieces", "-3"]) == 2
