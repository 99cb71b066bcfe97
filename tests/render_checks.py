"""Parsing helpers for the render tests: markdown-it (CommonMark + tables) token walks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

ANCHOR = re.compile(r'<a id="([A-Za-z0-9_-]+)"></a>')
OPEN_ANCHOR = re.compile(r'<a id="([A-Za-z0-9_-]+)">')  # markdown-it splits open and close tags
PARSER = MarkdownIt("commonmark").enable("table")


def tokens(markdown: str) -> list[Token]:
    return PARSER.parse(markdown)


def walk(tokens_: list[Token]) -> Iterator[Token]:
    for t in tokens_:
        yield t
        if t.children:
            yield from walk(t.children)


def links(markdown: str) -> list[str]:
    return [str(t.attrs["href"]) for t in walk(tokens(markdown)) if t.type == "link_open"]


def anchors(markdown: str) -> set[str]:
    found = set()
    for t in walk(tokens(markdown)):
        if t.type == "html_inline" and (m := OPEN_ANCHOR.fullmatch(t.content)):
            found.add(m.group(1))
    return found


def raw_html(markdown: str) -> list[Token]:
    """Raw HTML other than our anchors (an opening anchor is followed by its closing tag)."""
    html = [t for t in walk(tokens(markdown)) if t.type in ("html_block", "html_inline")]
    return [t for t in html if not (OPEN_ANCHOR.fullmatch(t.content) or t.content == "</a>")]


def headings(markdown: str) -> list[str]:
    toks = tokens(markdown)
    return [toks[i + 1].content for i, t in enumerate(toks) if t.type == "heading_open"]


def tables_after(markdown: str, heading: str) -> list[list[list[str]]]:
    """Body rows (cells as plain content) of the tables between ``heading`` and the next heading."""
    toks, tables, inside = tokens(markdown), [], False
    for i, t in enumerate(toks):
        if t.type == "heading_open":
            inside = toks[i + 1].content == heading
        elif inside and t.type == "tbody_open":
            tables.append(_rows(toks[i:]))
    return tables


def _rows(toks: list[Token]) -> list[list[str]]:
    rows: list[list[str]] = []
    for i, t in enumerate(toks):
        if t.type == "tbody_close":
            break
        if t.type == "tr_open":
            rows.append([])
        elif t.type == "td_open":
            rows[-1].append(_plain(toks[i + 1]))
    return rows


def _plain(inline: Token) -> str:
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "softbreak"))


def plain_text(markdown: str) -> str:
    """All inline text of a page, as a reader would see it (no markup)."""
    return "\n".join(_plain(t) for t in tokens(markdown) if t.type == "inline")


def check_links(pages: Iterable[Path]) -> int:
    """Assert that every relative link of ``pages`` resolves to a file and, for ``#anchor``
    links, to an anchor of that Markdown file; return how many links were checked."""
    checked = 0
    for page in pages:
        for href in links(page.read_text("utf-8")):
            parts = urlsplit(href)
            if parts.scheme:
                continue
            target = (page.parent / parts.path).resolve() if parts.path else page
            assert target.is_file(), f"{page.name}: {href}"
            if parts.fragment:
                assert target.suffix == ".md", f"{page.name}: {href}"
                assert parts.fragment in anchors(target.read_text("utf-8")), href
            checked += 1
    return checked
