"""What both job runners share (the API's in-process one and the queue's worker): a job's
first progress record, how it is run and recorded, its outcome, its key."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from service.artifacts import Artifact, ArtifactKind
from service.errors import ServiceError
from service.tasks.context import ProgressEvent

if TYPE_CHECKING:
    from service.reader import Reader

log = logging.getLogger("service.queue.records")

JobKey = tuple[str, ArtifactKind, str]  # (doc_id, kind, variant)
CANCELLED = "cancelled"  # the error_code of a cancelled job (status failed)


@dataclass
class JobOutcome:
    artifact: Artifact | None = None
    error: ServiceError | None = None


def artifact_link(doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]) -> str:
    """Where the finished artifact is read (with the prompt overrides that made it)."""
    query = urlencode({"versions": format_versions(versions)}) if versions else ""
    return f"/v1/documents/{doc_id}/{kind}" + (f"?{query}" if query else "")


def format_versions(versions: Mapping[str, str]) -> str:
    return ",".join(f"{task}:{version}" for task, version in sorted(versions.items()))


def first_progress(key: JobKey, versions: Mapping[str, str], force: bool) -> dict[str, Any]:
    """A new job's progress record: counters at zero, what it computes and where to read it."""
    doc_id, kind, _ = key
    progress: dict[str, Any] = {"done": 0, "total": 0, "cached": 0, "failed": 0, "force": force}
    progress["versions"] = dict(versions)
    progress["artifact"] = artifact_link(doc_id, kind, versions)
    return progress


def error_of(code: str, message: str) -> ServiceError:
    """The ServiceError a failed job recorded (by its code), to raise it again elsewhere."""
    pending: list[type[ServiceError]] = [ServiceError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls(message)
        pending.extend(cls.__subclasses__())
    return ServiceError(message)


async def run_job(
    reader: Reader, job_id: str, key: JobKey, versions: dict[str, str], force: bool,
    progress: dict[str, Any], *, log_name: str,
) -> JobOutcome:  # fmt: skip
    """Compute the job's artifact, its row saying running, its progress, then done or failed
    with the reason; a bug fails the job (logged), never the runner. ``progress`` is updated
    in place; ``log_name`` says where a crash is logged ("server", "worker")."""
    store = reader.library.store
    doc_id, kind, _ = key
    store.update_job(job_id, status="running", progress=progress)

    def on_progress(event: ProgressEvent) -> None:
        progress.update(done=event.done, total=event.total, step=event.task)
        progress["cached"] = progress.get("cached", 0) + int(event.cached)
        progress["failed"] = progress.get("failed", 0) + int(event.failed)
        store.set_progress(job_id, progress)

    try:
        artifact = await reader.compute(
            doc_id, kind, force=force, versions=versions, progress=on_progress
        )
    except ServiceError as exc:
        fail_job(reader, job_id, progress, exc)
        return JobOutcome(error=exc)
    except Exception:  # a bug: log it, fail the job with a reason, keep the runner up
        log.exception("job %s crashed", job_id)
        error = ServiceError(f"Internal error while computing; see the {log_name} log.")
        fail_job(reader, job_id, progress, error)
        return JobOutcome(error=error)
    store.update_job(job_id, status="done", progress=progress)
    return JobOutcome(artifact=artifact)


def fail_job(
    reader: Reader, job_id: str, progress: dict[str, Any], exc: ServiceError, code: str = ""
) -> None:
    """The job's row: failed, with the error's message and code (``code`` overrides it)."""
    progress["error_code"] = code or exc.code
    reader.library.store.update_job(job_id, status="failed", progress=progress, error=exc.message)
