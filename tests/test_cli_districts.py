"""`gridplan districts` and `gridplan suggest` end to end on grids made elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from api.cli import main
from gis import outputs
from tests.districting_fixtures import lattice, recount_moved, voronoi_grids, write_grids


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    grids = lattice(24, 24, seed=3, communities=(2, 2), crs="EPSG:4326")
    return write_grids(grids, tmp_path / "area")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    code = main(list(args))
    out = capsys.readouterr()
    payload = json.loads(out.out) if code == 0 and out.out.strip() else None
    return code, payload, out.err


def test_districts_writes_plan_and_polygons(folder, capsys) -> None:
    code, summary, _ = run(capsys, "districts", str(folder), "--k", "6", "--tolerance", "0.01")
    assert code == 0
    for key in ("max_deviation", "contiguous", "cut_edges", "moved_grids", "moved_population"):
        assert key in summary
    assert summary["max_deviation"] <= 0.01 and summary["contiguous"] is True
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    assert list(plan.columns) == ["grid", "district"]
    assert len(plan) == 24 * 24 and plan["district"].nunique() == 6
    polys = gpd.read_file(folder / "districts.geojson")
    for col in (
        "district",
        "population",
        "households",
        "area_m2",
        "deviation",
        "polsby_popper",
        "contiguous",
    ):
        assert col in polys.columns
    assert len(polys) == 6 and polys.crs.to_epsg() == 4326
    assert abs(polys["deviation"]).max() <= 0.01


def test_redraw_from_plan_with_new_k_and_nesting(folder, capsys) -> None:
    # the old plan nests in the communities too, so splitting it under nesting moves no one
    nested = ("--nest", "communities")
    code, _, _ = run(capsys, "districts", str(folder), "--k", "4", "--seed", "1", *nested)
    assert code == 0
    old = folder / "old_plan.csv"
    (folder / "plan.csv").rename(old)
    code, summary, _ = run(
        capsys, "districts", str(folder), "--k", "8", "--from", str(old), *nested
    )
    assert code == 0
    assert summary["from_k"] == 4
    assert summary["nest"] == "communities"
    # what moved, recounted from the old and new plan files: none when districts only split,
    # some when two merge (4 → 3)
    before = pd.read_csv(old, dtype=str).set_index("grid")["district"]
    grids = gpd.read_file(folder / "grids.geojson").set_index("code")
    people = grids["population"]
    nested_plan = pd.read_csv(folder / "plan.csv", dtype=str).set_index("grid")["district"]
    assert grids["community"].groupby(nested_plan).nunique().max() == 1  # each in one community
    for k, merged in (("8", False), ("3", True)):
        if merged:
            code, summary, _ = run(capsys, "districts", str(folder), "--k", k, "--from", str(old))
            assert code == 0
        after = pd.read_csv(folder / "plan.csv", dtype=str).set_index("grid")["district"]
        moved, moved_people = recount_moved(before, after, people)
        assert (moved > 0) == merged and moved < len(after) / 2
        assert summary["moved_grids"] == moved
        assert summary["moved_population"] == pytest.approx(moved_people, abs=0.1)


def test_districts_from_geojson_polygons_and_workers(folder, capsys) -> None:
    assert run(capsys, "districts", str(folder), "--k", "5")[0] == 0
    polys = folder / "old.geojson"
    (folder / "districts.geojson").rename(polys)
    code, summary, _ = run(
        capsys, "districts", str(folder), "--k", "5", "--from", str(polys), "--workers", "108"
    )
    assert code == 0
    assert summary["moved_grids"] == 0
    assert sum(summary["staffing"]["by_district"].values()) == 108
    assert len(summary["offices"]) == 5


def test_suggest_prints_ranked_moves(folder, capsys) -> None:
    grids = gpd.read_file(folder / "grids.geojson")
    plan = pd.DataFrame({"grid": grids["code"], "district": (grids.index % 24 // 8 + 1)})
    plan.to_csv(folder / "stripes.csv", index=False)
    code, moves, _ = run(capsys, "suggest", str(folder), "--plan", str(folder / "stripes.csv"))
    assert code == 0
    assert moves and [m["rank"] for m in moves] == list(range(1, len(moves) + 1))
    assert {"grids", "from", "to", "population_moved", "before", "after", "reason"} <= set(moves[0])
    code, result, _ = run(
        capsys, "suggest", str(folder), "--plan", str(folder / "stripes.csv"), "--minimal"
    )
    assert code == 0 and result["max_deviation"] <= 0.02 and result["contiguous"] is True


def test_bad_inputs_give_clear_errors(folder, capsys) -> None:
    code, _, err = run(capsys, "districts", str(folder), "--k", "1000")
    assert code == 2 and "larger than the number of grids" in err
    code, _, err = run(capsys, "districts", str(folder), "--k", "3", "--nest", "communities")
    assert code == 2 and "one district per community" in err
    bad = folder / "bad.csv"
    pd.DataFrame({"grid": ["320106999999999"], "district": ["1"]}).to_csv(bad, index=False)
    code, _, err = run(capsys, "suggest", str(folder), "--plan", str(bad))
    assert code == 2 and "not in the grids" in err
    grids = gpd.read_file(folder / "grids.geojson")
    partial = folder / "partial.csv"
    pd.DataFrame({"grid": grids["code"][10:], "district": "1"}).to_csv(partial, index=False)
    code, _, err = run(capsys, "suggest", str(folder), "--plan", str(partial))
    assert code == 0 and "missing from the plan" in err
    # a grid named twice, or a code a spreadsheet turned into a number: exit 2, lines named
    plan = pd.DataFrame({"grid": grids["code"], "district": "1"})
    twice = folder / "twice.csv"
    pd.concat([plan, plan.iloc[[0]]]).to_csv(twice, index=False)
    code, _, err = run(capsys, "suggest", str(folder), "--plan", str(twice))
    assert code == 2 and f"{grids['code'].iloc[0]} on lines 2, {len(grids) + 2}" in err
    mangled = folder / "mangled.csv"
    plan.assign(grid=plan["grid"].where(plan.index != 4, "3.20106E+14")).to_csv(
        mangled, index=False
    )
    code, _, err = run(capsys, "districts", str(folder), "--k", "4", "--from", str(mangled))
    assert code == 2 and "line(s) 6" in err and "spreadsheet" in err


def test_unseen_irregular_grids_without_build_json(tmp_path, capsys) -> None:
    folder = write_grids(voronoi_grids(400, seed=5).to_crs("EPSG:4326"), tmp_path / "elsewhere")
    code, summary, err = run(capsys, "districts", str(folder), "--k", "25")
    assert code == 0
    assert summary["contiguous"] is True
    # within tolerance as reported, and never better than the proven bound
    assert summary["within_tolerance"] == (summary["max_deviation"] <= 0.02)
    bound = summary["best_bound"]
    assert bound is None or 0 <= bound <= summary["max_deviation"] + 1e-9
    assert summary["bridges"] and "joined to their nearest grid" in err


@pytest.mark.slow
def test_real_default_area_end_to_end(tmp_path, capsys) -> None:
    root = Path(__file__).resolve().parent.parent
    folder = tmp_path / "nanjing"
    assert (
        main(["build", str(root / "data/boundaries/nanjing_xinjiekou"), "--out", str(folder)]) == 0
    )
    capsys.readouterr()
    # 25 districts: contiguous, and the bound reported when ±0.5% is out of reach
    code, s25, err = run(capsys, "districts", str(folder), "--k", "25", "--tolerance", "0.005")
    assert code == 0 and s25["contiguous"] is True and s25["k"] == 25
    assert s25["best_bound"] is not None and s25["max_deviation"] >= s25["best_bound"] - 1e-9
    if not s25["within_tolerance"] and s25["exact"]["optimal"]:  # the best achievable, reached
        assert s25["max_deviation"] <= s25["best_bound"] + 1e-6
        assert "best achievable" in err
    elif not s25["within_tolerance"]:  # a proven bound and the gap to it, said plainly
        assert s25["best_bound"] > 0.005
        assert f"proven bound ±{s25['best_bound']:.2%}" in err
    # 11 districts redrawn to 25: what moved is reported
    assert run(capsys, "districts", str(folder), "--k", "11", "--tolerance", "0.1")[0] == 0
    (folder / "plan.csv").rename(folder / "plan11.csv")
    code, redrawn, _ = run(
        capsys,
        "districts",
        str(folder),
        "--k",
        "25",
        "--from",
        str(folder / "plan11.csv"),
        "--workers",
        "108",
    )
    assert code == 0 and redrawn["from_k"] == 11 and redrawn["contiguous"] is True
    assert 0 <= redrawn["moved_grids"] <= redrawn["grids"]
    assert sum(redrawn["staffing"]["by_district"].values()) == 108
    assert len(redrawn["offices"]) == 25
    code, moves, _ = run(capsys, "suggest", str(folder), "--plan", str(folder / "plan.csv"))
    assert code == 0 and isinstance(moves, list)


def test_a_failed_write_keeps_the_old_plan_and_districts_together(folder, capsys, monkeypatch):
    assert run(capsys, "districts", str(folder), "--k", "4")[0] == 0
    old_plan = (folder / "plan.csv").read_bytes()
    old_districts = (folder / "districts.geojson").read_bytes()

    def write_then_fail(gdf: gpd.GeoDataFrame, path: object, *, layer: str) -> None:
        Path(str(path)).write_bytes(b'{"type": "FeatureCollection", "feat')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "_write_features", write_then_fail)  # every GeoJSON write
    code, _, err = run(capsys, "districts", str(folder), "--k", "6")
    monkeypatch.undo()
    assert code == 2 and "cannot write" in err and "No space left" in err
    # plan.csv was complete before districts.geojson failed: neither is replaced
    assert (folder / "plan.csv").read_bytes() == old_plan
    assert (folder / "districts.geojson").read_bytes() == old_districts
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files
