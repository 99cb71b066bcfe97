"""What every task receives: the gateway, the glossary, prompt overrides and a progress hook.

Tasks call the model only through ``TaskContext.call`` so that every call is counted for the
artifact's provenance and reported to the progress display. The context never imports
openai or sqlmodel: the gateway is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel

from service import __version__
from service.artifacts import Provenance
from service.errors import ServiceError

if TYPE_CHECKING:
    from service.checks.glossary import Glossary
    from service.llm.gateway import CallRecord, CallResult, Gateway


@dataclass(frozen=True)
class ProgressEvent:
    doc_id: str
    task: str
    done: int  # units (chunks/calls) finished so far
    total: int
    cached: bool = False
    failed: bool = False
    tokens: int = 0


Progress = Callable[[ProgressEvent], None]


@dataclass
class TaskContext:
    gateway: Gateway
    glossary: Glossary | None = None
    versions: Mapping[str, str] = field(default_factory=dict)  # prompt task -> version
    progress: Progress | None = None
    endpoint: str = ""
    records: list[CallRecord] = field(default_factory=list)

    async def call(
        self,
        task: str,
        variables: Mapping[str, object],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
    ) -> CallResult:
        """One model call through the gateway, counted for provenance (a failed one too)."""
        try:
            result = await self.gateway.generate(
                task, variables, schema=schema, version=self.versions.get(task),
                max_tokens=max_tokens,
            )  # fmt: skip
        except ServiceError as exc:
            if exc.call_record is not None:  # the gateway's CallRecord of the failed call
                self.records.append(exc.call_record)
            raise
        self.records.append(result.record)
        return result

    def report(self, event: ProgressEvent) -> None:
        if self.progress is not None:
            self.progress(event)

    def provenance(self) -> Provenance:
        """Provenance of everything called through this context so far."""
        records = self.records
        used = {r.prompt_id: r.prompt_version for r in records}
        profile = self.gateway.profile
        return Provenance(
            model=self.gateway.model,
            profile=profile.name,
            endpoint=_host(self.endpoint),
            prompt_versions=dict(sorted(used.items())),
            glossary_version=self.glossary.version if self.glossary is not None else None,
            reader_version=__version__,
            created_at=dt.datetime.now(dt.UTC),
            quality_warning=profile.warning if profile.weak else None,
            calls=sum(not r.cached for r in records),
            failed_calls=sum(r.outcome not in ("ok", "hit") for r in records),
            cache_hits=sum(r.cached for r in records),
            tokens_in=sum(r.tokens_in for r in records),
            tokens_out=sum(r.tokens_out for r in records),
            cost_usd=round(sum(r.cost_usd for r in records), 6),
        )


def _host(url: str) -> str:
    """Scheme and host only: never a path with a key in it."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
