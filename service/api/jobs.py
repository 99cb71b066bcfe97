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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from service.artifacts import Artifact, ArtifactKind
from service.errors import Busy, Conflict, ServiceError
from service.reader import Reader
from service.store.store import StoredJob
from service.tasks.context import ProgressEvent

log = logging.getLogger("service.api.jobs")

QUEUE_FACTOR = 8
JobKey = tuple[str, ArtifactKind, str]  # (doc_id, kind, variant)


@dataclass
class JobOutcome:
    artifact: Artifact | None = None
    error: ServiceError | None = None


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


def artifact_link(doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]) -> str:
    """Where the finished artifact is read (with the prompt overrides that made it)."""
    query = urlencode({"versions": format_versions(versions)}) if versions else ""
    return f"/v1/documents/{doc_id}/{kind}" + (f"?{query}" if query else "")


def format_versions(versions: Mapping[str, str]) -> str:
    return ",".join(f"{task}:{version}" for task, version in sorted(versions.items()))


class JobRunner:
    def __init__(self, reader: Reader, *, running: int) -> None:
        self.reader = reader
        self.store = reader.library.store
        self.capacity = QUEUE_FACTOR * running
        self._slots = asyncio.Semaphore(running)
        self._active: dict[JobKey, Job] = {}

    def running_job(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
    ) -> Job | None:
        """The queued or running job for this artifact, if any."""
        return self._active.get((doc_id, kind, self.reader.variant(kind, versions)))

    def submit(
        self, doc_id: str, kind: ArtifactKind, *, versions: Mapping[str, str], force: bool
    ) -> tuple[Job, bool]:
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
            return current, False
        if len(self._active) >= self.capacity:
            raise Busy(f"{self.capacity} jobs are queued or running; retry shortly.")
        return self._start(key, dict(versions), force), True

    def _start(self, key: JobKey, versions: dict[str, str], force: bool) -> Job:
        row = self.store.create_job(key[1], key[0])
        job = Job(row.id, key, force, versions)
        job.progress = {"done": 0, "total": 0, "cached": 0, "failed": 0, "force": force}
        job.progress["versions"] = versions
        job.progress["artifact"] = artifact_link(key[0], key[1], versions)
        self.store.update_job(job.id, progress=job.progress)
        self._active[key] = job
        job.task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        job.task.add_done_callback(lambda _: self._active.pop(key, None))
        return job

    async def _run(self, job: Job) -> JobOutcome:
        async with self._slots:
            self.store.update_job(job.id, status="running")
            try:
                artifact = await self.reader.compute(
                    job.doc_id,
                    job.kind,
                    force=job.force,
                    versions=job.versions,
                    progress=lambda event: self._progress(job, event),
                )
            except ServiceError as exc:
                self._fail(job, exc)
                return JobOutcome(error=exc)
            except Exception:  # a bug: keep the service up, log it, fail the job
                log.exception("job %s crashed", job.id)
                error = ServiceError("Internal error while computing; see the server log.")
                self._fail(job, error)
                return JobOutcome(error=error)
        self.store.update_job(job.id, status="done", progress=job.progress)
        return JobOutcome(artifact=artifact)

    def _progress(self, job: Job, event: ProgressEvent) -> None:
        p = job.progress
        p.update(done=event.done, total=event.total, step=event.task)
        p["cached"] += int(event.cached)
        p["failed"] += int(event.failed)
        self.store.update_job(job.id, progress=p)

    def _fail(self, job: Job, exc: ServiceError) -> None:
        job.progress["error_code"] = exc.code
        self.store.update_job(job.id, status="failed", progress=job.progress, error=exc.message)

    async def wait(self, job: Job, timeout: float) -> JobOutcome | None:
        """The job's outcome if it ends within ``timeout`` seconds (the job keeps running)."""
        assert job.task is not None
        done, _ = await asyncio.wait({job.task}, timeout=timeout)
        return job.task.result() if done else None

    def get(self, job_id: str) -> StoredJob:
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
                self._fail(job, ServiceError(f"Job cancelled: {why}."))
