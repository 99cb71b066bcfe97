"""Document metadata: the manifest where it has a field, else what the text says.

Every field's source is recorded in ``DocumentMeta.provenance``: ``manifest``, or ``text:<how>``
(for example ``text:byline`` or ``text:year-inferred``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from service.ingest.clean import CleanResult
from service.ingest.manifest import ManifestEntry
from service.ingest.script import to_simplified
from service.models import DocumentMeta

# Outlet markers, searched in the decoded text before cleaning (bylines are boilerplate);
# the first match wins, so the more specific markers come first.
OUTLETS: tuple[tuple[str, str], ...] = (
    (r"读特热榜|读特客户端", "读特 / 深圳特区报 (Dute, Shenzhen Special Zone Daily)"),
    (r"SUCAI198\.COM", "sucai198.com (template site, republished copy)"),
    (r"南方都市报APP|南都新闻|南都记者", "南方都市报 (Southern Metropolis Daily)"),
    (r"深圳新闻网", "深圳新闻网 (Shenzhen News Net)"),
    (r"深圳特区报记者", "深圳特区报 (Shenzhen Special Zone Daily)"),
)
PLACES: tuple[tuple[str, str], ...] = (
    (r"坪山区", "深圳市坪山区 (Pingshan District, Shenzhen)"),
    (r"深圳", "深圳 (Shenzhen)"),
)
DOC_TYPES: tuple[tuple[str, str], ...] = (
    (r"政府工作报告", "government work report"),
    (r"代表大会", "party congress report digest"),
    (r"常委会.{0,6}会议|领导小组会议|深改委", "meeting readout"),
    (r"调研", "inspection visit report"),
)
_FULL_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH_DAY = re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日")
_YEAR = re.compile(r"(?<![\d-])((?:19|20)\d{2})年")
_PAGER = re.compile(r"\s*[(（]第\d+/\d+页[)）]$")
_ORIGINAL_TITLE = re.compile(r"^原[标標][题題][:：]\s*(.+)$", re.M)


def extract_meta(
    raw: str,
    clean: CleanResult,
    entry: ManifestEntry | None,
    hints: dict[str, tuple[object, str]] | None = None,
) -> DocumentMeta:
    """Merge manifest fields over the format's ``hints`` over text-derived ones, recording
    where each came from (an HTML page's title and date, a fetched page's URL)."""
    found = {**_from_text(raw, clean), **(hints or {})}
    meta = DocumentMeta()
    for name in ("title_zh", "title_en", "date", "outlet", "place", "doc_type", "source_url"):
        manual = getattr(entry, name, None) if entry is not None else None
        if manual is not None:
            setattr(meta, name, manual)
            meta.provenance[name] = "manifest"
        elif name in found:
            value, how = found[name]
            setattr(meta, name, value)
            meta.provenance[name] = how
    if entry is not None and entry.notes:
        meta.notes = entry.notes
        meta.provenance["notes"] = "manifest"
    return meta


def _from_text(raw: str, clean: CleanResult) -> dict[str, tuple[object, str]]:
    simplified_raw = to_simplified(raw)
    title = extract_title(clean)
    head = to_simplified((title[0] if title else "") + "\n" + clean.text[:400])
    found: dict[str, tuple[object, str]] = {}
    for name, value in (
        ("title_zh", title),
        ("date", extract_date(clean)),
        ("outlet", _first_match(OUTLETS, simplified_raw)),
        ("place", _first_match(PLACES, to_simplified(clean.text))),
        ("doc_type", _first_match(DOC_TYPES, head)),
    ):
        if value is not None:
            found[name] = value if isinstance(value, tuple) else (value, "text")
    return found


def extract_title(clean: CleanResult) -> tuple[str, str] | None:
    """Page title removed by a rule, else ``原标题:…``, else a short first line."""
    if "title" in clean.metadata_lines:
        return _PAGER.sub("", clean.metadata_lines["title"]), "text:page-title"
    if match := _ORIGINAL_TITLE.search(clean.text[:500]):
        return match.group(1).strip(), "text:original-title"
    first = clean.text.split("\n", 1)[0]
    if len(first) <= 60 and "。" not in first:
        return first, "text:first-line"
    return None


def extract_date(clean: CleanResult) -> tuple[dt.date, str] | None:
    """Byline date, else a full date in the text, else month-day plus the text's main year."""
    if (byline := clean.metadata_lines.get("date")) and (m := _ISO_DATE.search(byline)):
        return _date(m.group(1), m.group(2), m.group(3), "text:byline")
    if m := _FULL_DATE.search(clean.text):
        return _date(m.group(1), m.group(2), m.group(3), "text")
    month_day, years = _MONTH_DAY.search(clean.text[:300]), _YEAR.findall(clean.text)
    if month_day and years:
        # The year the text talks about most (e.g. "2021年工作要點" ×4 beats "2020-2025年").
        year = Counter(years).most_common(1)[0][0]
        return _date(year, month_day.group(1), month_day.group(2), "text:year-inferred")
    return None


def _date(year: str, month: str, day: str, how: str) -> tuple[dt.date, str] | None:
    try:
        return dt.date(int(year), int(month), int(day)), how
    except ValueError:
        return None


def _first_match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    return next((name for pattern, name in table if re.search(pattern, text)), None)
