"""Translation evaluation against the official English of the bilingual reference set.

For each reference document, ``limit`` paragraphs from ``offset`` are put into a small
document of their own (not added to the library) and translated by the real task through a
``Reader``, as the service translates (so the cache makes a re-run free). Scores: chrF
(sacrebleu, character level, corpus score), number preservation and glossary adherence from
``service.checks.quality``. The same two checks are run on the official English as well: they
show how far the checks themselves flag a human translation.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel, Field
from sacrebleu.metrics.chrf import CHRF

from service.artifacts import TranslationArtifact
from service.checks.glossary import Glossary
from service.checks.quality import check_glossary, check_numbers
from service.config import Settings
from service.errors import InputError, NotFound
from service.eval.reference import ReferenceDoc, ReferencePair, load_reference, load_reference_dir
from service.models import CleaningReport, Document, DocumentMeta, Paragraph
from service.reader import Reader
from service.tasks.translate import TASK


class Counts(BaseModel):
    """Scores over a set of paragraphs (one document, or all of them)."""

    name: str
    paragraphs: int = 0
    translated: int = 0
    chrf: float = Field(0.0, description="sacrebleu chrF (0..100) vs the official English.")
    numbers_total: int = 0
    numbers_preserved: int = 0
    glossary_terms: int = 0
    glossary_adhered: int = 0
    reference_numbers_preserved: int = Field(0, description="The same check on the official EN.")
    reference_glossary_adhered: int = 0
    failed_chunks: int = 0
    calls: int = 0
    cache_hits: int = 0

    @property
    def number_rate(self) -> float | None:
        return self.numbers_preserved / self.numbers_total if self.numbers_total else None

    @property
    def glossary_rate(self) -> float | None:
        return self.glossary_adhered / self.glossary_terms if self.glossary_terms else None


class Sample(BaseModel):
    """One evaluated paragraph, for inspection (``--json``)."""

    doc: str
    index: int
    zh: str
    reference: str
    hypothesis: str | None
    error: str | None = None


class TranslationEval(BaseModel):
    model: str
    profile: str
    prompt_version: str | None
    glossary_version: str | None
    limit: int
    offset: int
    documents: list[Counts]
    overall: Counts
    samples: list[Sample] = Field(default_factory=list)


def load_references(path: Path, docs: Sequence[str] = ()) -> list[ReferenceDoc]:
    """A reference file or a folder of them; ``docs`` keeps names containing any of them."""
    if path.is_dir():
        refs = load_reference_dir(path)
    elif path.is_file():
        refs = [load_reference(path)]
    else:
        raise InputError(f"reference path {path} does not exist; give a .md file or a folder")
    wanted = [d for d in docs if d]
    if not wanted:
        return refs
    chosen = [r for r in refs if any(d in r.name for d in wanted)]
    if not chosen:
        names = ", ".join(r.name for r in refs)
        raise NotFound(f"no reference document matches {', '.join(wanted)}; have: {names}")
    return chosen


def reference_document(ref: ReferenceDoc, pairs: Sequence[ReferencePair]) -> Document:
    """The Chinese side of ``pairs`` as a document of its own, one paragraph per pair."""
    text = "\n".join(p.zh for p in pairs)
    paragraphs, start = [], 0
    for i, pair in enumerate(pairs):
        end = start + len(pair.zh)
        paragraphs.append(Paragraph(id=f"p{i + 1}", index=i, start=start, end=end, text=pair.zh))
        start = end + 1
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Document(
        id=f"ref-{digest}",
        source_name=ref.name,
        raw_sha256=hashlib.sha256(text.encode()).hexdigest(),
        script="simplified",
        text=text,
        meta=DocumentMeta(title_zh=ref.name),
        cleaning=CleaningReport(encoding="utf-8", chars_raw=len(text), chars_clean=len(text)),
        paragraphs=paragraphs,
    )


async def evaluate_translation(
    refs: Sequence[ReferenceDoc], reader: Reader, *, limit: int = 5, offset: int = 0
) -> TranslationEval:
    """Translate ``limit`` paragraphs per document and score them against the official EN."""
    if limit < 1 or offset < 0:
        raise InputError("--limit must be at least 1 and --offset at least 0")
    chosen = [(r, r.pairs[offset : offset + limit]) for r in refs]
    chosen = [(r, pairs) for r, pairs in chosen if pairs]
    results = await asyncio.gather(*(_evaluate_doc(r, pairs, reader) for r, pairs in chosen))
    documents = [counts for counts, _ in results]
    samples = [s for _, doc_samples in results for s in doc_samples]
    gateway = reader.gateway
    return TranslationEval(
        model=gateway.model,
        profile=gateway.profile.name,
        prompt_version=gateway.registry.get(TASK, gateway.profile.mode).version,
        glossary_version=reader.glossary.version,
        limit=limit,
        offset=offset,
        documents=documents,
        overall=_overall(documents, samples),
        samples=samples,
    )


async def _evaluate_doc(
    ref: ReferenceDoc, pairs: Sequence[ReferencePair], reader: Reader
) -> tuple[Counts, list[Sample]]:
    doc = reference_document(ref, pairs)
    artifact = await reader.run_task(doc, "translation")  # provenance counts per document
    assert isinstance(artifact, TranslationArtifact)
    samples = [
        Sample(doc=ref.name, index=pair.index, zh=pair.zh, reference=pair.en,
               hypothesis=p.en, error=p.error)
        for pair, p in zip(pairs, artifact.paragraphs, strict=True)
    ]  # fmt: skip
    counts = score(ref.name, samples, reader.glossary)
    counts.failed_chunks = sum(c.status == "failed" for c in artifact.chunks)
    counts.calls, counts.cache_hits = artifact.provenance.calls, artifact.provenance.cache_hits
    return counts, samples


def score(name: str, samples: Sequence[Sample], glossary: Glossary | None) -> Counts:
    """chrF, numbers and glossary over ``samples``; an untranslated paragraph scores as ''."""
    hypotheses = [s.hypothesis or "" for s in samples]
    references = [s.reference for s in samples]
    counts = Counts(name=name, paragraphs=len(samples))
    counts.translated = sum(s.hypothesis is not None for s in samples)
    counts.chrf = round(CHRF().corpus_score(hypotheses, [references]).score, 2)
    terms = glossary.entries_in if glossary is not None else (lambda _text: [])
    for sample, hypothesis in zip(samples, hypotheses, strict=True):
        numbers = check_numbers(sample.zh, hypothesis)
        counts.numbers_total += numbers.total
        counts.numbers_preserved += numbers.preserved
        counts.reference_numbers_preserved += check_numbers(sample.zh, sample.reference).preserved
        adherence = check_glossary([(sample.zh, hypothesis)], terms)
        counts.glossary_terms += len(adherence.hits)
        counts.glossary_adhered += len(adherence.hits) - len(adherence.misses)
        reference = check_glossary([(sample.zh, sample.reference)], terms)
        counts.reference_glossary_adhered += len(reference.hits) - len(reference.misses)
    return counts


def _overall(documents: Sequence[Counts], samples: Sequence[Sample]) -> Counts:
    """Sums over the documents; chrF is recomputed as one corpus score over every paragraph."""
    total = Counts(name="overall")
    for counts in documents:
        for field in Counts.model_fields:
            if field not in ("name", "chrf"):
                setattr(total, field, getattr(total, field) + getattr(counts, field))
    hypotheses = [s.hypothesis or "" for s in samples]
    if samples:
        references = [s.reference for s in samples]
        total.chrf = round(CHRF().corpus_score(hypotheses, [references]).score, 2)
    return total


async def run_translation_eval(
    settings: Settings,
    refs: Sequence[ReferenceDoc],
    *,
    limit: int = 5,
    offset: int = 0,
    http_client: httpx.AsyncClient | None = None,
) -> TranslationEval:
    """``evaluate_translation`` on the configured endpoint (the local server when none is),
    with the service's cache and glossary."""
    async with Reader.open(settings, http_client=http_client) as reader:
        return await evaluate_translation(refs, reader, limit=limit, offset=offset)


HEADER = ("document", "paras", "done", "chrF", "numbers", "(official)", "glossary", "(official)",
          "failed", "calls", "hits")  # fmt: skip


def table_rows(result: TranslationEval) -> list[tuple[str, ...]]:
    """One row per document and the overall row, as display strings."""
    return [_row(c) for c in [*result.documents, result.overall]]


def _row(c: Counts) -> tuple[str, ...]:
    return (
        c.name, str(c.paragraphs), str(c.translated), f"{c.chrf:.1f}",
        f"{c.numbers_preserved}/{c.numbers_total}",
        f"{c.reference_numbers_preserved}/{c.numbers_total}",
        f"{c.glossary_adhered}/{c.glossary_terms}",
        f"{c.reference_glossary_adhered}/{c.glossary_terms}",
        str(c.failed_chunks), str(c.calls), str(c.cache_hits),
    )  # fmt: skip
