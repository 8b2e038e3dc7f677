"""Uploads: boundaries, community boundaries, service points and household tables.

Each file is size-limited while it streams in, checked by content (never by
the name the client sent) in a worker thread (the event loop keeps serving),
bounded in unpacked size and features, stored under a generated name in the
state folder's ``uploads/`` (kept across rebuilds), and read back to validate
it; problems come back as 4xx naming them.  ``POST /builds`` uses them.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, UploadFile
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from api import uploads as checks
from api.area import Area
from api.deps import AreaDep, Planner, Reader, SettingsDep, StoreDep
from api.errors import _problem
from api.schemas import UploadPublic
from api.settings import Settings
from api.state import uploads_dir
from api.store import Store
from gis._errors import TooLargeError

router = APIRouter(prefix="/uploads", tags=["uploads"])


async def _read_limited(file: UploadFile, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(1 << 16):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413,
                f"the file is larger than the {limit} bytes limit "
                "(GRIDPLAN_MAX_UPLOAD_BYTES): split it",
            )
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    return data


@router.post(
    "/{kind}",
    status_code=201,
    response_model=UploadPublic,
    summary="Upload a layer or table",
    responses={
        400: _problem("empty file"),
        403: _problem("a viewer token"),
        404: _problem("unknown upload kind"),
        413: _problem("larger than a limit (bytes, unpacked bytes, features)"),
        415: _problem("unknown file type"),
    },
)
async def upload(
    kind: Annotated[str, PathParam(max_length=40)],
    file: UploadFile,
    area: AreaDep,
    store: StoreDep,
    settings: SettingsDep,
    _role: Planner,
) -> UploadPublic:
    """Validate and keep an uploaded boundary, community, service or household file."""
    if kind not in checks.KINDS:
        raise HTTPException(404, f"no upload kind {kind!r}: use one of {', '.join(checks.KINDS)}")
    data = await _read_limited(file, settings.max_upload_bytes)
    try:
        return await run_in_threadpool(_keep, kind, data, area, store, settings)
    except TooLargeError as exc:
        raise HTTPException(413, str(exc)) from exc
    except checks.UnknownTypeError as exc:
        raise HTTPException(415, str(exc)) from exc


def _keep(kind: str, data: bytes, area: Area, store: Store, settings: Settings) -> UploadPublic:
    """Check ``data`` as ``kind`` and keep it in the state folder (a worker thread)."""
    upload_id = f"u-{uuid.uuid4().hex[:12]}"
    if kind == "households":
        fmt = checks.households_format(data)
        checks.check_bytes(  # a workbook's unpacked size, as a zipped Shapefile's
            data,
            fmt,
            max_unzipped=settings.max_unzipped_bytes,
            max_features=settings.max_upload_features,
        )
        summary = checks.check_households(data, max_rows=settings.max_upload_features)
    else:
        fmt = checks.sniff(data)
        checks.check_bytes(
            data,
            fmt,
            max_unzipped=settings.max_unzipped_bytes,
            max_features=settings.max_upload_features,
        )
    suffix = checks.SUFFIX[fmt]
    path = uploads_dir(settings.state_folder) / f"{upload_id}{suffix}"
    tmp = path.with_name(f".{upload_id}.part{suffix}")  # GDAL reads by the suffix
    tmp.write_bytes(data)
    try:
        if kind != "households":
            summary = checks.check_layer(
                tmp,
                kind,
                area_bbox=area.bbox(),
                max_features=settings.max_upload_features,
            )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    store.add_upload(upload_id, kind, path.name, {"format": fmt, **summary})
    return UploadPublic(id=upload_id, kind=kind, format=fmt, **summary)


@router.get("", summary="Uploaded files")
def list_uploads(store: StoreDep, _role: Reader) -> list[dict[str, Any]]:
    """Every validated upload, oldest first."""
    return store.list_uploads()
