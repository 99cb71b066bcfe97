"""Find the target a document sets for each indicator: 国内生产总值增长6.5%左右 → GDP growth.

No model. An indicator (``indicators.toml``) followed within a few characters of its clause by
a value is a *mention*; a mention is a *target* when its sentence looks ahead (预期目标, 今年,
拟, 力争 …) and its own clause does not report the past (去年, 累计, 年均 …). Of several
targets for one indicator, the most target-like wins (the 主要预期目标 list beats a passing
reference). Matching happens on the Simplified form (same length), so Traditional text works
and offsets point into the input.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from service.checks.numbers import extract_zh, normalise
from service.errors import ConfigError
from service.tasks.commitments.rules import simplified_view

INDICATORS_PATH = Path(__file__).with_name("indicators.toml")

Unit = Literal["percent", "amount"]

_NUM = r"\d+(?:\.\d+)?"
_SCALE = r"(?:万亿|亿|万|千)?"
# What may sit between the indicator and its value: 拟按, 全年控制在, 保持在 … never a
# clause end, a list comma or another number.
_GAP = r"[^，。；：;:,、！？!?\d\n]{0,8}?"
_VALUE = (
    rf"(?P<value>{_NUM}{_SCALE}(?:%|个百分点)?(?:\s*[-–—~至到]\s*{_NUM}{_SCALE}%?)?"
    r"(?:万人|人|亿元|万元|元|万亿斤|亿斤|万斤|斤|万吨|吨|户|个)?\s*"
    r"(?P<qualifier>左右|以上|以内|以下|上下|内)?)"
)
_SENTENCE = re.compile(r"[^。！？!?\n]+")
# normalise() turns ， into ",": a comma ends a clause unless it sits inside a number (1,000).
_CLAUSE_END = re.compile(r"[、；;。！？!?\n]|(?<!\d),|,(?!\d)")
# A sentence that sets something ahead; the first group weighs more (a stated target).
_TARGET_WORDS = re.compile(r"预期目标|目标|拟|安排|预期")
_AHEAD_WORDS = re.compile(r"今年|明年|本年度|力争|确保|计划|预计")
# A clause that reports what happened: not a target even inside a forward-looking sentence.
_PAST_WORDS = re.compile(r"去年|上年|过去|年均|累计|五年来|同比|实现了|完成了|达到了|超过了|已经")
_MIN_SCORE = 2
_LIST_BREAK = re.compile(r"[；;：:]")
_EXCERPT_CONTEXT = 24  # characters of the sentence kept either side of the target


@dataclass(frozen=True)
class Indicator:
    key: str
    en: str
    pattern: re.Pattern[str]
    unit: Unit
    en_terms: tuple[str, ...]


class TargetMention(BaseModel):
    """One indicator's target as a paragraph states it; offsets into the paragraph text."""

    indicator: str
    value: str  # as written: 6.5%左右, 1100万人以上, 6%－6.5%
    low: float | None
    high: float | None
    qualifier: str | None  # 左右 / 以上 / 以内 …
    sentence: str  # the whole sentence holding it, the quote a reader checks
    excerpt: str  # the sentence cut to a few characters around the target, for tables
    start: int
    end: int  # [start, end) of indicator + value in the paragraph
    score: int


@lru_cache(maxsize=4)
def load_indicators(path: Path = INDICATORS_PATH) -> tuple[Indicator, ...]:
    """Read the indicator table; a broken file is a ConfigError naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return tuple(_indicator(entry) for entry in data["indicator"])
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(f"cannot load indicator table {path}: {exc}; fix or restore it") from exc


def _indicator(entry: dict[str, Any]) -> Indicator:
    unit = entry["unit"]
    if unit not in ("percent", "amount"):
        raise ValueError(f"indicator {entry['key']}: unit must be percent or amount")
    names = "|".join(f"(?:{p})" for p in entry["zh"])
    return Indicator(
        key=str(entry["key"]),
        en=str(entry["en"]),
        pattern=re.compile(rf"(?P<name>{names}){_GAP}{_VALUE}"),
        unit=unit,
        en_terms=tuple(entry["en_terms"]),
    )


def find_targets(
    text: str, indicators: tuple[Indicator, ...] | None = None
) -> dict[str, TargetMention]:
    """The best target per indicator key in one paragraph (any script)."""
    view = normalise(simplified_view(text))
    best: dict[str, TargetMention] = {}
    for indicator in indicators or load_indicators():
        for mention in _mentions(text, view, indicator):
            current = best.get(indicator.key)
            if current is None or mention.score > current.score:
                best[indicator.key] = mention
    return best


def _mentions(text: str, view: str, indicator: Indicator) -> list[TargetMention]:
    found = []
    for sentence in _SENTENCE.finditer(view):
        for m in indicator.pattern.finditer(view, sentence.start(), sentence.end()):
            if not _unit_fits(m["value"], indicator.unit):
                continue
            score = _score(view, sentence, m)
            if score >= _MIN_SCORE:
                found.append(_mention(text, sentence, m, indicator, score))
    return found


def _unit_fits(value: str, unit: Unit) -> bool:
    is_percent = "%" in value or "百分点" in value
    return is_percent if unit == "percent" else not is_percent


def _score(view: str, sentence: re.Match[str], m: re.Match[str]) -> int:
    """2 for a stated target, 1 for looking ahead, 1 for 左右/以上/a range; 0 for the past.

    A sentence after the paragraph's 预期目标 continues its list: it counts as looking ahead.
    """
    clause, clause_end = _clause(view, sentence, m)
    if _PAST_WORDS.search(clause):
        return 0
    # Only what comes up to this clause counts: 预期目标是：… announces the list that follows,
    # while …低于13%左右的预期目标 after a figure reports against an old target.
    text = view[sentence.start() : clause_end]
    score = 2 if _TARGET_WORDS.search(text) else 0
    earlier = view[: sentence.start()]
    ahead = _AHEAD_WORDS.search(text) or (not score and _TARGET_WORDS.search(earlier))
    score += 1 if ahead else 0
    ranged = re.search(r"\d\s*[-–—~至到]\s*\d", m["value"]) is not None
    return score + (1 if m["qualifier"] or ranged else 0)


def _clause(view: str, sentence: re.Match[str], m: re.Match[str]) -> tuple[str, int]:
    """The clause around a match (last clause end before it to the next one) and its end."""
    before = view[sentence.start() : m.start()]
    cut = max((e.end() for e in _CLAUSE_END.finditer(before)), default=0)
    after = _CLAUSE_END.search(view, m.end(), sentence.end())
    end = after.start() if after else sentence.end()
    return view[sentence.start() + cut : end], end


def _mention(
    text: str, sentence: re.Match[str], m: re.Match[str], indicator: Indicator, score: int
) -> TargetMention:
    value_text = text[m.start("value") : m.end("value")].rstrip()
    end = m.start("value") + len(value_text)
    numbers = [n.value for n in extract_zh(value_text) if n.kind in ("number", "percent")]
    return TargetMention(
        indicator=indicator.key,
        value=value_text,
        low=numbers[0] if numbers else None,
        high=numbers[1] if len(numbers) > 1 else None,
        qualifier=m["qualifier"],
        sentence=text[sentence.start() : sentence.end()].strip(),
        excerpt=_excerpt(text, sentence, m.start(), end),
        start=m.start(),
        end=end,
        score=score,
    )


def _excerpt(text: str, sentence: re.Match[str], start: int, end: int) -> str:
    """The sentence around [start, end), cut to a window with … where it was cut."""
    # A clause boundary (；：) within reach makes a cleaner cut than a character count.
    left = max(sentence.start(), start - _EXCERPT_CONTEXT)
    breaks = [b.end() for b in _LIST_BREAK.finditer(text, left, start)]
    left = breaks[-1] if breaks else left
    right = min(sentence.end(), end + _EXCERPT_CONTEXT)
    after = _LIST_BREAK.search(text, end, right)
    right = after.start() if after else right
    cut = text[left:right].strip()
    return ("…" if left > sentence.start() else "") + cut + ("…" if right < sentence.end() else "")
