"""The commands tell a planner the same about the bundled areas as the golden files.

A refactor must not change what ``gridplan run``, ``respond``, ``suggest``,
``districts --from --workers`` and ``coverage --standard`` report on
Nanjing Xinjiekou and Central Helsinki.  When a change is meant to change
outputs, regenerate the files (``.venv/bin/python -m tests.golden``), read
the diff, and commit it with the change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden import AREAS, collect, differences, golden_path

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(AREAS))
def test_commands_report_the_golden_summary(name: str, tmp_path: Path) -> None:
    expected = json.loads(golden_path(name).read_text(encoding="utf-8"))
    actual = collect(AREAS[name], tmp_path / name)
    found = list(differences(expected, actual))
    assert not found, (
        f"{name}: {len(found)} differences from {golden_path(name).name} "
        "(if meant, regenerate with `.venv/bin/python -m tests.golden`):\n" + "\n".join(found[:40])
    )


def test_differences_sees_a_changed_count_and_tolerates_rounding() -> None:
    expected = {"grids": 94, "share": 0.2793, "codes": ["320104001001001"], "ok": True}
    assert not list(differences(expected, {**expected, "share": 0.2794}))
    assert list(differences(expected, {**expected, "grids": 95})) == ["/grids: 95, expected 94"]
    assert list(differences(expected, {**expected, "share": 0.2800}))
    assert list(differences(expected, {**expected, "codes": ["320104001001002"]}))
    assert list(differences(expected, {**expected, "ok": False}))
    assert list(differences(expected, {k: v for k, v in expected.items() if k != "ok"}))
