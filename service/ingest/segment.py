"""Cleaned text → paragraphs with stable ids, exact offsets, headings and section paths.

A paragraph is a non-blank line. Headings: ``关键词3 高质量发展`` and ``一、…`` (level 1),
``（二）…``/``(二)…`` (level 2), ``1.…`` (level 3), and the short title lines at the top of
a document (level 0, never part of a section path). When a numbered heading sentence runs on
into body text on one line, as in ``(二)聚焦…之都。创新决定未来。…``, the heading sentence is
split off as its own heading paragraph; the offsets stay exact because nothing is rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.models import Paragraph

_LEVELS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"^(关键词|關鍵詞)\s*\d+\s*\S")),
    (1, re.compile(r"^[一二三四五六七八九十百]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十百]+[)）]")),
    (3, re.compile(r"^\d{1,2}[.．、](?![\d.．])")),
)
_SENTENCE_END = re.compile(r"[。！？；!?]")
HEADING_MAX = 60  # a heading sentence longer than this is body text with a list number
TITLE_MAX = 40  # top-of-document lines this short without "。" are title lines


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    level: int | None  # None: body text; 0: title line; 1-3: numbered heading


def segment(text: str) -> list[Paragraph]:
    """Split ``text`` into paragraphs ``p1..pN`` with ``text[p.start:p.end] == p.text``."""
    spans: list[_Span] = []
    in_preamble = True  # title lines can only come before the first non-title paragraph
    for start, end in _lines(text):
        new = _split_line(text, start, end, in_preamble=in_preamble)
        in_preamble = in_preamble and all(span.level == 0 for span in new)
        spans.extend(new)
    return _with_sections(text, spans)


def _lines(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of every non-blank line, without surrounding whitespace."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        line = match.group(0)
        lead = len(line) - len(line.lstrip())
        if line.strip():
            spans.append((match.start() + lead, match.start() + len(line.rstrip())))
    return spans


def _split_line(text: str, start: int, end: int, *, in_preamble: bool) -> list[_Span]:
    line = text[start:end]
    level = heading_level(line)
    if level is None:
        is_title = in_preamble and len(line) <= TITLE_MAX and "。" not in line
        return [_Span(start, end, 0 if is_title else None)]
    stop = _SENTENCE_END.search(line)
    if stop is None:
        return [_Span(start, end, level if len(line) <= HEADING_MAX else None)]
    cut = stop.end()
    if cut > HEADING_MAX:
        return [_Span(start, end, None)]
    body_start = start + cut + (len(line[cut:]) - len(line[cut:].lstrip()))
    if body_start >= end:
        return [_Span(start, end, level)]
    return [_Span(start, start + cut, level), _Span(body_start, end, None)]


def heading_level(line: str) -> int | None:
    """Numbered heading level of a line (1 outermost), or None."""
    return next((level for level, pattern in _LEVELS if pattern.match(line)), None)


def _with_sections(text: str, spans: list[_Span]) -> list[Paragraph]:
    stack: list[tuple[int, str]] = []
    paragraphs = []
    for index, span in enumerate(spans):
        body = text[span.start : span.end]
        if span.level:
            while stack and stack[-1][0] >= span.level:
                stack.pop()
        paragraphs.append(
            Paragraph(
                id=f"p{index + 1}",
                index=index,
                start=span.start,
                end=span.end,
                text=body,
                is_heading=span.level is not None,
                section=[heading for _, heading in stack],
            )
        )
        if span.level:
            stack.append((span.level, body))
    return paragraphs
