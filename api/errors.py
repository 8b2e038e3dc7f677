"""Errors to HTTP, in one place: engine errors, invalid requests, a full job queue.

Every error answer is ``{"detail": "what is wrong and what to do"}``;
validation errors keep FastAPI's list form under ``detail``, with values
that JSON cannot hold (NaN, Infinity) shown as text, so that no request
value can turn into a server error.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.schemas import Problem
from gis._errors import (
    BusyError,
    ConflictError,
    GridplanError,
    InfeasibleError,
    InputError,
    UnknownIdError,
)


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


#: Answers any operation can give: an unknown token, a body too large, invalid values.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("no valid token (reads may need one too, see GRIDPLAN_OPEN_READ)"),
    413: _problem("the request body is too large"),
    422: {"description": "the request is invalid: detail names the field"},
}
#: Answers of operations with a JSON body, besides the common ones.
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("the body cannot be parsed as JSON"),
}
#: Answers of the writes to an existing plan.
PLAN_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("malformed If-Match"),
    403: _problem("a viewer token"),
    404: _problem("unknown plan (or version, rank)"),
    409: _problem("nothing to undo/redo, or the plan's grids were rebuilt"),
    412: _problem("stale If-Match: current_version and the current ETag are given"),
    428: _problem("If-Match missing"),
}


#: Routes of OGC API - Features (and their tiles): an invalid parameter value answers 400 there,
#: as the standard requires; the rest of the API keeps FastAPI's 422.
OGC_PATHS = ("/collections", "/tiles", "/conformance")


def status_of(exc: GridplanError) -> int:
    """The HTTP status of an engine error."""
    if isinstance(exc, UnknownIdError):
        return 404
    if isinstance(exc, ConflictError):
        return 412
    if isinstance(exc, BusyError):
        return 429
    if isinstance(exc, InputError | InfeasibleError):
        return 422
    return 400


def install(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""

    @app.exception_handler(GridplanError)
    async def _gridplan_error(_request: Request, exc: GridplanError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        headers: dict[str, str] = {}
        if isinstance(exc, ConflictError) and exc.current is not None:
            body["current_version"] = exc.current
            headers["ETag"] = f'"{exc.current}"'
        if isinstance(exc, BusyError):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(body, status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status = 400 if request.url.path.startswith(OGC_PATHS) else 422
        return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status)


def document_if_match(app: FastAPI) -> None:
    """Mark ``If-Match`` required in the OpenAPI document on the writes that refuse without it.

    The route reads the header as optional so that a missing one answers 428
    (Precondition Required) with a message, not a generic 422.
    """
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = make()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if operation.pop("x-if-match-required", False):
                    for param in operation.get("parameters", []):
                        if param.get("name") == "If-Match":
                            param["required"] = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as text (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
