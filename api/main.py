"""The HTTP API: ``create_app(settings)`` builds everything, nothing runs at import.

Flow: settings → the state folder (plans, versions, jobs and uploads, kept
across rebuilds of the build folder) → store (SQLite or PostGIS) → the served
build folder (reloaded whole when it is rebuilt) → job runner → routers
(collections and tiles, plans, builds, jobs, coverage, uploads, exports) →
the planner page under ``/static``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api import errors, state
from api.area import Area, ServedFolder
from api.jobs import JobRunner
from api.middleware import BodyLimit, HeadAsGet, SecurityHeaders
from api.plans import load_default_plan
from api.routes import builds, collections, coverage, exports, jobs, plans, tiles, uploads
from api.settings import Settings
from api.store import Store

log = logging.getLogger("gridplan.api")

STATIC_DIR = Path(__file__).resolve().parent.parent / "maps" / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gridplan API over ``settings.data_dir``.

    Parameters
    ----------
    settings
        Typed settings; read from ``GRIDPLAN_*`` environment variables when None.

    Returns
    -------
    FastAPI
        The app, with its store open and the default plan loaded.
    """
    settings = settings or Settings()  # type: ignore[call-arg]
    # what planners made lives in the state folder; an older DIR/gridplan.db moves there
    for note in state.prepare(settings.data_dir, settings.state_folder):
        log.warning("%s", note)
    settings.state_folder.mkdir(parents=True, exist_ok=True)
    store = Store(settings.sqlalchemy_url)
    store.fail_unfinished_jobs()
    runner = JobRunner(store, workers=settings.job_workers, max_queued=settings.max_queued_jobs)
    warmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridplan-warm")

    def changed(area: Area) -> None:  # the folder was rebuilt: its plan.csv and warm caches
        load_default_plan(store, area, tolerance=settings.tolerance)
        if settings.warm_up:
            warmer.submit(warm_up, area)

    folder = ServedFolder(settings.data_dir, on_change=changed)
    load_default_plan(store, folder.current(), tolerance=settings.tolerance)
    if settings.warm_up:  # a pool thread, joined at exit: never killed inside native code
        warmer.submit(warm_up, folder.current())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        warmer.shutdown(wait=False, cancel_futures=True)
        runner.shutdown()
        store.close()

    app = FastAPI(
        title="gridplan",
        version="0.1.0",
        summary="Community grids, districts and walking coverage, OGC API - Features style.",
        lifespan=lifespan,
        responses=errors.COMMON_RESPONSES,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.folder = folder
    app.state.jobs = runner

    for router in (collections, tiles, plans, builds, jobs, coverage, uploads, exports):
        app.include_router(router.router)
    errors.install(app)
    errors.document_if_match(app)
    static = settings.static_dir or STATIC_DIR
    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=static), name="static")
    app.state.static_dir = static
    if settings.origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag", "Location", "Retry-After"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    return app


def warm_up(area: Area) -> None:
    """Index grids and buildings, the grid graph and the walking state ahead of requests."""
    from api.routes import _engine

    try:
        for name in ("grids", "buildings"):
            area.index(name)
        _engine.warm(area)
    except Exception as exc:  # optional work: the request path meets and reports any error
        log.warning("warm-up stopped: %s", exc)
