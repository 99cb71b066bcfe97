"""Summary, translation and commitments of a stored document: compute (as a job) and read.

``POST`` returns a stored artifact at once (200); otherwise it starts (or joins) the job that
computes it: 202 with ``Location: /v1/jobs/{id}``, or 200 with the artifact when it is ready
within ``?wait=N`` seconds. ``GET`` reads the stored artifact as JSON or Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from service.api.deps import JobsDep, ReaderDep
from service.api.jobs import JobRunner
from service.api.markdown import MEDIA_TYPE, artifact_markdown
from service.api.schemas import ErrorOut, JobOut
from service.artifacts import (
    KINDS,
    Artifact,
    ArtifactKind,
    CommitmentsArtifact,
    SummaryArtifact,
    TranslationArtifact,
)
from service.errors import InputError, NotComputed
from service.library import ARTIFACT
from service.reader import Reader
from service.tasks.registry import prompt_tasks

router = APIRouter(prefix="/documents", tags=["artifacts"])

MODELS: dict[ArtifactKind, type[BaseModel]] = {
    "summary": SummaryArtifact,
    "translation": TranslationArtifact,
    "commitments": CommitmentsArtifact,
}
MAX_WAIT_S = 60.0
VERSION = r"^v\d{1,4}$"
VERSIONS = r"^[a-z_]{1,40}:v\d{1,4}(,[a-z_]{1,40}:v\d{1,4}){0,9}$"

PromptVersion = Annotated[
    str | None, Query(pattern=VERSION, description="Prompt version for the kind's prompts (A/B).")
]
PromptVersions = Annotated[
    str | None, Query(pattern=VERSIONS, description="Per prompt task, e.g. translate:v2.")
]


def resolve_versions(
    reader: Reader, kind: ArtifactKind, prompt_version: str | None, versions: str | None
) -> dict[str, str]:
    """Prompt overrides for this kind, each checked against the prompt files (else 422)."""
    registry, mode = reader.gateway.registry, reader.gateway.profile.mode
    known = {t: {p.version for p in registry.versions(t, mode)} for t in prompt_tasks(kind)}
    chosen: dict[str, str] = {}
    if prompt_version is not None:
        chosen = {t: prompt_version for t, have in known.items() if prompt_version in have}
        if not chosen:
            raise InputError(f"No {mode} prompt version {prompt_version} for {kind}.")
    for pair in versions.split(",") if versions else ():
        task, _, version = pair.partition(":")
        if version not in known.get(task, set()):
            tasks = ", ".join(prompt_tasks(kind))
            raise InputError(f"No {mode} prompt {task} {version} for {kind} (its tasks: {tasks}).")
        chosen[task] = version
    return chosen


def artifact_response(artifact: Artifact, status: int = 200) -> Response:
    # Already validated: serialise once, skip FastAPI's re-validation of the response model.
    body = artifact.model_dump_json()
    return Response(body, status_code=status, media_type="application/json")


def job_response(jobs: JobRunner, job_id: str) -> Response:
    body = JobOut.of(jobs.get(job_id)).model_dump_json()
    headers = {"Location": f"/v1/jobs/{job_id}"}
    return Response(body, status_code=202, media_type="application/json", headers=headers)


def post_handler(kind: ArtifactKind) -> Callable[..., Awaitable[Response]]:
    async def compute(
        doc_id: str,
        reader: ReaderDep,
        jobs: JobsDep,
        force: bool = False,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description="Seconds to wait.")] = 0,
        prompt_version: PromptVersion = None,
        versions: PromptVersions = None,
    ) -> Response:
        reader.library.get(doc_id)
        chosen = resolve_versions(reader, kind, prompt_version, versions)
        if not force and (stored := reader.stored(doc_id, kind, chosen)) is not None:
            return artifact_response(stored)
        job, _ = jobs.submit(doc_id, kind, versions=chosen, force=force)
        if wait > 0 and (outcome := await jobs.wait(job, wait)) is not None:
            if outcome.error is not None:
                raise outcome.error
            assert outcome.artifact is not None
            return artifact_response(outcome.artifact)
        return job_response(jobs, job.id)

    compute.__doc__ = f"""Compute the {kind}: stored → 200; else a job (202, or 200 within wait)."""
    return compute


def get_handler(kind: ArtifactKind) -> Callable[..., Awaitable[Response]]:
    async def read(
        doc_id: str,
        reader: ReaderDep,
        jobs: JobsDep,
        format: Literal["json", "markdown"] = "json",
        bilingual: Annotated[bool, Query(description="Translation Markdown with Chinese.")] = False,
        prompt_version: PromptVersion = None,
        versions: PromptVersions = None,
    ) -> Response:
        chosen = resolve_versions(reader, kind, prompt_version, versions)
        row = reader.library.store.get_artifact(doc_id, kind, reader.variant(kind, chosen))
        if row is None:
            reader.library.get(doc_id)  # unknown id → 404 not_found
            raise not_computed(jobs, doc_id, kind, chosen)
        if format == "markdown":
            artifact = ARTIFACT.validate_python(row.payload)
            text = artifact_markdown(reader.library.get(doc_id), artifact, bilingual=bilingual)
            return Response(text, media_type=MEDIA_TYPE)
        # The payload was validated when it was saved: send it as stored (the hot path).
        body = json.dumps(row.payload, ensure_ascii=False, separators=(",", ":"))
        return Response(body.encode(), media_type="application/json")

    read.__doc__ = f"""The stored {kind} as JSON or Markdown; 404 not_computed if none yet."""
    return read


def not_computed(
    jobs: JobRunner, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
) -> NotComputed:
    job = jobs.running_job(doc_id, kind, versions)
    hint = f"job {job.id} is computing it" if job else f"POST /v1/documents/{doc_id}/{kind}"
    detail = {"job": f"/v1/jobs/{job.id}"} if job else None
    return NotComputed(f"No {kind} for document {doc_id} yet; {hint}.", detail=detail)


def _responses(kind: ArtifactKind, *codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {200: {"model": MODELS[kind]}}
    return out | {code: {"model": ErrorOut} for code in codes}


for _kind in KINDS:
    router.add_api_route(
        f"/{{doc_id}}/{_kind}",
        post_handler(_kind),
        methods=["POST"],
        status_code=202,
        response_model=None,
        responses={**_responses(_kind, 404, 409, 422, 502, 503), 202: {"model": JobOut}},
        summary=f"Compute the {_kind}",
        operation_id=f"compute_{_kind}",
    )
    router.add_api_route(
        f"/{{doc_id}}/{_kind}",
        get_handler(_kind),
        methods=["GET"],
        response_model=None,
        responses={
            **_responses(_kind, 404, 422),
            200: {
                "model": MODELS[_kind],
                "content": {"text/markdown": {"schema": {"type": "string"}}},
            },
        },
        summary=f"Read the stored {_kind}",
        operation_id=f"read_{_kind}",
    )
