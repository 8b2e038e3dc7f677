"""The data-access layer on SQLite and PostGIS: versions, conflicts, concurrent writers."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from api.store import Store
from gis._errors import ConflictError, UnknownIdError
from tests.api_fixtures import reset_postgres

GRIDS = [f"32010200100100{i}" for i in range(8)]


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    pg = request.getfixturevalue("postgis_url")
    reset_postgres(pg)
    return pg


def _new_plan(store: Store) -> None:
    store.create_plan(
        plan_id="p",
        name="p",
        k=2,
        tolerance=0.02,
        nest=False,
        assignment={g: 1 for g in GRIDS},
    )


def test_versions_and_conditional_update(url: str) -> None:
    store = Store(url)
    _new_plan(store)
    with pytest.raises(ConflictError):
        _new_plan(store)
    plan = store.commit_version("p", expected=1, kind="edit", assignment={GRIDS[0]: 2}, moved=1)
    assert plan.version == 2
    with pytest.raises(ConflictError) as err:
        store.commit_version("p", expected=1, kind="edit", assignment={})
    assert err.value.current == 2
    assert store.get_version("p", 2).assignment == {GRIDS[0]: 2}
    assert [v.version for v in store.list_versions("p")] == [1, 2]
    with pytest.raises(UnknownIdError):
        store.get_version("p", 9)
    with pytest.raises(UnknownIdError):
        store.commit_version("zz", expected=1, kind="edit", assignment={})
    with pytest.raises(ConflictError):
        store.delete_plan("p", expected=1)
    store.delete_plan("p", expected=2)
    with pytest.raises(UnknownIdError):
        store.get_plan("p")
    store.close()


def _edit_loop(url: str, grid: str, rounds: int) -> int:
    """Read-modify-write ``rounds`` times, retrying on conflicts; returns the conflicts seen."""
    store = Store(url)
    conflicts = 0
    for value in range(2, 2 + rounds):
        while True:
            head = store.get_version("p")
            new = dict(head.assignment or {})
            new[grid] = value
            try:
                store.commit_version("p", expected=head.version, kind="edit", assignment=new)
                break
            except ConflictError:
                conflicts += 1
    store.close()
    return conflicts


def test_concurrent_threads_lose_no_edit(url: str) -> None:
    store = Store(url)
    _new_plan(store)
    rounds = 6
    threads = [threading.Thread(target=_edit_loop, args=(url, g, rounds)) for g in GRIDS[:4]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    head = store.get_version("p")
    assert head.version == 1 + 4 * rounds
    assert all(head.assignment[g] == 1 + rounds for g in GRIDS[:4])
    assert [v.version for v in store.list_versions("p")] == list(range(1, head.version + 1))
    store.close()


def test_two_processes_lose_no_edit(url: str) -> None:
    store = Store(url)
    _new_plan(store)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        conflicts = pool.starmap(_edit_loop, [(url, GRIDS[0], 8), (url, GRIDS[1], 8)])
    head = store.get_version("p")
    assert head.version == 1 + 16
    assert head.assignment[GRIDS[0]] == 9 and head.assignment[GRIDS[1]] == 9
    # every version is one writer's step on top of the one before: nothing lost, nothing skipped
    before = store.get_version("p", 1).assignment
    for v in range(2, head.version + 1):
        after = store.get_version("p", v).assignment
        changed = {g for g in GRIDS if after[g] != before[g]}
        assert len(changed) == 1 and changed <= set(GRIDS[:2]), (v, changed)
        (grid,) = changed
        assert after[grid] == before[grid] + 1
        before = after
    # a writer retries only after the other one committed in between: at most its 8 commits
    assert all(0 <= c <= 8 for c in conflicts), conflicts
    store.close()


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    with store._write.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


def test_jobs_left_running_are_failed_on_restart(url: str) -> None:
    store = Store(url)
    store.create_job("j1", "districts")
    store.update_job("j1", status="running", progress=0.4)
    store.close()
    again = Store(url)
    assert again.fail_unfinished_jobs() == 1
    assert again.get_job("j1").status == "failed"
    again.close()


def test_district_shapes_round_trip_and_live_in_postgis(url: str) -> None:
    store = Store(url)
    _new_plan(store)
    square = (
        '{"type":"Polygon","coordinates":'
        "[[[118.77,32.03],[118.78,32.03],[118.78,32.04],[118.77,32.03]]]}"
    )
    assert store.get_district_shapes("p", 1) is None
    store.put_district_shapes("p", 1, [(1, {"district": 1, "population": 10.5}, square)])
    store.put_district_shapes("p", 1, [(1, {"district": 1}, square)])  # a second writer: no error
    [(district, props, geom)] = store.get_district_shapes("p", 1)
    assert district == 1 and props["population"] == 10.5
    assert '"Polygon"' in geom and "118.77" in geom
    if store.backend == "postgresql":
        assert store.postgis_version
        with store._read.connect() as conn:
            kind, srid = conn.exec_driver_sql(
                "SELECT GeometryType(geom), ST_SRID(geom) FROM gp_district_shapes"
            ).one()
        assert (kind, srid) == ("POLYGON", 4326)
    store.delete_plan("p", expected=1)
    assert store.get_district_shapes("p", 1) is None
    store.close()
