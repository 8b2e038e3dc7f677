"""Waiting on a condition, not on the clock: one helper for every polling test.

:func:`wait_until` polls until a condition holds and fails with what was
awaited after a generous deadline (the deadline only stops a hung test; no
assertion depends on how long anything took).  :func:`wait_for_job` waits for
an API job to finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds before a wait gives up: long enough for a loaded machine.
DEADLINE_S = 120.0


def wait_until(
    condition: Callable[[], T],
    *,
    what: str,
    timeout: float = DEADLINE_S,
    every: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` until it returns a truthy value, and return that value.

    Parameters
    ----------
    condition
        Checked first at once, then every ``every`` seconds.
    what
        What is awaited, for the failure message.
    timeout
        Seconds after which the wait fails.
    ignoring
        Exceptions that mean "not yet" (a server still starting).

    Raises
    ------
    AssertionError
        The condition did not hold within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)


def wait_for_job(client: Any, url: str, *, timeout: float = DEADLINE_S) -> dict[str, Any]:
    """The job at ``url`` once it is done or failed (``client`` is a TestClient or httpx)."""

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(url).json()
        return job if job["status"] in ("done", "failed") else None

    return wait_until(finished, what=f"job {url} to finish", timeout=timeout)
