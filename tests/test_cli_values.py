"""Bad values on the command line: exit 2, a message naming the option, no file touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from tests.api_fixtures import make_build_dir

AREA = Path(__file__).resolve().parent.parent / "data" / "boundaries" / "nanjing_xinjiekou"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _fc(geometry: dict) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


@pytest.mark.parametrize(
    ("args", "option", "says"),
    [
        (["--tolerance", "nan"], "--tolerance", "fraction"),
        (["--tolerance", "inf"], "--tolerance", "fraction"),
        (["--tolerance", "2"], "--tolerance", "fraction"),
        (["--tolerance", "0"], "--tolerance", "fraction"),
        (["--balance", "population:nan"], "--balance", "fraction"),
        (["--balance", "population,households:1.5"], "--balance", "fraction"),
        (["--time-limit", "-1"], "--time-limit", "positive"),
        (["--time-limit", "nan"], "--time-limit", "positive"),
        (["--k", "0"], "--k", "0"),
    ],
)
def test_districts_refuses_bad_numbers_before_touching_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], option: str, says: str
) -> None:
    folder = make_build_dir(tmp_path / "b")
    before = _snapshot(folder)
    argv = ["districts", str(folder), "--k", "3", *args]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and option in err and says in err, err
    assert _snapshot(folder) == before


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--crs", "EPSG:99999"], "not a CRS PROJ knows"),
        (["--crs", "EPSG:4326"], "not a projected CRS in metres"),
        (["--communities", "points.geojson"], "Polygon"),
        (["--communities", "metres.geojson"], "outside longitude/latitude"),
    ],
)
def test_build_refuses_bad_crs_and_communities_before_touching_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    (tmp_path / "points.geojson").write_text(
        _fc({"type": "Point", "coordinates": [118.78, 32.04]})
    )
    ring = [[660000, 3550000], [661000, 3550000], [661000, 3551000], [660000, 3550000]]
    (tmp_path / "metres.geojson").write_text(_fc({"type": "Polygon", "coordinates": [ring]}))
    out = make_build_dir(tmp_path / "out")
    before = _snapshot(out)
    extra = [str(tmp_path / e) if e.endswith(".geojson") else e for e in extra]
    code = main(["build", str(AREA), "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and says in err, err
    assert _snapshot(out) == before
    assert not (tmp_path / "out.state").exists()


def test_districts_from_a_plan_of_rebuilt_grids_says_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan drawn before a rebuild: vanished grids are named and dropped, new ones placed."""
    import pandas as pd

    folder = make_build_dir(tmp_path / "b")
    plan = pd.read_csv(folder / "plan.csv", dtype={"grid": str})
    gone = pd.DataFrame({"grid": ["320102001001099", "320102001002098"], "district": [1, 2]})
    old = pd.concat([plan.iloc[2:], gone])
    old.to_csv(tmp_path / "old.csv", index=False)
    code = main(["districts", str(folder), "--k", "4", "--from", str(tmp_path / "old.csv")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 grid(s) of the plan no longer exist" in err and "320102001001099" in err
    assert "2 grid(s) missing from the plan" in err
    written = pd.read_csv(folder / "plan.csv", dtype={"grid": str})
    assert len(written) == 24 and "320102001001099" not in set(written["grid"])
