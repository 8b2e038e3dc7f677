"""Plans: create, read with metrics, edit, undo/redo, compare, suggestions, delete.

Every change is a new version; every write to a plan carries ``If-Match`` with
the version it was based on, and a stale one gets 412 with the current version.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.deps import AreaDep, JobsDep, Planner, Reader, SettingsDep, StoreDep
from api.routes import _engine, _plans
from api.routes._area import Area
from api.routes.exports import plan_download
from api.routes.jobs import job_public
from api.schemas import (
    AssignmentPublic,
    ComparePublic,
    JobPublic,
    MovePublic,
    PlanCreate,
    PlanPublic,
    PlanUpdate,
    Problem,
    SuggestionsPublic,
    VersionPublic,
)
from api.store import PlanRow, Store, VersionRow
from gis._errors import ConflictError

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[str, Path(max_length=64)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=40)]
VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000_000)]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no token"},
    403: {"model": Problem, "description": "a viewer token"},
    404: {"model": Problem, "description": "unknown plan"},
    412: {"model": Problem, "description": "stale If-Match; current_version given"},
    428: {"model": Problem, "description": "If-Match missing"},
}


def _answer(request: Request, area: Area, store: Store, plan: PlanRow, code: int = 200) -> Response:
    head = store.get_version(plan.id, plan.version)
    public = _plans.plan_public(request, area, plan, head)
    return JSONResponse(
        public.model_dump(mode="json"),
        status_code=code,
        headers={"ETag": _plans.etag(plan.version)},
    )


@router.get("", response_model=list[PlanPublic], summary="Every plan")
def list_plans(request: Request, area: AreaDep, store: StoreDep, _role: Reader) -> list[PlanPublic]:
    """Every plan, without metrics."""
    return [_plans.plan_public(request, area, p) for p in store.list_plans()]


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    summary="Create a plan",
    responses={201: {"model": PlanPublic, "description": "stored as given"}, **WRITE_ERRORS},
)
def create_plan(
    body: PlanCreate,
    request: Request,
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
        response = _answer(request, area, store, plan, code=201)
        response.headers["Location"] = f"/plans/{plan.id}"
        return response
    base: dict[str, int] | None = None
    if body.from_plan is not None:
        base = store.get_version(body.from_plan, body.from_version).assignment
    if body.k > len(area.grid_codes):
        raise HTTPException(
            422, f"k={body.k} is more than the {len(area.grid_codes)} grids: choose a smaller k"
        )

    def work(progress: _engine.Progress) -> dict[str, Any]:
        assignment, warnings = _engine.draw(
            area.grids,
            body.k,
            tolerance=tolerance,
            nest=body.nest,
            from_plan=base,
            progress=progress,
        )
        source = f"redrawn from {body.from_plan}" if base else "drawn"
        store.create_plan(
            plan_id=plan_id,
            name=body.name,
            k=body.k,
            tolerance=tolerance,
            nest=body.nest,
            assignment=assignment,
            message=f"{source} with k={body.k}",
        )
        return {"plan": plan_id, "warnings": warnings}

    job = jobs.submit("districts", work)
    public = job_public(request, job)
    return JSONResponse(
        public.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )


@router.get(
    "/{plan_id}",
    response_model=PlanPublic,
    summary="A plan with metrics",
    responses={404: {"model": Problem}},
)
def get_plan(
    plan_id: PlanId, request: Request, area: AreaDep, store: StoreDep, _role: Reader
) -> Response:
    """The plan's head version with its metrics; ``ETag`` is its version."""
    return _answer(request, area, store, store.get_plan(plan_id))


@router.patch(
    "/{plan_id}", response_model=PlanPublic, summary="Edit a plan", responses=WRITE_ERRORS
)
def update_plan(
    plan_id: PlanId,
    body: PlanUpdate,
    request: Request,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Move grids between districts and/or rename; a new version."""
    plan, base, expected = _head(store, plan_id, if_match)
    assert base.assignment is not None
    moves = [(m.grid, m.district) for m in body.moves]
    assignment, moved = _plans.apply_moves(area, plan, base.assignment, moves)
    message = body.message or (f"moved {moved} grid(s)" if moves else "renamed")
    plan = store.commit_version(
        plan_id,
        expected=expected,
        kind="edit",
        assignment=assignment,
        message=message,
        moved=moved,
        name=body.name,
    )
    return _answer(request, area, store, plan)


def _head(store: Store, plan_id: str, if_match: str | None) -> tuple[PlanRow, VersionRow, int]:
    """The plan, its head version and the ``If-Match`` version, which must be the head."""
    expected = _plans.if_match(if_match)
    plan = store.get_plan(plan_id)
    if expected != plan.version:
        _stale(plan, expected)
    return plan, store.get_version(plan_id, expected), expected


def _stale(plan: PlanRow, expected: int) -> None:
    raise ConflictError(
        f"plan {plan.id!r} is at version {plan.version}, not {expected}: reload it, "
        f're-apply your change and send it with If-Match: "{plan.version}"',
        current=plan.version,
    )


@router.delete("/{plan_id}", status_code=204, summary="Delete a plan", responses=WRITE_ERRORS)
def delete_plan(
    plan_id: PlanId, store: StoreDep, _role: Planner, if_match: IfMatch = None
) -> Response:
    """Delete a plan and its history (``If-Match`` must name its current version)."""
    store.delete_plan(plan_id, expected=_plans.if_match(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{plan_id}/assignment", response_model=AssignmentPublic, summary="Grid → district")
def get_assignment(
    plan_id: PlanId, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> Response:
    """The grid → district map of a version (head by default)."""
    row = store.get_version(plan_id, version)
    body = AssignmentPublic(plan=plan_id, version=row.version, assignment=row.assignment or {})
    return JSONResponse(body.model_dump(), headers={"ETag": _plans.etag(row.version)})


@router.get("/{plan_id}/metrics", summary="Metrics of a version")
def get_metrics(
    plan_id: PlanId, area: AreaDep, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> dict[str, Any]:
    """Population deviation and per-district figures of a version."""
    plan = store.get_plan(plan_id)
    return _plans.metrics(area, plan, store.get_version(plan_id, version))


@router.get(
    "/{plan_id}/districts",
    summary="Districts of a version (GeoJSON)",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def get_districts(
    plan_id: PlanId, area: AreaDep, store: StoreDep, _role: Reader, version: VersionQuery = None
) -> Response:
    """One feature per district: union of its grids, population, deviation."""
    index = _plans.district_index(area, store, plan_id, version)
    body = b'{"type":"FeatureCollection","features":[' + b",".join(index.features) + b"]}"
    return Response(body, media_type="application/geo+json")


@router.get("/{plan_id}/versions", response_model=list[VersionPublic], summary="History")
def list_versions(plan_id: PlanId, store: StoreDep, _role: Reader) -> list[VersionPublic]:
    """Every version of the plan, oldest first."""
    return [_plans.version_public(v) for v in store.list_versions(plan_id)]


@router.get("/{plan_id}/versions/{version}", response_model=VersionPublic, summary="One version")
def get_version(
    plan_id: PlanId,
    version: Annotated[int, Path(ge=1, le=1_000_000_000)],
    store: StoreDep,
    _role: Reader,
) -> VersionPublic:
    """One version with its assignment."""
    return _plans.version_public(store.get_version(plan_id, version), with_assignment=True)


@router.post("/{plan_id}/undo", response_model=PlanPublic, summary="Undo", responses=WRITE_ERRORS)
def undo(
    plan_id: PlanId,
    request: Request,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Go back to the state before the last edit (a new version; redo can restore it)."""
    plan, head, expected = _head(store, plan_id, if_match)
    if head.content_of <= 1:
        raise HTTPException(409, "nothing to undo: this plan is at its first state")
    target = store.get_version(plan_id, store.get_version(plan_id, head.content_of - 1).content_of)
    plan = store.commit_version(
        plan_id,
        expected=expected,
        kind="undo",
        assignment=target.assignment or {},
        content_of=target.content_of,
        redo=[*plan.redo, head.content_of],
        message=f"undo: back to the state of version {target.content_of}",
        moved=_count_moves(head.assignment, target.assignment),
    )
    return _answer(request, area, store, plan)


@router.post("/{plan_id}/redo", response_model=PlanPublic, summary="Redo", responses=WRITE_ERRORS)
def redo(
    plan_id: PlanId,
    request: Request,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
) -> Response:
    """Restore the edit the last undo took back (a new version)."""
    plan, head, expected = _head(store, plan_id, if_match)
    if not plan.redo:
        raise HTTPException(409, "nothing to redo: no undo since the last edit")
    target = store.get_version(plan_id, plan.redo[-1])
    plan = store.commit_version(
        plan_id,
        expected=expected,
        kind="redo",
        assignment=target.assignment or {},
        content_of=target.content_of,
        redo=plan.redo[:-1],
        message=f"redo: the state of version {target.content_of}",
        moved=_count_moves(head.assignment, target.assignment),
    )
    return _answer(request, area, store, plan)


def _count_moves(a: dict[str, int] | None, b: dict[str, int] | None) -> int:
    a, b = a or {}, b or {}
    return sum(1 for g in set(a) | set(b) if a.get(g) != b.get(g))


@router.get("/{plan_id}/compare", response_model=ComparePublic, summary="Compare two versions")
def compare(
    plan_id: PlanId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    a: Annotated[int, Query(ge=1, le=1_000_000_000)],
    b: Annotated[int, Query(ge=1, le=1_000_000_000)],
) -> ComparePublic:
    """Grids and people moved between versions ``a`` and ``b``, and metric deltas."""
    plan = store.get_plan(plan_id)
    va, vb = store.get_version(plan_id, a), store.get_version(plan_id, b)
    sa_, sb_ = va.assignment or {}, vb.assignment or {}
    grids = area.grids.set_index(area.grids["code"].astype(str))
    pop = grids.get("population")
    hh = grids.get("households")
    moves = [g for g in sorted(set(sa_) | set(sb_)) if sa_.get(g) != sb_.get(g)]
    ma, mb = _plans.metrics(area, plan, va), _plans.metrics(area, plan, vb)
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


def _suggestions(area: Area, plan: PlanRow, version: Any, tolerance: float | None, limit: int):
    key = ("suggest", plan.id, version.version, version.created_at, tolerance, limit)
    return area.derived.get_or_make(
        key,
        lambda: _engine.suggest(
            area.grids,
            version.assignment or {},
            tolerance=tolerance or plan.tolerance,
            limit=limit,
            cache=area.derived,
        ),
    )


@router.get("/{plan_id}/suggestions", response_model=SuggestionsPublic, summary="Rebalancing")
def suggestions(
    plan_id: PlanId,
    area: AreaDep,
    store: StoreDep,
    _role: Reader,
    version: VersionQuery = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    tolerance: Annotated[float | None, Query(gt=0, lt=1)] = None,
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
    responses=WRITE_ERRORS,
)
def apply_suggestion(
    plan_id: PlanId,
    rank: Annotated[int, Path(ge=1, le=50)],
    request: Request,
    area: AreaDep,
    store: StoreDep,
    _role: Planner,
    if_match: IfMatch = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    tolerance: Annotated[float | None, Query(gt=0, lt=1)] = None,
) -> Response:
    """Apply suggestion ``rank`` computed on the ``If-Match`` version (a new version)."""
    plan, head, expected = _head(store, plan_id, if_match)
    found = _suggestions(area, plan, head, tolerance, max(limit, rank))
    chosen = next((s for s in found if int(s.get("rank", 0)) == rank), None)
    if chosen is None:
        raise HTTPException(
            404, f"no suggestion {rank} for version {expected}: GET /plans/{plan_id}/suggestions"
        )
    moves = [(str(g), int(chosen["to"])) for g in chosen["grids"]]
    assignment, moved = _plans.apply_moves(area, plan, head.assignment or {}, moves)
    plan = store.commit_version(
        plan_id,
        expected=expected,
        kind="suggestion",
        assignment=assignment,
        moved=moved,
        message=f"suggestion {rank}: {chosen.get('reason', '')}".strip(),
    )
    return _answer(request, area, store, plan)


@router.get(
    "/{plan_id}/export",
    summary="Download a plan",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}, "text/csv": {}}}},
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
