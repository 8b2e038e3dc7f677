"""Request dependencies: the store, the served area, the caller's role, the links' base URL."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status

from api.area import Area
from api.jobs import JobRunner
from api.settings import Settings
from api.store import Store

Role = Literal["planner", "viewer"]


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_store(request: Request) -> Store:
    """The app's data-access layer."""
    return request.app.state.store


def get_area(request: Request) -> Area:
    """The served build folder as it is now (its new layers once it was rebuilt)."""
    area: Area = request.app.state.folder.current()
    return area


def base_url(request: Request) -> str:
    """Where links point: the configured ``GRIDPLAN_BASE_URL``, else the request's own."""
    configured = request.app.state.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")


def get_jobs(request: Request) -> JobRunner:
    """The background job runner."""
    return request.app.state.jobs


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _match(token: str, tokens: list[str]) -> bool:
    found = False
    for candidate in tokens:  # compare with every token, in constant time each
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return found


def caller_role(request: Request) -> Role | None:
    """The role of the caller's bearer token, None when anonymous.

    An unknown token is refused (401) rather than treated as anonymous.
    """
    settings: Settings = request.app.state.settings
    token = _bearer(request)
    if token is None:
        return None
    if _match(token, settings.planners):
        return "planner"
    if _match(token, settings.viewers):
        return "viewer"
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "the bearer token is not valid: use the token printed by `gridplan serve` "
        "or one set in GRIDPLAN_PLANNER_TOKENS / GRIDPLAN_VIEWER_TOKENS",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_reader(request: Request) -> Role | None:
    """Allow reads: anyone when reads are open, else a viewer or planner."""
    role = caller_role(request)
    if role is None and not request.app.state.settings.open_read:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "reading needs a token: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return role


def require_planner(request: Request) -> Role:
    """Allow writes: a planner token only (401 anonymous, 403 viewer)."""
    role = caller_role(request)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this change needs a planner token: send Authorization: Bearer <token> "
            "(the address printed by `gridplan serve` carries one)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if role != "planner":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a viewer token may only read: ask for a planner token to change plans",
        )
    return role


StoreDep = Annotated[Store, Depends(get_store)]
AreaDep = Annotated[Area, Depends(get_area)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BaseUrl = Annotated[str, Depends(base_url)]
Reader = Annotated[Role | None, Depends(require_reader)]
Planner = Annotated[Role, Depends(require_planner)]
