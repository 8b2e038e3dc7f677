"""The build folder's writes: flushed to disk before they replace a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gis import outputs


def test_a_write_is_on_disk_before_the_rename_and_the_rename_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "coverage.json"
    outputs.write_json(target, {"share": 0.5})
    monkeypatch.undo()
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"]
    assert events[0][1] != str(target) and Path(events[0][1]).parent == tmp_path  # the temporary
    assert events[1][1] == str(target)
    assert events[2][1] == str(tmp_path)  # the folder, so the new name survives a crash
    assert target.read_text(encoding="utf-8").strip().startswith("{")
