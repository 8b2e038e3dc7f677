"""The HTTP API: ``create_app(settings)`` builds everything, nothing runs at import.

Flow: settings → store (SQLite or PostGIS) → the served build folder → job
runner → routers (collections and tiles, plans, jobs, coverage, uploads,
exports) → the planner page under ``/static``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.jobs import JobRunner
from api.routes import collections, coverage, exports, jobs, plans, uploads
from api.routes._area import Area
from api.settings import Settings
from api.store import Store
from gis._errors import (
    ConflictError,
    GridplanError,
    InfeasibleError,
    InputError,
    UnknownIdError,
)
from gis.outputs import BuildFolder

log = logging.getLogger("gridplan.api")

STATIC_DIR = Path(__file__).resolve().parent.parent / "maps" / "static"
DEFAULT_PLAN = "current"


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
    store = Store(settings.sqlalchemy_url)
    store.fail_unfinished_jobs()
    area = Area(settings.data_dir)
    runner = JobRunner(store, workers=settings.job_workers)
    load_default_plan(store, area, tolerance=settings.tolerance)
    warmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridplan-warm")
    if settings.warm_up:  # a pool thread, joined at exit: never killed inside native code
        warmer.submit(warm_up, area)

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
        responses={422: {"description": "the request is invalid: see detail"}},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.area = area
    app.state.jobs = runner

    for router in (collections, plans, jobs, coverage, uploads, exports):
        app.include_router(router.router)
    _add_errors(app)
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
            expose_headers=["ETag", "Location"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def load_default_plan(store: Store, area: Area, *, tolerance: float) -> None:
    """Store ``DIR/plan.csv`` as plan ``current`` (version 1) unless it exists."""
    import pandas as pd

    from api.routes._engine import normalise

    path = BuildFolder(area.data_dir).file("plan")
    if not path.exists():
        return
    try:
        store.get_plan(DEFAULT_PLAN)
        return
    except UnknownIdError:
        pass
    table = pd.read_csv(path, dtype={"grid": str})
    assignment = normalise(dict(zip(table["grid"], table["district"], strict=True)))
    with contextlib.suppress(ConflictError):  # another process loaded it at the same time
        store.create_plan(
            plan_id=DEFAULT_PLAN,
            name=f"{area.meta.get('name', 'area')} (plan.csv)",
            k=len(set(assignment.values())),
            tolerance=tolerance,
            nest=False,
            assignment=assignment,
            message="loaded from plan.csv",
        )


def warm_up(area: Area) -> None:
    """Index grids and buildings, the grid graph and the walking state ahead of requests."""
    from api.routes import _engine

    try:
        for name in ("grids", "buildings"):
            area.index(name)
        _engine.warm(area)
    except Exception as exc:  # optional work: the request path meets and reports any error
        log.warning("warm-up stopped: %s", exc)


def _status(exc: GridplanError) -> int:
    if isinstance(exc, UnknownIdError):
        return 404
    if isinstance(exc, ConflictError):
        return 412
    if isinstance(exc, InputError | InfeasibleError):
        return 422
    return 400


def _add_errors(app: FastAPI) -> None:
    @app.exception_handler(GridplanError)
    async def _gridplan_error(_request: Request, exc: GridplanError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        headers: dict[str, str] = {}
        if isinstance(exc, ConflictError) and exc.current is not None:
            body["current_version"] = exc.current
            headers["ETag"] = f'"{exc.current}"'
        return JSONResponse(body, status_code=_status(exc), headers=headers)


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(self.limit, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLargeError:
            await _too_large(self.limit, send)


class _BodyTooLargeError(Exception):
    pass


async def _too_large(limit: int, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"the request body is larger than {limit} bytes: send a smaller file"},
        status_code=413,
    )
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict[str, Any]:  # pragma: no cover - never awaited
    return {"type": "http.disconnect"}
