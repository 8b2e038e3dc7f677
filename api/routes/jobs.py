"""Long computations: status and progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import BaseUrl, Reader, StoreDep
from api.schemas import JobPublic, Link, Problem
from api.store import JobRow

router = APIRouter(prefix="/jobs", tags=["jobs"])


def job_public(base: str, job: JobRow) -> JobPublic:
    """A job's public form, with a link to its result when done."""
    links = [Link(rel="self", href=f"{base}/jobs/{job.id}", type="application/json")]
    if job.status == "done" and job.result and "plan" in job.result:
        links.append(
            Link(rel="result", href=f"{base}/plans/{job.result['plan']}", type="application/json")
        )
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,  # type: ignore[arg-type]
        progress=job.progress,
        message=job.message,
        result=job.result,
        links=links,
    )


@router.get(
    "/{job_id}", response_model=JobPublic, summary="Job status", responses={404: {"model": Problem}}
)
def get_job(
    job_id: Annotated[str, Path(max_length=64)], base: BaseUrl, store: StoreDep, _role: Reader
) -> JobPublic:
    """Status, progress (0..1) and, when done, a link to the result."""
    return job_public(base, store.get_job(job_id))
