"""Markdown building blocks that keep document text as data.

The output must mean the same to CommonMark (markdown-it) and to Python-Markdown (mkdocs), so
only escapes both understand are used: backslash escapes for inline markers both honour, HTML
entities for ``& < >`` and for block markers at the start of a line (an entity never starts a
heading, list, quote or code fence), and ``\\|`` only inside table cells. The one raw HTML
block, ``details``, holds HTML-escaped text only, on one line (both renderers pass it through).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_INLINE = re.compile(r"([\\`*_\[\]])")
# Block markers a line may start with: headings, bullets, breaks, fences, ordered lists.
_BLOCK_START = re.compile(r"^(?:([#+\-=~])|(\d{1,9})([.)])(?=\s|$))")
_ANCHOR_ID = re.compile(r"[^A-Za-z0-9_-]")


def text(value: str) -> str:
    """One line of inline-safe Markdown that renders exactly ``value`` (newlines become spaces)."""
    line = _LINE_BREAKS.sub(" ", value).strip()
    line = "".join(_ENTITIES.get(ch, ch) for ch in line)
    line = _INLINE.sub(r"\\\1", line)
    return _BLOCK_START.sub(_neutralise, line, count=1)


def _neutralise(match: re.Match[str]) -> str:
    if match.group(1):
        return f"&#{ord(match.group(1))};"
    return f"{match.group(2)}&#{ord(match.group(3))};"


def cell(value: str | None) -> str:
    """Inline-safe text for a table cell; empty values show as an en dash."""
    if value is None or not value.strip():
        return "–"
    return text(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM pipe table of inline Markdown cells; pipes inside cells are escaped here."""
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def anchor_id(value: str) -> str:
    """An HTML id safe in any anchor: ASCII letters, digits, ``-`` and ``_`` only."""
    return _ANCHOR_ID.sub("-", value)


def anchor(value: str) -> str:
    """An inline anchor target; the only raw HTML the renderers emit."""
    return f'<a id="{anchor_id(value)}"></a>'


def link(label: str, href: str) -> str:
    """A link whose label is data (escaped) and whose href we built ourselves."""
    return f"[{text(label)}]({href})"


def details(summary: str, items: Sequence[str]) -> str:
    """A folded list (``<details>``) of plain-text items: one line of raw HTML, text escaped.

    One line because a CommonMark HTML block ends at a blank line and Python-Markdown does not
    read Markdown inside raw HTML: so the items are HTML, not Markdown.
    """
    lis = "".join(f"<li>{_plain(item)}</li>" for item in items)
    return f"<details><summary>{_plain(summary)}</summary><ul>{lis}</ul></details>"


def _plain(value: str) -> str:
    return html.escape(_LINE_BREAKS.sub(" ", value).strip(), quote=False)


def quote_block(lines: Sequence[str]) -> str:
    """A blockquote of already-escaped lines, kept as separate paragraphs."""
    return "\n>\n".join(f"> {line}" for line in lines)
