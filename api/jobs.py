"""Long computations (districting, rebuilds) run as jobs in a worker thread.

A job's status and progress live in the store, so ``GET /jobs/{id}`` answers
from any process; jobs left unfinished by a killed server are marked failed
when the next one starts.  At most ``max_queued`` jobs wait or run at once:
one more is refused with :class:`gis._errors.BusyError` (HTTP 429 with
``Retry-After``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from api.store import JobRow, Store
from gis._errors import BusyError, GridplanError

log = logging.getLogger("gridplan.jobs")

Progress = Callable[[float, str], None]
Work = Callable[[Progress], dict[str, Any]]


class JobRunner:
    """Runs submitted work in background threads and records its progress.

    Parameters
    ----------
    store
        Where job rows live.
    workers
        Number of jobs that run at once.
    max_queued
        Jobs waiting or running at once; one more is refused (:class:`BusyError`).
    """

    def __init__(self, store: Store, *, workers: int = 1, max_queued: int = 8) -> None:
        self.store = store
        self.max_queued = max_queued
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gridplan-job")
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Work) -> JobRow:
        """Queue ``work`` (called with a progress callback); returns the queued job.

        Raises
        ------
        BusyError
            ``max_queued`` jobs are already waiting or running.
        """
        with self._lock:
            if self._pending >= self.max_queued:
                raise BusyError(
                    f"{self._pending} jobs are already queued or running (the limit is "
                    f"{self.max_queued}): wait for one to finish (GET /jobs/{{id}}) and retry",
                    retry_after=10,
                )
            self._pending += 1
        try:
            job = self.store.create_job(f"j-{uuid.uuid4().hex[:12]}", kind)
            self._pool.submit(self._run, job.id, work)
        except BaseException:
            self._done()
            raise
        return job

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1

    def _run(self, job_id: str, work: Work) -> None:
        try:
            self._run_recorded(job_id, work)
        except SQLAlchemyError:  # the database went away (server stopping): nothing to record
            log.warning("job %s could not record its state", job_id, exc_info=True)
        finally:
            self._done()

    def _run_recorded(self, job_id: str, work: Work) -> None:
        self.store.update_job(job_id, status="running", progress=0.0)
        last = [0.0]
        lock = threading.Lock()

        def progress(fraction: float, message: str = "") -> None:
            now = time.monotonic()
            with lock:
                if now - last[0] < 0.2 and fraction < 1.0:
                    return
                last[0] = now
            self.store.update_job(job_id, progress=fraction, message=message)

        try:
            result = work(progress)
        except GridplanError as exc:
            self.store.update_job(job_id, status="failed", message=str(exc))
            return
        except Exception as exc:  # a worker thread must record every failure
            log.exception("job %s failed", job_id)
            self.store.update_job(
                job_id, status="failed", message=f"internal error ({type(exc).__name__}): {exc}"
            )
            return
        self.store.update_job(job_id, status="done", progress=1.0, message="done", result=result)

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)
