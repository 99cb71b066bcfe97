"""Summary task: an English headline, 3-sentence abstract, key points and who/when/where.

When the whole document fits the model's context (the rendered prompt plus the expected
output, counted with cl100k, with a safety margin), it is summarised in one call. Otherwise
each chunk is turned into structured notes (``summary_map``) and the notes are combined
(``summary_reduce``). When the notes do not fit one reduce call they are packed into batches
that do, each batch is condensed into notes again (``summary_map`` on notes), and so on, at
most ``MAX_DEPTH`` rounds; a single note larger than a batch is cut at a sentence boundary
and the cut is recorded as a warning.

The local completion-mode model gets smaller schemas (``SummaryLite``, ``NotesLite``): a
270M base model cannot fill who/when/where reliably, so those fields come back empty.

A free-text summary template (no schema, a ``{{text}}`` variable: ``v2.completion``, for the
embedded base model, which copies a worked summary instead of writing one) makes the summary
*extractive* (method ``lead``): the model translates the title (the headline), the lead
paragraph's first sentence (the abstract) and the first sentence of each of the next
``LEAD_POINTS`` paragraphs (the key points), each cut to its first clauses within
``LEAD_CHARS`` characters, one plain-text call each, as the per-unit translation does (when
the lead fails, the next translated sentence is the abstract). A news readout states who met,
when and what in its title and lead; the artifact says plainly that this is not a written
summary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from service.artifacts import (
    ChunkOutcome,
    Person,
    Summary,
    SummaryArtifact,
    SummaryNotes,
    status_of,
)
from service.checks.quality import QualityReport, check_no_cjk, summary_report
from service.chunk import chunk_document
from service.errors import ConfigError, ModelError, ModelInvalidOutput
from service.llm.prompts import PromptTemplate, delimit, register_schema
from service.models import Chunk, Document, Paragraph
from service.tasks.context import ProgressEvent, TaskContext
from service.tasks.translate import english_line, per_unit, unit_variables
from service.tokens import count_tokens, get_encoding

TASK, MAP, REDUCE = "summary", "summary_map", "summary_reduce"
# Share of the context window kept free: our cl100k count is not the model's tokenizer, and
# chat framing adds a few tokens per message.
MARGIN = 0.10
MESSAGE_OVERHEAD = 4  # tokens of chat framing per message (OpenAI's documented estimate)
# Output budgets in tokens (before capping by the profile and a third of the window). A full
# summary in JSON is 400-700 cl100k tokens; notes on one chunk 200-600.
SUMMARY_OUTPUT = {"chat": 1200, "completion": 320}
NOTES_OUTPUT = {"chat": 800, "completion": 256}
MAX_DEPTH = 3  # collapse rounds before the reduce takes only what fits
LEAD_POINTS = 3  # key points of an extractive (lead) summary: next paragraphs' first sentences
# Longest piece (characters) sent for a lead translation: a readout's opening sentence can run
# to 300 characters, which the embedded model rambles on or gives up; its first clauses carry
# who, when and where.
LEAD_CHARS = 100
UNKNOWN = "unknown"
_T = TypeVar("_T")


# --- validation helpers ---------------------------------------------------------------------

# A period after these never ends a sentence ("Mr. Wang", "No. 1 Document", "e.g. schools").
_NEVER_END = {"mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "gen", "vs", "e.g", "i.e"}
_TERMINATOR = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def count_sentences(text: str) -> int:
    """Sentences in English prose: . ! ? ends one, except decimals, initials and titles."""
    count, last = 0, 0
    for match in _TERMINATOR.finditer(text):
        word = _WORD_BEFORE.search(text[: match.start()])
        if match.group().startswith(".") and word and _abbreviation(word.group(1)):
            continue
        count, last = count + 1, match.end()
    return count + (1 if text[last:].strip() else 0)


def _abbreviation(word: str) -> bool:
    """A title, a Latin short form, or a single initial ("J." in "Xi J. Ping")."""
    return word.lower() in _NEVER_END or (len(word) == 1 and word.isupper())


def _cjk_errors(fields: Iterable[tuple[str, str | None]]) -> list[str]:
    return [
        f"{name} contains Chinese characters ({''.join(check_no_cjk(text))[:20]}); "
        "write English only"
        for name, text in fields
        if text and check_no_cjk(text)
    ]


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise ValueError("; ".join(errors))


# --- structured output ----------------------------------------------------------------------


class SummaryOut(Summary):
    """The chat models' answer (summary and reduce): ``Summary`` plus its rules."""

    model_config = ConfigDict(title="Summary")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        errors = _shape_errors(self.headline, self.abstract, self.key_points, (3, 3), (3, 8))
        if self.date is not None and not _ISO_DATE.match(self.date):
            errors.append(f"date {self.date!r} must be YYYY-MM-DD, YYYY-MM, YYYY or null")
        errors += _cjk_errors(_english_fields(self))
        _raise_if(errors)
        return self


class SummaryLite(BaseModel):
    """The local base model's answer: fewer fields, looser counts."""

    model_config = ConfigDict(title="SummaryLite")
    headline: str
    abstract: str
    key_points: list[str]

    @model_validator(mode="after")
    def _rules(self) -> Self:
        errors = _shape_errors(self.headline, self.abstract, self.key_points, (1, 3), (1, 8))
        errors += _cjk_errors(
            [("headline", self.headline), ("abstract", self.abstract)]
            + [(f"key_points[{i}]", p) for i, p in enumerate(self.key_points)]
        )
        _raise_if(errors)
        return self


def _shape_errors(
    headline: str,
    abstract: str,
    points: Sequence[str],
    sentences: tuple[int, int],
    n_points: tuple[int, int],
) -> list[str]:
    errors = []
    if not headline.strip() or "\n" in headline.strip():
        errors.append("headline must be one non-empty line")
    found = count_sentences(abstract.strip())
    if not sentences[0] <= found <= sentences[1]:
        low, high = sentences
        want = str(high) if low == high else f"{low} to {high}"
        errors.append(f"abstract must be {want} sentences, found {found}")
    if not n_points[0] <= len(points) <= n_points[1]:
        errors.append(f"key_points must hold {n_points[0]} to {n_points[1]} items")
    if any(not p.strip() for p in points):
        errors.append("key_points must not be empty strings")
    return errors


def _english_fields(s: Summary) -> list[tuple[str, str | None]]:
    """Every English field of a summary with its name (``name_zh`` is the one exception)."""
    out: list[tuple[str, str | None]] = [
        ("headline", s.headline),
        ("abstract", s.abstract),
        ("body", s.body),
        ("date", s.date),
        ("place", s.place),
    ]
    out += [(f"key_points[{i}]", p) for i, p in enumerate(s.key_points)]
    for i, person in enumerate(s.people):
        out += [(f"people[{i}].name_en", person.name_en), (f"people[{i}].role", person.role)]
    return out


class ChunkNotes(BaseModel):
    """Notes on one chunk (or on a batch of earlier notes), English except ``name_zh``."""

    model_config = ConfigDict(title="ChunkNotes")
    setting: str | None
    facts: list[str]
    decisions: list[str]
    people: list[Person]

    @model_validator(mode="after")
    def _english(self) -> Self:
        fields = [("setting", self.setting)]
        fields += [(f"facts[{i}]", f) for i, f in enumerate(self.facts)]
        fields += [(f"decisions[{i}]", d) for i, d in enumerate(self.decisions)]
        for i, p in enumerate(self.people):
            fields += [(f"people[{i}].name_en", p.name_en), (f"people[{i}].role", p.role)]
        _raise_if(_cjk_errors(fields))
        return self


class NotesLite(BaseModel):
    """The local base model's notes: a list of facts."""

    model_config = ConfigDict(title="NotesLite")
    facts: list[str]


register_schema("summary", SummaryOut)
register_schema("summary_lite", SummaryLite)
register_schema("summary_notes", ChunkNotes)
register_schema("summary_notes_lite", NotesLite)


# --- budgets --------------------------------------------------------------------------------


@dataclass
class _Run:
    """One summarisation: the context, the document's prompt variables, what happened."""

    doc: Document
    ctx: TaskContext
    meta: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 1

    @property
    def chat(self) -> bool:
        return self.ctx.gateway.profile.mode == "chat"

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
        copied = _copied_example(self.template(task), result.parsed)
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
_COPY_MIN_CHARS = 12


def _copied_example(tpl: PromptTemplate, parsed: BaseModel) -> str | None:
    """A string of the answer that occurs verbatim in a few-shot (completion) prompt."""
    if tpl.mode != "completion":
        return None  # chat prompts have no worked example to copy
    return next((t for t in _strings(parsed.model_dump()) if _in_example(tpl, t)), None)


def _in_example(tpl: PromptTemplate, text: str) -> bool:
    """``text`` (12+ characters) occurs verbatim in the prompt file's worked example."""
    return len(text.strip()) >= _COPY_MIN_CHARS and text.strip() in tpl.body


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _meta_variables(doc: Document) -> dict[str, str]:
    m = doc.meta
    title = " / ".join(t for t in (m.title_zh, m.title_en) if t) or UNKNOWN
    return {
        "title": title,
        "date": m.date.isoformat() if m.date else UNKNOWN,
        "outlet": m.outlet or UNKNOWN,
        "place": m.place or UNKNOWN,
    }


# --- the task -------------------------------------------------------------------------------


async def summarize(doc: Document, chunks: list[Chunk], ctx: TaskContext) -> SummaryArtifact:
    """Summarise ``doc`` in one call when it fits the context, else map-reduce over chunks."""
    run = _Run(doc, ctx, _meta_variables(doc))
    if per_unit(run.template(TASK)):
        return await _lead(run)
    whole = {"document": delimit(doc.text), "glossary": run.glossary(doc.text)}
    if run.room(TASK, {**run.meta, **whole}, run.output(SUMMARY_OUTPUT)) >= 0:
        return await _single(run, whole)
    return await _map_reduce(run, chunks)


async def _single(run: _Run, variables: Mapping[str, object]) -> SummaryArtifact:
    try:
        parsed = await run.call(TASK, variables, run.output(SUMMARY_OUTPUT))
    except ModelError as exc:
        outcome = ChunkOutcome(chunk_id="document", status="failed", error=exc.message)
        return _artifact(run, None, "single", [outcome], [])
    outcome = ChunkOutcome(chunk_id="document", status="ok")
    return _artifact(run, _to_summary(parsed, run.doc), "single", [outcome], [])


async def _map_reduce(run: _Run, chunks: list[Chunk]) -> SummaryArtifact:
    pieces = _fit_chunks(run, chunks)
    run.total = len(pieces) + 1
    results = await _gather([_map_one(run, c) for c in pieces])
    outcomes = [outcome for outcome, _ in results]
    notes = [n for _, n in results if n is not None]
    if not notes:
        return _artifact(run, None, "map_reduce", outcomes, [])
    failed = [o.chunk_id for o in outcomes if o.status == "failed"]
    try:
        summary = await _reduce(run, [render_notes(n) for n in notes], failed, len(pieces))
    except ModelError as exc:
        run.warnings.append(f"The final reduce call failed: {exc.message}")
        return _artifact(run, None, "map_reduce", outcomes, notes, status="failed")
    return _artifact(run, summary, "map_reduce", outcomes, notes)


# --- lead (extractive, for a model that cannot summarise) ----------------------------------

# A Chinese sentence: up to its end mark and any closing quotes/brackets, or the rest.
_ZH_SENTENCE = re.compile(r"[^。！？!?]+(?:[。！？!?]+[”」』）)]*|$)")
_CLAUSE_END = re.compile(r"[，,；;：:]")


def first_sentence(text: str, limit: int = LEAD_CHARS) -> str:
    """The first sentence, cut after its last clause mark within ``limit`` characters when
    longer (at ``limit`` when it has none)."""
    match = _ZH_SENTENCE.search(text.strip())
    sentence = match.group(0).strip() if match else text.strip()
    if len(sentence) <= limit:
        return sentence
    cuts = [m.start() for m in _CLAUSE_END.finditer(sentence, 1, limit)]
    return sentence[: cuts[-1]] if cuts else sentence[:limit]


def lead_pieces(doc: Document) -> list[tuple[str, str]]:
    """(source id, Chinese) to translate: ``title``, then the first sentence of the lead
    paragraph and of up to ``LEAD_POINTS`` further paragraphs (headings, and a first line that
    is the title itself, skipped); every piece cut as ``first_sentence`` cuts."""
    title = (doc.meta.title_zh or "").strip()
    body = [p for p in doc.paragraphs if not p.is_heading and p.text.strip() != title]
    pieces = [("title", first_sentence(title))] if title else []
    pieces += [(p.id, first_sentence(p.text)) for p in body if p.text.strip()]
    return [(uid, zh) for uid, zh in pieces if zh][: (1 if title else 0) + 1 + LEAD_POINTS]


async def _lead(run: _Run) -> SummaryArtifact:
    pieces = lead_pieces(run.doc)
    run.total = len(pieces)
    results = await _gather([_lead_one(run, zh) for _, zh in pieces])
    english: dict[str, str] = {}
    outcomes: list[ChunkOutcome] = []
    for (uid, _), (en, error) in zip(pieces, results, strict=True):
        if en is not None:
            english[uid] = en
        outcomes.append(ChunkOutcome(chunk_id=uid, status="ok" if error is None else "failed",
                                     error=error))  # fmt: skip
    if not any(uid != "title" for uid, _ in pieces):
        outcomes.append(ChunkOutcome(chunk_id="document", status="failed",
                                     error="no body paragraph to summarise"))  # fmt: skip
    # The lead's translation is the abstract; when it failed, the next translated sentence is
    # (the failed lead stays listed), so one bad piece does not throw the others away.
    body = [english[uid] for uid, _ in pieces if uid != "title" and uid in english]
    if not body:
        return _artifact(run, None, "lead", outcomes, [])
    summary = Summary(
        headline=english.get("title") or body[0],
        abstract=body[0],
        key_points=body[1:],
        body=None,
        date=run.doc.meta.date.isoformat() if run.doc.meta.date else None,
        place=None,
        people=[],
    )
    return _artifact(run, summary, "lead", outcomes, [])


async def _lead_one(run: _Run, zh: str) -> tuple[str | None, str | None]:
    """(English, None) or (None, why not) for one sentence, as the per-unit translation."""
    variables = unit_variables(run.ctx, zh)
    budget = min(run.output(SUMMARY_OUTPUT), 2 * count_tokens(variables["text"]) + 32)
    try:
        result = await run.ctx.call(TASK, variables, max_tokens=budget)
        english = english_line(result.text)
        tpl = run.template(TASK)
        # The example's English is a copy unless the source is the example's Chinese itself.
        if _in_example(tpl, english) and zh not in tpl.body:
            raise ModelInvalidOutput(f"the model copied the prompt's example ({english[:60]!r})")
    except ModelError as exc:
        run.report(failed=True)
        return None, exc.message
    run.report(
        cached=result.record.cached, tokens=result.record.tokens_in + result.record.tokens_out
    )
    return english, None


# --- map ------------------------------------------------------------------------------------


def _map_variables(run: _Run, what: str, material: str, tag: str) -> dict[str, object]:
    return {"what": what, "material": delimit(material, tag), "glossary": run.glossary(material)}


def _fit_chunks(run: _Run, chunks: list[Chunk]) -> list[Chunk]:
    """The caller's chunks, each split further when its map request would not fit."""
    out_tokens = run.output(NOTES_OUTPUT)
    empty = {**run.meta, **_map_variables(run, "excerpt c0 of the document", "", "document")}
    # Headroom for the glossary lines a real chunk brings (about 10 tokens per term).
    budget = int(run.room(MAP, empty, out_tokens) * 0.85)
    if budget < 50:
        raise ConfigError(
            f"The {run.ctx.gateway.profile.name} profile's context is too small for the "
            f"summary_map prompt; shorten prompts/{MAP} or use a larger model."
        )
    fitted: list[Chunk] = []
    for chunk in chunks:
        fitted += [chunk] if chunk.tokens <= budget else _split(chunk, budget)
    return fitted


def _split(chunk: Chunk, budget: int) -> list[Chunk]:
    whole = Paragraph(id=chunk.id, index=0, start=0, end=len(chunk.text), text=chunk.text)
    return [
        piece.model_copy(
            update={
                "id": f"{chunk.id}.{i}",
                "start": chunk.start + piece.start,
                "end": chunk.start + piece.end,
                "paragraph_ids": chunk.paragraph_ids,
            }
        )
        for i, piece in enumerate(chunk_document(chunk.text, [whole], budget), start=1)
    ]


async def _map_one(run: _Run, chunk: Chunk) -> tuple[ChunkOutcome, SummaryNotes | None]:
    what = f"excerpt {chunk.id} of the document"
    variables = _map_variables(run, what, chunk.text, "document")
    try:
        parsed = await run.call(MAP, variables, run.output(NOTES_OUTPUT))
    except ModelError as exc:
        return ChunkOutcome(chunk_id=chunk.id, status="failed", error=exc.message), None
    return ChunkOutcome(chunk_id=chunk.id, status="ok"), _to_notes(parsed, chunk.id)


def _to_notes(parsed: BaseModel, chunk_id: str) -> SummaryNotes:
    if isinstance(parsed, NotesLite):
        return SummaryNotes(chunk_id=chunk_id, facts=parsed.facts)
    if isinstance(parsed, ChunkNotes):
        return SummaryNotes(chunk_id=chunk_id, **parsed.model_dump())
    raise ConfigError(f"prompts/{MAP}: unexpected schema {type(parsed).__name__}.")


def render_notes(notes: SummaryNotes) -> str:
    """Notes as the plain text the reduce step reads."""
    lines = [f"Part {notes.chunk_id}"]
    if notes.setting:
        lines.append(f"Setting: {notes.setting}")
    lines += [f"- Fact: {f}" for f in notes.facts]
    lines += [f"- Decision: {d}" for d in notes.decisions]
    lines += [f"- Person: {p.name_en} ({p.name_zh}), {p.role}" for p in notes.people]
    return "\n".join(lines)


# --- reduce ---------------------------------------------------------------------------------


async def _reduce(run: _Run, texts: list[str], failed: list[str], parts: int) -> Summary:
    """Collapse the notes until one reduce call fits, then make it."""
    out_tokens = run.output(SUMMARY_OUTPUT)
    coverage = _coverage(failed, parts)
    for depth in range(MAX_DEPTH + 1):
        variables = {"coverage": coverage, "notes": delimit("\n\n".join(texts), "notes")}
        if run.room(REDUCE, {**run.meta, **variables}, out_tokens) >= 0:
            return _to_summary(await run.call(REDUCE, variables, out_tokens), run.doc)
        if depth == MAX_DEPTH:
            break
        texts = await _collapse(run, texts, depth + 1)
    texts = _take_fitting(run, texts, coverage, out_tokens)
    variables = {"coverage": coverage, "notes": delimit("\n\n".join(texts), "notes")}
    return _to_summary(await run.call(REDUCE, variables, out_tokens), run.doc)


def _coverage(failed: list[str], parts: int) -> str:
    if not failed:
        return f"The notes cover all {parts} parts of the document."
    return (
        f"The notes cover {parts - len(failed)} of {parts} parts: parts "
        f"{', '.join(failed)} could not be read. Say in the abstract that the summary is "
        "based on an incomplete reading."
    )


async def _collapse(run: _Run, texts: list[str], level: int) -> list[str]:
    """One round: pack notes into batches that fit a map call, condense each batch."""
    out_tokens = run.output(NOTES_OUTPUT)
    probe = {**run.meta, **_map_variables(run, "notes on parts", "", "notes")}
    budget = int(run.room(MAP, probe, out_tokens) * 0.9)
    batches = _batches([_fit_note(run, t, budget) for t in texts], budget)
    run.total += len(batches)
    results = await _gather([_condense(run, b, level, i) for i, b in enumerate(batches)])
    return [text for text in results if text is not None]


async def _condense(run: _Run, batch: list[str], level: int, index: int) -> str | None:
    label = f"r{level}.{index}"
    what = f"notes on {len(batch)} consecutive parts of the document"
    try:
        variables = _map_variables(run, what, "\n\n".join(batch), "notes")
        parsed = await run.call(MAP, variables, run.output(NOTES_OUTPUT))
    except ModelError as exc:
        run.warnings.append(f"Combining notes batch {label} failed, its notes dropped: {exc}")
        return None
    return render_notes(_to_notes(parsed, label))


def _batches(texts: list[str], budget: int) -> list[list[str]]:
    """Consecutive notes packed greedily into batches of at most ``budget`` tokens."""
    batches: list[list[str]] = []
    used = budget + 1
    for text in texts:
        size = count_tokens(text) + 2  # the blank line between notes
        if used + size > budget:
            batches.append([])
            used = 0
        batches[-1].append(text)
        used += size
    return batches


def _fit_note(run: _Run, text: str, budget: int) -> str:
    if count_tokens(text) <= budget:
        return text
    cut = truncate_at_sentence(text, budget)
    run.warnings.append(
        f"A note of {count_tokens(text)} tokens exceeded the {budget}-token batch budget and "
        f"was cut to {count_tokens(cut)} tokens at a sentence boundary: {text[:40]!r}..."
    )
    return cut


def _take_fitting(run: _Run, texts: list[str], coverage: str, out_tokens: int) -> list[str]:
    """After ``MAX_DEPTH`` rounds: the leading notes that fit, the rest dropped with a warning."""
    empty = {**run.meta, "coverage": coverage, "notes": delimit("", "notes")}
    budget = run.room(REDUCE, empty, out_tokens)
    kept = _batches([_fit_note(run, t, budget) for t in texts], budget)[0]
    if len(kept) < len(texts):
        run.warnings.append(
            f"After {MAX_DEPTH} rounds of combining, {len(texts) - len(kept)} of {len(texts)} "
            "note groups still did not fit the reduce call and were left out."
        )
    return kept


_SENTENCE_CUT = re.compile(r"(?<=[.!?])\s+|\n")


def truncate_at_sentence(text: str, budget: int) -> str:
    """The longest prefix ending at a sentence or line end within ``budget`` tokens."""
    best = ""
    for match in _SENTENCE_CUT.finditer(text):
        prefix = text[: match.start()]
        if count_tokens(prefix) > budget:
            break
        best = prefix
    if not best:  # no boundary early enough: cut on a token boundary instead
        enc = get_encoding()
        best = enc.decode(enc.encode_ordinary(text)[:budget]).rstrip("\ufffd")
    return best


# --- results --------------------------------------------------------------------------------


def _to_summary(parsed: BaseModel, doc: Document) -> Summary:
    if isinstance(parsed, SummaryOut):
        return Summary.model_validate(parsed.model_dump())
    if isinstance(parsed, SummaryLite):
        # The base model is not asked for who/when/where; the date is the human-checked one.
        date = doc.meta.date.isoformat() if doc.meta.date else None
        return Summary(**parsed.model_dump(), body=None, date=date, place=None, people=[])
    raise ConfigError(
        f"Summary prompts must declare 'summary' or 'summary_lite', not {type(parsed).__name__}."
    )


def quality_source(doc: Document) -> str:
    """The text numbers are checked against: the document plus its human-checked date."""
    date = doc.meta.date
    return doc.text if date is None else f"{doc.text}\n{date.year}年{date.month}月{date.day}日"


def quality_fields(summary: Summary) -> dict[str, str | list[str]]:
    """The summary's English fields, with an ISO date spelled out so it reads as a date."""
    fields: dict[str, str | list[str]] = {
        "headline": summary.headline,
        "abstract": summary.abstract,
        "key_points": summary.key_points,
        "people": [f"{p.name_en}, {p.role}" for p in summary.people],
    }
    for name, value in (("body", summary.body), ("place", summary.place)):
        if value:
            fields[name] = value
    if summary.date:
        fields["date"] = _spell_date(summary.date)
    return fields


def _spell_date(iso: str) -> str:
    parts = [int(p) for p in iso.split("-")] if _ISO_DATE.match(iso) else []
    if len(parts) == 3:
        return dt.date(*parts).strftime("%B %-d, %Y")
    if len(parts) == 2:
        return dt.date(parts[0], parts[1], 1).strftime("%B %Y")
    return iso


def _artifact(
    run: _Run,
    summary: Summary | None,
    method: str,
    outcomes: list[ChunkOutcome],
    notes: list[SummaryNotes],
    *,
    status: str | None = None,
) -> SummaryArtifact:
    quality = (
        summary_report(quality_source(run.doc), quality_fields(summary))
        if summary is not None
        else QualityReport()
    )
    final = status or status_of(outcomes)
    if summary is None:
        final = "failed"
    elif final == "ok" and run.warnings:
        final = "partial"  # material was cut or dropped to fit the context
    return SummaryArtifact.model_validate(
        {
            "doc_id": run.doc.id,
            "status": final,
            "summary": summary,
            "method": method,
            "chunks": outcomes,
            "quality": quality,
            "provenance": run.ctx.provenance(),
            "notes": notes,
            "warnings": run.warnings,
        }
    )


async def _gather(coros: list[Awaitable[_T]]) -> list[_T]:
    """Run concurrently (the gateway bounds concurrency); on an error cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
