"""The promise tracker: every commitment about an entity, across documents and years.

Built from stored commitments artifacts and their documents only: no model call. Each
commitment is linked to the entities it is about (``entities.py``) and put in its tier
(``tiers.py``: the rule detector is re-run on the document text to find the candidate at the
commitment's span; 0.05 s for the five seeds). An entity's English name comes from the glossary
(``names``: key → English), else from the model (``CommitmentsArtifact.entity_names``, asked
once under ``rules_en``, see ``names.py``); the tracker says which. A commitment without an
English sentence of its own shows its sentence's English from the document's translation
(``translated_sentence``), marked as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from service.artifacts import CommitmentsArtifact, TranslationArtifact
from service.checks.glossary import Entry, matching_form
from service.checks.numbers import contains_value, extract_en, extract_zh
from service.models import Document
from service.tasks.commitments.entities import (
    DocumentEntities,
    Mention,
    Via,
    load_entity_lexicon,
)
from service.tasks.commitments.extract import doc_year as extract_doc_year
from service.tasks.commitments.rules import Candidate, detect
from service.tasks.commitments.schema import MISSING, NOT_RENDERED, Commitment
from service.tasks.commitments.tiers import Tier, candidate_tier, tier_rank

EnglishStatus = Literal["rendered", "translation", "missing", "not_rendered"]
NameSource = Literal["glossary", "model", "none"]
# The markers the rules_en strategy stores instead of English (MISSING's text before its reason).
_MISSING = MISSING.split("{")[0]
_TITLE_YEAR = re.compile(r"(20\d{2})年")
# Sentences of a paragraph and of its English, to take the English of the quote's sentence.
_ZH_SENTENCE = re.compile(r"[^。！？；!?;]+[。！？；!?;]*")
_EN_SENTENCE = re.compile(r".+?(?:[.!?;](?=\s+[A-Z0-9\"“‘(])|$)", re.S)


class EntityLink(BaseModel):
    key: str
    via: Via = Field(
        description="name/alias/short_form: in the quote; sentence: in its sentence outside any "
        "commitment; section: in the heading of its section."
    )


class TrackedCommitment(BaseModel):
    """One commitment as the tracker shows it."""

    id: str
    doc_id: str
    doc_title: str
    doc_date: dt.date | None
    year: int | None = Field(description="The document's year: its date, else its title's.")
    paragraph_id: str | None
    quote: str
    english: str | None = Field(description="The English statement; None when there is none.")
    english_status: EnglishStatus = Field(
        description="rendered: the commitment's own checked sentence; translation: no such "
        "sentence, so the English of the quote's sentence (else paragraph) in the document's "
        "translation; missing / not_rendered: none of either."
    )
    targets: list[str] = Field(description="Targets as written in the quote, e.g. 120万人.")
    deadline: str | None
    tier: Tier
    entities: list[EntityLink]

    def english_shown(self) -> str:
        """The English as a reader sees it: where it comes from when not the commitment's own."""
        if self.english is not None and self.english_status == "translation":
            return f"{self.english} (from the paragraph's translation)"
        if self.english is not None:
            return self.english
        if self.english_status == "missing":
            return "(English missing: the model's answer was rejected)"
        return "(general statement: no English rendered)"


class TrackedEntity(BaseModel):
    """An entity with how many documents and commitments link it."""

    key: str = Field(description="One key per entity (Simplified), e.g. 光明科学城.")
    id: str = Field(description="ASCII id of the key, for file names and URLs.")
    name_en: str | None
    name_source: NameSource
    forms: list[str] = Field(description="Every form the documents use, as written.")
    documents: int
    commitments: int
    concrete: int = Field(description="Of the commitments, how many are in the concrete tier.")


class Tracker(BaseModel):
    entities: list[TrackedEntity] = Field(description="Most-linked first.")
    commitments: list[TrackedCommitment] = Field(description="By document date, concrete first.")

    def entity(self, key: str) -> TrackedEntity | None:
        """The entity of this key (either script) or id, if any commitment links it."""
        wanted = matching_form(key)
        wanted = load_entity_lexicon().aliases.get(wanted, wanted)  # 河套 → 深港科技创新合作区
        return next((e for e in self.entities if wanted in (e.key, e.id)), None)

    def about(self, key: str) -> list[TrackedCommitment]:
        """The commitments about ``key``, ordered by document date (undated last)."""
        return [c for c in self.commitments if any(e.key == key for e in c.entities)]


def build_tracker(
    corpus: Sequence[tuple[Document, CommitmentsArtifact]],
    names: Mapping[str, str],
    translations: Mapping[str, TranslationArtifact] | None = None,
) -> Tracker:
    """The tracker of these documents' commitments; ``names`` maps entity keys to English.

    A commitment without English of its own takes its sentence's from the document's
    translation (``translations``, by document id) when there is one.
    """
    translations = translations or {}
    tracked: list[TrackedCommitment] = []
    forms: dict[str, list[str]] = {}
    for doc, artifact in corpus:
        spans = [(c.start, c.end) for c in artifact.commitments if c.start is not None and c.end]
        entities = DocumentEntities(doc.text, spans)
        for m in entities.mentions:
            forms.setdefault(m.key, [])
            if m.surface not in forms[m.key]:
                forms[m.key].append(m.surface)
        english = _paragraph_english(translations.get(doc.id))
        tracked += _tracked(doc, artifact.commitments, entities, english)
    tracked.sort(key=_order)
    named: dict[str, tuple[str, NameSource]] = {
        k: (v, "model")
        for _, a in corpus
        for k, v in a.entity_names.items()
        if a.names_checked or _romanised_right(k, v, forms.get(k, []), names)
    }
    named |= {k: (v, "glossary") for k, v in names.items()}  # the glossary first
    return Tracker(entities=_entities(tracked, forms, named), commitments=tracked)


def _paragraph_english(translation: TranslationArtifact | None) -> dict[str, str]:
    """Paragraph id → its English, for the paragraphs the translation has."""
    if translation is None:
        return {}
    return {p.id: p.en for p in translation.paragraphs if p.en and not p.error}


def _romanised_right(
    key: str, name: str, forms: Sequence[str], glossary: Mapping[str, str]
) -> bool:
    """``romanised.foreign_pinyin`` finds nothing wrong in the model's ``name`` of ``key`` (for
    names stored before the check; imported here: pypinyin takes 0.2 s to import)."""
    from service.tasks.commitments.romanised import foreign_pinyin

    zh = key + "".join(forms)
    return not foreign_pinyin(name, zh, [en for term, en in glossary.items() if term in zh])


def _tracked(
    doc: Document,
    commitments: Sequence[Commitment],
    entities: DocumentEntities,
    english: Mapping[str, str],
) -> list[TrackedCommitment]:
    # The same detector run as the rules_en strategy's: the same candidates, the same tiers.
    found = detect(doc.text, doc_year=extract_doc_year(doc))
    candidates = {(c.start, c.end): c for c in found}
    paragraphs = {p.id: p for p in doc.paragraphs}
    out: list[TrackedCommitment] = []
    for c in commitments:
        if c.start is None or c.end is None or c.quote is None:
            continue  # unaligned: no place in the document to link to
        about = entities.about(c.start, c.end)
        tracked = _one(doc, c, about, _tier(c, candidates.get((c.start, c.end)), about))
        para = paragraphs.get(c.paragraph_id or "")
        if tracked.english is None and para is not None and para.id in english:
            offsets = (c.start - para.start, c.end - para.start)
            sentence = translated_sentence(para.text, english[para.id], *offsets)
            update = {"english": sentence, "english_status": "translation"}
            tracked = tracked.model_copy(update=update)
        out.append(tracked)
    return out


def translated_sentence(zh: str, en: str, start: int, end: int) -> str:
    """The English of the quote at [start, end) of paragraph ``zh``, from the paragraph's
    English ``en``: the sentence of the same rank when both have as many sentences; else the
    English sentence holding every number of the quote; else the English sentences mostly
    inside the same relative place as the quote's Chinese sentence (by characters: a paragraph
    of 500 Chinese characters is not shown whole for a clause of 15)."""
    zh_spans = [m.span() for m in _ZH_SENTENCE.finditer(zh) if m[0].strip()]
    en_spans = [m.span() for m in _EN_SENTENCE.finditer(en) if m[0].strip()]
    rank = next((i for i, (a, b) in enumerate(zh_spans) if a <= start < b), None)
    if rank is None or not en_spans:
        return en.strip()
    if len(zh_spans) == len(en_spans):
        return _text(en, en_spans[rank : rank + 1])
    numbers = extract_zh(zh[start:end])
    if numbers:
        holding = [
            span for span in en_spans
            if all(contains_value(extract_en(en[span[0] : span[1]]), n) for n in numbers)
        ]  # fmt: skip
        if holding:
            return _text(en, holding[:1])
    a, b = zh_spans[rank]
    lo, hi = a / len(zh) * len(en), b / len(zh) * len(en)
    overlap = {(x, y): min(y, hi) - max(x, lo) for x, y in en_spans}
    mostly = [span for span, o in overlap.items() if o >= (span[1] - span[0]) / 2]
    return _text(en, mostly or [max(overlap, key=lambda span: overlap[span])])


def _text(en: str, spans: Sequence[tuple[int, int]]) -> str:
    return en[spans[0][0] : spans[-1][1]].strip()


def _one(doc: Document, c: Commitment, about: list[Mention], tier: Tier) -> TrackedCommitment:
    english, status = english_of(c)
    return TrackedCommitment(
        id=c.id, doc_id=doc.id, doc_title=doc.meta.title_en or doc.meta.title_zh or doc.source_name,
        doc_date=doc.meta.date, year=doc_year(doc), paragraph_id=c.paragraph_id,
        quote=c.quote or c.quote_zh, english=english, english_status=status,
        targets=[t.text for t in c.targets], deadline=c.deadline_text, tier=tier,
        entities=[EntityLink(key=m.key, via=m.via) for m in about],
    )  # fmt: skip


def _tier(c: Commitment, candidate: Candidate | None, about: list[Mention]) -> Tier:
    """The candidate's tier; a model-found commitment's from its targets, deadline, names."""
    if candidate is not None:
        return candidate_tier(candidate, about)
    return "concrete" if c.targets or c.deadline_text or about else "general"


def english_of(c: Commitment) -> tuple[str | None, EnglishStatus]:
    """The commitment's English statement and whether there is one."""
    text = c.gloss_en.strip()
    if text.startswith(NOT_RENDERED):
        return None, "not_rendered"
    if text.startswith(_MISSING) or not text:
        return None, "missing"
    return text, "rendered"


def doc_year(doc: Document) -> int | None:
    """The document's year: its date's, else a year its Chinese title names (2020年…报告)."""
    if doc.meta.date is not None:
        return doc.meta.date.year
    found = _TITLE_YEAR.search(doc.meta.title_zh or "")
    return int(found[1]) if found else None


def _order(c: TrackedCommitment) -> tuple[int, str, str, int, str]:
    """By document date (a year alone sorts at its start; undated last), concrete first."""
    when = c.doc_date or (dt.date(c.year, 1, 1) if c.year else None)
    return (when is None, when.isoformat() if when else "", c.doc_id, tier_rank(c.tier), c.id)


def _entities(
    tracked: list[TrackedCommitment],
    forms: dict[str, list[str]],
    names: Mapping[str, tuple[str, NameSource]],
) -> list[TrackedEntity]:
    per: dict[str, list[TrackedCommitment]] = {}
    for c in tracked:
        for link in c.entities:
            per.setdefault(link.key, []).append(c)
    found = [
        TrackedEntity(
            key=key, id=entity_id(key), name_en=names.get(key, (None, "none"))[0],
            name_source=names.get(key, (None, "none"))[1],
            forms=forms.get(key, [key]), documents=len({c.doc_id for c in cs}),
            commitments=len(cs), concrete=sum(c.tier == "concrete" for c in cs),
        )
        for key, cs in per.items()
    ]  # fmt: skip
    return sorted(found, key=lambda e: (-e.documents, -e.commitments, e.key))


def entity_id(key: str) -> str:
    """A stable ASCII id for an entity key: ``e-`` and 10 hex digits of its SHA-256."""
    return "e-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def entity_names(entries: Iterable[Entry]) -> dict[str, str]:
    """Entity key → English from glossary entries (zh in its matching form)."""
    return {matching_form(e.zh): e.en for e in entries}
