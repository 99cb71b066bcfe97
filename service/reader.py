"""The one way the CLI and the API compute artifacts: documents in, stored artifacts out.

``Reader.open(settings)`` resolves the model endpoint (the embedded local server when none is
configured: reused if running, else started before the first model call), builds the gateway
and loads the glossary; ``compute`` returns a stored artifact when one exists for the same
variant (model, prompt versions, glossary, chunk budget; for a translation also the version
of the deterministic repairs) and otherwise runs the task, stores the artifact and returns it.
Two concurrent requests for the same artifact share one computation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from service.artifacts import Artifact, ArtifactKind
from service.checks.glossary import Glossary
from service.config import Settings
from service.library import Library
from service.llm.endpoint import Endpoint, resolve_endpoint
from service.llm.gateway import Gateway
from service.models import Document
from service.store.store import Store
from service.tasks.context import Progress, TaskContext
from service.tasks.registry import (
    CATALOG,
    checks_version,
    prompt_tasks,
    reads,
    revision,
    task_function,
)


class Reader:
    def __init__(
        self, library: Library, gateway: Gateway, glossary: Glossary, endpoint: str
    ) -> None:
        self.library = library
        self.gateway = gateway
        self.glossary = glossary
        self.endpoint = endpoint
        self._inflight: dict[tuple[str, ArtifactKind, str], asyncio.Task[Artifact]] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        endpoint: Endpoint | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[Reader]:
        """Everything a computation needs; stops a local server this call started."""
        store = Store(settings.db_url)
        if endpoint is None:
            endpoint = await asyncio.to_thread(resolve_endpoint, settings)
        ep = endpoint
        try:
            gateway = build_gateway(settings, store, ep, http_client)
            reader: Reader | None = None
            try:
                glossary = load_glossary(settings)
                reader = cls(Library(settings, store), gateway, glossary, ep.base_url)
                yield reader
            finally:
                if reader is not None:
                    await reader.cancel_running()
                await gateway.aclose()
        finally:
            await asyncio.to_thread(ep.close)
            store.close()

    @property
    def budget(self) -> int:
        """Source tokens per chunk: the setting, else what the model profile suits."""
        return self.library.settings.chunk_tokens or self.gateway.profile.chunk_budget

    def variant(self, kind: ArtifactKind, versions: Mapping[str, str] | None = None) -> str:
        """Key of what an artifact depends on besides the document."""
        parts: dict[str, Any] = {
            "model": self.gateway.model,
            "profile": self.gateway.profile.name,
            "prompts": self._prompt_versions(kind, versions or {}),
            "glossary": self.glossary.version,
            "budget": self.budget,
        }
        if (checks := checks_version(kind)) is not None:  # absent: other kinds keep their keys
            parts["checks"] = checks
        if (rev := revision(kind)) is not None:
            parts["revision"] = rev
        if (source := self._reads(kind, versions or {})) is not None:
            parts["reads"] = self.variant(source, versions)
        canonical = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def _reads(self, kind: ArtifactKind, versions: Mapping[str, str]) -> ArtifactKind | None:
        """The kind whose artifact this one is made from under the active strategy, if any."""
        registry, mode = self.gateway.registry, self.gateway.profile.mode
        tasks = [t for t in prompt_tasks(kind) if registry.versions(t, mode)]
        return next(
            (k for t in tasks if (k := reads(registry.get(t, mode, versions.get(t)).strategy))),
            None,
        )

    def _prompt_versions(self, kind: ArtifactKind, versions: Mapping[str, str]) -> dict[str, str]:
        registry, mode = self.gateway.registry, self.gateway.profile.mode
        return {
            task: registry.get(task, mode, versions.get(task)).version
            for task in prompt_tasks(kind)
            if registry.versions(task, mode)
        }

    def stored(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str] | None = None
    ) -> Artifact | None:
        """The artifact for the current variant, if computed."""
        return self.library.artifact(doc_id, kind, self.variant(kind, versions))

    async def compute(
        self,
        doc_id: str,
        kind: ArtifactKind,
        *,
        force: bool = False,
        versions: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> Artifact:
        """The stored artifact, or a fresh one (``force`` recomputes it)."""
        doc = self.library.get(doc_id)
        variant = self.variant(kind, versions)
        if not force:
            stored = self.library.artifact(doc_id, kind, variant)
            if stored is not None:
                return stored
        key = (doc_id, kind, variant)
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(
                self._compute(doc, kind, variant, versions or {}, progress)
            )
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(running)

    async def cancel_running(self) -> None:
        """Stop computations still in flight (e.g. after Ctrl-C) before the gateway closes.

        What they finished is already in the call cache, so a re-run resumes from there."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def running(
        self, doc_id: str, kind: ArtifactKind, versions: Mapping[str, str] | None = None
    ) -> bool:
        return (doc_id, kind, self.variant(kind, versions)) in self._inflight

    async def _compute(
        self,
        doc: Document,
        kind: ArtifactKind,
        variant: str,
        versions: Mapping[str, str],
        progress: Progress | None,
    ) -> Artifact:
        artifact = await self.run_task(doc, kind, versions=versions, progress=progress)
        self.library.save_artifact(artifact, variant)
        return artifact

    async def run_task(
        self,
        doc: Document,
        kind: ArtifactKind,
        *,
        versions: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> Artifact:
        """Run one task on a document (stored or not) without storing the artifact."""
        ctx = TaskContext(
            self.gateway, self.glossary, dict(versions or {}), progress, self.endpoint
        )
        return await task_function(kind)(doc, self.library.chunks(doc, self.budget), ctx)


def build_gateway(
    settings: Settings, store: Store, endpoint: Endpoint, http_client: httpx.AsyncClient | None
) -> Gateway:
    """The gateway for a resolved endpoint (its model and profile override the settings)."""
    profile = settings.profile or endpoint.profile_name
    resolved = settings.model_copy(update={"model": endpoint.model, "profile": profile})
    return Gateway(
        resolved,
        store,
        http_client=http_client,
        catalog=CATALOG,
        base_url=endpoint.base_url,
        ready=endpoint.ready,
    )


def load_glossary(settings: Settings) -> Glossary:
    return Glossary.load(settings.prompts_dir / "glossary.tsv")
