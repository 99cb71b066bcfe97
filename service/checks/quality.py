"""Deterministic quality checks (no model) carried by every summary and translation artifact.

Pure functions: text in, pydantic report out. Numbers come from ``service.checks.numbers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from service.checks.numbers import (
    NumberMention,
    contains_value,
    extract_en,
    extract_zh,
    level_sizes,
)
from service.checks.repairs import NumberFix, Repairs, TermFix

# English characters per Han character, measured on 670 paragraph pairs of the bilingual
# Government Work Reports (p5 4.18, median 5.99, p95 7.37); the band is p5/p95 widened so that
# only clear truncations or padded outputs are flagged.
LENGTH_RATIO_BAND = (3.0, 9.0)
# Below this many Han characters (headings, list labels) the ratio says nothing.
LENGTH_MIN_HAN = 20

#: The Han characters (unified ideographs, extensions A and B on, compatibility ideographs).
HAN_CLASS = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"
HAN = re.compile(HAN_CLASS)
# Han, CJK punctuation/symbols, kana, bopomofo, hangul, fullwidth forms: none belong in English.
_CJK_RUN = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    r"\uf900-\ufaff\uff00-\uffef\U00020000-\U0002ffff]+"
)
_FOLD = re.compile(r"[\s\-‐‑‒–—]+")

IssueKind = Literal[
    "number_missing",
    "number_extra",
    "cjk_left",
    "glossary_miss",
    "paragraph_missing",
    "translation_empty",
    "untranslated",
    "length_ratio",
    "number_repaired",
    "term_replaced",
    "punctuation_replaced",
]


class TermLike(Protocol):
    """What the checks need from a glossary entry (``service.checks.glossary.Entry`` fits)."""

    @property
    def zh(self) -> str: ...
    @property
    def en(self) -> str: ...
    @property
    def alternates(self) -> list[str]: ...


class NumberRef(BaseModel):
    text: str
    start: int
    end: int
    value: float
    kind: str

    @classmethod
    def of(cls, m: NumberMention) -> NumberRef:
        return cls(text=m.text, start=m.start, end=m.end, value=m.value, kind=m.kind)


class NumberCheck(BaseModel):
    total: int = Field(description="Source numbers checked.")
    preserved: int
    missing: list[NumberRef] = Field(default_factory=list, description="Spans in the source.")
    extra: list[NumberRef] = Field(default_factory=list, description="Spans in the target.")

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


class GlossaryHit(BaseModel):
    paragraph_id: str
    zh: str
    en: str
    found: bool


class GlossaryCheck(BaseModel):
    hits: list[GlossaryHit] = Field(default_factory=list)

    @property
    def misses(self) -> list[GlossaryHit]:
        return [h for h in self.hits if not h.found]

    @property
    def ok(self) -> bool:
        return not self.misses


class CoverageCheck(BaseModel):
    total: int
    translated: int
    missing: list[str] = Field(default_factory=list, description="Source ids with no entry.")
    empty: list[str] = Field(default_factory=list, description="Blank translations.")
    untranslated: list[str] = Field(default_factory=list, description="Marked None.")

    @property
    def ok(self) -> bool:
        return not (self.missing or self.empty or self.untranslated)


class LengthCheck(BaseModel):
    han_chars: int
    target_chars: int
    ratio: float | None = Field(description="None when the source is too short to judge.")
    band: tuple[float, float] = LENGTH_RATIO_BAND

    @property
    def ok(self) -> bool:
        return self.ratio is None or self.band[0] <= self.ratio <= self.band[1]


class Issue(BaseModel):
    kind: IssueKind
    paragraph_id: str | None = None
    message: str
    detail: dict[str, object] = Field(default_factory=dict)
    severity: Literal["error", "warning"] = "error"


class QualityReport(BaseModel):
    issues: list[Issue] = Field(default_factory=list)
    numbers_total: int = 0
    numbers_preserved: int = 0
    glossary_terms: int = 0
    glossary_adhered: int = 0
    paragraphs_total: int = 0
    paragraphs_translated: int = 0
    numbers_repaired: int = 0
    terms_replaced: int = Field(0, description="Chinese replaced by a term, name or gloss.")

    @property
    def ok(self) -> bool:
        """No errors; warnings (length ratio) do not fail an artifact."""
        return not any(i.severity == "error" for i in self.issues)


def check_numbers(source: str, target: str) -> NumberCheck:
    """Every Chinese source number has an equivalent in the English; no digits are invented."""
    src, tgt = extract_zh(source), extract_en(target)
    missing = [m for m in src if not contains_value(tgt, m)]
    stated = [*src, *level_sizes(source)]  # "a hundred square kilometres" for 百平方公里级
    extra = [m for m in tgt if m.strong and not contains_value(stated, m)]
    return NumberCheck(
        total=len(src),
        preserved=len(src) - len(missing),
        missing=[NumberRef.of(m) for m in missing],
        extra=[NumberRef.of(m) for m in extra],
    )


def check_summary_numbers(source: str, summary_text: str) -> NumberCheck:
    """Every number stated in an English summary exists in the Chinese source."""
    src, summ = extract_zh(source), extract_en(summary_text)
    stated = [m for m in summ if m.strong]
    extra = [m for m in stated if not contains_value(src, m)]
    return NumberCheck(
        total=len(stated),
        preserved=len(stated) - len(extra),
        extra=[NumberRef.of(m) for m in extra],
    )


def check_no_cjk(text: str) -> list[str]:
    """Runs of CJK characters (Han, CJK punctuation, fullwidth forms) left in English output."""
    return _CJK_RUN.findall(text)


def _fold(text: str) -> str:
    return _FOLD.sub("", text).casefold()


def check_glossary(
    pairs: Sequence[tuple[str, str, str]] | Sequence[tuple[str, str]],
    entries_for: Callable[[str], Sequence[TermLike]],
) -> GlossaryCheck:
    """Each glossary term in a source paragraph is rendered as ``en`` or an alternate.

    ``pairs`` are ``(zh, en)`` (ids become p1, p2, ...) or ``(paragraph_id, zh, en)``.
    """
    hits: list[GlossaryHit] = []
    for index, pair in enumerate(pairs, start=1):
        pid, zh, en = pair if len(pair) == 3 else (f"p{index}", *pair)
        target = _fold(en)
        for term in entries_for(zh):
            found = any(_fold(r) in target for r in [term.en, *term.alternates] if r.strip())
            hits.append(GlossaryHit(paragraph_id=pid, zh=term.zh, en=term.en, found=found))
    return GlossaryCheck(hits=hits)


def check_coverage(
    source_ids: Sequence[str], translated: Mapping[str, str | None]
) -> CoverageCheck:
    """Every source paragraph has a non-blank translation."""
    missing = [i for i in source_ids if i not in translated]
    untranslated = [i for i in source_ids if i in translated and translated[i] is None]
    empty = [i for i in source_ids if _blank(translated.get(i))]
    done = len(source_ids) - len(missing) - len(untranslated) - len(empty)
    return CoverageCheck(
        total=len(source_ids),
        translated=done,
        missing=missing,
        empty=empty,
        untranslated=untranslated,
    )


def _blank(text: str | None) -> bool:
    return text is not None and not text.strip()


def check_length_ratio(source: str, target: str) -> LengthCheck:
    """English characters per Han character, judged against the measured band."""
    han, chars = len(HAN.findall(source)), len(target.strip())
    ratio = round(chars / han, 3) if han >= LENGTH_MIN_HAN else None
    return LengthCheck(han_chars=han, target_chars=chars, ratio=ratio)


# --- Aggregate reports ---------------------------------------------------------------------

Paragraph = tuple[str, str, str | None]


def translation_report(
    paragraphs: Sequence[Paragraph],
    terms_for: Callable[[str], Sequence[TermLike]],
    *,
    expected_ids: Sequence[str] | None = None,
    repairs: Mapping[str, Repairs] | None = None,
) -> QualityReport:
    """All checks over a translation given as ``(paragraph_id, zh, en | None)`` rows.

    ``expected_ids`` are the document's paragraph ids; rows for ids not in it are ignored and
    ids without a row are reported missing. Defaults to the ids of the rows themselves.
    ``repairs`` (paragraph id → what the post-edit changed; ``en`` is the repaired text) adds
    one warning per repair, so what was fixed is on record and the checks judge what remains.
    """
    ids = list(expected_ids) if expected_ids is not None else [p[0] for p in paragraphs]
    coverage = check_coverage(ids, {pid: en for pid, _, en in paragraphs})
    report = QualityReport(
        paragraphs_total=coverage.total, paragraphs_translated=coverage.translated
    )
    report.issues.extend(_coverage_issues(coverage))
    done = [(pid, zh, en) for pid, zh, en in paragraphs if en and en.strip() and pid in ids]
    for pid, zh, en in done:
        _paragraph_checks(report, pid, zh, en)
    glossary = check_glossary(done, terms_for)
    report.glossary_terms = len(glossary.hits)
    report.glossary_adhered = len(glossary.hits) - len(glossary.misses)
    report.issues.extend(
        Issue(
            kind="glossary_miss",
            paragraph_id=h.paragraph_id,
            message=f"{h.zh} should be rendered as {h.en!r}",
            detail={"zh": h.zh, "en": h.en},
        )
        for h in glossary.misses
    )
    for pid, fixes in (repairs or {}).items():
        _repair_issues(report, pid, fixes)
    return report


def _coverage_issues(coverage: CoverageCheck) -> list[Issue]:
    groups: list[tuple[IssueKind, list[str], str]] = [
        ("paragraph_missing", coverage.missing, "paragraph has no translation entry"),
        ("untranslated", coverage.untranslated, "paragraph was left untranslated"),
        ("translation_empty", coverage.empty, "translation is empty"),
    ]
    return [Issue(kind=k, paragraph_id=pid, message=msg) for k, ids, msg in groups for pid in ids]


def _paragraph_checks(report: QualityReport, pid: str, zh: str, en: str) -> None:
    numbers = check_numbers(zh, en)
    report.numbers_total += numbers.total
    report.numbers_preserved += numbers.preserved
    report.issues.extend(_number_issues(numbers, pid))
    report.issues.extend(_cjk_issues(en, pid))
    length = check_length_ratio(zh, en)
    if not length.ok:
        report.issues.append(
            Issue(
                kind="length_ratio",
                paragraph_id=pid,
                severity="warning",
                message=f"{length.ratio} English chars per Han char, outside {length.band}",
                detail=length.model_dump(),
            )
        )


def _repair_issues(report: QualityReport, pid: str, repairs: Repairs) -> None:
    """A warning per number repaired and per Chinese term replaced; punctuation as one."""
    report.numbers_repaired += len(repairs.numbers)
    report.issues.extend(_number_repaired(n, pid) for n in repairs.numbers)
    terms = [t for t in repairs.terms if t.source != "punctuation"]
    report.terms_replaced += len(terms)
    report.issues.extend(_term_replaced(t, pid) for t in terms)
    marks = [t.was for t in repairs.terms if t.source == "punctuation"]
    if marks:
        message = f"Chinese punctuation made ASCII: {''.join(dict.fromkeys(marks))}"
        report.issues.append(
            Issue(kind="punctuation_replaced", paragraph_id=pid, message=message,
                  severity="warning", detail={"marks": marks})
        )  # fmt: skip


def _number_repaired(fix: NumberFix, pid: str) -> Issue:
    message = f"{fix.wrong!r} corrected to {fix.right!r} (source {fix.zh})"
    return _repair_issue("number_repaired", message, pid, fix)


_TERM_SOURCES = {
    "glossary": "the glossary term",
    "name": "the official pinyin",
    "dictionary": "the dictionary gloss (not an official rendering)",
    "pinyin": "its pinyin (no source knew it)",
    "date": "the date in English",
}


def _term_replaced(fix: TermFix, pid: str) -> Issue:
    message = f"{fix.was!r} left in the English, replaced by {_TERM_SOURCES[fix.source]} {fix.en!r}"
    return _repair_issue("term_replaced", message, pid, fix)


def _repair_issue(kind: IssueKind, message: str, pid: str, fix: NumberFix | TermFix) -> Issue:
    """A warning recording one deterministic repair, with the fix as its detail."""
    return Issue(
        kind=kind, paragraph_id=pid, message=message, severity="warning", detail=fix.model_dump()
    )


# Issue kind -> message for a number the check found (its text and value), by direction.
_NUMBER_MESSAGES: dict[IssueKind, str] = {
    "number_missing": "source number {text!r} ({value:g}) has no equivalent in the English",
    "number_extra": "number {text!r} ({value:g}) does not occur in the source",
}


def _number_issues(check: NumberCheck, pid: str | None) -> list[Issue]:
    """Missing numbers first, then extra ones."""
    found: dict[IssueKind, list[NumberRef]] = {
        "number_missing": check.missing,
        "number_extra": check.extra,
    }
    return [
        Issue(
            kind=kind,
            paragraph_id=pid,
            detail=m.model_dump(),
            message=_NUMBER_MESSAGES[kind].format(text=m.text, value=m.value),
        )
        for kind, refs in found.items()
        for m in refs
    ]


def _cjk_issues(text: str, pid: str | None) -> list[Issue]:
    runs = check_no_cjk(text)
    if not runs:
        return []
    message = f"Chinese left in English output: {' '.join(runs)[:80]}"
    return [Issue(kind="cjk_left", paragraph_id=pid, message=message, detail={"runs": runs})]


def summary_report(source: str, fields: Mapping[str, str | Sequence[str]]) -> QualityReport:
    """Checks over a summary's English fields (name → text or list of texts, e.g. key points).

    Every number the summary states must exist in the source; no Chinese may be left in it.
    Issues carry the field name (``key_points[2]`` for list items) as ``paragraph_id``.
    """
    report = QualityReport()
    for name, text in _flatten(fields):
        numbers = check_summary_numbers(source, text)
        report.numbers_total += numbers.total
        report.numbers_preserved += numbers.preserved
        report.issues.extend(_number_issues(numbers, name))
        report.issues.extend(_cjk_issues(text, name))
    return report


def _flatten(fields: Mapping[str, str | Sequence[str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in fields.items():
        if isinstance(value, str):
            out.append((name, value))
        else:
            out.extend((f"{name}[{i}]", item) for i, item in enumerate(value))
    return out
