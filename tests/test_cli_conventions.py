"""Command-line habits: one name for the build folder, exit 2 with one error shape, progress
lines in logs, and ``serve`` promising an address only once its port is listening."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from api.cli import cli, main
from api.commands._progress import Counter, steps
from tests.api_fixtures import ROOT, make_build_dir
from tests.test_cli_coverage import _folder as coverage_folder

#: Commands that read a build folder, with the other arguments each needs.
READERS = {
    "districts": ["--k", "3"],
    "suggest": [],
    "coverage": [],
    "respond": [],
    "report": [],
    "serve": [],
}


def test_the_build_folder_is_called_dir_in_every_command() -> None:
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name)
        for param in command.params:
            if isinstance(param, click.Argument) and param.name == "folder":
                assert param.human_readable_name == "DIR", name
            if (
                isinstance(param, click.Option)
                and "--out" in param.opts
                and name in ("build", "run")
            ):
                assert param.metavar == "DIR", name
        text = command.get_help(ctx)
        assert "FOLDER" not in text, (name, text)
    assert set(READERS) <= set(cli.commands)


@pytest.mark.parametrize("command", sorted(READERS))
def test_a_missing_build_folder_exits_2_with_the_usual_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-build"
    assert main([command, str(missing), *READERS[command]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridplan: error: ") and str(missing) in err, err
    assert "gridplan build" in err and "Traceback" not in err, err
    assert not missing.exists()


def test_a_missing_source_for_run_exits_2_with_the_usual_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tmp_path / "nowhere.osm"), "--no-serve"]) == 2
    assert capsys.readouterr().err.startswith("gridplan: error: ")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    with steps(3, desc="build") as advance:
        for name in ("reading", "cutting", "writing"):
            advance(name)
    parts = Counter("sub-districts", "sub-district")
    parts(1, 2, "001")
    parts(2, 2, "002")
    parts.close()
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == [
        "build: 1/3 reading",
        "build: 2/3 cutting",
        "build: 3/3 writing",
        "sub-districts: 1/2 sub-districts (001)",
        "sub-districts: 2/2 sub-districts (002)",
    ]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with steps(2, desc="build") as advance:
        advance("reading")
        advance("writing")
    assert "\r" in terminal.getvalue()  # a bar that redraws itself, on a terminal only


def test_coverage_shows_its_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gis.pipeline import COVERAGE_STEPS

    folder = coverage_folder(tmp_path)
    assert main(["coverage", str(folder), "--minutes", "3,5", "--sites", "2"]) == 0
    lines = capsys.readouterr().err.splitlines()
    n = len(COVERAGE_STEPS)
    expected = [f"coverage: {i}/{n} {name}" for i, name in enumerate(COVERAGE_STEPS, 1)]
    assert [line for line in lines if line.startswith("coverage: ")] == expected


# -- serve ---------------------------------------------------------------------


def _serve(folder: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPLAN_")}
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", str(folder), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(120)
def test_serve_on_a_taken_port_exits_2_without_promising_an_address(tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path / "build")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _serve(folder, port)
        _out, err = proc.communicate(timeout=100)
    assert proc.returncode == 2, err
    assert err.startswith("gridplan: error: ") and f"127.0.0.1:{port}" in err, err
    assert "--port" in err and "http://" not in err, err


@pytest.mark.timeout(120)
def test_serve_prints_its_address_once_the_port_listens(tmp_path: Path) -> None:
    folder = make_build_dir(tmp_path / "build")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(folder, port)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "http://" in line:
                break
        else:
            pytest.fail("serve printed no address")
        assert f"http://127.0.0.1:{port}/?token=" in line
        # the address is a promise: a connection made the moment it is printed is accepted
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_csv_exports_write_households_without_long_decimals(tmp_path: Path) -> None:
    import geopandas as gpd

    from gis import exports, outputs

    grids = gpd.read_file(make_build_dir(tmp_path / "b") / "grids.geojson")
    grids["households"] = grids["households"] / 3  # estimates: 334.26982605892255 and the like
    text = exports.csv_bytes(grids).decode("utf-8-sig")
    header, *rows = text.splitlines()
    column = header.split(",").index("households")
    values = [row.split(",")[column] for row in rows]
    assert all(len(v.partition(".")[2]) <= outputs.QUANTITY_DECIMALS for v in values), values
    assert sum(map(float, values)) == pytest.approx(grids["households"].sum(), rel=1e-4)
