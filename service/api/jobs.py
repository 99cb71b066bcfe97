"""In-process job runner: one asyncio task per artifact being computed, recorded in the store.

Bounds (so a flood of POSTs cannot create unbounded work):
- at most ``settings.concurrency`` jobs *run* at once (the rest wait as ``queued``), and every
  model call of every job still goes through the gateway's own slots of the same size;
- at most ``QUEUE_FACTOR * settings.concurrency`` jobs exist (queued + running); past that a
  new job is refused with 503 ``busy`` and ``Retry-After``.
Identical requests (same document, kind and variant) share one job; a forced recompute while a
plain job for the same artifact runs is a 409 conflict. The job row (status, progress, error)
lives in the store's jobs table, so any worker can answer ``GET /v1/jobs/{id}``; the task
itself lives in this process. Jobs still active at shutdown are marked failed.

That is the SQLite default (one machine, one API process). With PostgreSQL the API uses
``QueueJobs`` instead: the same interface (``Jobs``) over the durable queue of
``service/queue`` (the jobs survive the API process; ``?wait`` and cancel work from any worker).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from service.artifacts import ArtifactKind
from service.errors import Busy, Conflict, ServiceError
from service.queue.records import (
    CANCELLED,
    JobKey,
    JobOutcome,
    fail_job,
    first_progress,
    run_job,
)
from service.reader import Reader
from service.store.store import StoredJob
from service.store.tables import ENDED

if TYPE_CHECKING:
    from service.queue.jobs import JobQueue

log = logging.getLogger("service.api.jobs")

QUEUE_FACTOR = 8


class Jobs(Protocol):
    """What the routes need from a job runner (in-process or the queue)."""

    async def submit(
        self, doc_id: str, kind: ArtifactKind, *, versions: Mapping[str, str], force: bool
    ) -> tuple[str, bool]: ...

    async def wait(self, job_id: str, timeout: float) -> JobOutcome | None: ...

    async def live_job(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
    ) -> str | None: ...

    def get(self, job_id: str) -> StoredJob: ...

    def recent(self, *, status: str | None, limit: int) -> list[StoredJob]: ...

    async def cancel(self, job_id: str) -> StoredJob: ...

    async def cancel_document(self, doc_id: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class Job:
    id: str
    key: JobKey
    force: bool
    versions: dict[str, str]
    progress: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[JobOutcome] | None = None

    @property
    def doc_id(self) -> str:
        return self.key[0]

    @property
    def kind(self) -> ArtifactKind:
        return self.key[1]


class JobRunner:
    """In-process jobs (the SQLite default): see the module doc."""

    def __init__(self, reader: Reader, *, running: int) -> None:
        self.reader = reader
        self.store = reader.library.store
        self.capacity = QUEUE_FACTOR * running
        self._slots = asyncio.Semaphore(running)
        self._active: dict[JobKey, Job] = {}

    async def live_job(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
    ) -> str | None:
        """The id of the queued or running job for this artifact, if any."""
        job = self._active.get((doc_id, kind, self.reader.variant(kind, versions)))
        return None if job is None else job.id

    async def submit(
        self, doc_id: str, kind: ArtifactKind, *, versions: Mapping[str, str], force: bool
    ) -> tuple[str, bool]:
        """The job computing this artifact: a running one (shared) or a new one (created)."""
        key: JobKey = (doc_id, kind, self.reader.variant(kind, versions))
        current = self._active.get(key)
        if current is not None:
            if force and not current.force:
                raise Conflict(
                    f"Job {current.id} is computing this {kind} without force; wait for it, "
                    "then POST again with force=true.",
                    detail={"job": current.id},
                )
            return current.id, False
        if len(self._active) >= self.capacity:
            raise Busy(f"{self.capacity} jobs are queued or running; retry shortly.")
        return self._start(key, dict(versions), force).id, True

    def _start(self, key: JobKey, versions: dict[str, str], force: bool) -> Job:
        progress = first_progress(key, versions, force)
        row = self.store.create_job(key[1], key[0], progress)
        job = Job(row.id, key, force, versions, progress)
        self._active[key] = job
        job.task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        job.task.add_done_callback(lambda _: self._active.pop(key, None))
        return job

    async def _run(self, job: Job) -> JobOutcome:
        async with self._slots:
            return await run_job(
                self.reader, job.id, job.key, job.versions, job.force, job.progress,
                log_name="server",
            )  # fmt: skip

    async def wait(self, job_id: str, timeout: float) -> JobOutcome | None:
        """The job's outcome if it ends within ``timeout`` seconds (the job keeps running)."""
        job = next((j for j in self._active.values() if j.id == job_id), None)
        if job is None or job.task is None:
            return None
        done, _ = await asyncio.wait({job.task}, timeout=timeout)
        return job.task.result() if done else None

    def get(self, job_id: str) -> StoredJob:
        return self.store.get_job(job_id)

    def recent(self, *, status: str | None, limit: int) -> list[StoredJob]:
        return self.store.list_jobs(status=status, limit=limit)

    async def cancel(self, job_id: str) -> StoredJob:
        """Stop a queued or running job of this process; its row ends failed with the reason."""
        row = self.store.get_job(job_id)
        job = next((j for j in self._active.values() if j.id == job_id), None)
        if row.status in ENDED or job is None:
            raise Conflict(f"Job {job_id} is not queued or running ({row.status}).")
        await self._cancel([job], "cancelled by request")
        return self.store.get_job(job_id)

    async def cancel_document(self, doc_id: str) -> None:
        """Stop the jobs of a deleted document (their artifacts would be orphans)."""
        jobs = [j for j in self._active.values() if j.doc_id == doc_id]
        await self._cancel(jobs, "the document was deleted")

    async def aclose(self) -> None:
        await self._cancel(list(self._active.values()), "the server shut down")

    async def _cancel(self, jobs: list[Job], why: str) -> None:
        tasks = [j.task for j in jobs if j.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in jobs:
            if job.task is not None and job.task.cancelled():
                fail_job(
                    self.reader,
                    job.id,
                    job.progress,
                    ServiceError(f"Job cancelled: {why}."),
                    CANCELLED,
                )


class QueueJobs:
    """The routes' ``Jobs`` over the durable queue (PostgreSQL); see ``service/queue``."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.store = queue.store

    async def submit(
        self, doc_id: str, kind: ArtifactKind, *, versions: Mapping[str, str], force: bool
    ) -> tuple[str, bool]:
        return await self.queue.submit(doc_id, kind, versions=versions, force=force)

    async def wait(self, job_id: str, timeout: float) -> JobOutcome | None:
        return await self.queue.wait(job_id, timeout)

    async def live_job(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
    ) -> str | None:
        return await self.queue.live_job(doc_id, kind, versions)

    def get(self, job_id: str) -> StoredJob:
        return self.store.get_job(job_id)

    def recent(self, *, status: str | None, limit: int) -> list[StoredJob]:
        return self.store.list_jobs(status=status, limit=limit)

    async def cancel(self, job_id: str) -> StoredJob:
        return await self.queue.cancel(job_id)

    async def cancel_document(self, doc_id: str) -> None:
        await self.queue.cancel_document(doc_id)

    async def aclose(self) -> None:
        """Nothing to stop: the jobs belong to the queue's workers, not to this process."""
