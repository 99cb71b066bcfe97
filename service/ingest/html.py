"""HTML → article text through trafilatura, with the page's title and publication date.

trafilatura (Apache-2.0) finds the article in a page built from ``<div>``s (menus, search
box, breadcrumb, related links and share bars are left out); ``favor_precision`` keeps small
pages from falling back to whole-page text. Our boilerplate rules run on its output
afterwards (``clean.py``). A page it finds no article in is reduced by the plain
block-element pass below. The title is the CMS's ``ArticleTitle`` meta, else trafilatura's
(the ``<title>``/``<h1>``) without the site name; the date is the page's 发布时间 line, else a
publication-date ``<meta>``, else (in metadata.py) the article text's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import trafilatura
from bs4 import BeautifulSoup, Tag

_HTML_START = re.compile(
    r"^\s*(<!doctype html|<html|<head|<body|<meta|<article|<div|<p[\s>])", re.I
)
_DROP = ("script", "style", "nav", "footer", "header", "aside", "noscript", "form", "iframe")
_BLOCKS = (
    "p", "div", "section", "article", "main", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "td", "th", "tr", "br", "dd", "dt", "figcaption", "title",
)  # fmt: skip
# The title block of gov.cn-style pages: "发布时间：2024-10-12 09:30" (also 发布日期, 成文日期).
_PUBLISHED = re.compile(
    r"(?:发布|發佈|发文|成文)(?:时间|日期|時間)\s*[:：]\s*(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})"
)

# A page's <title> ends in the site's name (网, 网站, 报, 客户端), often after a section name
# ("_政策文件_深圳市人民政府门户网站"); a dash inside the title proper ("2020-2025年") stays.
_SITE_NAME = re.compile(r"\s*[-_|–—]\s*[^-_|–—]{1,24}(网|网站|網|網站|报|報|客户端|客戶端)$")
_SECTION = re.compile(r"\s*[_|]\s*[\u4e00-\u9fff]{2,8}$")

# <meta> names and properties that carry the publication date (TRS and other Chinese CMSs,
# Open Graph, Dublin Core).
_DATE_METAS = frozenset({
    "pubdate", "publishdate", "firstpublishedtime", "article:published_time",
    "dc.date", "dc.date.issued", "dc.date.created", "dcterms.issued", "date",
})  # fmt: skip
_ISO_DAY = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


@dataclass
class HtmlText:
    text: str
    title: str | None = None
    date: tuple[dt.date, str] | None = None


def looks_like_html(text: str) -> bool:
    """Detect HTML by content (not by file name): a leading tag such as <html> or <p>."""
    return bool(_HTML_START.match(text[:2000]))


def read_html(markup: str) -> HtmlText:
    """The article's text (one block per line), title and publication date."""
    found = trafilatura.bare_extraction(
        markup, with_metadata=True, include_comments=False, favor_precision=True
    )
    text = getattr(found, "text", None) or ""
    if not text.strip():
        return HtmlText(html_to_text(markup))
    soup = BeautifulSoup(markup, "lxml")
    title = _article_title(soup) or site_suffix_removed(getattr(found, "title", None) or "")
    return HtmlText(text, title=title or None, date=published(soup))


def _article_title(soup: BeautifulSoup) -> str | None:
    """``<meta name="ArticleTitle">``, which Chinese CMSs (TRS and others) write."""
    tag = soup.find("meta", attrs={"name": re.compile(r"^articletitle$", re.I)})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return content.strip() if isinstance(content, str) and content.strip() else None


def site_suffix_removed(title: str) -> str:
    """``通知_政策文件_深圳市人民政府门户网站`` → ``通知``: the site and section after the title."""
    if not (site := _SITE_NAME.search(title)):
        return title.strip()
    title = title[: site.start()]
    while section := _SECTION.search(title):
        title = title[: section.start()]
    return title.strip()


def published(soup: BeautifulSoup) -> tuple[dt.date, str] | None:
    """The page's 发布时间 line, else a publication-date ``<meta>``; None leaves the date to
    the article text. Not trafilatura's date: htmldate falls back to any date on the page and
    took a related link's 2019-10-12 for the fixture's notice once its 发布时间 line was gone."""
    if (match := _PUBLISHED.search(soup.get_text(" "))) and (day := _date(*match.groups())):
        return day, "html:published-line"
    days = (_meta_date(tag) for tag in soup.find_all("meta") if isinstance(tag, Tag))
    return next(((day, "html:meta") for day in days if day is not None), None)


def _meta_date(tag: Tag) -> dt.date | None:
    name = str(tag.get("name") or tag.get("property") or "").lower()
    match = _ISO_DAY.match(str(tag.get("content") or "").strip())
    return _date(*match.groups()) if name in _DATE_METAS and match else None


def _date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day[:2]))
    except ValueError:
        return None


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
