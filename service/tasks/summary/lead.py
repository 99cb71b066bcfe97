"""The ``lead`` strategy: an extractive summary, for a model that cannot write one.

The embedded base model copies a worked summary instead of writing one. Here it translates
the title (the headline), the lead paragraph's first sentence (the abstract) and the first
sentence of each of the next ``LEAD_POINTS`` paragraphs (the key points), each cut to its
first clauses within ``LEAD_CHARS`` characters, one plain-text call each, as the per-unit
translation does (``service/tasks/units.py``); when the lead fails, the next translated
sentence is the abstract. A news readout states who met, when and what in its title and lead;
the artifact says plainly (method ``lead``) that this is not a written summary.
"""

from __future__ import annotations

import re

from service.artifacts import ChunkOutcome, Summary, SummaryArtifact
from service.errors import ModelError, ModelInvalidOutput
from service.models import Document
from service.tasks.summary.result import artifact
from service.tasks.summary.run import SUMMARY_OUTPUT, TASK, SummaryRun, gather
from service.tasks.units import english_line, in_example, unit_variables
from service.tokens import count_tokens

LEAD_POINTS = 3  # key points of an extractive (lead) summary: next paragraphs' first sentences
# Longest piece (characters) sent for a lead translation: a readout's opening sentence can run
# to 300 characters, which the embedded model rambles on or gives up; its first clauses carry
# who, when and where.
LEAD_CHARS = 100
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


async def summarize_lead(run: SummaryRun) -> SummaryArtifact:
    """Headline, abstract and key points translated from the title and lead sentences."""
    pieces = lead_pieces(run.doc)
    run.total = len(pieces)
    results = await gather([_lead_one(run, zh) for _, zh in pieces])
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
        return artifact(run, None, "lead", outcomes, [])
    summary = Summary(
        headline=english.get("title") or body[0],
        abstract=body[0],
        key_points=body[1:],
        body=None,
        date=run.doc.meta.date.isoformat() if run.doc.meta.date else None,
        place=None,
        people=[],
    )
    return artifact(run, summary, "lead", outcomes, [])


async def _lead_one(run: SummaryRun, zh: str) -> tuple[str | None, str | None]:
    """(English, None) or (None, why not) for one sentence, as the per-unit translation."""
    variables = unit_variables(run.ctx, zh)
    budget = min(run.output(SUMMARY_OUTPUT), 2 * count_tokens(variables["text"]) + 32)
    try:
        result = await run.ctx.call(TASK, variables, max_tokens=budget)
        english = english_line(result.text)
        tpl = run.template(TASK)
        # The example's English is a copy unless the source is the example's Chinese itself.
        if in_example(tpl, english) and zh not in tpl.body:
            raise ModelInvalidOutput(f"the model copied the prompt's example ({english[:60]!r})")
    except ModelError as exc:
        run.report(failed=True)
        return None, exc.message
    run.report(
        cached=result.record.cached, tokens=result.record.tokens_in + result.record.tokens_out
    )
    return english, None
