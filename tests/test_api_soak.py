"""A bounded soak: 50 clients editing, uploading and reading, ``kill -9`` after 50 edits.

Every edit the server acknowledged (200 with a version) must be in the plan's
history after the server was killed and restarted, every acknowledged upload
listed, and each plan's history gapless.  Stale writes get 412 and retry, as
a planner's page does.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api_fixtures import PLANNER_HEADERS, make_build_dir, server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CLIENTS = 50
KILL_AFTER = 50  # acknowledged edits before the kill (a count, so the load does not matter)
KILL_CAP = 300.0  # seconds: a server that cannot take 50 edits by then fails the test
AFTER_RESTART = 10.0  # seconds of the same clients against the restarted server
PLANS = 5


class Ledger:
    """What the server acknowledged, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.edits: dict[tuple[str, int], tuple[str, int]] = {}
        self.uploads: set[str] = set()
        self.counts = {"edits": 0, "conflicts": 0, "uploads": 0, "reads": 0, "cut": 0}

    def add(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def _client(base: str, i: int, plans: list[str], grids: list[str], stop: float, book: Ledger):
    """One planner: mostly edits (retrying 412), some uploads and layer reads."""
    n = 0
    with httpx.Client(base_url=base, headers=PLANNER_HEADERS, timeout=30) as c:
        while time.monotonic() < stop:
            n += 1
            try:
                if n % 10 == 3:
                    csv = f"building,households\nw{i},{n}\n".encode()
                    r = c.post("/uploads/households", files={"file": ("h.csv", csv)})
                    assert r.status_code == 201, r.text
                    with book.lock:
                        book.uploads.add(r.json()["id"])
                    book.add("uploads")
                elif n % 10 == 7:
                    r = c.get("/collections/grids/items", params={"limit": 50})
                    assert r.status_code == 200
                    book.add("reads")
                else:
                    plan = plans[(i + n) % len(plans)]
                    grid, district = grids[(i * 7 + n) % len(grids)], 1 + (i + n) % 4
                    version = int(c.get(f"/plans/{plan}").headers["etag"].strip('"'))
                    r = c.patch(
                        f"/plans/{plan}",
                        headers={"If-Match": f'"{version}"'},
                        json={"moves": [{"grid": grid, "district": district}]},
                    )
                    if r.status_code == 412:
                        book.add("conflicts")
                        continue
                    assert r.status_code == 200, r.text
                    with book.lock:
                        book.edits[(plan, r.json()["version"])] = (grid, district)
                    book.add("edits")
            except httpx.TransportError:  # killed mid-request: not acknowledged
                book.add("cut")
                return


def _round(base: str, plans: list[str], grids: list[str], seconds: float, book: Ledger) -> None:
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(base, i, plans, grids, stop, book))
        for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)


def _kill_after(book: Ledger, pid: int, edits: int, cap: float) -> None:
    """``kill -9`` the server once it has acknowledged ``edits`` edits (or after ``cap`` s)."""
    deadline = time.monotonic() + cap
    while book.counts["edits"] < edits and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def test_soak_with_a_kill_keeps_every_acknowledged_edit(tmp_path: Path) -> None:
    build = make_build_dir(tmp_path / "b")
    book = Ledger()
    with server(build, None) as (base, proc), httpx.Client(base_url=base) as c:
        assignment = c.get("/plans/current/assignment").json()["assignment"]
        grids = sorted(assignment)
        plans = ["current"]
        for p in range(PLANS - 1):
            r = c.post(
                "/plans",
                json={"name": f"soak {p}", "k": 4, "assignment": assignment},
                headers=PLANNER_HEADERS,
            )
            plans.append(r.json()["id"])
        killer = threading.Thread(target=_kill_after, args=(book, proc.pid, KILL_AFTER, KILL_CAP))
        killer.start()
        _round(base, plans, grids, KILL_CAP + 5, book)  # clients stop at the kill
        killer.join()
        proc.wait(timeout=10)
    before_kill = book.counts["edits"]
    with server(build, None) as (base, _proc), httpx.Client(base_url=base) as c:
        _round(base, plans, grids, AFTER_RESTART, book)
        for plan in plans:
            history = c.get(f"/plans/{plan}/versions").json()
            assert [v["version"] for v in history] == list(range(1, len(history) + 1))
        for (plan, version), (grid, district) in sorted(book.edits.items()):
            got = c.get(f"/plans/{plan}/versions/{version}").json()
            assert got["assignment"][grid] == district, (plan, version)
        listed = {u["id"] for u in c.get("/uploads").json()}
        assert book.uploads <= listed
    assert before_kill >= KILL_AFTER, f"only {before_kill} edits in {KILL_CAP:.0f} s"
    assert book.counts["edits"] > before_kill  # the restarted server took edits too
    assert book.counts["cut"] >= 1  # the kill did land mid-run
    print(f"soak: {book.counts}, acknowledged edits checked: {len(book.edits)}")
