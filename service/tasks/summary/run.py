"""One summarisation in progress: its budgets, its prompt templates, its model calls and
progress, whichever strategy runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from service.errors import ConfigError, ModelError, ModelInvalidOutput
from service.llm.prompts import PromptTemplate
from service.models import Document
from service.tasks.context import ProgressEvent, TaskContext
from service.tasks.units import in_example
from service.tokens import count_tokens

TASK, MAP, REDUCE = "summary", "summary_map", "summary_reduce"
# Share of the context window kept free: our cl100k count is not the model's tokenizer, and
# chat framing adds a few tokens per message.
MARGIN = 0.10
MESSAGE_OVERHEAD = 4  # tokens of chat framing per message (OpenAI's documented estimate)
# Output budgets in tokens (before capping by the profile and a third of the window). A full
# summary in JSON is 400-700 cl100k tokens; notes on one chunk 200-600.
SUMMARY_OUTPUT = {"chat": 1200, "completion": 320}
NOTES_OUTPUT = {"chat": 800, "completion": 256}
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

    def output(self, table: Mapping[str, int]) -> int:
        profile = self.ctx.gateway.profile
        return min(table[profile.mode], profile.max_output_tokens, self.limit // 3)

    def template(self, task: str) -> PromptTemplate:
        """The prompt file the gateway will use for ``task`` (same mode and version)."""
        gw = self.ctx.gateway
        return gw.registry.get(task, gw.profile.mode, self.ctx.versions.get(task))

    def prompt_tokens(self, task: str, variables: Mapping[str, object]) -> int:
        """cl100k tokens of the request the gateway will render for these variables."""
        tpl = self.template(task)
        if tpl.mode == "chat":
            msgs = tpl.render_messages(variables)
            return sum(count_tokens(m.content) + MESSAGE_OVERHEAD for m in msgs) + 3
        return count_tokens(tpl.render_prompt(variables))

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
        copied = copied_example(self.template(task), result.parsed)
        self.report(
            cached=rec.cached, failed=copied is not None, tokens=rec.tokens_in + rec.tokens_out
        )
        if copied is not None:
            raise ModelInvalidOutput(
                f"{task}: the model copied the prompt's example ({copied[:60]!r}) instead of "
                "reading the text."
            )
        return result.parsed


# A small base model often repeats its few-shot example verbatim; that is not a summary.
def copied_example(tpl: PromptTemplate, parsed: BaseModel) -> str | None:
    """A string of the answer that occurs verbatim in a few-shot (completion) prompt."""
    if tpl.mode != "completion":
        return None  # chat prompts have no worked example to copy
    return next((t for t in _strings(parsed.model_dump()) if in_example(tpl, t)), None)


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


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
