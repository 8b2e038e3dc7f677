"""Walking coverage: figures, "what if a site is added here", the 1310 check."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query

from api.area import Area
from api.deps import AreaDep, Planner, Reader
from api.errors import BODY_RESPONSES, _problem
from api.routes import _engine
from api.schemas import WhatIf

router = APIRouter(prefix="/coverage", tags=["coverage"])

NOT_RUN = "coverage has not been computed for this area: run `gridplan coverage DIR` first"


def _figures(area: Area) -> dict[str, Any]:
    path = area.data_dir / "coverage.json"
    if not path.exists():
        raise HTTPException(404, NOT_RUN)
    return area.derived.get_or_make(
        ("coverage", path.stat().st_mtime_ns), lambda: orjson.loads(path.read_bytes())
    )


@router.get("", summary="Coverage figures", responses={404: _problem("coverage not computed")})
def coverage(area: AreaDep, _role: Reader) -> dict[str, Any]:
    """Share of households within walking time of a service point, gaps, spacing."""
    return _figures(area)


@router.post(
    "/what-if",
    summary="What if a site is added here",
    responses={
        **BODY_RESPONSES,
        403: _problem("a viewer token"),
        404: _problem("no street network"),
    },
)
def what_if(body: WhatIf, area: AreaDep, _role: Planner) -> dict[str, Any]:
    """Coverage gained by a new service site at ``lon, lat`` (not stored)."""
    bbox = area.bbox()
    if bbox and not (
        bbox[0] - 0.05 <= body.lon <= bbox[2] + 0.05
        and bbox[1] - 0.05 <= body.lat <= bbox[3] + 0.05
    ):
        raise HTTPException(422, f"({body.lon}, {body.lat}) is outside the area {bbox}")
    result = _engine.what_if(area, body.lon, body.lat)
    if result is None:
        raise HTTPException(
            404,
            "what-if needs the street network and coverage of this area: "
            "run `gridplan build` and `gridplan coverage DIR` first",
        )
    return result


@router.get(
    "/1310", summary="The 1310 response check", responses={404: _problem("no street network")}
)
def check_1310(
    area: AreaDep,
    _role: Reader,
    mode: Annotated[str, Query(pattern="^(walk|bicycle)$")] = "walk",
) -> dict[str, Any]:
    """Share of households a worker reaches within 3 and 10 minutes from the service points."""
    result = _engine.check_1310(area, mode=mode)
    if result is None:
        raise HTTPException(404, "the 1310 check needs the street network: run `gridplan build`")
    return result
