"""``policy-reader worker``: takes jobs from the queue, computes them, recovers stalled ones.

Each worker heartbeats every HEARTBEAT_S; one that missed STALLED_S of heartbeats (killed,
OOM, the machine gone) is stalled, and every worker's recovery loop puts its jobs back in the
queue, where another worker takes them and resumes from the call cache (what the dead worker
committed). An answer it had received but not yet committed is asked again, unless the workers
go through a relay (READER_RELAY_URL, ``service/api/relay.py``), which gives it again from
memory. A job whose workers died MAX_ATTEMPTS times ends failed with that reason instead.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import psycopg
from procrastinate import App, JobContext
from procrastinate.jobs import Status

from service.artifacts import ArtifactKind
from service.config import Settings
from service.errors import ServiceError
from service.queue.db import QUEUE, TASK, conninfo, ensure_schema, make_app, make_pool
from service.queue.records import CANCELLED, JobKey, fail_job, run_job
from service.queue.slots import KeyLocks, SharedSlots
from service.reader import Reader
from service.store.store import Store

if TYPE_CHECKING:
    from service.llm.gateway import Gateway

log = logging.getLogger("service.queue.worker")

HEARTBEAT_S = 2.0
STALLED_S = 10.0
RECOVER_EVERY_S = 3.0
MAX_ATTEMPTS = 3
# How a worker runs procrastinate's loop. A succeeded procrastinate job is deleted: the jobs
# table is the record, and the queue's table (scanned by job id on a cancel) stays small.
RUN_OPTIONS: dict[str, Any] = {
    "delete_jobs": "successful",
    "update_heartbeat_interval": HEARTBEAT_S,
    "stalled_worker_timeout": STALLED_S,
    "fetch_job_polling_interval": 1.0,
    "abort_job_polling_interval": 1.0,
}


class Worker:
    """One worker process: a reader, the shared model slots, the queue's task."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.store: Store = reader.library.store

    async def compute(
        self, job_id: str, doc_id: str, kind: ArtifactKind, versions: dict[str, str], force: bool
    ) -> None:
        """The task: the row says running, then done or failed with the reason."""
        job = self.store.get_job(job_id)
        if job.status == "failed" and job.progress.get("error_code") == CANCELLED:
            return
        progress = {**job.progress, "attempt": int(job.progress.get("attempt", 0)) + 1}
        key: JobKey = (doc_id, kind, "")
        await run_job(self.reader, job_id, key, versions, force, progress, log_name="worker")

    def register(self, app: App) -> None:
        async def compute_artifact(context: JobContext, /, **args: Any) -> None:
            await self.compute(**args)

        app.task(name=TASK, queue=QUEUE, pass_context=True)(compute_artifact)

    async def recover(self, app: App) -> None:
        """Put the jobs of dead workers back in the queue (or fail them after MAX_ATTEMPTS)."""
        manager = app.job_manager
        stalled = await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=STALLED_S)
        for job in stalled:
            assert job.id is not None
            if job.attempts + 1 >= MAX_ATTEMPTS:
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
                why = f"The workers running this job died {MAX_ATTEMPTS} times."
                job_id = str(job.task_kwargs["job_id"])
                progress = dict(self.store.get_job(job_id).progress)
                fail_job(self.reader, job_id, progress, ServiceError(why))
                continue
            log.warning("job %s: its worker died; queued again", job.task_kwargs.get("job_id"))
            await manager.retry_job(job)
        await manager.prune_stalled_workers(STALLED_S)

    async def recover_forever(self, app: App) -> None:
        while True:
            try:
                await self.recover(app)
            except Exception:  # the database away for a moment: try again next round
                log.exception("recovering stalled jobs failed")
            await asyncio.sleep(RECOVER_EVERY_S)


async def share_calls(gateway: Gateway, url: str, limit: int, stack: AsyncExitStack) -> None:
    """Set ``gateway`` up as a worker without a relay: the database slots (``limit`` calls in
    flight across every process) and the cache-key locks, their connections kept in ``stack``."""
    pool = await stack.enter_async_context(make_pool(url, limit + 1))
    locks = await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True)
    await stack.enter_async_context(locks)
    gateway.shared_hold = SharedSlots(pool, limit).hold
    gateway.key_lock = KeyLocks(locks).hold


async def work(settings: Settings, *, concurrency: int, name: str | None = None) -> None:
    """Run a worker until interrupted (SIGINT/SIGTERM end it after the running jobs)."""
    url = settings.db_url
    app = make_app(url)
    await ensure_schema(app, url)
    async with Reader.open(settings) as reader, AsyncExitStack() as shared:
        if not settings.relay_url:  # else the relay holds the limit and makes each call once
            await share_calls(reader.gateway, url, settings.concurrency, shared)
        worker = Worker(reader)
        worker.register(app)
        async with app.open_async():
            recovery = asyncio.create_task(worker.recover_forever(app))
            try:
                await app.run_worker_async(
                    queues=[QUEUE], concurrency=concurrency, name=name or "worker", **RUN_OPTIONS
                )
            finally:
                recovery.cancel()
