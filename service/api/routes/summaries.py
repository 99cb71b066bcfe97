"""Ad-hoc summaries: text in, summary artifact out, nothing stored but the model-call cache.

Computed inline (no job) with a timeout, because the text is not stored and there would be
nothing to come back to; a call that finished before a timeout is cached, so a retry resumes
where it stopped. A summary whose every chunk failed sinks the request: 502 with the reasons.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from service.api.deps import ReaderDep, SettingsDep
from service.api.errors import error_responses
from service.api.routes.artifacts import artifact_response
from service.api.schemas import SummaryIn, user_meta
from service.api.upload import encode_text, media_type
from service.artifacts import SummaryArtifact
from service.errors import ModelError, TimedOut, UnsupportedMedia
from service.ingest import ingest_bytes
from service.models import Document

router = APIRouter(tags=["summaries"])


def json_only(request: Request) -> None:
    """415 for anything but JSON (FastAPI alone would call it a 422 validation error)."""
    if media_type(request) != "application/json":
        raise UnsupportedMedia("Send the text as application/json: {text, title?}.")


@router.post(
    "/summaries",
    response_model=SummaryArtifact,
    responses=error_responses(413, 415, 422, 502, 503, 504),
    summary="Summarise a text",
    operation_id="summarize_text",
    dependencies=[Depends(json_only)],
)
async def summarize_text(
    body: SummaryIn,
    reader: ReaderDep,
    settings: SettingsDep,
    timeout: Annotated[float, Query(ge=1, le=300, description="Seconds before 504.")] = 60,
) -> Response:
    doc = await asyncio.to_thread(ingest_bytes, encode_text(body.text), "text", settings=settings)
    doc = titled(doc, body.title)
    try:
        artifact = await asyncio.wait_for(reader.run_task(doc, "summary"), timeout)
    except TimeoutError:
        raise TimedOut(
            f"The summary took longer than {timeout:g} s; finished model calls are cached, "
            "so retrying continues from there (or raise ?timeout)."
        ) from None
    if artifact.status == "failed":
        reasons = sorted({o.error or o.status for o in artifact.chunks})
        raise ModelError("The model failed on every part of the text.", detail=reasons)
    return artifact_response(artifact)


def titled(doc: Document, title: str | None) -> Document:
    given = user_meta(title, None, None)
    if given is None:
        return doc
    update = given.model_dump(include={"title_zh", "title_en"}, exclude_none=True)
    return doc.model_copy(update={"meta": doc.meta.model_copy(update=update)})
