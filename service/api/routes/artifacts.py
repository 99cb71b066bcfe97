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

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.deps import JobsDep, ReaderDep, get_jobs
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

VERSION_HELP = "Prompt version for the kind's prompts (A/B)."
VERSIONS_HELP = "Per prompt task, e.g. translate:v2."

PromptVersion = Annotated[str | None, Query(pattern=VERSION, description=VERSION_HELP)]
PromptVersions = Annotated[str | None, Query(pattern=VERSIONS, description=VERSIONS_HELP)]


class ReadOptions(BaseModel):
    """The read's query parameters, all optional and rarely given."""

    model_config = ConfigDict(frozen=True)

    format: Literal["json", "markdown"] = "json"
    bilingual: Annotated[bool, Field(description="Translation Markdown with Chinese.")] = False
    prompt_version: Annotated[str | None, Field(pattern=VERSION, description=VERSION_HELP)] = None
    versions: Annotated[str | None, Field(pattern=VERSIONS, description=VERSIONS_HELP)] = None


DEFAULT_OPTIONS = ReadOptions()


def read_options(request: Request) -> ReadOptions:
    """The read's query parameters, checked as FastAPI checks declared ones (the same 422).

    Read here rather than declared on the route: FastAPI resolves each declared parameter on
    every request (~10 µs each), and the common read has no query string at all."""
    if not request.scope["query_string"]:
        return DEFAULT_OPTIONS
    query = request.query_params  # a repeated name: the last value, as FastAPI takes it
    given = {name: query[name] for name in ReadOptions.model_fields if name in query}
    try:
        return ReadOptions.model_validate(given)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def declared_options(options: Annotated[ReadOptions, Query()]) -> None:
    """Never called: the read's query parameters as FastAPI documents declared ones."""


def query_parameters(declared: Callable[..., Awaitable[None]]) -> list[dict[str, Any]]:
    """The OpenAPI parameter objects FastAPI writes for ``declared``'s parameters (for a
    route's ``openapi_extra``: its document stays what declaring them on the route gave)."""
    document = get_openapi(title="", version="", routes=[APIRoute("/", declared)])
    parameters: list[dict[str, Any]] = document["paths"]["/"]["get"]["parameters"]
    return parameters


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
            # New objects: the read's parameters are shared by every app (``openapi_extra``).
            operation["parameters"] = [
                {**p, "schema": shapes[p["name"]]} if p["name"] in shapes else p
                for p in operation["parameters"]
            ]


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
    # The query parameters (READ_PARAMETERS) are read by read_options, and the job runner
    # only when the artifact is missing: each declared one costs FastAPI work on every read.
    async def read(doc_id: str, reader: ReaderDep, request: Request) -> Response:
        options = read_options(request)
        chosen = resolve_versions(reader, kind, options.prompt_version, options.versions)
        payload = reader.library.store.artifact_payload(doc_id, kind, variant(reader, kind, chosen))
        if payload is None:
            reader.library.get(doc_id)  # unknown id → 404 not_found
            raise await not_computed(await get_jobs(request), doc_id, kind, chosen)
        if options.format == "markdown":
            artifact = ARTIFACT.validate_python(payload)
            document = reader.library.get(doc_id)
            text = artifact_markdown(document, artifact, bilingual=options.bilingual)
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


READ_PARAMETERS = {"parameters": query_parameters(declared_options)}


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
        openapi_extra=READ_PARAMETERS,
        summary=f"Read the stored {_kind}",
        operation_id=f"read_{_kind}",
    )
