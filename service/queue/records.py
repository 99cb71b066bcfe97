"""What both job runners share: a job's first progress record, its outcome, its key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from service.artifacts import Artifact, ArtifactKind
from service.errors import ServiceError

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
