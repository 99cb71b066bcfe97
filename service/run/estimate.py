"""``policy-reader run --dry-run``: calls, tokens and cost a run would need, without a model.

Nothing here starts a server or touches the network: the profile comes from the settings
(the embedded model's, ``local-qwen2.5-1.5b-instruct``, when no endpoint is configured),
documents are chunked with its budget, prompt overheads are measured by rendering the real
prompt templates with empty variables. Assumptions (rough; the real numbers are in the run's
summary and ``cache stats``):

- prompt tokens ≈ template overhead + source tokens + ``PARAGRAPH_MARKUP`` per paragraph
  (``<p id="…">`` lines) + the glossary lines for terms in the text; a translation chunk after
  the first also carries the previous passage (``PREVIOUS_CONTEXT`` tokens);
- output tokens per call: translation ``TRANSLATION_RATIO`` × source tokens (English runs to
  about 1.3 cl100k tokens per Chinese source token in our seeds); commitments
  ``COMMITMENTS_RATIO`` × source tokens (quotes are copied, fields are short); a summary
  ``SUMMARY_OUTPUT`` tokens, a map note ``NOTES_OUTPUT``, a ``sections`` answer (or note)
  ``SECTIONS_ANSWER``; all capped by the profile's ``max_output_tokens``;
- the summary is one call when the whole document fits the context window, else one map call
  per chunk and one reduce call (deeper collapses of very long documents are not counted);
- the active templates' strategies decide the shape: ``per_unit`` translation (as the embedded
  model uses) is a call per paragraph (or piece of one), ``rules_en`` commitments a call per
  concrete rule candidate (``RULE_SENTENCE_OUTPUT`` tokens each; re-asks are not counted) and
  one per entity of the concrete tier the glossary does not name (``NAME_OUTPUT`` tokens);
- a ``sections`` summary (the embedded Qwen's) first runs the translation task on the document
  (the same calls, cached: paid once per document) and then summarises about
  ``TRANSLATION_RATIO`` × the source tokens of English in one call, or, when that does not fit
  the context window, in parts (a call each) and then their notes, as the task cuts them. When
  translation is also estimated, those calls are counted once, in the translation row, and the
  summary row's note says so; otherwise they are in the summary row;
- the commitments recall pass (only for chunks where the rule detector finds pledges the model
  missed) is not counted: it can add up to one call per chunk;
- nothing is cached: a re-run of a finished corpus in fact costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from service.artifacts import ArtifactKind
from service.checks.glossary import Glossary
from service.chunk import chunk_document
from service.config import Settings
from service.llm.profiles import Profile, configured, resolve_profile
from service.llm.prompts import delimit, load_prompts
from service.models import Chunk, Document
from service.tasks.commitments.english import (
    context_of,
    rendering_plan,
)
from service.tasks.commitments.extract import doc_year
from service.tasks.commitments.names import NAME_TASK
from service.tasks.commitments.rules import detect
from service.tasks.registry import CATALOG
from service.tasks.strategies import PER_UNIT, RULES_EN, SECTIONS
from service.tasks.summary import sections
from service.tasks.summary.map_reduce import MAX_DEPTH
from service.tasks.summary.run import MARGIN
from service.tasks.translate import plan_units
from service.tokens import count_tokens

DEFAULT_OVERHEAD = 400  # tokens, for a task whose prompt file is missing
MESSAGE_OVERHEAD = 4  # chat framing per message (OpenAI's documented count)
PARAGRAPH_MARKUP = 8
PREVIOUS_CONTEXT = 600
TRANSLATION_RATIO = 1.3
COMMITMENTS_RATIO = 0.5
RULE_SENTENCE_OUTPUT = 40  # one English sentence per rule-found commitment (rules_en)
NAME_OUTPUT = 15  # one English name per entity the glossary lacks (rules_en)
SUMMARY_OUTPUT = 800
NOTES_OUTPUT = 300
SECTIONS_ANSWER = 250  # a sections answer runs 150-350 tokens; a part's note about as long
CONTEXT_MARGIN = MARGIN  # the summary leaves this share of the window unused
BLANK_LINE = 2  # tokens between two texts of one sections request
# A sections summary row's note: where the translation calls it makes first are counted.
SHARED_TRANSLATION = (
    "summary (sections): the translation it runs first is the translation task's, counted in "
    "the translation row (the same cached calls: a run pays them once)"
)
OWN_TRANSLATION = "summary (sections): includes the calls of the translation it runs first"

Call = tuple[int, int]  # (prompt tokens, output tokens) of one model call


class TaskEstimate(BaseModel):
    doc_id: str
    source: str
    kind: ArtifactKind
    chunks: int
    calls: int
    prompt_tokens: int
    output_tokens: int
    cost_usd: float
    note: str = ""  # what the row includes or leaves to another row (a summary's translation)


class Estimate(BaseModel):
    model: str
    profile: str
    budget: int
    rows: list[TaskEstimate]
    batch_discount: float = 0.0  # applied to the totals when --batch-api is given

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.rows)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.rows)

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.rows) * (1 - self.batch_discount)


class _Costing:
    """The profile, templates and glossary the estimate is computed with."""

    def __init__(self, settings: Settings) -> None:
        self.model, name = configured(
            settings.model, settings.profile, local=settings.uses_local_model
        )
        self.profile: Profile = resolve_profile(name, self.model)
        self.budget = settings.chunk_tokens or self.profile.chunk_budget
        self.registry = load_prompts(settings, self.profile, CATALOG)
        self.glossary = Glossary.load(settings.prompts_dir / "glossary.tsv")
        self._overheads: dict[str, int] = {}

    def overhead(self, task: str) -> int:
        """Tokens of the task's active template with every variable empty."""
        if task not in self._overheads:
            self._overheads[task] = self._measure(task)
        return self._overheads[task]

    def _measure(self, task: str) -> int:
        if not self.registry.versions(task, self.profile.mode):
            return DEFAULT_OVERHEAD
        return self.rendered(task, {})

    def rendered(self, task: str, variables: Mapping[str, str]) -> int:
        """Tokens of the task's active template with these variables (the others empty)."""
        tpl = self.registry.get(task, self.profile.mode)
        msgs = tpl.render_messages({**dict.fromkeys(tpl.variables, ""), **variables})
        return sum(count_tokens(m.content) + MESSAGE_OVERHEAD for m in msgs) + 3

    def strategy(self, task: str) -> str | None:
        """The strategy of the task's active template (None without a prompt file)."""
        if not self.registry.versions(task, self.profile.mode):
            return None
        return self.registry.get(task, self.profile.mode).strategy

    def source(self, text: str, paragraphs: int) -> int:
        """Prompt tokens of a piece of the document: text, markup and its glossary lines."""
        lines = Glossary.render_lines(self.glossary.entries_in(text))
        return count_tokens(text) + PARAGRAPH_MARKUP * paragraphs + count_tokens(lines)

    def out(self, tokens: float) -> int:
        return min(int(tokens), self.profile.max_output_tokens)


def estimate(
    settings: Settings,
    docs: Sequence[Document],
    kinds: Sequence[ArtifactKind],
    *,
    batch_api: bool = False,
) -> Estimate:
    """Calls, tokens and cost per document and task; see the module docstring."""
    c = _Costing(settings)
    rows = [
        _row(c, doc, kind, chunk_document(doc.text, doc.paragraphs, c.budget), kinds)
        for doc in docs
        for kind in kinds
    ]
    discount = c.profile.batch_discount if batch_api else 0.0
    return Estimate(
        model=c.model, profile=c.profile.name, budget=c.budget, rows=rows, batch_discount=discount
    )


def _row(
    c: _Costing, doc: Document, kind: ArtifactKind, chunks: list[Chunk], kinds: Sequence[str]
) -> TaskEstimate:
    shape = {"summary": _summary, "translation": _translation, "commitments": _commitments}
    calls, note = shape[kind](c, doc, chunks), ""
    if kind == "summary" and c.strategy("summary") == SECTIONS:
        calls, note = _with_translation(c, doc, chunks, calls, shared="translation" in kinds)
    prompt, output = sum(p for p, _ in calls), sum(o for _, o in calls)
    return TaskEstimate(
        doc_id=doc.id,
        source=doc.source_name,
        kind=kind,
        chunks=len(chunks),
        calls=len(calls),
        prompt_tokens=prompt,
        output_tokens=output,
        cost_usd=c.profile.cost(prompt, output),
        note=note,
    )


def _with_translation(
    c: _Costing, doc: Document, chunks: list[Chunk], calls: list[Call], *, shared: bool
) -> tuple[list[Call], str]:
    """A sections summary's calls and the translation calls it makes first, unless the
    translation row counts those (they are the same cached calls: a run pays them once)."""
    if shared:
        return calls, SHARED_TRANSLATION
    return [*_translation(c, doc, chunks), *calls], OWN_TRANSLATION


def _translation(c: _Costing, doc: Document, chunks: list[Chunk]) -> list[Call]:
    base = c.overhead("translate")
    if c.strategy("translate") == PER_UNIT:
        units = [u for chunk_units in plan_units(doc, chunks) for u in chunk_units]
        return [(base + c.source(u.zh, 1), c.out(count_tokens(u.zh) * TRANSLATION_RATIO))
                for u in units]  # fmt: skip
    return [
        (
            base + c.source(ch.text, len(ch.paragraph_ids)) + (PREVIOUS_CONTEXT if i else 0),
            c.out(ch.tokens * TRANSLATION_RATIO),
        )
        for i, ch in enumerate(chunks)
    ]


def _commitments(c: _Costing, doc: Document, chunks: list[Chunk]) -> list[Call]:
    base = c.overhead("commitments")
    if c.strategy("commitments") == RULES_EN:
        found = detect(doc.text, doc_year=doc_year(doc))
        concrete, names = rendering_plan(doc.text, found, c.glossary)
        name_base = c.overhead(NAME_TASK)
        return [(base + c.source(context_of(doc, r), 1), c.out(RULE_SENTENCE_OUTPUT))
                for r in concrete] + [
                (name_base + count_tokens(k + q), c.out(NAME_OUTPUT)) for k, q in names.items()
        ]  # fmt: skip
    return [
        (base + c.source(ch.text, len(ch.paragraph_ids)), c.out(ch.tokens * COMMITMENTS_RATIO))
        for ch in chunks
    ]


def _summary(c: _Costing, doc: Document, chunks: list[Chunk]) -> list[Call]:
    if c.strategy("summary") == SECTIONS:
        return _sections(c, doc)
    output = c.out(SUMMARY_OUTPUT)
    whole = c.overhead("summary") + c.source(doc.text, len(doc.paragraphs))
    if whole + output <= c.profile.context_window * (1 - CONTEXT_MARGIN):
        return [(whole, output)]
    notes = c.out(NOTES_OUTPUT)
    maps = [
        (c.overhead("summary_map") + c.source(ch.text, len(ch.paragraph_ids)), notes)
        for ch in chunks
    ]
    return [*maps, (c.overhead("summary_reduce") + notes * len(maps), output)]


# --- the sections summary over the English (service/tasks/summary/sections.py) -------------


def _sections(c: _Costing, doc: Document) -> list[Call]:
    """Rounds of part calls while the English (then the notes) overflow one request, as the
    task cuts them, and the final call; a paragraph's English ≈ ``TRANSLATION_RATIO`` × its
    Chinese, a note as long as an answer."""
    meta = sections.english_meta(doc, c.glossary)
    answer = min(SECTIONS_ANSWER, _sections_output(c))
    texts = [int(count_tokens(p.text) * TRANSLATION_RATIO) for p in doc.paragraphs if p.text]
    calls: list[Call] = []
    what = sections.WHOLE
    for level in range(1, MAX_DEPTH + 1):
        if not texts or sum(t + BLANK_LINE for t in texts) <= _room(c, meta, what):
            break
        part = sections.PART.replace("{level}", str(level))
        parts = _parts(texts, _room(c, meta, part))
        calls += [(_prompt(c, meta, part) + size, answer) for size in parts]
        texts, what = [answer] * len(parts), sections.NOTES.format(n=len(parts))
    if not texts:
        return calls
    material = min(sum(t + BLANK_LINE for t in texts), _room(c, meta, what))
    return [*calls, (_prompt(c, meta, what) + material, answer)]


def _sections_output(c: _Costing) -> int:
    """The task's output budget (``SummaryRun.output``): the profile's cap, a third of the
    usable window."""
    limit = int(c.profile.context_window * (1 - MARGIN))
    return min(sections.SECTIONS_OUTPUT, c.profile.max_output_tokens, limit // 3)


def _prompt(c: _Costing, meta: Mapping[str, str], what: str) -> int:
    """Prompt tokens of a sections request with an empty document."""
    return c.rendered("summary", {**meta, "what": what, "document": delimit("")})


def _room(c: _Costing, meta: Mapping[str, str], what: str) -> int:
    """Tokens of English one sections request carries (``sections.room``)."""
    limit = int(c.profile.context_window * (1 - MARGIN))
    return int((limit - _sections_output(c) - _prompt(c, meta, what)) * sections.FILL)


def _parts(texts: list[int], budget: int) -> list[int]:
    """Token sizes of the parts: a text larger than a part cut in pieces that fit
    (``sections.pieces``), consecutive pieces packed greedily (``map_reduce.batches``)."""
    parts: list[int] = []
    used = budget + 1
    for piece in (p for t in texts for p in _pieces(t, max(budget, 1))):
        if used + piece + BLANK_LINE > budget:
            parts.append(0)
            used = 0
        parts[-1] += piece + BLANK_LINE
        used += piece + BLANK_LINE
    return parts


def _pieces(size: int, budget: int) -> list[int]:
    whole, rest = divmod(size, budget)
    return [budget] * whole + ([rest] if rest else [])
