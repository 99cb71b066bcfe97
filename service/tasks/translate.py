"""Translation task: faithful, complete English, paragraph by paragraph, ids kept 1:1.

Each chunk is one model call. The model sees the chunk's paragraphs as ``<p id="p12">…</p>``
lines inside ``delimit()``, the glossary entries that occur in the chunk, and the end of the
previous chunk with its translation (for continuity only). It answers
``{"paragraphs": [{"id": "p12", "en": "…"}]}``; the validator re-asks (in the gateway) only
for an empty ``en``. Ids that are not exactly the chunk's, in order (a dropped or merged
paragraph: a small model answered "p1" for a whole chunk, three times), are not re-asked: each
paragraph of the chunk is then asked alone with the same prompt, where any one answer item is
its translation if it is plausibly one (``service/tasks/guard.py``); one that fails alone stays
untranslated with the reason.

A paragraph longer than the chunk budget is split by the chunker; each piece becomes its own
unit with a sub-id (``p12.1``, ``p12.2``, …) so the model knows it sees part of a paragraph,
and the pieces' translations are joined with a space under the paragraph's id. A paragraph is
translated only when all its pieces are.

Chunks of one document run sequentially (the prompt carries the previous translation);
documents can run concurrently.

That is the ``chunk_json`` strategy. A template declaring ``strategy = "per_unit"`` instead
translates one unit per call as plain text: ``v2.chat``, for a small instruct model (hints for
terms, names and numbers, and the last sentences of the previous paragraph's English).
Each answer is checked (``guard.accepted``): empty or mostly Chinese, or not plausibly a
translation; Chinese left or a source number left out. A rejected answer is re-asked once with
an explicit note when the template declares ``note`` (of an imperfect answer and its re-ask,
the one with fewer faults is kept); an implausible one is then translated sentence by sentence
(clause by clause when it is one long sentence), a piece still rejected kept as ``[sentence N
not translated]`` with the reason (no Chinese in the English: the original is shown beside it).
A unit that still fails stays untranslated with the reason, and its chunk's outcome is "failed".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from service.errors import ModelError, ModelInvalidOutput, ModelTruncated
from service.llm.profiles import Profile
from service.llm.prompts import PromptTemplate, delimit
from service.models import Chunk, Document
from service.tasks.context import ProgressEvent, TaskContext
from service.tasks.guard import (
    DID_NOT_TRANSLATE,
    Imperfect,
    Implausible,
    accepted,
    correction,
    faults,
    implausible,
    numbers_left_out,
    pieces,
    sentences,
)
from service.tasks.postedit import post_edit_pieces
from service.tasks.strategies import PER_UNIT
from service.tasks.units import MostlyChinese, chinese_left, unit_variables
from service.tokens import count_tokens

if TYPE_CHECKING:
    from service.llm.gateway import CallRecord

TASK = "translate"
SCHEMA_NAME = "translated_chunk"
# A unit up to this long that the model only echoes in Chinese is glossed by the post-edit.
GLOSS_MAX_CHARS = 30
# English characters of the previous paragraph given to a per-unit call, for continuity.
PREVIOUS_EN_CHARS = 300
_EN_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
# Chinese characters of previous-chunk context carried into the next prompt: whole trailing
# paragraphs up to this length (none when the last paragraph alone is longer).
PREVIOUS_CHARS = 600
# Output budget: English cl100k tokens per Chinese cl100k token, measured on 643 paragraphs
# (>= 50 tokens) of the bilingual Government Work Reports, is 0.78 overall (p95 0.94, max 1.23);
# 1.3 covers the worst, plus the JSON framing per paragraph. A tight budget also stops a small
# model rambling; the gateway doubles it once on truncation.
OUTPUT_PER_SOURCE_TOKEN = 1.3
JSON_TOKENS_PER_UNIT = 16
# Instructions and the few-shot example in cl100k tokens: the v1 template measures 432 without
# variables; plus message framing and a little margin.
PROMPT_OVERHEAD = 450
MIN_OUTPUT_TOKENS = 64
NO_PREVIOUS = "(none: this is the start of the document)"
NO_GLOSSARY = "(none)"
# Our own markup inside the document text is neutralised so a paragraph cannot fake an id.
_OWN_TAGS = re.compile(r"<(\s*/?\s*)(p|en|document|context)\b", re.IGNORECASE)


# --- structured output ----------------------------------------------------------------------


class ParagraphEn(BaseModel):
    id: str = Field(description="The id of the input paragraph, unchanged.")
    en: str = Field(description="Its complete English translation.")


class TranslatedChunk(BaseModel):
    """The model's answer for one chunk. Its ids are checked by the task, not here: an answer
    with the wrong ids is not re-asked but replaced by one call per paragraph."""

    model_config = ConfigDict(title="TranslatedChunk")
    paragraphs: list[ParagraphEn]

    @model_validator(mode="after")
    def _complete(self) -> Self:
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


def previous_block(units: Sequence[Unit], english: dict[str, str]) -> str:
    """The end of the previous chunk with its translation, or ``NO_PREVIOUS``."""
    tail: list[Unit] = []
    size = 0
    for unit in reversed(units):
        size += len(unit.zh)
        if size > PREVIOUS_CHARS or unit.uid not in english:
            break
        tail.insert(0, unit)
    if not tail:
        return NO_PREVIOUS
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
    # unit id -> sentences left untranslated inside its otherwise translated English
    notes: dict[str, str] = field(default_factory=dict)
    previous: str | None = None  # per_unit: the last unit's English


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
    """One call, then one per paragraph it got wrong; returns (cached, failed, tokens)."""
    if not units:  # whitespace only: nothing to translate
        run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status="ok"))
        return False, False, 0
    usage = _Usage()
    try:
        parsed = await _chunk_call(units, previous, run, ctx, usage)
    except ModelError as exc:  # ModelUnavailable is not a ModelError: it propagates
        run.errors.update({u.uid: f"chunk {chunk.id}: {exc.message}" for u in units})
        run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status="failed", error=exc.message))
        return False, True, 0
    errors = []
    for index, (unit, why) in enumerate(_take_answer(units, parsed, run)):
        if why is None:
            continue
        try:
            run.english[unit.uid] = await _paragraph_alone(
                unit, previous + units[:index], run, ctx, usage
            )
        except ModelError as exc:
            run.errors[unit.uid] = (
                f"chunk {chunk.id}, {unit.uid}: {exc.message} (alone, after {why})"
            )
            errors.append(f"{unit.uid}: {exc.message}")
    _outcome(run, chunk, errors)
    return usage.cached, bool(errors), usage.tokens


async def _chunk_call(
    units: list[Unit], previous: list[Unit], run: _Run, ctx: TaskContext, usage: _Usage
) -> TranslatedChunk:
    """The chunk_json call for ``units``: their JSON answer, ids not checked yet."""
    variables = {
        "glossary": glossary_lines(ctx, "\n".join(u.zh for u in units)),
        "previous": previous_block(previous, run.english),
        "document": delimit(paragraph_lines(units)),
    }
    prompt_tokens = PROMPT_OVERHEAD + sum(count_tokens(v) for v in variables.values())
    budget = max_output_tokens(units, prompt_tokens, ctx.gateway.profile)
    result = await ctx.call(TASK, variables, schema=TranslatedChunk, max_tokens=budget)
    usage.add(result.record)
    return cast(TranslatedChunk, result.parsed)


def _take_answer(
    units: list[Unit], parsed: TranslatedChunk, run: _Run
) -> list[tuple[Unit, str | None]]:
    """Keep the translations of a well-aligned answer; each unit with the reason it must be
    asked alone (wrong ids: every unit), or None when its translation is kept."""
    got = [p.id for p in parsed.paragraphs]
    want = [u.uid for u in units]
    if got != want:
        mismatch: str | None = _id_mismatch(want, got)
        return [(u, mismatch) for u in units]
    run.english.update({p.id: p.en.strip() for p in parsed.paragraphs})
    return [(u, None) for u in units]


async def _paragraph_alone(
    unit: Unit, previous: list[Unit], run: _Run, ctx: TaskContext, usage: _Usage
) -> str:
    """The chunk_json prompt for this one unit; any single answer item is its translation
    (with one paragraph the ids align nothing), joined when the model split it."""
    parsed = await _chunk_call([unit], previous, run, ctx, usage)
    english = " ".join(p.en.strip() for p in parsed.paragraphs)
    why = implausible(unit.zh, english)
    if why is not None:
        raise Implausible(f"{DID_NOT_TRANSLATE}: {why}")
    return english


def _outcome(run: _Run, chunk: Chunk, errors: list[str]) -> None:
    status: Literal["ok", "failed"] = "failed" if errors else "ok"
    error = "; ".join(errors) or None
    run.outcomes.append(ChunkOutcome(chunk_id=chunk.id, status=status, error=error))


@dataclass
class _Usage:
    """Whether every call of a chunk was a cache hit, and the tokens they used."""

    cached: bool = True
    tokens: int = 0

    def add(self, record: CallRecord) -> None:
        self.cached = self.cached and record.cached
        self.tokens += record.tokens_in + record.tokens_out


def selected_template(ctx: TaskContext) -> PromptTemplate:
    """The translate template the gateway will use: the profile's mode, the pinned version."""
    gateway = ctx.gateway
    return gateway.registry.get(TASK, gateway.profile.mode, ctx.versions.get(TASK))


# --- the per_unit strategy: one plain-text call per unit --------------------------------------


async def _translate_units(
    chunk: Chunk, units: list[Unit], run: _Run, ctx: TaskContext
) -> tuple[bool, bool, int]:
    """One free-text call per unit; the chunk fails if any unit (or a sentence of one) does,
    the others are kept."""
    usage = _Usage()
    errors: list[str] = []
    for unit in units:
        try:
            run.english[unit.uid] = await _unit_english(unit, run, ctx, usage)
        except ModelError as exc:  # ModelUnavailable is not a ModelError: it propagates
            run.errors[unit.uid] = f"chunk {chunk.id}, {unit.uid}: {exc.message}"
            errors.append(f"{unit.uid}: {exc.message}")
        if unit.uid in run.notes:
            errors.append(f"{unit.uid}: {run.notes[unit.uid]}")
        previous = run.english.get(unit.uid)
        run.previous = previous if previous and not chinese_left(previous) else None
    _outcome(run, chunk, errors)
    return usage.cached and bool(units), bool(errors), usage.tokens


async def _unit_english(unit: Unit, run: _Run, ctx: TaskContext, usage: _Usage) -> str:
    """The unit's English; one rejected after its re-ask (not plausibly a translation, the
    Chinese echoed back, a runaway to the token cap) is redone sentence by sentence. A short
    unit the model only echoes (a heading: 关键词7 美好生活) is left to the post-edit, which
    glosses it from the glossary, names and dictionary, marked as such on the page. One still
    leaving out a number after its re-ask is redone sentence by sentence too, and the redo kept
    when it has fewer faults and no sentence left untranslated."""
    try:
        english = await _answer(ctx, unit.zh, run.previous, usage)
    except (ModelInvalidOutput, ModelTruncated) as exc:
        parts = pieces(unit.zh)
        if len(parts) < 2:
            if _echoed(exc) and len(unit.zh) <= GLOSS_MAX_CHARS:
                return unit.zh
            raise _unit_failure(exc) from None
        english, notes = await _by_sentence(parts, run, ctx, usage)
        if notes:
            run.notes[unit.uid] = "; ".join(notes)
        return english
    parts = sentences(unit.zh)
    if len(parts) < 2 or not numbers_left_out(unit.zh, english):
        return english
    # Measured on the 2018 report: a clause with a number left out on the call and on its
    # re-ask naming the number; asked alone, a sentence keeps its numbers more often.
    try:
        redo, notes = await _by_sentence(parts, run, ctx, usage)
    except ModelInvalidOutput:
        return english
    return redo if not notes and faults(unit.zh, redo) < faults(unit.zh, english) else english


async def _by_sentence(
    parts: list[str], run: _Run, ctx: TaskContext, usage: _Usage
) -> tuple[str, list[str]]:
    """The pieces translated one by one and joined, with a note per piece still rejected
    (kept as ``[sentence N not translated]``); ``ModelInvalidOutput`` when none is translated."""
    english, notes = [], []
    for n, sentence in enumerate(parts, 1):
        try:
            english.append(await _answer(ctx, sentence, run.previous, usage))
        except (ModelInvalidOutput, ModelTruncated) as failed:
            reason = DID_NOT_TRANSLATE if isinstance(failed, Implausible) else failed.message
            english.append(f"[sentence {n} not translated]")
            notes.append(f"sentence {n}: {reason} ({failed.message})")
    if len(notes) == len(parts):
        raise ModelInvalidOutput("; ".join(notes))
    return " ".join(english), notes


def _echoed(exc: ModelError) -> bool:
    """The answer was (mostly) the Chinese again, not a wrong or obeyed English one."""
    return isinstance(exc, MostlyChinese)


def _unit_failure(exc: ModelError) -> ModelError:
    """Why a one-sentence unit stays untranslated (an obeyed order says so)."""
    if isinstance(exc, Implausible):
        return Implausible(f"{DID_NOT_TRANSLATE}: {exc.message}")
    return exc


async def _answer(ctx: TaskContext, zh: str, previous: str | None, usage: _Usage) -> str:
    """A checked answer for ``zh``; a rejected one is re-asked once with an explicit note
    when the template takes one (``note``). An imperfect first answer (Chinese left, a number
    left out) is kept when the re-ask fails or has more faults."""
    template = selected_template(ctx)
    variables = _unit_request(ctx, zh, previous)
    text = await _unit_call(ctx, template, variables, usage)
    reask = "note" in template.variables
    try:
        return accepted(zh, text, final=not reask)
    except Imperfect as exc:
        first: Imperfect | None = exc
    except ModelInvalidOutput as exc:
        if not reask:
            raise
        first, variables["note"] = None, correction(exc)
    if first is not None:
        variables["note"] = correction(first)
    try:
        second = accepted(zh, await _unit_call(ctx, template, variables, usage), final=True)
    except ModelInvalidOutput:
        if first is None:
            raise
        return first.english
    if first is not None and faults(zh, first.english) < faults(zh, second):
        return first.english
    return second


def _unit_request(ctx: TaskContext, zh: str, previous: str | None) -> dict[str, str]:
    """The per-unit variables: the document text delimited, and the end of the previous
    paragraph's English (a file uses those it declares)."""
    variables = unit_variables(ctx, zh)
    variables["document"] = delimit(_neutralise(variables["text"]))
    context = previous_tail(previous) if previous else ""
    variables["previous"] = delimit(_neutralise(context), tag="context") if context else "(none)"
    variables["note"] = ""
    return variables


def previous_tail(english: str) -> str:
    """The last sentences of the previous paragraph's English, up to ``PREVIOUS_EN_CHARS``
    (the end of the last sentence alone when that is longer): enough for continuity, where the
    whole paragraph in Chinese and English made each prompt about twice as long to evaluate."""
    kept: list[str] = []
    for sentence in reversed(_EN_SENTENCE.split(english.strip())):
        if kept and sum(map(len, kept)) + len(sentence) > PREVIOUS_EN_CHARS:
            break
        kept.insert(0, sentence)
    tail = " ".join(kept)
    if len(tail) <= PREVIOUS_EN_CHARS:
        return tail
    cut = tail[-PREVIOUS_EN_CHARS:]
    return "…" + cut[cut.find(" ") + 1 :] if " " in cut else cut


async def _unit_call(
    ctx: TaskContext, template: PromptTemplate, variables: dict[str, str], usage: _Usage
) -> str:
    declared = [variables[v] for v in template.variables]
    prompt_tokens = _template_tokens(template) + sum(map(count_tokens, declared))
    zh = variables["text"]
    budget = max_output_tokens([Unit("", "", zh)], prompt_tokens, ctx.gateway.profile)
    result = await ctx.call(TASK, variables, max_tokens=budget)
    usage.add(result.record)
    return result.text


def _template_tokens(template: PromptTemplate) -> int:
    """The template's own text in tokens: its chat sections."""
    return sum(count_tokens(m.content) for m in template.sections)


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
    """Join the pieces' post-edited English; untranslated (with the reason) unless every piece
    is done. A translated paragraph's error names the sentences left untranslated inside it."""
    chunk_id = pieces[0][0] if pieces else ""
    errors = [run.errors[u.uid] for _, u in pieces if u.uid in run.errors]
    if not pieces:
        errors = ["not in any chunk given to the translation task"]
    english = [(u.zh, run.english[u.uid]) for _, u in pieces if not errors]
    en, repairs = post_edit_pieces(english, glossary) if english else (None, Repairs())
    notes = [f"{u.uid}: {run.notes[u.uid]}" for _, u in pieces if u.uid in run.notes]
    error = "; ".join(dict.fromkeys(errors or notes)) or None
    return TranslatedParagraph(
        id=pid, zh=zh, en=en, is_heading=is_heading, chunk_id=chunk_id, error=error,
        repairs=repairs,
    )  # fmt: skip
