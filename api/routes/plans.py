"""Plans: create, read with metrics, edit, undo/redo, compare, suggestions, delete.

Every change is a new version; every write to a plan carries ``If-Match`` with
the version it was based on, and a stale one gets 412 with the current version.
A write is three steps, as :func:`update_plan` reads: the ``If-Match``
version, one store transaction that checks the head and stores the change
(made by :mod:`api.plans`), and the answer with the new head's metrics.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse

from api import plans
from api.area import Area
from api.deps import AreaDep, BaseUrl, JobsDep, Planner, Reader, SettingsDep, StoreDep
from api.errors import BODY_RESPONSES, PLAN_WRITE_RESPONSES, _problem
from api.routes import _engine
from api.routes.exports import plan_download
from api.routes.jobs import job_public
from api.schemas import (
    VERSION_MAX,
    AssignmentPublic,
    ComparePublic,
    JobPublic,
    MovePublic,
    PlanCreate,
    PlanPublic,
    PlanUpdate,
    SuggestionsPublic,
    VersionPublic,
)
from api.store import PlanRow, VersionRow, stale_error

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[str, Path(max_length=64)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description='the plan version the write is based on, e.g. "7" (its ETag), or *',
    ),
]
VersionQuery = Annotated[int | None, Query(ge=1, le=VERSION_MAX)]
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _problem("unknown plan or version"),
    409: _problem("the plan's grids were rebuilt: redraw it"),
}
#: If-Match is required on these writes (428 without it): the schema marks it required.
IF_MATCH_REQUIRED: dict[str, Any] = {"openapi_extra": {"x-if-match-required": True}}


@router.get("", response_model=list[PlanPublic], summary="Every plan")
def list_plans(base: BaseUrl, area: AreaDep, store: StoreDep, _role: Reader) -> list[PlanPublic]:
    """Every plan, without metrics; plans whose grids were rebuilt say so (``valid: false``)."""
    return [
        plans.plan_public(base, area, plan, head, with_metrics=False)
        for plan, head in store.list_heads()
    ]


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    summary="Create a plan",
    responses={
        201: {"model": PlanPublic, "description": "stored as given"},
        **BODY_RESPONSES,
        403: _problem("a viewer token"),
        404: _problem("unknown from_plan or from_version"),
        409: _problem("from_plan was drawn on other grids and cannot be read"),
        429: _problem("too many jobs queued: retry after Retry-After seconds"),
    },
)
def create_plan(
    body: PlanCreate,
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    jobs: JobsDep,
    settings: SettingsDep,
    _role: Planner,
) -> Response:
    """Draw ``k`` districts (a job: 202 + ``Location``), or store a given assignment (201)."""
    tolerance = body.tolerance or settings.tolerance
    plan_id = f"p-{uuid.uuid4().hex[:10]}"
    if body.assignment is not None:
        assignment = {str(g): int(d) for g, d in body.assignment.items()}
        missing = area.grid_codes - set(assignment)
        unknown = set(assignment) - area.grid_codes
        if unknown or missing:
            raise HTTPException(
                422,
                f"the assignment must name every grid once: {len(unknown)} unknown "
                f"(e.g. {sorted(unknown)[:3]}), {len(missing)} missing "
                f"(e.g. {sorted(missing)[:3]})",
            )
        plan = store.create_plan(
            plan_id=plan_id,
            name=body.name,
            k=body.k,
            tolerance=tolerance,
            nest=body.nest,
            assignment=assignment,
            message="created from a given assignment",
        )
        response = plans.answer(base, area, plan, store.get_version(plan.id, 1), code=201)
        response.headers["Location"] = f"/plans/{plan.id}"
        return response
    base_plan: dict[str, int] | None = None
    if body.from_plan is not None:
        base_plan = store.get_version(body.from_plan, body.from_version).assignment
    _engine.check_k(area.grids, body.k, nest=body.nest)

    def work(progress: _engine.Progress) -> dict[str, Any]:
        assignment, warnings, tradeoff = _engine.draw(
            area.grids,
            body.k,
            tolerance=tolerance,
            nest=body.nest,
            from_plan=base_plan,
            keep=body.keep,
            progress=progress,
            adjacency=_engine.adjacency(area),
        )
        source = f"redrawn from {body.from_plan}" if base_plan else "drawn"
        store.create_plan(
            plan_id=plan_id,
            name=body.name,
            k=body.k,
            tolerance=tolerance,
            nest=body.nest,
            assignment=assignment,
            message=f"{source} with k={body.k}",
        )
        return {"plan": plan_id, "warnings": warnings, "tradeoff": tradeoff}

    job = jobs.submit("districts", work)
    public = job_public(base, job)
    return JSONResponse(
        public.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )


@router.get(
    "/{plan_id}",
    response_model=PlanPublic,
    summary="A plan with metrics",
    responses={404: _problem("unknown plan")},
)
def get_plan(
    plan_id: PlanId, base: BaseUrl, area: AreaDep, store: StoreDep, _role: Reader
) -> Response:
    """The plan's head version with its metrics; ``ETag`` is its version.

    A plan whose grids were rebuilt has ``valid: false``, ``grids_changed`` and no metrics.
    """
    plan, head = store.get_head(plan_id)
    return plans.answer(base, area, plan, head)


@router.patch(
    "/{plan_id}",
    response_model=PlanPublic,
    summary="Edit a plan",
    responses=PLAN_WRITE_RESPONSES,
    **IF_MATCH_REQUIRED,
)
def update_plan(
    plan_id: PlanId,
    body: PlanUpdate,
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Move grids between districts and/or rename; a new version."""
    # 1. the version the edit is based on
    expected = plans.if_match(if_match)
    # 2. one transaction: check the head, apply the moves, store version n + 1
    moves = [(m.grid, m.district) for m in body.moves]
    change = plans.edit(area, moves, name=body.name, message=body.message)
    plan, head = store.change_plan(plan_id, expected=expected, make=change)
    # 3. the new head with its metrics
    return plans.answer(base, area, plan, head)


@router.delete(
    "/{plan_id}",
    status_code=204,
    summary="Delete a plan",
    responses=PLAN_WRITE_RESPONSES,
    **IF_MATCH_REQUIRED,
)
def delete_plan(
    plan_id: PlanId, store: StoreDep, _role: Planner, if_match: IfMatch = None
) -> Response:
    """Delete a plan and its history (``If-Match`` must name its current version)."""
    store.delete_plan(plan_id, expected=plans.if_match(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{plan_id}/assignment",
    response_model=AssignmentPublic,
    summary="Grid → district",
    responses={404: _problem("unknown plan or version")},
)
def get_assignment(
    plan_id: PlanId, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> Response:
    """The grid → district map of a version (head by default)."""
    row = store.get_version(plan_id, version)
    body = AssignmentPublic(plan=plan_id, version=row.version, assignment=row.assignment or {})
    return JSONResponse(body.model_dump(), headers={"ETag": plans.etag(row.version)})


@router.get("/{plan_id}/metrics", summary="Metrics of a version", responses=READ_ERRORS)
def get_metrics(
    plan_id: PlanId, area: AreaDep, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> dict[str, Any]:
    """Population deviation and per-district figures of a version."""
    plan = store.get_plan(plan_id)
    return plans.metrics(area, plan, store.get_version(plan_id, version))


@router.get(
    "/{plan_id}/districts",
    summary="Districts of a version (GeoJSON)",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}, **READ_ERRORS},
)
def get_districts(
    plan_id: PlanId, area: AreaDep, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> Response:
    """One feature per district: union of its grids, population, deviation."""
    index = plans.district_index(area, store, plan_id, version)
    features = b",".join(index.features_at(index.select(None)))
    body = b'{"type":"FeatureCollection","features":[' + features + b"]}"
    return Response(body, media_type="application/geo+json")


@router.get(
    "/{plan_id}/versions",
    response_model=list[VersionPublic],
    summary="History",
    responses={404: _problem("unknown plan")},
)
def list_versions(plan_id: PlanId, store: StoreDep, _role: Reader) -> list[VersionPublic]:
    """Every version of the plan, oldest first."""
    return [plans.version_public(v) for v in store.list_versions(plan_id)]


@router.get(
    "/{plan_id}/versions/{version}",
    response_model=VersionPublic,
    summary="One version",
    responses={404: _problem("unknown plan or version")},
)
def get_version(
    plan_id: PlanId,
    version: Annotated[int, Path(ge=1, le=VERSION_MAX)],
    store: StoreDep,
    _role: Reader,
) -> VersionPublic:
    """One version with its assignment."""
    return plans.version_public(store.get_version(plan_id, version), with_assignment=True)


@router.post(
    "/{plan_id}/undo",
    response_model=PlanPublic,
    summary="Undo",
    responses=PLAN_WRITE_RESPONSES,
    **IF_MATCH_REQUIRED,
)
def undo(
    plan_id: PlanId,
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Go back to the state before the last edit (a new version; redo can restore it)."""
    expected = plans.if_match(if_match)
    plan, head = store.change_plan(plan_id, expected=expected, make=plans.undo(area))
    return plans.answer(base, area, plan, head)


@router.post(
    "/{plan_id}/redo",
    response_model=PlanPublic,
    summary="Redo",
    responses=PLAN_WRITE_RESPONSES,
    **IF_MATCH_REQUIRED,
)
def redo(
    plan_id: PlanId,
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Restore the edit the last undo took back (a new version)."""
    expected = plans.if_match(if_match)
    plan, head = store.change_plan(plan_id, expected=expected, make=plans.redo(area))
    return plans.answer(base, area, plan, head)


@router.get(
    "/{plan_id}/compare",
    response_model=ComparePublic,
    summary="Compare two versions",
    responses=READ_ERRORS,
)
def compare(
    plan_id: PlanId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    a: Annotated[int, Query(ge=1, le=VERSION_MAX)],
    b: Annotated[int, Query(ge=1, le=VERSION_MAX)],
) -> ComparePublic:
    """Grids and people moved between versions ``a`` and ``b``, and metric deltas."""
    plan = store.get_plan(plan_id)
    va, vb = store.get_version(plan_id, a), store.get_version(plan_id, b)
    sa_, sb_ = va.assignment or {}, vb.assignment or {}
    grids = area.grids.set_index(area.grids["code"].astype(str))
    pop = grids.get("population")
    hh = grids.get("households")
    moves = [g for g in sorted(set(sa_) | set(sb_)) if sa_.get(g) != sb_.get(g)]
    ma, mb = plans.metrics(area, plan, va), plans.metrics(area, plan, vb)
    delta = {
        key: float(mb[key]) - float(ma[key])
        for key in ma
        if isinstance(ma.get(key), int | float)
        and isinstance(mb.get(key), int | float)
        and not isinstance(ma.get(key), bool)
    }
    return ComparePublic(
        a=a,
        b=b,
        grids_moved=len(moves),
        people_moved=float(pop.reindex(moves).fillna(0).sum()) if pop is not None else 0.0,
        households_moved=float(hh.reindex(moves).fillna(0).sum()) if hh is not None else 0.0,
        moves=[MovePublic(grid=g, **{"from": sa_.get(g)}, to=sb_.get(g)) for g in moves],
        metrics_a=ma,
        metrics_b=mb,
        delta=delta,
    )


def _suggestions(
    area: Area, plan: PlanRow, version: VersionRow, tolerance: float | None, limit: int
) -> list[dict[str, Any]]:
    key = ("suggest", plan.id, version.version, version.created_at, tolerance, limit)
    plans.metrics(area, plan, version)  # 409 when the plan's grids were rebuilt
    found: list[dict[str, Any]] = area.derived.get_or_make(
        key,
        lambda: _engine.suggest(
            area.grids,
            version.assignment or {},
            tolerance=tolerance or plan.tolerance,
            limit=limit,
            cache=area.derived,
            adjacency=_engine.adjacency(area),
        ),
    )
    return found


@router.get(
    "/{plan_id}/suggestions",
    response_model=SuggestionsPublic,
    summary="Rebalancing",
    responses=READ_ERRORS,
)
def suggestions(
    plan_id: PlanId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    version: VersionQuery = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    tolerance: Annotated[float | None, Query(gt=0, lt=1, allow_inf_nan=False)] = None,
) -> SuggestionsPublic:
    """Ranked moves that bring the version's districts closer to equal population."""
    plan = store.get_plan(plan_id)
    row = store.get_version(plan_id, version)
    found = _suggestions(area, plan, row, tolerance, limit)
    return SuggestionsPublic(plan=plan_id, version=row.version, suggestions=found)


@router.post(
    "/{plan_id}/suggestions/{rank}/apply",
    response_model=PlanPublic,
    summary="Apply a suggestion",
    responses=PLAN_WRITE_RESPONSES,
    **IF_MATCH_REQUIRED,
)
def apply_suggestion(
    plan_id: PlanId,
    rank: Annotated[int, Path(ge=1, le=50)],
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    tolerance: Annotated[float | None, Query(gt=0, lt=1, allow_inf_nan=False)] = None,
) -> Response:
    """Apply suggestion ``rank`` computed on the ``If-Match`` version (a new version)."""
    # 1. the version the suggestion was computed on, and the suggestion
    expected = plans.if_match(if_match)
    plan, version = store.get_head(plan_id)
    expected = version.version if expected is None else expected
    if expected != version.version:  # refuse at once; the transaction below checks again
        raise stale_error(plan_id, version.version, expected)
    found = _suggestions(area, plan, version, tolerance, max(limit, rank))
    chosen = next((s for s in found if int(s.get("rank", 0)) == rank), None)
    if chosen is None:
        raise HTTPException(
            404, f"no suggestion {rank} for version {expected}: GET /plans/{plan_id}/suggestions"
        )
    # 2. one transaction: check the head is still that version, store the moves
    make = plans.apply_suggestion(area, rank, chosen)
    plan, head = store.change_plan(plan_id, expected=expected, make=make)
    return plans.answer(base, area, plan, head)


@router.get(
    "/{plan_id}/export",
    summary="Download a plan",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}, "text/csv": {}}}, **READ_ERRORS},
)
def export_plan(
    plan_id: PlanId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    format: Annotated[str, Query(pattern="^(geojson|gpkg|csv)$")] = "geojson",
    crs: Annotated[str, Query(pattern="^(wgs84|cgcs2000|gcj02)$")] = "wgs84",
    version: VersionQuery = None,
) -> Response:
    """The plan's districts (GeoJSON), districts and grids (GeoPackage), or grid → district CSV."""
    return plan_download(area, store, plan_id, version, fmt=format, crs=crs)
