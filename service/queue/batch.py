"""``run --enqueue``: a batch's computations through the queue, progress read from the database.

The runner hands every (document, task) to ``enqueued``: a job on the queue (or the live job
computing the same artifact), then its row polled until it ends; the progress a worker writes
into the row is passed to the run's display as it changes.
"""

from __future__ import annotations

import asyncio

from service.artifacts import Artifact, ArtifactKind
from service.queue.jobs import JobQueue
from service.store.store import StoredJob
from service.store.tables import ENDED
from service.tasks.context import Progress, ProgressEvent

POLL_S = 0.25


class Enqueued:
    """A ``Reader.compute`` look-alike whose computations run on the queue's workers."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def __call__(
        self, doc_id: str, kind: ArtifactKind, *, force: bool, progress: Progress | None = None
    ) -> Artifact:
        job_id, _ = await self.queue.submit(doc_id, kind, versions={}, force=force)
        seen: tuple[int, int] = (-1, -1)
        while (job := self.queue.store.get_job(job_id)).status not in ENDED:
            seen = self._report(job, seen, progress)
            await asyncio.sleep(POLL_S)
        self._report(job, seen, progress)
        outcome = self.queue.outcome(job)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.artifact is not None
        return outcome.artifact

    def _report(
        self, job: StoredJob, seen: tuple[int, int], progress: Progress | None
    ) -> tuple[int, int]:
        now = (int(job.progress.get("done", 0)), int(job.progress.get("total", 0)))
        if progress is not None and now != seen and now[1] > 0:
            step = str(job.progress.get("step", job.kind))
            progress(ProgressEvent(str(job.doc_id), step, now[0], now[1]))
        return now
