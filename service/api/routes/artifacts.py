"""Summary, translation and commitments of a stored document: compute (as a job) and read.

``POST`` returns a stored artifact at once (200); otherwise it starts (or joins) the job that
computes it: 202 with ``Location: /v1/jobs/{id}``, or 200 with the artifact when it is ready
within ``?wait=N`` seconds. ``GET`` reads the stored artifact as JSON or Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from service.api.deps import JobsDep, ReaderDep
from service.api.errors import error_responses
from service.api.jobs import Jobs
from service.api.markdown import MEDIA_TYPE, artifact_markdown
from service.api.schemas import JobOut
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


def known_versions(reader: Reader, kind: ArtifactKind) -> dict[str, list[str]]:
    """The prompt versions of this kind's tasks in the reader's prompt mode, per task."""
    registry, mode = reader.gateway.registry, reader.gateway.profile.mode
    return {t: sorted({p.version for p in registry.versions(t, mode)}) for t in prompt_tasks(kind)}


def describe_versions(document: dict[str, Any], reader: Reader) -> None:
    """In the OpenAPI document, admit exactly the prompt versions ``resolve_versions`` takes."""
    for kind in KINDS:
        known = known_versions(reader, kind)
        every = sorted({v for versions in known.values() for v in versions})
        pairs = "|".join(f"{t}:{v}" for t, versions in known.items() for v in versions)
        if not pairs:
            continue  # no prompt files for this mode: any override is a 422, keep the pattern
        shapes = {
            "prompt_version": {"type": "string", "enum": every},
            "versions": {"type": "string", "pattern": f"^(?:{pairs})(?:,(?:{pairs})){{0,9}}$"},
        }
        for method in ("post", "get"):
            operation = document["paths"][f"/v1/documents/{{doc_id}}/{kind}"][method]
            for parameter in operation["parameters"]:
                if parameter["name"] in shapes:
                    parameter["schema"] = shapes[parameter["name"]]


def resolve_versions(
    reader: Reader, kind: ArtifactKind, prompt_version: str | None, versions: str | None
) -> dict[str, str]:
    """Prompt overrides for this kind, each checked against the prompt files (else 422)."""
    if prompt_version is None and not versions:
        return {}  # the common read: nothing to check
    mode = reader.gateway.profile.mode
    known = known_versions(reader, kind)
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


# A reader's variant key for (kind, prompt overrides) does not change while it is open: what
# it hashes (model, profile, prompt files, glossary, chunk budget, the repairs' and tasks'
# versions) is read at start-up. Overrides are checked first, so the keys are few.
_VARIANTS: WeakKeyDictionary[Reader, dict[tuple[str, ...], str]] = WeakKeyDictionary()


def variant(reader: Reader, kind: ArtifactKind, chosen: Mapping[str, str]) -> str:
    """``reader.variant(kind, chosen)``, computed once per reader."""
    known = _VARIANTS.setdefault(reader, {})
    key = (kind, *sorted(f"{task}:{version}" for task, version in chosen.items()))
    if (found := known.get(key)) is None:
        found = known[key] = reader.variant(kind, chosen)
    return found


def artifact_response(artifact: Artifact, status: int = 200) -> Response:
    # Already validated: serialise once, skip FastAPI's re-validation of the response model.
    body = artifact.model_dump_json()
    return Response(body, status_code=status, media_type="application/json")


def job_response(jobs: Jobs, job_id: str) -> Response:
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
        job_id, _ = await jobs.submit(doc_id, kind, versions=chosen, force=force)
        if wait > 0 and (outcome := await jobs.wait(job_id, wait)) is not None:
            if outcome.error is not None:
                raise outcome.error
            assert outcome.artifact is not None
            return artifact_response(outcome.artifact)
        return job_response(jobs, job_id)

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
        payload = reader.library.store.artifact_payload(doc_id, kind, variant(reader, kind, chosen))
        if payload is None:
            reader.library.get(doc_id)  # unknown id → 404 not_found
            raise await not_computed(jobs, doc_id, kind, chosen)
        if format == "markdown":
            artifact = ARTIFACT.validate_python(payload)
            text = artifact_markdown(reader.library.get(doc_id), artifact, bilingual=bilingual)
            return Response(text, media_type=MEDIA_TYPE)
        # The payload was validated when it was saved: send it as stored (the hot path).
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return Response(body.encode(), media_type="application/json")

    read.__doc__ = f"""The stored {kind} as JSON or Markdown; 404 not_computed if none yet."""
    return read


async def not_computed(
    jobs: Jobs, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str]
) -> NotComputed:
    job = await jobs.live_job(doc_id, kind, versions)
    hint = f"job {job} is computing it" if job else f"POST /v1/documents/{doc_id}/{kind}"
    detail = {"job": f"/v1/jobs/{job}"} if job else None
    return NotComputed(f"No {kind} for document {doc_id} yet; {hint}.", detail=detail)


# The job a 202 started: its status, then (once done) the artifact it computed.
JOB_LINKS = {
    "GetJob": {"operationId": "get_job", "parameters": {"job_id": "$response.body#/id"}},
}
JOB_STARTED = {
    "model": JobOut,
    "description": "A job computes it: poll the Location (GET /v1/jobs/{id}).",
    "headers": {"Location": {"description": "/v1/jobs/{id}", "schema": {"type": "string"}}},
    "links": JOB_LINKS,
}


def compute_responses(kind: ArtifactKind) -> dict[int | str, dict[str, Any]]:
    ready = {"model": MODELS[kind], "description": f"The {kind}: stored, or done within wait."}
    return {200: ready, 202: JOB_STARTED, **error_responses(404, 409, 502, 503)}


def read_responses(kind: ArtifactKind) -> dict[int | str, dict[str, Any]]:
    markdown = {"text/markdown": {"schema": {"type": "string"}}}
    stored = {"model": MODELS[kind], "description": f"The stored {kind}.", "content": markdown}
    return {200: stored, **error_responses(404)}


for _kind in KINDS:
    router.add_api_route(
        f"/{{doc_id}}/{_kind}",
        post_handler(_kind),
        methods=["POST"],
        status_code=202,
        response_model=None,
        responses=compute_responses(_kind),
        summary=f"Compute the {_kind}",
        operation_id=f"compute_{_kind}",
    )
    router.add_api_route(
        f"/{{doc_id}}/{_kind}",
        get_handler(_kind),
        methods=["GET"],
        response_model=None,
        responses=read_responses(_kind),
        summary=f"Read the stored {_kind}",
        operation_id=f"read_{_kind}",
    )
