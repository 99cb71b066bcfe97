"""Ground model quotes in the source text: exact, then normalised, then fuzzy, else unaligned.

The model never gives offsets. We find each quote in ``Document.text`` ourselves and keep
``[start, end)`` offsets in the original string, so ``text[start:end]`` is always the grounded
quote. Normalisation (width, whitespace, quote marks, Traditional -> Simplified) is done char
by char with a map back to original positions; conversion is per character so it is 1:1 and
identical on both sides (consistency matters more than phrase-level accuracy for matching).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cn2an
import opencc
from pydantic import BaseModel
from rapidfuzz import fuzz

from service.models import Paragraph
from service.tasks.commitments.schema import (
    AlignmentStatus,
    Commitment,
    ExtractedCommitment,
    FieldChecks,
    Source,
    Span,
)

_QUOTE_MARKS = frozenset("“”\"「」『』‘’'＂＇〝〞")
_BOUNDARIES = frozenset("，。；！？、：,.;!?:\n")
_MIN_FUZZY_CHARS = 4  # shorter quotes match noise anywhere in a long document
_MAX_REFINE = 20  # how far (chars) a fuzzy span edge may move while refining


class Alignment(BaseModel):
    """Where one quote was found; for aligned results ``text == source[start:end]``."""

    quote: str
    status: AlignmentStatus
    start: int | None = None
    end: int | None = None
    score: float = 0.0
    text: str | None = None

    @property
    def aligned(self) -> bool:
        return self.status != "unaligned"


# --- normalisation ---


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _simplified_char(ch: str) -> str:
    converted: str = _converter().convert(ch)
    return converted if len(converted) == 1 else ch


@cache
def _fold_char(ch: str) -> str:
    """Normalised form of one character: '' for whitespace, possibly several chars (NFKC)."""
    if ch.isspace() or unicodedata.category(ch) == "Cf":  # Cf: zero-width joiners, BOM
        return ""
    if ch in _QUOTE_MARKS:
        return '"'
    folded = unicodedata.normalize("NFKC", _simplified_char(ch)).casefold()
    return "".join(c for c in folded if not c.isspace())


@dataclass(frozen=True)
class Normalized:
    """A normalised string with ``index[i]`` = original position of normalised char ``i``."""

    text: str
    index: list[int]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty normalised span [start, end) back to original [start, end)."""
        return self.index[start], self.index[end - 1] + 1


def normalize_with_map(text: str) -> Normalized:
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for out in _fold_char(ch):
            chars.append(out)
            index.append(i)
    return Normalized("".join(chars), index)


def normalize(text: str) -> str:
    """Matching form: Simplified, NFKC, no whitespace, one quote mark, casefolded."""
    return "".join(_fold_char(ch) for ch in text)


# --- grounding ---


class _Grounder:
    """Grounds quotes in one text, remembering where each repeated quote was last found."""

    def __init__(self, text: str, fuzzy_threshold: float) -> None:
        self.text = text
        self.norm = normalize_with_map(text)
        self.threshold = fuzzy_threshold
        self.exact_cursor: dict[str, int] = {}
        self.norm_cursor: dict[str, int] = {}

    def ground(self, quote: str) -> Alignment:
        stripped = quote.strip()
        if not stripped:
            return Alignment(quote=quote, status="unaligned")
        return (
            self._exact(quote, stripped)
            or self._normalized(quote)
            or self._fuzzy(quote)
            or Alignment(quote=quote, status="unaligned", score=self._best_score(quote))
        )

    def _exact(self, quote: str, stripped: str) -> Alignment | None:
        start = _find_next(self.text, stripped, self.exact_cursor)
        if start is None:
            return None
        return self._aligned(quote, "exact", start, start + len(stripped), 100.0)

    def _normalized(self, quote: str) -> Alignment | None:
        nq = normalize(quote)
        if not nq:
            return None
        nstart = _find_next(self.norm.text, nq, self.norm_cursor)
        if nstart is None:
            return None
        start, end = self.norm.to_original(nstart, nstart + len(nq))
        return self._aligned(quote, "normalized", start, end, 100.0)

    def _fuzzy(self, quote: str) -> Alignment | None:
        nq = normalize(quote)
        if len(nq) < _MIN_FUZZY_CHARS or len(nq) > len(self.norm.text):
            return None
        hit = fuzz.partial_ratio_alignment(nq, self.norm.text, score_cutoff=self.threshold)
        if hit is None:
            return None
        nstart, nend, score = _refine(nq, self.norm.text, hit.dest_start, hit.dest_end)
        if score < self.threshold:
            return None
        start, end = self.norm.to_original(nstart, nend)
        return self._aligned(quote, "fuzzy", start, end, round(score, 1))

    def _best_score(self, quote: str) -> float:
        nq = normalize(quote)
        if len(nq) < _MIN_FUZZY_CHARS or len(nq) > len(self.norm.text):
            return 0.0
        return round(fuzz.partial_ratio(nq, self.norm.text), 1)

    def _aligned(
        self, quote: str, status: AlignmentStatus, start: int, end: int, score: float
    ) -> Alignment:
        text = self.text[start:end]
        return Alignment(quote=quote, status=status, start=start, end=end, score=score, text=text)


def _find_next(haystack: str, needle: str, cursors: dict[str, int]) -> int | None:
    """Next occurrence of needle after the previous one; wraps to the first when exhausted."""
    pos = haystack.find(needle, cursors.get(needle, 0))
    if pos < 0:
        pos = haystack.find(needle)
    if pos < 0:
        return None
    cursors[needle] = pos + len(needle)
    return pos


def _refine(quote: str, text: str, start: int, end: int) -> tuple[int, int, float]:
    """Move a fuzzy window's edges (a few chars) to maximise similarity, preferring clause
    boundaries on ties: partial_ratio's window has the quote's length, the source may not."""
    reach = min(_MAX_REFINE, max(2, len(quote) // 6))
    best = (start, end, -1.0)
    best_key: tuple[float, int, int] = (-1.0, 0, 0)
    for s in range(max(0, start - reach), min(len(text), start + reach) + 1):
        for e in range(max(s + 1, end - reach), min(len(text), end + reach) + 1):
            score = fuzz.ratio(quote, text[s:e])
            key = (score, _at_boundary(text, s, e), -abs((e - s) - len(quote)))
            if key > best_key:
                best_key, best = key, (s, e, score)
    return best


def _at_boundary(text: str, start: int, end: int) -> int:
    """How many of the span's edges sit on a clause boundary (0-2)."""
    left = start == 0 or text[start - 1] in _BOUNDARIES
    right = end == len(text) or text[end] in _BOUNDARIES or text[end - 1] in _BOUNDARIES
    return int(left) + int(right)


def ground_quotes(
    text: str,
    quotes: Sequence[str],
    *,
    fuzzy_threshold: float = 85.0,
    within: tuple[int, int] | None = None,
) -> list[Alignment]:
    """Ground each quote in ``text`` (or only in ``text[within[0]:within[1]]``).

    Repeated identical quotes map to successive occurrences. Offsets always refer to ``text``.
    """
    lo, hi = within if within is not None else (0, len(text))
    grounder = _Grounder(text[lo:hi], fuzzy_threshold)
    return [_shift(grounder.ground(q), lo) for q in quotes]


def _shift(alignment: Alignment, offset: int) -> Alignment:
    if not alignment.aligned or offset == 0:
        return alignment
    assert alignment.start is not None and alignment.end is not None
    return alignment.model_copy(
        update={"start": alignment.start + offset, "end": alignment.end + offset}
    )


# --- field checks ---

_ARABIC_NUMBER = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)(万亿|亿|万|千|百)?(%)?")
_CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿点]+")
_PERCENT_ZH = re.compile(r"百分之([零〇一二两三四五六七八九十百千点]+)")
_SCALES = {"百": 1e2, "千": 1e3, "万": 1e4, "亿": 1e8, "万亿": 1e12}


def numbers_in(text: str) -> set[float]:
    """Every number written in ``text`` (normalised), with and without its 万/亿 scale."""
    found: set[float] = set()
    norm = normalize(text)
    for digits, scale, percent in _ARABIC_NUMBER.findall(norm):
        value = float(digits.replace(",", ""))
        found.add(value)
        if scale:
            found.add(value * _SCALES[scale])
        if percent:
            found.add(value / 100)
    for run in _CHINESE_NUMBER.findall(norm) + _PERCENT_ZH.findall(norm):
        found |= _chinese_values(run)
    return found


def _chinese_values(run: str) -> set[float]:
    values: set[float] = set()
    candidates = [run, run[:-1]] if run[-1] in "万亿" and len(run) > 1 else [run]
    for candidate in candidates:
        try:
            values.add(float(cn2an.cn2an(candidate, "normal")))
        except ValueError:
            continue  # not a well-formed numeral (e.g. 十四五): no value to compare
    return values


def _value_present(value: float, numbers: set[float]) -> bool:
    return any(math.isclose(value, n, rel_tol=1e-9, abs_tol=1e-9) for n in numbers)


def check_fields(quote: str, commitment: ExtractedCommitment) -> FieldChecks:
    """Check that targets, values, deadline and trigger lie inside the grounded quote."""
    nq = normalize(quote)
    failures = [f"target:{t.text}" for t in commitment.targets if not _contains(nq, t.text)]
    targets_ok = not failures
    numbers = numbers_in(quote)
    missing_values = [
        f"value:{t.value:g}"
        for t in commitment.targets
        if t.value is not None and not _value_present(t.value, numbers)
    ]
    failures += missing_values
    deadline_ok = _optional_in(commitment.deadline_text, nq)
    trigger_ok = _optional_in(commitment.trigger, nq)
    if deadline_ok is False:
        failures.append(f"deadline:{commitment.deadline_text}")
    if trigger_ok is False:
        failures.append(f"trigger:{commitment.trigger}")
    return FieldChecks(
        targets_in_quote=targets_ok,
        values_in_quote=not missing_values,
        deadline_in_quote=deadline_ok,
        trigger_in_quote=trigger_ok,
        failures=failures,
    )


def _optional_in(part: str | None, normalized_quote: str) -> bool | None:
    if part is None or not part.strip():
        return None
    return _contains(normalized_quote, part)


def _contains(normalized_quote: str, part: str) -> bool:
    """Substring test that does not split numbers: 5万 is not inside 4.5万 or 25万."""
    term = normalize(part)
    for m in re.finditer(re.escape(term), normalized_quote):
        before = normalized_quote[m.start() - 1] if m.start() > 0 else ""
        after = normalized_quote[m.end()] if m.end() < len(normalized_quote) else ""
        cut_left = term[:1].isdigit() and (before.isdigit() or before == ".")
        cut_right = term[-1:].isdigit() and (after.isdigit() or after == ".")
        if not (cut_left or cut_right):
            return True
    return False


# --- building stored records ---


def commitment_id(doc_id: str, start: int | None, end: int | None, quote: str) -> str:
    """Stable id: the document and span, or the normalised quote when unaligned."""
    key = f"{doc_id}:{start}:{end}" if start is not None else f"{doc_id}:q:{normalize(quote)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def paragraph_at(paragraphs: Sequence[Paragraph], offset: int) -> str | None:
    """Id of the paragraph containing ``offset`` (paragraphs sorted by start)."""
    starts = [p.start for p in paragraphs]
    i = bisect.bisect_right(starts, offset) - 1
    if i >= 0 and paragraphs[i].start <= offset < paragraphs[i].end:
        return paragraphs[i].id
    return None


def ground_commitments(
    doc_id: str,
    text: str,
    paragraphs: Sequence[Paragraph],
    extracted: Sequence[ExtractedCommitment],
    *,
    chunk_id: str | None = None,
    source: Source = "model",
    within: tuple[int, int] | None = None,
    fuzzy_threshold: float = 85.0,
) -> list[Commitment]:
    """Ground one chunk's extracted commitments into stored records (checks included)."""
    quotes = [e.quote_zh for e in extracted]
    alignments = ground_quotes(text, quotes, fuzzy_threshold=fuzzy_threshold, within=within)
    return [
        _build(doc_id, paragraphs, e, a, chunk_id, source)
        for e, a in zip(extracted, alignments, strict=True)
    ]


def _build(
    doc_id: str,
    paragraphs: Sequence[Paragraph],
    extracted: ExtractedCommitment,
    alignment: Alignment,
    chunk_id: str | None,
    source: Source,
) -> Commitment:
    para = paragraph_at(paragraphs, alignment.start) if alignment.start is not None else None
    mentions = []
    if alignment.aligned:
        assert alignment.start is not None and alignment.end is not None and alignment.text
        mentions = [
            Span(start=alignment.start, end=alignment.end, text=alignment.text, paragraph_id=para)
        ]
    return Commitment(
        **extracted.model_dump(),
        id=commitment_id(doc_id, alignment.start, alignment.end, extracted.quote_zh),
        doc_id=doc_id,
        start=alignment.start,
        end=alignment.end,
        quote=alignment.text,
        alignment=alignment.status,
        score=alignment.score,
        paragraph_id=para,
        checks=check_fields(alignment.text or extracted.quote_zh, extracted),
        source=source,
        mentions=mentions,
        chunk_ids=[chunk_id] if chunk_id else [],
    )
