"""The FastAPI application: ``create_app(settings, reader=...)``.

Without an injected reader, the lifespan opens ``Reader.open(settings)`` and starts the model
endpoint at once (``gateway.connect()``: the embedded server, when none is configured), and
closes both at shutdown; tests inject a reader built on a mocked
endpoint. Routes under ``/v1`` need the API key when ``READER_API_KEY`` is set; ``/healthz``,
``/readyz``, ``/docs`` and ``/openapi.json`` stay open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from service import __version__
from service.api.deps import require_api_key
from service.api.errors import Redactor, install_error_handlers
from service.api.jobs import JobRunner, QueueJobs
from service.api.limits import BodyLimit
from service.api.openapi import shape
from service.api.routes import artifacts, documents, health, jobs, summaries, tracker
from service.config import Settings, get_settings
from service.queue import uses_queue
from service.reader import Reader

# Room for the JSON or multipart envelope around a document of max_input_bytes.
ENVELOPE_BYTES = 64 * 1024


class ReaderAPI(FastAPI):
    """FastAPI with the document shaped as the contract (``service.api.openapi``)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            settings: Settings = self.state.settings
            document = shape(super().openapi(), secured=bool(settings.api_key))
            reader: Reader | None = getattr(self.state, "reader", None)
            if reader is None:
                # Only during start-up: answer without the prompt versions, cache nothing.
                self.openapi_schema = None
                return document
            artifacts.describe_versions(document, reader)
            self.openapi_schema = document
        return self.openapi_schema


def create_app(settings: Settings | None = None, *, reader: Reader | None = None) -> ReaderAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if getattr(app.state, "reader", None) is None:
                opened = await stack.enter_async_context(Reader.open(settings))
                # A server starts its model endpoint up front: /readyz reports it, and the
                # first request does not pay the local server's start-up.
                await opened.gateway.connect()
                attach_reader(app, opened, settings)
            if uses_queue(settings.db_url):
                app.state.jobs = await stack.enter_async_context(open_queue(app, settings))
            yield
            await app.state.jobs.aclose()

    app = ReaderAPI(
        title="Policy Reader",
        version=__version__,
        description="English summaries, translations and grounded commitments of Chinese "
        "policy documents.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_body_size=settings.max_input_bytes + ENVELOPE_BYTES)
    app.state.settings = settings
    app.state.redactor = Redactor([settings.openai_api_key, settings.api_key])
    install_error_handlers(app, app.state.redactor)
    if reader is not None:
        attach_reader(app, reader, settings)
    app.include_router(health.router)
    app.include_router(v1_router())
    return app


def attach_reader(app: FastAPI, reader: Reader, settings: Settings) -> None:
    app.state.reader = reader
    app.state.jobs = JobRunner(reader, running=settings.concurrency)


@asynccontextmanager
async def open_queue(app: FastAPI, settings: Settings) -> AsyncIterator[QueueJobs]:
    """The job queue (PostgreSQL); imported here, procrastinate being an optional extra."""
    from service.queue.jobs import JobQueue

    async with JobQueue.open(app.state.reader, settings.db_url) as queue:
        yield QueueJobs(queue)


def v1_router() -> APIRouter:
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
    for module in (documents, artifacts, jobs, summaries, tracker):
        v1.include_router(module.router)
    v1.include_router(health.usage_router)
    return v1
