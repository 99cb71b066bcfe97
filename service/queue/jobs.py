"""Jobs through the queue: submit (at most one live job per artifact), wait, cancel, retry.

Any API worker or command can do each of these: the state is in the database. ``?wait``
polls the job's row; at most one live job per (document, kind, variant) holds because a
submit looks for a live procrastinate job of that key and defers a new one under an
advisory lock on the key (procrastinate's ``queueing_lock`` alone admits one *waiting* job
beside a running one); the same key is the job's execution ``lock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from procrastinate import App
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.artifacts import ArtifactKind
from service.errors import Conflict, ServiceError
from service.queue.db import (
    ADMIT_LOCK,
    QUEUE,
    TASK,
    advisory_lock,
    ensure_schema,
    make_app,
    make_pool,
)
from service.queue.records import CANCELLED, JobKey, JobOutcome, error_of, first_progress
from service.reader import Reader
from service.store.store import StoredJob
from service.store.tables import ENDED

POLL_S = 0.1
LIVE_SQL = (
    "SELECT id, args FROM procrastinate_jobs WHERE queueing_lock = %s"
    " AND status IN ('todo', 'doing') ORDER BY id LIMIT 1"
)
BY_ROW_SQL = (
    "SELECT id, status FROM procrastinate_jobs WHERE args->>'job_id' = %s ORDER BY id DESC LIMIT 1"
)


def lock_key(key: JobKey) -> str:
    return "/".join(key)


class JobQueue:
    """The queue's operations for one process (an API worker or a command)."""

    def __init__(self, reader: Reader, app: App, pool: AsyncConnectionPool) -> None:
        self.reader = reader
        self.store = reader.library.store
        self.app = app
        self.pool = pool

    @classmethod
    @asynccontextmanager
    async def open(cls, reader: Reader, database_url: str) -> AsyncIterator[JobQueue]:
        app = make_app(database_url)
        await ensure_schema(app, database_url)
        async with make_pool(database_url, 4) as pool, app.open_async():
            yield cls(reader, app, pool)

    def key(self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]) -> JobKey:
        return (doc_id, kind, self.reader.variant(kind, versions))

    async def submit(
        self, doc_id: str, kind: ArtifactKind, *, versions: Mapping[str, str], force: bool
    ) -> tuple[str, bool]:
        """The live job computing this artifact (joined) or a new one (created)."""
        key = self.key(doc_id, kind, versions)
        async with self.pool.connection() as conn, advisory_lock(conn, ADMIT_LOCK, lock_key(key)):
            live = await self._live(conn, lock_key(key))
            if live is not None:
                if force and not live.get("force", False):
                    raise Conflict(
                        f"Job {live['job_id']} is computing this {kind} without force; wait "
                        "for it, then POST again with force=true.",
                        detail={"job": live["job_id"]},
                    )
                return str(live["job_id"]), False
            return await self._create(key, versions, force), True

    async def live_job(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
    ) -> str | None:
        """The id of the queued or running job for this artifact, if any."""
        async with self.pool.connection() as conn:
            live = await self._live(conn, lock_key(self.key(doc_id, kind, versions)))
        return None if live is None else str(live["job_id"])

    async def _live(self, conn: AsyncConnection[Any], lock: str) -> dict[str, Any] | None:
        row = await (await conn.execute(LIVE_SQL, (lock,))).fetchone()
        return None if row is None else dict(row[1])

    async def _create(self, key: JobKey, versions: Mapping[str, str], force: bool) -> str:
        doc_id, kind, _ = key
        row = self.store.create_job(kind, doc_id, first_progress(key, versions, force))
        await self.defer(row.id, key, versions, force)
        return row.id

    async def defer(
        self, job_id: str, key: JobKey, versions: Mapping[str, str], force: bool
    ) -> None:
        lock = lock_key(key)
        task = self.app.configure_task(TASK, queue=QUEUE, lock=lock, queueing_lock=lock)
        await task.defer_async(
            job_id=job_id, doc_id=key[0], kind=key[1], force=force, versions=dict(versions)
        )

    async def wait(self, job_id: str, timeout: float) -> JobOutcome | None:
        """The job's outcome if it ends within ``timeout`` seconds (read from the database)."""
        job = await self.watch(job_id, timeout=timeout)
        return None if job is None else self.outcome(job)

    async def watch(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        seen: Callable[[StoredJob], None] | None = None,
        poll_s: float = POLL_S,
    ) -> StoredJob | None:
        """The job's row once it has ended, or None after ``timeout`` seconds; ``seen`` gets
        every row read on the way. The database is read off the event loop."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            job = await asyncio.to_thread(self.store.get_job, job_id)
            if seen is not None:
                seen(job)
            if job.status in ENDED:
                return job
            if deadline is not None and loop.time() >= deadline:
                return None
            await asyncio.sleep(poll_s)

    def outcome(self, job: StoredJob) -> JobOutcome:
        if job.status == "failed":
            code = str(job.progress.get("error_code", "job_failed"))
            return JobOutcome(error=error_of(code, job.error or "The job failed."))
        versions = job.progress.get("versions", {})
        artifact = self.reader.stored(str(job.doc_id), job.kind, versions)  # type: ignore[arg-type]
        if artifact is None:  # recomputed since, under another variant: say so, do not guess
            return JobOutcome(error=ServiceError(f"Job {job.id} is done but its artifact is gone."))
        return JobOutcome(artifact=artifact)

    async def cancel(self, job_id: str, why: str = "cancelled by request") -> StoredJob:
        """Stop a queued or running job; its row ends failed with the reason."""
        job = self.store.get_job(job_id)
        if job.status in ENDED:
            raise Conflict(f"Job {job_id} has already ended ({job.status}).")
        async with self.pool.connection() as conn:
            row = await (await conn.execute(BY_ROW_SQL, (job_id,))).fetchone()
        if row is not None:
            await self.app.job_manager.cancel_job_by_id_async(row[0], abort=True)
        return self.fail(job, ServiceError(f"Job cancelled: {why}."), code=CANCELLED)

    def fail(self, job: StoredJob, error: ServiceError, *, code: str | None = None) -> StoredJob:
        progress = {**job.progress, "error_code": code or error.code}
        return self.store.update_job(
            job.id, status="failed", progress=progress, error=error.message
        )

    async def cancel_document(self, doc_id: str) -> None:
        """Stop the live jobs of a deleted document (their artifacts would be orphans)."""
        for job in self.store.live_jobs(doc_id):
            await self.cancel(job.id, "the document was deleted")

    async def retry(self, job_id: str) -> tuple[str, bool]:
        """A failed job again: a new job for the same artifact (or the live one)."""
        job = self.store.get_job(job_id)
        if job.status != "failed" or job.doc_id is None:
            raise Conflict(f"Job {job_id} is {job.status}; only a failed job is retried.")
        self.reader.library.get(job.doc_id)  # a deleted document → 404
        versions = job.progress.get("versions", {})
        force = bool(job.progress.get("force", False))
        return await self.submit(job.doc_id, job.kind, versions=versions, force=force)  # type: ignore[arg-type]
