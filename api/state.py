"""The state folder: what planners make, kept apart from what a build makes.

``gridplan build SOURCE --out DIR`` replaces ``DIR`` whole.  Plans, their
versions, jobs and uploads therefore live in a state folder that no build
touches: ``DIR.state`` beside ``DIR`` by default (``runs/nj`` →
``runs/nj.state``), or the folder named by ``GRIDPLAN_STATE_DIR`` /
``--state``.  It holds ``gridplan.db`` (SQLite; with PostgreSQL the plans are
in the database) and ``uploads/``.

Older gridplan versions kept ``gridplan.db`` and ``uploads/`` inside ``DIR``;
:func:`prepare` moves them into the state folder in place, when the server
starts and when ``gridplan build`` is about to replace such a folder.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from gis._errors import OutputError

#: The SQLite database of plans, versions, jobs and uploads in the state folder.
DATABASE_NAME = "gridplan.db"
#: Uploaded files, stored under generated names.
UPLOADS_NAME = "uploads"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def default_state_dir(data_dir: str | os.PathLike[str]) -> Path:
    """``DIR.state`` beside the build folder ``DIR``."""
    folder = Path(os.path.abspath(data_dir))
    return folder.with_name(f"{folder.name}.state")


def uploads_dir(state_dir: Path) -> Path:
    """The uploads folder of a state folder (created when missing)."""
    folder = state_dir / UPLOADS_NAME
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prepare(data_dir: str | os.PathLike[str], state_dir: Path) -> list[str]:
    """Move what an older gridplan kept in ``DIR`` into the state folder (created for it).

    Parameters
    ----------
    data_dir
        The build folder (it need not exist yet).
    state_dir
        The state folder.

    Returns
    -------
    list of str
        What was moved, one sentence each (empty when nothing was).

    Raises
    ------
    OutputError
        The state folder is inside the build folder, or both folders hold a plan
        database (nothing is moved then).
    """
    data = Path(os.path.abspath(data_dir))
    state = Path(os.path.abspath(state_dir))
    if state == data or data in state.parents:
        raise OutputError(
            f"the state folder {state} is inside the build folder {data}, which every build "
            "replaces: choose a state folder outside it (--state or GRIDPLAN_STATE_DIR)"
        )
    legacy_db = data / DATABASE_NAME
    if legacy_db.exists() and (state / DATABASE_NAME).exists():
        raise OutputError(
            f"both {legacy_db} and {state / DATABASE_NAME} hold plans: move one of them away "
            "(keep the one with the plans you want) and start again"
        )
    notes = []
    if legacy_db.exists() or (data / UPLOADS_NAME).is_dir():
        state.mkdir(parents=True, exist_ok=True)  # else the server makes it when it starts
    if legacy_db.exists():
        _move_database(legacy_db, state / DATABASE_NAME)
        notes.append(f"moved the plans database {legacy_db} to {state / DATABASE_NAME}")
    moved = _move_uploads(data / UPLOADS_NAME, state / UPLOADS_NAME)
    if moved:
        notes.append(f"moved {moved} upload(s) from {data / UPLOADS_NAME} to {state}")
    return notes


def _move_database(source: Path, target: Path) -> None:
    """Fold the write-ahead log into ``source``, then move the one file to ``target``."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    _move_file(source, target)
    for suffix in _SQLITE_SIDE_FILES:
        side = source.with_name(source.name + suffix)
        if side.exists():
            side.unlink()


def _move_uploads(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    target.mkdir(parents=True, exist_ok=True)
    moved = 0
    for path in sorted(source.iterdir()):
        if path.is_file():
            _move_file(path, target / path.name)
            moved += 1
    if not any(source.iterdir()):
        source.rmdir()
    return moved


def _move_file(source: Path, target: Path) -> None:
    """Rename, or copy with fsync and delete across file systems."""
    try:
        os.replace(source, target)
        return
    except OSError:
        pass
    tmp = target.with_name(f".{target.name}.moving")
    shutil.copyfile(source, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    source.unlink()
