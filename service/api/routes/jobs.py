"""Jobs: status and progress of a computation started by a POST on an artifact."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import JobsDep
from service.api.errors import error_responses
from service.api.schemas import JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get(
    "/{job_id}", response_model=JobOut, responses=error_responses(404), operation_id="get_job"
)
def get_job(job_id: str, jobs: JobsDep) -> JobOut:
    """queued → running → done | failed, with per-chunk progress and the artifact's link."""
    return JobOut.of(jobs.get(job_id))
