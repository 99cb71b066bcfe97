"""The ``map_reduce`` strategy, for a document too long for one summary call.

Each chunk is turned into structured notes (``summary_map``) and the notes are combined
(``summary_reduce``). When the notes do not fit one reduce call they are packed into batches
that do, each batch is condensed into notes again (``summary_map`` on notes), and so on, at
most ``MAX_DEPTH`` rounds; a single note larger than a batch is cut at a sentence boundary
and the cut is recorded as a warning.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from service.artifacts import ChunkOutcome, Summary, SummaryArtifact, SummaryNotes
from service.chunk import chunk_document
from service.errors import ConfigError, ModelError
from service.llm.prompts import delimit
from service.models import Chunk, Paragraph
from service.tasks.summary.result import artifact, to_summary
from service.tasks.summary.run import (
    MAP,
    NOTES_OUTPUT,
    REDUCE,
    SUMMARY_OUTPUT,
    SummaryRun,
    gather,
)
from service.tasks.summary.schema import ChunkNotes
from service.tokens import count_tokens, get_encoding

MAX_DEPTH = 3  # collapse rounds before the reduce takes only what fits


async def summarize_map_reduce(run: SummaryRun, chunks: list[Chunk]) -> SummaryArtifact:
    """Notes per chunk, then one reduce call over them (collapsed until they fit)."""
    pieces = _fit_chunks(run, chunks)
    run.total = len(pieces) + 1
    results = await gather([_map_one(run, c) for c in pieces])
    outcomes = [outcome for outcome, _ in results]
    notes = [n for _, n in results if n is not None]
    if not notes:
        return artifact(run, None, "map_reduce", outcomes, [])
    failed = [o.chunk_id for o in outcomes if o.status == "failed"]
    try:
        summary = await _reduce(run, [render_notes(n) for n in notes], failed, len(pieces))
    except ModelError as exc:
        run.warnings.append(f"The final reduce call failed: {exc.message}")
        return artifact(run, None, "map_reduce", outcomes, notes, status="failed")
    return artifact(run, summary, "map_reduce", outcomes, notes)


# --- map ------------------------------------------------------------------------------------


def _map_variables(run: SummaryRun, what: str, material: str, tag: str) -> dict[str, object]:
    return {"what": what, "material": delimit(material, tag), "glossary": run.glossary(material)}


def _fit_chunks(run: SummaryRun, chunks: list[Chunk]) -> list[Chunk]:
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


async def _map_one(run: SummaryRun, chunk: Chunk) -> tuple[ChunkOutcome, SummaryNotes | None]:
    what = f"excerpt {chunk.id} of the document"
    variables = _map_variables(run, what, chunk.text, "document")
    try:
        parsed = await run.call(MAP, variables, run.output(NOTES_OUTPUT))
    except ModelError as exc:
        return ChunkOutcome(chunk_id=chunk.id, status="failed", error=exc.message), None
    return ChunkOutcome(chunk_id=chunk.id, status="ok"), _to_notes(parsed, chunk.id)


def _to_notes(parsed: BaseModel, chunk_id: str) -> SummaryNotes:
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


async def _reduce(run: SummaryRun, texts: list[str], failed: list[str], parts: int) -> Summary:
    """Collapse the notes until one reduce call fits, then make it."""
    out_tokens = run.output(SUMMARY_OUTPUT)
    coverage = _coverage(failed, parts)
    for depth in range(MAX_DEPTH + 1):
        variables = {"coverage": coverage, "notes": delimit("\n\n".join(texts), "notes")}
        if run.room(REDUCE, {**run.meta, **variables}, out_tokens) >= 0:
            return to_summary(await run.call(REDUCE, variables, out_tokens))
        if depth == MAX_DEPTH:
            break
        texts = await _collapse(run, texts, depth + 1)
    texts = _take_fitting(run, texts, coverage, out_tokens)
    variables = {"coverage": coverage, "notes": delimit("\n\n".join(texts), "notes")}
    return to_summary(await run.call(REDUCE, variables, out_tokens))


def _coverage(failed: list[str], parts: int) -> str:
    if not failed:
        return f"The notes cover all {parts} parts of the document."
    return (
        f"The notes cover {parts - len(failed)} of {parts} parts: parts "
        f"{', '.join(failed)} could not be read. Say in the abstract that the summary is "
        "based on an incomplete reading."
    )


async def _collapse(run: SummaryRun, texts: list[str], level: int) -> list[str]:
    """One round: pack notes into batches that fit a map call, condense each batch."""
    out_tokens = run.output(NOTES_OUTPUT)
    probe = {**run.meta, **_map_variables(run, "notes on parts", "", "notes")}
    budget = int(run.room(MAP, probe, out_tokens) * 0.9)
    packed = batches([fit_note(run, t, budget) for t in texts], budget)
    run.total += len(packed)
    results = await gather([_condense(run, b, level, i) for i, b in enumerate(packed)])
    return [text for text in results if text is not None]


async def _condense(run: SummaryRun, batch: list[str], level: int, index: int) -> str | None:
    label = f"r{level}.{index}"
    what = f"notes on {len(batch)} consecutive parts of the document"
    try:
        variables = _map_variables(run, what, "\n\n".join(batch), "notes")
        parsed = await run.call(MAP, variables, run.output(NOTES_OUTPUT))
    except ModelError as exc:
        run.warnings.append(f"Combining notes batch {label} failed, its notes dropped: {exc}")
        return None
    return render_notes(_to_notes(parsed, label))


def batches(texts: list[str], budget: int) -> list[list[str]]:
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


def fit_note(run: SummaryRun, text: str, budget: int) -> str:
    """``text`` within ``budget`` tokens: cut at a sentence end, with a warning, if larger."""
    if count_tokens(text) <= budget:
        return text
    cut = truncate_at_sentence(text, budget)
    run.warnings.append(
        f"A text of {count_tokens(text)} tokens exceeded the {budget}-token budget and "
        f"was cut to {count_tokens(cut)} tokens at a sentence boundary: {text[:40]!r}..."
    )
    return cut


def _take_fitting(run: SummaryRun, texts: list[str], coverage: str, out_tokens: int) -> list[str]:
    """After ``MAX_DEPTH`` rounds: the leading notes that fit, the rest dropped with a warning."""
    empty = {**run.meta, "coverage": coverage, "notes": delimit("", "notes")}
    budget = run.room(REDUCE, empty, out_tokens)
    kept = batches([fit_note(run, t, budget) for t in texts], budget)[0]
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
