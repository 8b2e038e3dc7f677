"""`gridplan respond DIR` (the 1310 check) end to end on a small synthetic folder.

The folder is the walking-coverage one (a 6 x 6 lattice of 100 m streets, 60
buildings of 10 households in three grids, one far away; one clinic at the
south-west corner), with the three grids added so that plans can be checked.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from api.cli import main
from gis import outputs
from tests.test_cli_coverage import CRS
from tests.test_cli_coverage import _folder as coverage_folder

GRIDS = [f"320104001001{k:03d}" for k in (1, 2, 3)]


def _area(tmp_path: Path, *, with_pois: bool = True) -> Path:
    """The coverage folder plus grids.geojson (three strips, codes as the buildings')."""
    folder = coverage_folder(tmp_path, with_pois=with_pois)
    strips = [shapely.box(500000 + 170 * k, 3500000, 500170 + 170 * k, 3500500) for k in range(3)]
    grids = gpd.GeoDataFrame(
        {"code": GRIDS, "community": "320104001001", "population": 500.0, "households": 200.0},
        geometry=strips,
        crs=CRS,
    )
    outputs.write_geojson(grids, folder / "grids.geojson")
    return folder


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | str, str]:
    """Exit code, the JSON on stdout (the raw stdout when the command failed), stderr."""
    code = main(["respond", *args])
    captured = capsys.readouterr()
    payload = json.loads(captured.out) if code == 0 else captured.out
    return code, payload, captured.err


def _bases_file(path: Path, points: list[shapely.Geometry], *, crs: str | None = CRS) -> Path:
    gdf = gpd.GeoDataFrame({"name": [f"b{i}" for i in range(len(points))]}, geometry=points)
    if crs is not None:
        gdf = gdf.set_crs(crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        gdf.to_file(path, engine="pyogrio")
    return path


def _listing(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_help_documents_every_option(capsys):
    assert main(["respond", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("DIR", "--bases", "--mode", "walk|bicycle", "--minutes", "--plan", "--out"):
        assert word in text, word
    assert "services.geojson" in text and "plan.csv" in text and "_outside.geojson" in text


def test_shares_rise_with_the_threshold_and_nothing_is_written(tmp_path, capsys):
    folder = _area(tmp_path)
    before = _listing(folder)
    code, out, err = _run(capsys, str(folder), "--minutes", "10,1,3,5")
    assert code == 0, err
    assert _listing(folder) == before  # a read-only check without --out
    assert "1 clinic" in out["bases_from"] and "1 clinic" in err  # says which bases it used
    assert out["minutes"] == [1, 3, 5, 10]
    shares = [out["share_households"][m] for m in ("1", "3", "5", "10")]
    assert all(0.0 <= s <= 1.0 for s in shares)
    assert shares == sorted(shares) and shares[0] < shares[-1]
    assert out["households"] == 600.0
    # the building 20 km away is beyond 10 minutes; it is the worst case
    assert out["outside_buildings"] >= 1
    assert out["outside_households"] == pytest.approx(10.0 * out["outside_buildings"])
    assert out["worst_case_s"] > 20_000 / 1.25
    assert out["unreachable_buildings"] == 0 and out["buildings_without_grid"] == 0
    assert "per_district" not in out and out["plan"] is None
    # cycling is faster: never a smaller share
    code, bike, _ = _run(capsys, str(folder), "--mode", "bicycle", "--minutes", "1,3,5,10")
    assert code == 0
    for m in ("1", "3", "5", "10"):
        assert bike["share_households"][m] >= out["share_households"][m]
    assert bike["speed_m_s"] > out["speed_m_s"]


def test_a_base_at_a_building_reaches_it_within_3_minutes(tmp_path, capsys):
    folder = _area(tmp_path)
    code, _, err = _run(capsys, str(folder), "--out", str(tmp_path / "first.json"))
    assert code == 0, err
    times = json.loads((tmp_path / "first.json").read_text())["response_s"]
    # a near building the clinic does not reach within 3 minutes
    target = max((t, i) for i, t in times.items() if t is not None and t < 600)[1]
    assert times[target] > 180
    buildings = gpd.read_file(folder / "buildings.geojson").to_crs(CRS)
    spot = buildings.set_index("id").loc[target].geometry.centroid
    # a GeoPackage in the metric CRS: read with its CRS, not taken as lon/lat
    bases = _bases_file(tmp_path / "bases.gpkg", [spot])
    code, out, err = _run(
        capsys, str(folder), "--bases", str(bases), "--out", str(tmp_path / "second.json")
    )
    assert code == 0, err
    assert out["bases_from"] == str(bases) and out["bases"] == 1
    full = json.loads((tmp_path / "second.json").read_text())
    assert full["response_s"][target] <= 180
    assert target not in {o["id"] for o in full["outside"]}


def test_per_district_households_add_up_to_the_total(tmp_path, capsys):
    folder = _area(tmp_path)
    buildings = gpd.read_file(folder / "buildings.geojson")
    buildings.loc[0, "grid"] = None  # a building nobody is responsible for
    outputs.write_geojson(buildings, folder / "buildings.geojson")
    pd.DataFrame({"grid": GRIDS, "district": ["1", "1", "2"]}).to_csv(
        folder / "plan.csv", index=False
    )
    code, out, err = _run(capsys, str(folder))  # DIR/plan.csv by default
    assert code == 0, err
    assert out["plan"] == str(folder / "plan.csv")
    per = out["per_district"]
    assert set(per) == {"1", "2"}
    assert out["households_outside_plan"] == 10.0
    assert out["buildings_without_grid"] == 1
    total = sum(d["households"] for d in per.values()) + out["households_outside_plan"]
    assert total == pytest.approx(out["households"])
    for figures in per.values():
        shares = [figures["share_households"][m] for m in ("3", "10")]
        assert 0.0 <= shares[0] <= shares[1] <= 1.0
    # a given plan wins over DIR/plan.csv
    other = tmp_path / "other.csv"
    pd.DataFrame({"grid": GRIDS, "district": ["A", "B", "C"]}).to_csv(other, index=False)
    code, out2, err = _run(capsys, str(folder), "--plan", str(other))
    assert code == 0, err
    assert set(out2["per_district"]) == {"A", "B", "C"}
    assert out2["households"] == out["households"]
    assert sum(d["households"] for d in out2["per_district"].values()) == pytest.approx(590.0)


def test_out_writes_the_full_result_and_the_outside_buildings(tmp_path, capsys):
    folder = _area(tmp_path)
    pd.DataFrame({"grid": GRIDS, "district": ["1", "1", "2"]}).to_csv(
        folder / "plan.csv", index=False
    )
    target = folder / "response.json"
    code, out, err = _run(capsys, str(folder), "--out", str(target))
    assert code == 0, err
    assert out["out"] == str(target)
    assert out["outside_file"] == str(folder / "response_outside.geojson")
    full = json.loads(target.read_text())
    assert len(full["response_s"]) == 60
    assert full["share_households"] == out["share_households"]
    assert len(full["outside"]) == out["outside_buildings"]
    points = gpd.read_file(folder / "response_outside.geojson")
    assert len(points) == out["outside_buildings"]
    assert set(points.geom_type) == {"Point"}
    assert {"id", "grid", "district", "households", "response_s", "reachable"} <= set(points)
    assert points["district"].notna().all()
    # worst first: the far building heads the list
    assert points["response_s"].iloc[0] == out["worst_case_s"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files


def test_a_failed_write_leaves_no_half_written_file(tmp_path, capsys, monkeypatch):
    folder = _area(tmp_path)
    target = tmp_path / "response.json"
    assert _run(capsys, str(folder), "--out", str(target))[0] == 0
    old = target.read_text()
    old_points = (tmp_path / "response_outside.geojson").read_bytes()

    def half_then_fail(self: Path, text: str, *args: object, **kwargs: object) -> int:
        with open(self, "w", encoding="utf-8") as fh:
            fh.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    code, _, err = _run(capsys, str(folder), "--minutes", "2,4", "--out", str(target))
    monkeypatch.undo()
    assert code == 2
    assert "cannot write" in err and "No space left" in err
    # both files are the old ones, whole: not half of the new JSON, not a new GeoJSON
    # beside the old JSON
    assert target.read_text() == old
    assert (tmp_path / "response_outside.geojson").read_bytes() == old_points
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    # the GeoJSON writer failing half-way leaves both old files too
    def write_then_fail(gdf: gpd.GeoDataFrame, path: object, *, layer: str) -> None:
        Path(str(path)).write_bytes(b'{"type": "FeatureCollection", "feat')
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(outputs, "_write_features", write_then_fail)  # every GeoJSON write
    code, _, err = _run(capsys, str(folder), "--minutes", "2,4", "--out", str(target))
    monkeypatch.undo()
    assert code == 2 and "Input/output error" in err
    assert target.read_text() == old
    assert (tmp_path / "response_outside.geojson").read_bytes() == old_points
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    # a first write that fails leaves nothing at all
    fresh = tmp_path / "fresh.json"
    monkeypatch.setattr(Path, "write_text", half_then_fail)
    code, _, _ = _run(capsys, str(folder), "--out", str(fresh))
    monkeypatch.undo()
    assert code == 2 and not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("minutes", "bad"),
    [("five", "five"), ("0,10", "0,10"), ("-3", "-3"), (",", ","), ("3,inf", "3,inf")],
)
def test_bad_minutes_are_refused(tmp_path, capsys, minutes, bad):
    folder = _area(tmp_path)
    code, _, err = _run(capsys, str(folder), f"--minutes={minutes}")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("gridplan: error: ")
    assert f"--minutes {bad!r}" in err and "e.g. --minutes 3,10" in err


def test_errors_exit_2_with_one_line_saying_what_to_do(tmp_path, capsys):
    def error(*args: str) -> str:
        code, out, err = _run(capsys, *args)
        assert code == 2, err
        assert out == ""  # nothing on stdout
        assert err.count("\n") == 1 and err.startswith("gridplan: error: "), err
        return err

    folder = _area(tmp_path)
    # not a build
    assert "is not a folder" in error(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    err = error(str(empty))
    assert "not a build folder" in err and "gridplan build" in err
    # no bases: no services.geojson and no POIs
    bare = _area(tmp_path / "bare", with_pois=False)
    err = error(str(bare))
    assert "no worker bases" in err and "--bases FILE" in err
    # a bases file without features, one without points, one that is missing
    nothing = tmp_path / "nothing.geojson"
    nothing.write_text('{"type": "FeatureCollection", "features": []}')
    err = error(str(folder), "--bases", str(nothing))
    assert "holds no features" in err and "points workers start from" in err
    lines = _bases_file(
        tmp_path / "lines.geojson", [shapely.LineString([(500000, 3500000), (500100, 3500000)])]
    )
    err = error(str(folder), "--bases", str(lines))
    assert "holds no points" in err and "LineString" in err
    assert "does not exist" in error(str(folder), "--bases", str(tmp_path / "none.gpkg"))
    # a bases file without a CRS is refused, not guessed
    no_crs = _bases_file(tmp_path / "nocrs.gpkg", [shapely.Point(500100, 3500100)], crs=None)
    assert "coordinate reference system" in error(str(folder), "--bases", str(no_crs))
    # plans and outputs
    assert "does not exist" in error(str(folder), "--plan", str(tmp_path / "none.csv"))
    bad_plan = tmp_path / "bad.csv"
    bad_plan.write_text("code,zone\n320104001001001,1\n")
    assert "columns `grid` and `district`" in error(str(folder), "--plan", str(bad_plan))
    assert ".json" in error(str(folder), "--out", str(tmp_path / "r.csv"))
    assert "does not exist" in error(str(folder), "--out", str(tmp_path / "no" / "r.json"))
    # none of these wrote anything
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob("*_outside.geojson"))
