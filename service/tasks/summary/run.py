"""One summarisation in progress: its budgets, its prompt templates, its model calls and
progress, whichever strategy runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from service.errors import ConfigError, ModelError
from service.llm.prompts import PromptTemplate
from service.models import Document
from service.tasks.context import ProgressEvent, TaskContext
from service.tokens import count_tokens

TASK, MAP, REDUCE = "summary", "summary_map", "summary_reduce"
# Share of the context window kept free: our cl100k count is not the model's tokenizer, and
# chat framing adds a few tokens per message.
MARGIN = 0.10
MESSAGE_OVERHEAD = 4  # tokens of chat framing per message (OpenAI's documented estimate)
# Output budgets in tokens (before capping by the profile and a third of the window). A full
# summary in JSON is 400-700 cl100k tokens; notes on one chunk 200-600.
SUMMARY_OUTPUT = 1200
NOTES_OUTPUT = 800
UNKNOWN = "unknown"
_T = TypeVar("_T")


@dataclass
class SummaryRun:
    """One summarisation: the context, the document's prompt variables, what happened."""

    doc: Document
    ctx: TaskContext
    meta: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 1

    @property
    def limit(self) -> int:
        """Tokens one request (prompt + max_tokens) may use."""
        return int(self.ctx.gateway.profile.context_window * (1 - MARGIN))

    def output(self, wanted: int) -> int:
        """An output budget: ``wanted``, capped by the profile and a third of the window."""
        return min(wanted, self.ctx.gateway.profile.max_output_tokens, self.limit // 3)

    def template(self, task: str) -> PromptTemplate:
        """The prompt file the gateway will use for ``task`` (same version)."""
        gw = self.ctx.gateway
        return gw.registry.get(task, gw.profile.mode, self.ctx.versions.get(task))

    def prompt_tokens(self, task: str, variables: Mapping[str, object]) -> int:
        """cl100k tokens of the request the gateway will render for these variables."""
        msgs = self.template(task).render_messages(variables)
        return sum(count_tokens(m.content) + MESSAGE_OVERHEAD for m in msgs) + 3

    def room(self, task: str, variables: Mapping[str, object], output: int) -> int:
        """Tokens left for more material after this prompt and its output."""
        return self.limit - output - self.prompt_tokens(task, variables)

    def glossary(self, text: str) -> str:
        glossary = self.ctx.glossary
        entries = glossary.entries_in(text) if glossary is not None else []
        return glossary.render_lines(entries) if glossary is not None and entries else "(none)"

    def report(self, *, cached: bool = False, failed: bool = False, tokens: int = 0) -> None:
        self.done += 1
        event = ProgressEvent(self.doc.id, TASK, self.done, self.total, cached, failed, tokens)
        self.ctx.report(event)

    async def call(self, task: str, variables: Mapping[str, object], out: int) -> BaseModel:
        """One model call; reports progress (also on failure) and returns the parsed answer."""
        try:
            result = await self.ctx.call(task, {**self.meta, **variables}, max_tokens=out)
        except ModelError:
            self.report(failed=True)
            raise
        rec = result.record
        if result.parsed is None:
            raise ConfigError(f"prompts/{task}: the prompt file must declare a schema.")
        self.report(cached=rec.cached, tokens=rec.tokens_in + rec.tokens_out)
        return result.parsed


def meta_variables(doc: Document) -> dict[str, str]:
    """The document's metadata as the summary prompts' variables (``unknown`` when missing)."""
    m = doc.meta
    title = " / ".join(t for t in (m.title_zh, m.title_en) if t) or UNKNOWN
    return {
        "title": title,
        "date": m.date.isoformat() if m.date else UNKNOWN,
        "outlet": m.outlet or UNKNOWN,
        "place": m.place or UNKNOWN,
    }


async def gather(coros: list[Awaitable[_T]]) -> list[_T]:
    """Run concurrently (the gateway bounds concurrency); on an error cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
