"""Jobs: status and progress of a computation started by a POST on an artifact; list, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import JobsDep
from service.api.errors import error_responses
from service.api.schemas import JobOut, JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut], operation_id="list_jobs")
def list_jobs(
    jobs: JobsDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[JobOut]:
    """The newest jobs first (every worker's: they are read from the database)."""
    return [JobOut.of(row) for row in jobs.recent(status=status, limit=limit)]


@router.get(
    "/{job_id}", response_model=JobOut, responses=error_responses(404), operation_id="get_job"
)
def get_job(job_id: str, jobs: JobsDep) -> JobOut:
    """queued → running → done | failed, with per-chunk progress and the artifact's link."""
    return JobOut.of(jobs.get(job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    responses=error_responses(404, 409),
    operation_id="cancel_job",
)
async def cancel_job(job_id: str, jobs: JobsDep) -> JobOut:
    """Stop a queued or running job: it ends ``failed`` with error code ``cancelled``;
    409 when it has already ended (or, without the queue, runs in another API process)."""
    return JobOut.of(await jobs.cancel(job_id))
