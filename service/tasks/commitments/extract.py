"""The commitments task: per-chunk model extraction, grounded, with a rule-based recall pass.

Per chunk: one structured call (the chunk delimited as data); every quote is grounded inside
the chunk. The rule detector then lists pledge-like clauses that no grounded model record
covers; when there are any, ONE targeted second call asks the model about just those. When the
model fails on a chunk (a ``ModelError``), that chunk's rule candidates stand in, marked
``source="rules"`` with untranslated English fields. ``ModelUnavailable`` propagates: the
endpoint is down and the caller decides (503 / stop the batch). Everything is merged across
chunks; only grounded records are shown, unaligned ones are kept apart for review.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from service.artifacts import ChunkOutcome, CommitmentsArtifact, GroundingReport, status_of
from service.errors import ConfigError, ModelError
from service.llm.prompts import delimit
from service.models import Chunk, Document
from service.tasks.commitments.ground import ground_commitments
from service.tasks.commitments.merge import merge_commitments
from service.tasks.commitments.rules import Candidate, RuleTarget, detect
from service.tasks.commitments.schema import (
    Commitment,
    ExtractedCommitment,
    ExtractionOutput,
    Source,
    Target,
    TargetKind,
)
from service.tasks.context import ProgressEvent, TaskContext

TASK = "commitments"
RECALL_TASK = "commitments_recall"
KIND = "commitments"

#: What the English fields say when no model wrote them: shown as-is, never as a translation.
RULE_MARKER = "(rule-derived; not translated)"
#: A rule candidate counts as covered when a grounded model record spans this share of it.
COVER_SHARE = 0.5
#: Fewer Chinese characters than this and a quote cannot state a pledge.
MIN_CJK = 4
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_RULE_KINDS: dict[str, TargetKind] = {
    "count": "count",
    "money": "money",
    "area": "area",
    "length": "length",
    "percent": "percentage",
    "other": "other",
}


# --- per-chunk work ---------------------------------------------------------------------------


@dataclass
class ChunkResult:
    """One chunk's outcome and records, whichever strategy produced them."""

    outcome: ChunkOutcome
    records: list[Commitment] = field(default_factory=list)
    candidates: int = 0
    second_calls: int = 0


@dataclass(frozen=True)
class _Job:
    """Everything one chunk needs, computed once per document."""

    doc: Document
    chunk: Chunk
    candidates: list[Candidate]
    variables: dict[str, object]


async def extract_commitments(
    doc: Document, chunks: list[Chunk], ctx: TaskContext
) -> CommitmentsArtifact:
    """Extract, ground, recall-check and merge the commitments of ``doc``."""
    candidates = detect(doc.text, doc_year=doc_year(doc))
    base = _doc_variables(doc)
    jobs = [_Job(doc, c, _inside(candidates, c), base) for c in chunks]
    results = await _run_all(jobs, ctx)
    return assemble(doc, results, ctx)


async def _run_all(jobs: list[_Job], ctx: TaskContext) -> list[ChunkResult]:
    """Chunks concurrently (the gateway bounds concurrency); first fatal error propagates."""
    done = 0

    async def one(job: _Job) -> ChunkResult:
        nonlocal done
        result = await _extract_chunk(job, ctx)
        done += 1
        failed = result.outcome.status != "ok"
        ctx.report(ProgressEvent(job.doc.id, KIND, done, len(jobs), failed=failed))
        return result

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(job)) for job in jobs]
    except ExceptionGroup as errors:
        # ModelUnavailable (or a bug) in one chunk: raise it as itself, not as a group.
        raise errors.exceptions[0] from None
    return [t.result() for t in tasks]


async def _extract_chunk(job: _Job, ctx: TaskContext) -> ChunkResult:
    try:
        records = await _model_records(job, ctx, TASK, {})
    except ModelError as exc:
        return _fallback(job, exc)
    result = ChunkResult(ChunkOutcome(chunk_id=job.chunk.id, status="ok"), records)
    result.candidates = len(job.candidates)
    uncovered = [c for c in job.candidates if not _covered(c, records)]
    if not uncovered:
        return result
    result.second_calls = 1
    try:
        result.records += await _model_records(
            job, ctx, RECALL_TASK, _recall_vars(uncovered, records)
        )
    except ModelError as exc:
        # The main extraction stands; only the recall check is missing, so say so.
        result.outcome.error = f"recall pass failed: {exc.message}"
    if ctx.gateway.profile.weak:
        # A weak model's silence is no evidence: keep what the rules found, marked as such.
        missed = [c for c in uncovered if not _covered(c, result.records)]
        result.records += _rule_records(job, missed)
    return result


async def _model_records(
    job: _Job, ctx: TaskContext, task: str, extra: dict[str, object]
) -> list[Commitment]:
    """One structured call on the chunk, its quotes grounded inside the chunk."""
    variables = {**job.variables, "document": delimit(job.chunk.text), **extra}
    result = await ctx.call(task, variables)
    extracted = _as_extracted(result.parsed)
    grounded = _ground(job, extracted, "model", (job.chunk.start, job.chunk.end))
    return [_plausible(c) for c in grounded]


def _plausible(c: Commitment) -> Commitment:
    """A quote without Chinese words is no pledge of a Chinese document, even if it is in the
    text (an injected 'HACKED', a URL): kept for review like an unaligned quote, never shown."""
    if not c.aligned or len(_CJK.findall(c.quote or "")) >= MIN_CJK:
        return c
    assert c.checks is not None  # ground_commitments always checks
    checks = c.checks.model_copy(update={"failures": [*c.checks.failures, "quote:not Chinese"]})
    return c.model_copy(
        update={"alignment": "unaligned", "start": None, "end": None, "quote": None,
                "paragraph_id": None, "mentions": [], "checks": checks}
    )  # fmt: skip


def _ground(
    job: _Job, extracted: Sequence[ExtractedCommitment], source: Source, within: tuple[int, int]
) -> list[Commitment]:
    doc = job.doc
    return ground_commitments(
        doc.id, doc.text, doc.paragraphs, extracted,
        chunk_id=job.chunk.id, source=source, within=within,
    )  # fmt: skip


def _as_extracted(parsed: BaseModel | None) -> list[ExtractedCommitment]:
    """The records of the model's ``ExtractionOutput``."""
    if isinstance(parsed, ExtractionOutput):
        return list(parsed.commitments)
    # Only a prompt file without (or with a foreign) schema gets here: the operator's to fix.
    raise ConfigError(
        f"prompts/{TASK}: declare schema ExtractionOutput; the answer parsed as "
        f"{type(parsed).__name__}."
    )


# --- rules: recall hints and fallback ---------------------------------------------------------


def _inside(candidates: Sequence[Candidate], chunk: Chunk) -> list[Candidate]:
    return [c for c in candidates if chunk.start <= c.start and c.end <= chunk.end]


def _covered(candidate: Candidate, records: Sequence[Commitment]) -> bool:
    need = COVER_SHARE * (candidate.end - candidate.start)
    for r in records:
        if r.start is None or r.end is None:
            continue  # an unaligned quote covers nothing
        overlap = min(r.end, candidate.end) - max(r.start, candidate.start)
        if overlap > 0 and overlap >= need:
            return True
    return False


def _recall_vars(
    uncovered: Sequence[Candidate], records: Sequence[Commitment]
) -> dict[str, object]:
    clauses = "\n".join(f"- {c.quote}" for c in uncovered)
    found = "\n".join(f"- {r.quote}" for r in records if r.quote) or "(none)"
    # Both lists are document text: delimited like the document itself.
    return {"candidates": delimit(clauses, "clauses"), "found": delimit(found, "found")}


def _fallback(job: _Job, exc: ModelError) -> ChunkResult:
    """The chunk's rule candidates, grounded at their own exact offsets."""
    records = _rule_records(job, job.candidates)
    outcome = ChunkOutcome(chunk_id=job.chunk.id, status="fallback", error=exc.message)
    return ChunkResult(outcome, records, candidates=len(job.candidates))


def _rule_records(job: _Job, candidates: Sequence[Candidate]) -> list[Commitment]:
    """Rule candidates as commitments, grounded at their own exact offsets."""
    return [
        r
        for c in candidates
        for r in _ground(job, [candidate_to_extracted(c)], "rules", (c.start, c.end))
    ]


def candidate_to_extracted(c: Candidate) -> ExtractedCommitment:
    """A rule candidate in the model's schema; what rules cannot know stays null or marked.

    An unmarked clause (no 力争/确保) is a directive in these texts, so it counts as binding.
    """
    year = c.deadline.year if c.deadline else None
    return ExtractedCommitment(
        quote_zh=c.quote, actor_zh=None, actor_en=None, action_zh=c.quote,
        action_en=RULE_MARKER, targets=[_target(t) for t in c.targets],
        deadline_text=c.deadline.text if c.deadline else None, deadline_start=None,
        deadline_end=f"{year}-12-31" if year else None,
        deadline_precision="year" if year else "none", sector="other",
        modality="aspirational" if c.modality == "aspirational" else "binding",
        trigger=c.trigger, milestone=None, gloss_en=RULE_MARKER,
    )  # fmt: skip


def _target(t: RuleTarget) -> Target:
    return Target(text=t.text, value=t.value, unit=t.unit or None, kind=_RULE_KINDS[t.kind])


# --- document variables and assembly ----------------------------------------------------------


def doc_year(doc: Document) -> int | None:
    return doc.meta.date.year if doc.meta.date else None


def _doc_variables(doc: Document) -> dict[str, object]:
    date = doc.meta.date.isoformat() if doc.meta.date else "unknown"
    year = str(doc.meta.date.year) if doc.meta.date else "unknown"
    return {"doc_date": date, "doc_year": year}


def assemble(doc: Document, results: list[ChunkResult], ctx: TaskContext) -> CommitmentsArtifact:
    """The artifact from every chunk's records: merged, grounded ones shown, the rest apart."""
    records = [r for res in results for r in res.records]
    merged = merge_commitments(records)
    shown = [c for c in merged if c.aligned]
    outcomes = [res.outcome for res in results]
    return CommitmentsArtifact(
        doc_id=doc.id,
        status=status_of(outcomes) if outcomes else "ok",
        commitments=shown,
        unaligned=[c for c in merged if not c.aligned],
        chunks=outcomes,
        grounding=_report(records, merged, results),
        provenance=ctx.provenance(),
    )


def _report(
    records: list[Commitment], merged: list[Commitment], results: list[ChunkResult]
) -> GroundingReport:
    aligned = sum(r.aligned for r in records)
    shown = [c for c in merged if c.aligned]
    return GroundingReport(
        extracted=len(records),
        shown=len(shown),
        unaligned=len(merged) - len(shown),
        # Nothing extracted means nothing failed to ground.
        grounding_rate=round(aligned / len(records), 4) if records else 1.0,
        checks_failed=sum(c.checks is not None and not c.checks.ok for c in shown),
        rule_candidates=sum(res.candidates for res in results),
        second_pass_calls=sum(res.second_calls for res in results),
    )
