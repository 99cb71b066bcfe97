"""Parser for the bilingual reference set (Chinese originals + official English).

The files are Jekyll posts (front matter, a blogger's preface ending at a ``---`` line, then the
text). Most lines are ``中文<br/>English[<br/>English...]``; the 2022 report instead alternates
blocks of Chinese and English paragraphs, which we align by length and shared numbers.
The reference texts are data for evaluation and glossary mining; never ship them in the repo.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from service.config import ROOT
from service.errors import InputError

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_ZH_NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
_ZH_ORDINAL = re.compile(r"^[（(]?([一二三四五六七八九十])(?:是|、|[）)])")
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*)(?=\S)(.+?)(?<=\S)\1")
# Block-level tag boundaries that separate a Chinese heading from its English on one line.
_BLOCK_BOUNDARY = re.compile(r"</(?:strong|span|p|div)>\s*(?=<(?:strong|span|p|div)\b)")
# News-site furniture between the preface and the text: datelines, "full text below", sources.
_JUNK = re.compile(
    r"^(?:(?:新华社|新华网)\s*\d{4}-\d{2}-\d{2}.*|来源：.*|.*全文如下[：:]?|以下为.*全文[：:]?)$"
)
_FULL_TEXT = re.compile(r"全文如下|以下为.*全文")
_LEAD_LINES = 12  # the marker, when present, is within the first lines after the preface
_GAP_COST = 4.0  # cost of leaving one paragraph unaligned (never beats a plausible match)
_MERGE_COST = 0.15  # per extra paragraph in a 1:n or 2:1 match, so 1:1 wins when lengths agree
_MAX_SPLIT = 24


class ReferencePair(BaseModel):
    zh: str
    en: str
    index: int


class ReferenceDoc(BaseModel):
    name: str
    pairs: list[ReferencePair]


@dataclass
class _Item:
    """One source line split into a Chinese part (maybe empty) and English parts."""

    zh: list[str] = field(default_factory=list)
    en: list[str] = field(default_factory=list)
    explicit: bool = False  # a "中文<br/>English" line: paired by the source itself


def load_reference(path: Path) -> ReferenceDoc:
    """Parse one reference file into aligned (zh, en) pairs, markup and preface stripped."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read reference file {path}: {exc}") from exc
    body = _strip_preface(raw, path)
    pairs = _pair_items(_items(body))
    return ReferenceDoc(
        name=path.stem,
        pairs=[ReferencePair(zh=zh, en=en, index=i) for i, (zh, en) in enumerate(pairs)],
    )


def default_reference_dir() -> Path | None:
    """``<repo>/../shared/reference/gwr-bilingual``, also found from a worktree nested deeper."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "reference" / "gwr-bilingual"
        if candidate.is_dir():
            return candidate
    return None


def load_reference_dir(folder: Path) -> list[ReferenceDoc]:
    """All ``*.md`` reference files in a folder, sorted by name."""
    return [load_reference(p) for p in sorted(folder.glob("*.md"))]


def _strip_preface(raw: str, path: Path) -> list[str]:
    """Drop the front matter and the blogger's preface (everything up to the next ``---``)."""
    lines = raw.splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if len(rules) < 3 or rules[0] != 0:
        raise InputError(f"{path}: expected front matter and a '---' line ending the preface")
    body = lines[rules[2] + 1 :]
    # A news lead may precede a "全文如下：" marker; the text proper starts after it.
    markers = [i for i, line in enumerate(body[:_LEAD_LINES]) if _FULL_TEXT.search(line)]
    return body[markers[-1] + 1 :] if markers else body


def clean_markup(text: str) -> str:
    """HTML tags and entities, markdown links/emphasis/quotes removed; whitespace collapsed."""
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text).replace("\u3000", " ").replace("\xa0", " ")
    text = _EMPHASIS.sub(r"\2", text)
    text = re.sub(r"^\s*(?:>\s*)+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def is_chinese(segment: str) -> bool:
    """A segment is Chinese when CJK characters are not swamped by Latin letters."""
    cjk = len(_CJK.findall(segment))
    return cjk > 0 and cjk * 2 >= len(_LATIN.findall(segment))


def _items(lines: list[str]) -> list[_Item]:
    items: list[_Item] = []
    for line in lines:
        parts = re.split(r"<br\s*/?>", _BLOCK_BOUNDARY.sub("<br/>", line))
        segments = [s for s in (clean_markup(p) for p in parts) if s and not _JUNK.match(s)]
        if not segments:
            continue
        has_br = re.search(r"<br\s*/?>", line) is not None
        zh = [s for s in segments if is_chinese(s)]
        en = [s for s in segments if not is_chinese(s)]
        if zh and en and has_br and is_chinese(segments[0]) and len(zh) == 1:
            items.append(_Item(zh=zh, en=en, explicit=True))
        else:
            items.extend(_Item(zh=[s]) if is_chinese(s) else _Item(en=[s]) for s in segments)
    return items


def _pair_items(items: list[_Item]) -> list[tuple[str, str]]:
    """Explicit pairs pass through; loose runs of Chinese then English get aligned."""
    out: list[list[str]] = []  # each: [zh, en, en, ...]
    zh_run: list[str] = []
    en_run: list[str] = []
    after_explicit = False  # English lines right after an explicit pair continue its English
    for item in [*items, _Item(explicit=True)]:  # the sentinel flushes the last run
        if item.explicit or (item.zh and en_run):
            out.extend([zh, en] for zh, en in align(zh_run, en_run))
            zh_run, en_run = [], []
        if item.explicit:
            out.append([*item.zh, *item.en])
        elif item.zh:
            zh_run.append(item.zh[0])
        elif after_explicit:
            out[-1].extend(item.en)
            continue
        else:
            en_run.extend(item.en)  # English with no Chinese before it is dropped by align
        after_explicit = item.explicit
    return [(p[0], " ".join(p[1:])) for p in out if len(p) > 1]


def align(zh: list[str], en: list[str]) -> list[tuple[str, str]]:
    """Monotonic alignment of Chinese to English paragraphs (1:n up to 24, 2:1, skips).

    Cost: log length ratio against the expected English/Chinese ratio, minus a bonus for
    numbers both sides share (paragraph numbers, figures). Unaligned paragraphs are dropped.
    """
    if not zh or not en:
        return []
    # The 2022 English splits one long Chinese paragraph into as many as 18 shorter ones.
    moves = [(1, k) for k in range(1, _MAX_SPLIT + 1)] + [(2, 1), (1, 0), (0, 1)]
    n, m = len(zh), len(en)
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None]] = {(0, 0): (0.0, None)}
    for i in range(n + 1):
        for j in range(m + 1):
            if (i, j) not in best:
                continue
            for di, dj in moves:
                if i + di > n or j + dj > m:
                    continue
                cost = best[(i, j)][0] + _move_cost(zh[i : i + di], en[j : j + dj])
                key = (i + di, j + dj)
                if key not in best or cost < best[key][0]:
                    best[key] = (cost, (di, dj))
    return _backtrack(best, zh, en)


def _backtrack(
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None]],
    zh: list[str],
    en: list[str],
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    i, j = len(zh), len(en)
    while (i, j) != (0, 0):
        move = best[(i, j)][1]
        assert move is not None  # every reachable cell but the origin has a move
        di, dj = move
        if di and dj:
            pairs.append(("".join(zh[i - di : i]), " ".join(en[j - dj : j])))
        i, j = i - di, j - dj
    return pairs[::-1]


def _move_cost(zh: list[str], en: list[str]) -> float:
    if not zh or not en:
        return _GAP_COST
    zh_len = sum(len(s) for s in zh)
    en_len = sum(len(s) for s in en)
    # Official English runs about 5 characters per Chinese character in these reports.
    ratio_cost = abs(math.log(max(en_len, 1) / (5.0 * max(zh_len, 1))))
    merge_cost = _MERGE_COST * (len(zh) + len(en) - 2)
    return ratio_cost + merge_cost - _number_bonus(zh, en)


def _number_bonus(zh: list[str], en: list[str]) -> float:
    zh_nums = set(_DIGITS.findall(" ".join(zh)))
    ordinal = _ZH_ORDINAL.match(zh[0])
    if ordinal:  # "八是……" / "三、……" is numbered "8." / "III." in the English
        zh_nums.add(str(_ZH_NUMERALS.index(ordinal.group(1)) + 1))
    en_nums = set(_DIGITS.findall(" ".join(en)))
    if not zh_nums or not en_nums:
        return 0.0
    return 0.5 * len(zh_nums & en_nums) / len(zh_nums | en_nums)


class Evidence(BaseModel):
    """How the official English renders a term: pairs containing it, and those using a rendering."""

    term: str
    pairs_with_term: int
    pairs_with_rendering: int
    docs: list[str]  # names of the documents where a rendering was found


def rendering_evidence(term: str, renderings: list[str], docs: list[ReferenceDoc]) -> Evidence:
    """Count reference pairs whose Chinese contains ``term`` and whose English uses a rendering.

    English is compared case-insensitively with hyphens, curly quotes and spacing normalised.
    """
    wanted = [_norm_en(r) for r in renderings]
    with_term = 0
    found_in: list[str] = []
    for doc in docs:
        for pair in doc.pairs:
            if term not in pair.zh:
                continue
            with_term += 1
            english = _norm_en(pair.en)
            if any(w in english for w in wanted):
                found_in.append(doc.name)
    return Evidence(
        term=term,
        pairs_with_term=with_term,
        pairs_with_rendering=len(found_in),
        docs=sorted(set(found_in)),
    )


def _norm_en(text: str) -> str:
    text = text.lower().replace("’", "'").replace("“", '"').replace("”", '"').replace("-", " ")
    return re.sub(r"\s+", " ", text)
