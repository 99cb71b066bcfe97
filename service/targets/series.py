"""Targets over time: documents of one series side by side, per indicator, by year.

A *series* is the documents whose titles differ only by the year (2019年政府工作报告,
2020年政府工作报告; 2016-report-on-the-work-of-the-government, 2017-…). Each document keeps
its paragraphs with their anchors, and the official English when the input is bilingual, so
every target links to its quote and can be checked against that English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from service.checks.numbers import extract_en, same_value
from service.models import Document
from service.targets.find import Indicator, TargetMention, find_targets, load_indicators

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
# What a title keeps once its years go: the series name (年 of 2020年, a leading date prefix).
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}-")
_YEAR_WORD = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)\s*年?(?:度)?")
_EN_SPLIT = re.compile(r"(?<=[.;:!?•])\s+|\s+(?=--|•|—)")
_EN_WINDOW = 150  # characters of English kept around the target when no sentence break helps


class SourceParagraph(BaseModel):
    id: str  # the anchor on the document page: p12
    zh: str
    en: str | None = None  # the official English, when the input is bilingual


class SeriesDocument(BaseModel):
    id: str
    title: str
    year: int | None
    paragraphs: list[SourceParagraph]
    link: str | None = None  # the document page, relative to where the table is shown


class TargetCell(BaseModel):
    """One document's target for one indicator, with where it stands."""

    year: int | None
    doc_id: str
    doc_title: str
    paragraph_id: str
    link: str | None
    target: TargetMention
    en: str | None  # the sentence of the official English that states it, when there is one


class IndicatorRow(BaseModel):
    key: str
    en: str
    cells: list[TargetCell]  # one per document that sets it, by year


class SeriesTable(BaseModel):
    series: str
    documents: list[SeriesDocument]  # by year; a year without a cell set no target
    rows: list[IndicatorRow]


def series_key(title: str) -> str:
    """The title without its years and date prefix: what documents of one series share."""
    name = _YEAR_WORD.sub("", _DATE_PREFIX.sub("", title))
    return re.sub(r"[\s\-_]+", " ", name).strip(" -_()（）")


def year_of(title: str, fallback: int | None = None) -> int | None:
    """The year a title names (after any date prefix), else ``fallback`` (the document date)."""
    found = _YEAR.search(_DATE_PREFIX.sub("", title))
    return int(found[1]) if found else fallback


def group_series(docs: Iterable[SeriesDocument]) -> dict[str, list[SeriesDocument]]:
    """Documents grouped by series key; only series of two or more, each sorted by year."""
    groups: dict[str, list[SeriesDocument]] = {}
    for doc in docs:
        groups.setdefault(series_key(doc.title), []).append(doc)
    return {
        key: sorted(members, key=lambda d: (d.year or 0, d.title))
        for key, members in groups.items()
        if len(members) > 1
    }


def series_tables(docs: Iterable[SeriesDocument]) -> list[SeriesTable]:
    """A table per series that sets at least one target, most documents first."""
    tables = [series_table(name, members) for name, members in group_series(docs).items()]
    found = [t for t in tables if t.rows]
    return sorted(found, key=lambda t: (-len(t.documents), t.series))


def series_table(
    name: str, docs: Sequence[SeriesDocument], indicators: tuple[Indicator, ...] | None = None
) -> SeriesTable:
    """Per indicator (in table order), each document's best target, by year."""
    table = indicators or load_indicators()
    per_doc = [_best_per_indicator(doc, table) for doc in docs]
    rows = []
    for indicator in table:
        cells = [found[indicator.key] for found in per_doc if indicator.key in found]
        if cells:
            rows.append(IndicatorRow(key=indicator.key, en=indicator.en, cells=cells))
    return SeriesTable(series=name, documents=list(docs), rows=rows)


def _best_per_indicator(doc: SeriesDocument, table: tuple[Indicator, ...]) -> dict[str, TargetCell]:
    terms = {i.key: i.en_terms for i in table}
    best: dict[str, TargetCell] = {}
    for paragraph in doc.paragraphs:
        for key, target in find_targets(paragraph.zh, table).items():
            if key in best and best[key].target.score >= target.score:
                continue  # the first of equally good targets stands
            en = english_evidence(paragraph.en, target, terms[key]) if paragraph.en else None
            best[key] = _cell(doc, paragraph, target, en)
    return best


def _cell(
    doc: SeriesDocument, paragraph: SourceParagraph, target: TargetMention, en: str | None
) -> TargetCell:
    return TargetCell(
        year=doc.year,
        doc_id=doc.id,
        doc_title=doc.title,
        paragraph_id=paragraph.id,
        link=f"{doc.link}#{paragraph.id}" if doc.link else None,
        target=target,
        en=en,
    )


def english_evidence(en: str, target: TargetMention, terms: Sequence[str]) -> str | None:
    """The piece of the official English that states the target, for a reader to check.

    The English sentence (or list item) holding the target's number, nearest an English name
    of the indicator; a long list without breaks is cut to a window around that number.
    """
    mentions = [n for n in extract_en(en) if target.low is not None and _same(n.value, target)]
    if mentions:
        at = min(mentions, key=lambda n: _distance_to_terms(en, n.start, terms)).start
        return _window(en, at)
    # Another unit in English (1.3万亿斤 → 650 million metric tons): the indicator's name.
    lowered = en.lower()
    spots = [lowered.find(t.lower()) for t in terms if t.lower() in lowered]
    return _window(en, spots[0]) if spots else None


def _same(value: float, target: TargetMention) -> bool:
    wanted = [v for v in (target.low, target.high) if v is not None]
    return any(same_value(value, v) for v in wanted)


def _distance_to_terms(en: str, at: int, terms: Sequence[str]) -> int:
    lowered = en.lower()
    spots = [m.start() for t in terms for m in re.finditer(re.escape(t.lower()), lowered)]
    return min((abs(at - s) for s in spots), default=len(en))


def _window(en: str, at: int) -> str:
    """The list item or sentence around ``at``, cut at word ends to a window around it."""
    item_start = max([0] + [m.end() for m in _EN_SPLIT.finditer(en) if m.end() <= at])
    after = _EN_SPLIT.search(en, at)
    item_end = after.start() if after else len(en)
    start, end = item_start, item_end
    if at - start > _EN_WINDOW // 2:
        start = en.find(" ", at - _EN_WINDOW // 2) + 1
    if end - at > _EN_WINDOW // 2:
        end = max(en.rfind(" ", at, at + _EN_WINDOW // 2), at + 1)
    text = en[start:end].strip()
    return ("…" if start > item_start else "") + text + ("…" if end < item_end else "")


def from_document(doc: Document, link: str | None = None) -> SeriesDocument:
    """An ingested document: titled by its Chinese title, dated by the title's year or date."""
    meta = doc.meta
    title = meta.title_zh or meta.title_en or doc.source_name
    paragraphs = [SourceParagraph(id=p.id, zh=p.text) for p in doc.paragraphs]
    year = year_of(title, meta.date.year if meta.date else None)
    return SeriesDocument(id=doc.id, title=title, year=year, paragraphs=paragraphs, link=link)
