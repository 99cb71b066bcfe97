"""Translation task: faithful, complete English, paragraph by paragraph, ids kept 1:1.

Each chunk is one model call. The model sees the chunk's paragraphs as ``<p id="p12">…</p>``
lines inside ``delimit()``, the glossary entries that occur in the chunk, and the end of the
previous chunk with its translation (for continuity only). It answers
``{"paragraphs": [{"id": "p12", "en": "…"}]}``; a validator checks that the ids are exactly
the chunk's, in order, and that no ``en`` is empty, so a dropped or merged paragraph triggers
the gateway's re-ask.

A paragraph longer than the chunk budget is split by the chunker; each piece becomes its own
unit with a sub-id (``p12.1``, ``p12.2``, …) so the model knows it sees part of a paragraph,
and the pieces' translations are joined with a space under the paragraph's id. A paragraph is
translated only when all its pieces are.

Chunks of one document run sequentially (the prompt carries the previous translation);
documents can run concurrently.

That is the ``chunk_json`` strategy. A template declaring ``strategy = "per_unit"``
(``v2.completion`` for the embedded base model) instead translates one unit per call as plain
text, ``Chinese: …`` / ``English:`` with ``stop=["\n"]`` (``service/tasks/units.py``): no JSON,
no grammar, no previous-chunk context (each call stands alone). An empty or mostly Chinese
answer fails that unit only; its paragraph stays untranslated with the reason, and its chunk's
outcome is "failed".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from service.artifacts import (
    ChunkOutcome,
    Status,
    TranslatedParagraph,
    TranslationArtifact,
    status_of,
)
from service.checks.glossary import Glossary
from service.checks.quality import TermLike, translation_report
from service.checks.repairs import Repairs
from service.errors import ModelError
from service.llm.profiles import Profile
from service.llm.prompts import PromptTemplate, delimit
from service.models import Chunk, Document
from service.tasks.context import ProgressEvent, TaskContext
from service.tasks.postedit import post_edit_pieces
from service.tasks.strategies import PER_UNIT
from service.tasks.units import english_line, unit_variables
from service.tokens import count_tokens

TASK = "translate"
SCHEMA_NAME = "translated_chunk"
# Chinese characters of previous-chunk context carried into the next prompt: whole trailing
# paragraphs up to this length (none when the last paragraph alone is longer). The local
# model's 2,048-token window affords only a sentence or two.
PREVIOUS_CHARS = {"chat": 600, "completion": 160}
# Output budget: English cl100k tokens per Chinese cl100k token, measured on 643 paragraphs
# (>= 50 tokens) of the bilingual Government Work Reports, is 0.78 overall (p95 0.94, max 1.23);
# 1.3 covers the worst, plus the JSON framing per paragraph. A tight budget also stops a small
# model rambling; the gateway doubles it once on truncation.
OUTPUT_PER_SOURCE_TOKEN = 1.3
JSON_TOKENS_PER_UNIT = 16
# Instructions and the few-shot example in cl100k tokens: the v1 templates measure 432 (chat)
# and 132 (completion) without variables; plus message framing and a little margin.
PROMPT_OVERHEAD = {"chat": 450, "completion": 150}
MIN_OUTPUT_TOKENS = 64
NO_PREVIOUS = {
    "chat": "(none: this is the start of the document)",
    "completion": "",
}
NO_GLOSSARY = "(none)"
# Our own markup inside the document text is neutralised so a paragraph cannot fake an id.
_OWN_TAGS = re.compile(r"<(\s*/?\s*)(p|en|document|context)\b", re.IGNORECASE)


# --- structured output ----------------------------------------------------------------------


class ParagraphEn(BaseModel):
    id: str = Field(description="The id of the input paragraph, unchanged.")
    en: str = Field(description="Its complete English translation.")


# The ids the answer being validated must have. The gateway validates inside our call (its
# request task copies our context), and it requires the declared schema class itself, so the
# per-call ids travel in a context variable rather than in a per-chunk subclass.
EXPECTED_IDS: ContextVar[tuple[str, ...] | None] = ContextVar("translate_ids", default=None)


class TranslatedChunk(BaseModel):
    """The model's answer for one chunk."""

    model_config = ConfigDict(title="TranslatedChunk")
    paragraphs: list[ParagraphEn]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        got = [p.id for p in self.paragraphs]
        want = EXPECTED_IDS.get()
        if want is not None and tuple(got) != want:
            raise ValueError(_id_mismatch(list(want), got))
        empty = [p.id for p in self.paragraphs if not p.en.strip()]
        if empty:
            raise ValueError(f"empty translation for {', '.join(empty)}; translate every one")
        return self


def _id_mismatch(want: list[str], got: list[str]) -> str:
    missing = [i for i in want if i not in got]
    extra = [i for i in got if i not in want]
    detail = "; ".join(
        part
        for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        )
        if part
    )
    return (
        f"paragraph ids must be exactly {', '.join(want)} in this order, one item each; "
        f"got {', '.join(got) or 'none'}" + (f" ({detail})" if detail else "")
    )


@lru_cache(maxsize=256)
def fixed_schema(ids: tuple[str, ...]) -> type[TranslatedChunk]:
    """Completion mode: ids fixed in the schema, so the llama.cpp grammar writes them for us.

    The completion prompt declares no schema (the gateway would insist on that exact class):
    this one is built per chunk, and still validates like ``TranslatedChunk``.
    """
    items = [
        create_model(
            f"P{i}",
            __base__=ParagraphEn,
            id=(cast(Any, Literal)[uid], ...),
            en=(str, Field(min_length=1)),
        )
        for i, uid in enumerate(ids)
    ]
    return create_model(
        "TranslatedChunk",
        __base__=TranslatedChunk,
        paragraphs=(cast(Any, tuple)[tuple(items)], ...),
    )


# --- planning: which text goes in which call ------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One translation unit: a paragraph, or the piece of one that falls in a chunk."""

    uid: str  # p12, or p12.1, p12.2 for pieces of a paragraph split across chunks
    paragraph_id: str
    zh: str


def plan_units(doc: Document, chunks: Sequence[Chunk]) -> list[list[Unit]]:
    """The units of each chunk; text in an overlap with the previous chunk is not repeated."""
    paragraphs = {p.id: p for p in doc.paragraphs}
    spans: list[list[tuple[str, str]]] = []
    covered = 0
    for chunk in chunks:
        low = max(chunk.start, covered)
        found = []
        for pid in chunk.paragraph_ids:
            p = paragraphs[pid]
            piece = doc.text[max(p.start, low) : min(p.end, chunk.end)].strip()
            if piece:
                found.append((pid, piece))
        spans.append(found)
        covered = max(covered, chunk.end)
    counts = Counter(pid for found in spans for pid, _ in found)
    seen: Counter[str] = Counter()
    plan = []
    for found in spans:
        units = []
        for pid, piece in found:
            seen[pid] += 1
            uid = pid if counts[pid] == 1 else f"{pid}.{seen[pid]}"
            units.append(Unit(uid, pid, piece))
        plan.append(units)
    return plan


# --- rendering the prompt variables ---------------------------------------------------------


def _neutralise(text: str) -> str:
    return _OWN_TAGS.sub(lambda m: "‹" + m[1] + m[2], text)


def paragraph_lines(units: Sequence[Unit]) -> str:
    return "\n".join(f'<p id="{u.uid}">{_neutralise(u.zh)}</p>' for u in units)


def _answer_json(units: Sequence[Unit], english: dict[str, str]) -> str:
    items = [{"id": u.uid, "en": english[u.uid]} for u in units]
    return json.dumps({"paragraphs": items}, ensure_ascii=False)


def previous_block(units: Sequence[Unit], english: dict[str, str], mode: str) -> str:
    """The end of the previous chunk with its translation, or the mode's 'none' text."""
    tail: list[Unit] = []
    size = 0
    for unit in reversed(units):
        size += len(unit.zh)
        if size > PREVIOUS_CHARS[mode] or unit.uid not in english:
            break
        tail.insert(0, unit)
    if not tail:
        return NO_PREVIOUS[mode]
    if mode == "completion":  # one more few-shot pair: the model continues the pattern
        answer = _answer_json(tail, english)
        return f"Chinese: {delimit(paragraph_lines(tail))}\nEnglish: {answer}\n\n"
    lines = [
        f'<p id="{u.uid}">{_neutralise(u.zh)}</p>\n<en>{_neutralise(english[u.uid])}</en>'
        for u in tail
    ]
    return delimit("\n".join(lines), tag="context")


TermsFor = Callable[[str], Sequence[TermLike]]


def _terms_for(ctx: TaskContext) -> TermsFor:
    if ctx.glossary is None:
        return lambda _text: []
    return ctx.glossary.entries_in


def glossary_lines(ctx: TaskContext, zh: str) -> str:
    """Only the glossary entries that occur in this text, one ``zh → en`` per line."""
    if ctx.glossary is None:
        return NO_GLOSSARY
    entries = ctx.glossary.entries_in(zh)
    return ctx.glossary.render_lines(entries) if entries else NO_GLOSSARY


def max_output_tokens(units: Sequence[Unit], prompt_tokens: int, profile: Profile) -> int:
    """Enough for the English of these units, within the profile's cap and context window."""
    source = sum(count_tokens(u.zh) for u in units)
    want = int(source * OUTPUT_PER_SOURCE_TOKEN) + JSON_TOKENS_PER_UNIT * len(units) + 32
    room = profile.context_window - prompt_tokens
    return max(MIN_OUTPUT_TOKENS, min(want, profile.max_output_tokens, room))


# --- the task -------------------------------------------------------------------------------


@dataclass
class _Run:
    """What the chunks produced so far."""

    english: dict[str, str]  # unit id -> English
    errors: dict[str, str]  # unit id -> why it is untranslated
    outcomes: list[ChunkOutcome]


async def translate(doc: Document, chunks: list[Chunk], ctx: TaskContext) -> TranslationArtifact:
    """Translate ``doc`` chunk by chunk; failed chunks stay visible as untranslated."""
    plan = plan_units(doc, chunks)
    run = _Run({}, {}, [])
    previous: list[Unit] = []
    one_by_one = selected_template(ctx).strategy == PER_UNIT
    for index, (chunk, units) in enumerate(zip(chunks, plan, strict=True)):
        if one_by_one:
            event = await _translate_units(chunk, units, run, ctx)
        else:
            event = await _translate_chunk(chunk, units, previous, run, ctx)
        ctx.report(ProgressEvent(doc.id, TASK, index + 1, len(chunks), *event))
        previous = units or previous
    return _assemble(doc, chunks, plan, run, ctx)


async def _translate_chunk(
    chunk: Chunk,
    units: list[Unit],
    previous: list[Unit],
    run: _Run,
    ctx: TaskContext,
) -> tuple[bool, bool, int]:
    """One call; returns (cached, failed, tokens) for the progress event."""
    if not units:  # whitespace only: nothing to translate
        run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status="ok"))
        return False, False, 0
    profile = ctx.gateway.profile
    variables = {
        "glossary": glossary_lines(ctx, "\n".join(u.zh for u in units)),
        "previous": previous_block(previous, run.english, profile.mode),
        "document": delimit(paragraph_lines(units)),
    }
    prompt_tokens = PROMPT_OVERHEAD[profile.mode] + sum(count_tokens(v) for v in variables.values())
    ids = tuple(u.uid for u in units)
    schema = fixed_schema(ids) if profile.mode == "completion" else TranslatedChunk
    budget = max_output_tokens(units, prompt_tokens, profile)
    token = EXPECTED_IDS.set(ids)
    try:
        result = await ctx.call(TASK, variables, schema=schema, max_tokens=budget)
    except ModelError as exc:  # ModelUnavailable is not a ModelError: it propagates
        run.errors.update({uid: f"chunk {chunk.id}: {exc.message}" for uid in ids})
        run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status="failed", error=exc.message))
        return False, True, 0
    finally:
        EXPECTED_IDS.reset(token)
    parsed = cast(TranslatedChunk, result.parsed)
    run.english.update({p.id: p.en.strip() for p in parsed.paragraphs})
    run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status="ok"))
    record = result.record
    return record.cached, False, record.tokens_in + record.tokens_out


def selected_template(ctx: TaskContext) -> PromptTemplate:
    """The translate template the gateway will use: the profile's mode, the pinned version."""
    gateway = ctx.gateway
    return gateway.registry.get(TASK, gateway.profile.mode, ctx.versions.get(TASK))


# --- the per_unit strategy: one plain-text call per unit --------------------------------------


async def _translate_units(
    chunk: Chunk, units: list[Unit], run: _Run, ctx: TaskContext
) -> tuple[bool, bool, int]:
    """One free-text call per unit; the chunk fails if any unit does (the others are kept)."""
    template = selected_template(ctx)
    errors: list[str] = []
    cached, tokens = True, 0
    for unit in units:
        variables = unit_variables(ctx, unit.zh)
        prompt_tokens = count_tokens(template.body) + sum(map(count_tokens, variables.values()))
        budget = max_output_tokens([unit], prompt_tokens, ctx.gateway.profile)
        try:
            result = await ctx.call(TASK, variables, max_tokens=budget)
            cached = cached and result.record.cached
            tokens += result.record.tokens_in + result.record.tokens_out
            run.english[unit.uid] = english_line(result.text)
        except ModelError as exc:  # ModelUnavailable is not a ModelError: it propagates
            run.errors[unit.uid] = f"chunk {chunk.id}, {unit.uid}: {exc.message}"
            errors.append(f"{unit.uid}: {exc.message}")
    status: Literal["ok", "failed"] = "failed" if errors else "ok"
    error = "; ".join(errors) or None
    run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status=status, error=error))
    return cached and bool(units), bool(errors), tokens


def _status(run: _Run) -> Status:
    """``status_of`` the chunks, but partial when a failed chunk still translated a unit."""
    status = status_of(run.outcomes)
    return "partial" if status == "failed" and run.english else status


def _assemble(
    doc: Document, chunks: list[Chunk], plan: list[list[Unit]], run: _Run, ctx: TaskContext
) -> TranslationArtifact:
    pieces: dict[str, list[tuple[str, Unit]]] = {}
    for chunk, units in zip(chunks, plan, strict=True):
        for unit in units:
            pieces.setdefault(unit.paragraph_id, []).append((chunk.id, unit))
    paragraphs = [
        _paragraph(p.id, p.text, p.is_heading, pieces.get(p.id, []), run, ctx.glossary)
        for p in doc.paragraphs
    ]
    rows = [(p.id, p.zh, p.en) for p in paragraphs]
    expected = [p.id for p in doc.paragraphs]
    repairs = {p.id: p.repairs for p in paragraphs}
    quality = translation_report(rows, _terms_for(ctx), expected_ids=expected, repairs=repairs)
    return TranslationArtifact(
        doc_id=doc.id,
        status=_status(run),
        paragraphs=paragraphs,
        chunks=run.outcomes,
        quality=quality,
        provenance=ctx.provenance(),
    )


def _paragraph(
    pid: str,
    zh: str,
    is_heading: bool,
    pieces: list[tuple[str, Unit]],
    run: _Run,
    glossary: Glossary | None,
) -> TranslatedParagraph:
    """Join the pieces' post-edited English; untranslated (with the reason) unless all are done."""
    chunk_id = pieces[0][0] if pieces else ""
    errors = [run.errors[u.uid] for _, u in pieces if u.uid in run.errors]
    if not pieces:
        errors = ["not in any chunk given to the translation task"]
    english = [(u.zh, run.english[u.uid]) for _, u in pieces if not errors]
    en, repairs = post_edit_pieces(english, glossary) if english else (None, Repairs())
    error = "; ".join(dict.fromkeys(errors)) or None
    return TranslatedParagraph(
        id=pid, zh=zh, en=en, is_heading=is_heading, chunk_id=chunk_id, error=error,
        repairs=repairs,
    )  # fmt: skip
