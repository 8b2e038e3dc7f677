"""Rebuilds of the served folder as jobs: the area's source, the planners' uploads, new targets.

``POST /builds`` runs ``gis.pipeline.build`` over the source the folder was
built from, with the uploaded households table and community boundaries
and the grid targets it names.  The build writes a new folder and swaps it
in only when every file is written, so a failed build changes nothing; the
plans live in the state folder and are kept, marked when their grids
changed; the job's result reports what changed.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from api import plans
from api.area import Area, ServedFolder
from api.deps import AreaDep, BaseUrl, JobsDep, Planner, Reader, SettingsDep, StoreDep
from api.errors import BODY_RESPONSES, _problem
from api.routes import _engine
from api.routes.jobs import job_public
from api.schemas import BuildCreate, BuildPublic, JobPublic
from api.settings import Settings
from api.state import uploads_dir
from api.store import Store
from gis.outputs import json_safe

router = APIRouter(prefix="/builds", tags=["builds"])

ROOT = Path(__file__).resolve().parents[2]
_one_build_at_a_time = threading.Lock()


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    summary="Rebuild the grids (a job)",
    responses={
        **BODY_RESPONSES,
        403: _problem("a viewer token"),
        404: _problem("unknown upload"),
        409: _problem("the folder's source cannot be found"),
        429: _problem("too many jobs queued: retry after Retry-After seconds"),
    },
)
def create_build(
    body: BuildCreate,
    request: Request,
    base: BaseUrl,
    area: AreaDep,
    store: StoreDep,
    jobs: JobsDep,
    settings: SettingsDep,
    _role: Planner,
) -> JSONResponse:
    """Rebuild the served folder from its source with uploads and grid targets.

    The job's result (``GET /jobs/{id}``) says which grids were added and
    removed, how households changed per grid, and which plans are marked.
    """
    from gis.pipeline import BuildOptions

    source = _source(area)
    targets = body.targets
    low, high = targets.households_min, targets.households_max
    if low is not None and high is not None and low > high:
        raise HTTPException(422, "targets: households_min is above households_max")
    options = BuildOptions(
        households_min=targets.households_min,
        households_max=targets.households_max,
        residents_max=targets.residents_max,
        households=_upload(store, settings, body.households, "households"),
        communities=_upload(store, settings, body.communities, "communities"),
        crs=area.meta.get("crs"),
    )
    folder: ServedFolder = request.app.state.folder

    def work(progress: _engine.Progress) -> dict[str, Any]:
        return rebuild(folder, store, source, options, progress=progress)

    job = jobs.submit("build", work)
    public = job_public(base, job)
    return JSONResponse(
        public.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )


def rebuild(
    folder: ServedFolder,
    store: Store,
    source: Path,
    options: Any,
    *,
    progress: _engine.Progress,
) -> dict[str, Any]:
    """Build ``source`` into the served folder, swap it in and report what changed."""
    from gis.pipeline import build

    with _one_build_at_a_time:
        before = folder.current()
        old = _households(before)
        steps = iter(range(1, 100))
        result = build(
            source,
            folder.data_dir,
            options=options,
            progress=lambda step: progress(min(0.95, next(steps) / 10), step),
        )
        after = folder.current()  # the new folder, served from now on
        new = dict(
            zip(
                result.grids["code"].astype(str),
                result.grids["households"].astype(float),
                strict=True,
            )
        )
    changed = {
        code: round(new[code] - old[code], 3)
        for code in sorted(set(old) & set(new))
        if abs(new[code] - old[code]) > 1e-6
    }
    marked = [
        plan.id for plan, head in store.list_heads() if plans.grid_changes(after, head.assignment)
    ]
    report = BuildPublic(
        id=f"b-{uuid.uuid4().hex[:10]}",
        grids_before=len(old),
        grids_after=len(new),
        grids_added=sorted(set(new) - set(old)),
        grids_removed=sorted(set(old) - set(new)),
        households_changed=changed,
        plans_marked=marked,
        summary=json_safe(result.summary),
    )
    result_ = report.model_dump(mode="json")
    store.add_build(report.id, None, result_)
    return result_


@router.get("", summary="Past rebuilds")
def list_builds(store: StoreDep, _role: Reader) -> list[dict[str, Any]]:
    """Every rebuild made through ``POST /builds``, oldest first, with what it changed."""
    return store.list_builds()


def _households(area: Area) -> dict[str, float]:
    grids = area.grids
    if "households" not in grids.columns:
        return {str(c): 0.0 for c in grids.get("code", [])}
    return dict(zip(grids["code"].astype(str), grids["households"].astype(float), strict=True))


def _source(area: Area) -> Path:
    """The source the served folder was built from (its ``build.json``)."""
    given = area.meta.get("source")
    if not given:
        raise HTTPException(
            409,
            "this folder has no build.json naming its source: rebuild it with "
            "`gridplan build SOURCE --out DIR` once, then POST /builds works",
        )
    path = Path(str(given))
    for candidate in (path, Path.cwd() / path, ROOT / path):
        if candidate.exists():
            return candidate.resolve()
    raise HTTPException(
        409,
        f"the source {given} this folder was built from is not found on the server: "
        "rebuild it with `gridplan build SOURCE --out DIR`",
    )


def _upload(store: Store, settings: Settings, upload_id: str | None, kind: str) -> Path | None:
    if upload_id is None:
        return None
    found = store.get_upload(upload_id)
    if found["kind"] != kind:
        raise HTTPException(404, f"no {kind} upload {upload_id!r}: GET /uploads lists them")
    return uploads_dir(settings.state_folder) / str(found["stored"])
