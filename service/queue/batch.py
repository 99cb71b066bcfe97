"""``run --enqueue``: a batch's computations through the queue, progress read from the database.

The runner hands every (document, task) to ``enqueued``: a job on the queue (or the live job
computing the same artifact), then its row polled until it ends; the progress a worker writes
into the row is passed to the run's display as it changes.
"""

from __future__ import annotations

from service.artifacts import Artifact, ArtifactKind
from service.queue.jobs import JobQueue
from service.store.store import StoredJob
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
        last: tuple[int, int] = (-1, -1)

        def report(job: StoredJob) -> None:  # each change of (done, total) once
            nonlocal last
            now = (int(job.progress.get("done", 0)), int(job.progress.get("total", 0)))
            if progress is not None and now != last and now[1] > 0:
                step = str(job.progress.get("step", job.kind))
                progress(ProgressEvent(str(job.doc_id), step, now[0], now[1]))
            last = now

        job = await self.queue.watch(job_id, seen=report, poll_s=POLL_S)
        assert job is not None  # no timeout: the row has ended
        outcome = self.queue.outcome(job)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.artifact is not None
        return outcome.artifact
