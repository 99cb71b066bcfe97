"""HTML → article text: drop page furniture, one line per block element."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

_HTML_START = re.compile(
    r"^\s*(<!doctype html|<html|<head|<body|<meta|<article|<div|<p[\s>])", re.I
)
_DROP = ("script", "style", "nav", "footer", "header", "aside", "noscript", "form", "iframe")
_BLOCKS = (
    "p", "div", "section", "article", "main", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "td", "th", "tr", "br", "dd", "dt", "figcaption", "title",
)  # fmt: skip


def looks_like_html(text: str) -> bool:
    """Detect HTML by content (not by file name): a leading tag such as <html> or <p>."""
    return bool(_HTML_START.match(text[:2000]))


def html_to_text(markup: str) -> str:
    """Article text with one block element per line; scripts, nav, header, footer removed."""
    soup = BeautifulSoup(markup, "lxml")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for block in root.find_all(_BLOCKS) if isinstance(root, Tag) else []:
        block.insert_before("\n")
        block.insert_after("\n")
    return "\n".join(line.strip() for line in root.get_text().splitlines())
