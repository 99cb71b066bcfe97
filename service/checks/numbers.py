"""Find the numbers in Chinese and English text and normalise them for comparison.

Policy for Chinese (why: policy prose is full of set phrases built from numerals, such as
一流, 统一, 一批, 一体, 万物, 一河两岸, 三化三型三最, which are not quantities):

- Arabic digits always count (with thousands separators, decimals, fullwidth digits) and take
  a following scale 万/亿/万亿 (``1.2万亿`` → 1.2e12, ``3000万`` → 3e7).
- A run of Chinese numerals counts when it is a quantity: after 第 (ordinal); a multi-character
  run with a unit character (十一, 一百, 三千万); a digit-by-digit run before 年 (二〇二一年);
  a month/day (十一月十六日); or a single numeral other than 一 followed by a measure word
  (两个, 五方面, 十大). A bare 一 never counts outside 第一: in English it is "a/an" or part
  of an idiom. Runs starting with 百/千/万/亿 (万物, 千方百计, 万亿级) do not count; before 级
  they are size classes (``level_sizes``) an English rendering may state.
- "十四五"-style plan names are one token whose value is the plan number (14 → "14th").
- 百分之五 / 5% are percentages; 5个百分点 are percentage points.
- A month without a day (8月) is a month; English month names match it.

English numbers found from digits are *strong* (an invented digit is an error); numbers spelt
in words are *weak* unless ten or more, because "one of", "a first step" are ordinary prose.
Weak numbers still count as renderings of a source number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Literal

import cn2an
from pydantic import BaseModel

NumberKind = Literal["number", "percent", "points", "year", "date", "month", "ordinal", "plan"]
Family = Literal["num", "date", "month"]


class NumberMention(BaseModel):
    text: str
    start: int
    end: int
    value: float
    kind: NumberKind = "number"
    strong: bool = True

    @property
    def family(self) -> Family:
        """Values compare only within a family: a date 2/20 (220) is never the number 220."""
        if self.kind == "date":
            return "date"
        if self.kind == "month":
            return "month"
        return "num"


# Fullwidth digits and symbols map one-to-one, so spans stay valid on the original text.
_FULLWIDTH = str.maketrans("０１２３４５６７８９％．，－", "0123456789%.,-")
_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = set("十百千万亿萬億")
_CN_CHARS = "".join(_CN_DIGIT) + "".join(_CN_UNIT)
# Keys in Simplified, 多/余 removed (see _scaled).
_SCALE = {"万亿": 1e12, "万": 1e4, "亿": 1e8, "千万": 1e7, "百万": 1e6, "千": 1e3, "百": 1e2}
_AR = r"[0-9]+(?:,[0-9]{3}(?![0-9]))*(?:\.[0-9]+)?"
# 多/余 ("1700多万" = 17 million and more) sit between a number and its scale, and inside a
# two-character scale ("4万多亿" = 4 trillion and more, "3千多万"). 千 and 百 are scales too
# (5千多户), but not in the units 千瓦 (kW), 千克 (kg), 千米 (km)... nor in 百分点/百分之.
_ZH_TOKEN = re.compile(
    rf"(?P<ar>{_AR})(?:多|余|餘)?"
    r"(?P<scale>[万萬](?:多|余|餘)?[亿億]|[千百](?:多|余|餘)?[万萬]|[万萬亿億]"
    r"|千(?![瓦克米卡伏帕兆赫])|百(?!分))?"
    rf"|(?P<cn>[{_CN_CHARS}]+)"
)
# The second part of a composite: 1万6千 (16,000), 1亿3千多万 (130 million). A digit must come
# before 千, so 5000万千瓦 (50 million kilowatts) stays one number.
_SUB_THOUSANDS = re.compile(r"^([1-9])千(?:(?:多|余|餘)?([万萬]))?")
_PLAN = re.compile(
    r"(十[一二三四五六七八九]|[一二三四五六七八九])五(?=”|\"|规划|規劃|时期|時期|期间|期間)"
)
_PERCENT_OF = re.compile(rf"百分之({_AR}|[{_CN_CHARS}点點]+)")
_POINTS = re.compile(r"^\s*(?:个|個)?百分点|^\s*(?:个|個)?百分點")
# Measure words and units that make a single Chinese numeral a quantity (Simplified + Traditional).
_MEASURE = re.compile(
    "^(?:个|個|项|項|条|條|次|方面|周年|週年|年|天|周|週|名|人|家|座|所|位|种|種|类|類|件|套"
    "|台|臺|辆|輛|艘|架|份|篇|批|届|屆|轮|輪|期|号|號|层|層|级|級|大|点|點|元|千|百|公里|米|平方"
    "|亩|畝|吨|噸|岁|歲|小时|小時|分钟|分鐘|秒|倍|成|席|张|張|部|支|例|户|戶|间|間|栋|棟|场|場"
    "|章|节|節|款|册|冊|本|届|季|季度|个月|個月|段|步)"
)
_RANGE_YEAR = re.compile(r"^[-–—~至到][0-9]{4}年")  # the first year of 2020-2025年
# A bare scale before 级 is a size class (百平方公里级 = of a hundred square kilometres, 千亿级 =
# worth a hundred billion), which an English rendering may state or not (see level_sizes).
_LEVEL = re.compile(
    r"(?<![0-9零〇一二两兩三四五六七八九十])([百千万亿萬億]+)(?=(?:元|美元|平方公里|平方米|公里|吨|亩|人)?[级級])"
)
_DATE_DAY = re.compile(rf"^月({_AR}|[{_CN_CHARS}]+)(?:日|号|號)")


def normalise(text: str) -> str:
    """Map fullwidth digits and signs to ASCII (length-preserving)."""
    return text.translate(_FULLWIDTH)


def cn_value(run: str) -> float | None:
    """Value of a Chinese numeral run, or None when it is not a well-formed number."""
    if not any(ch in _CN_UNIT or ch == "点" for ch in run):
        digits = [_CN_DIGIT.get(ch) for ch in run]
        if any(d is None for d in digits):
            return None
        return float("".join(str(d) for d in digits))
    try:
        # cn2an accepts 两 and Traditional scale characters only in their Simplified form.
        value = cn2an.cn2an(
            run.replace("萬", "万").replace("億", "亿").replace("兩", "两"), "smart"
        )
    except ValueError:
        return None  # malformed runs such as 一五一十 are idioms, not numbers
    return float(value)


def _value(token: str) -> float | None:
    if re.fullmatch(_AR, token):
        return float(token.replace(",", ""))
    return cn_value(token.replace("點", "点"))


def extract_zh(text: str) -> list[NumberMention]:
    """Every number in Chinese text (either script), in order of position."""
    norm = normalise(text)
    found: list[NumberMention] = [*_plans(norm), *_percent_of(norm)]
    taken = [(m.start, m.end) for m in found]
    skip_until = 0
    for match in _ZH_TOKEN.finditer(norm):
        if match.start() < skip_until or any(s <= match.start() < e for s, e in taken):
            continue
        for mention in _zh_token(norm, match):
            found.append(mention)
            skip_until = max(skip_until, mention.end)
    for m in found:
        m.text = text[m.start : m.end]
    return sorted(found, key=lambda m: m.start)


def level_sizes(text: str) -> list[NumberMention]:
    """The size classes of ``text`` (百平方公里级 → 100, 万亿级 → 10¹²) as weak mentions: not
    numbers an English rendering must keep (extract_zh skips them), but ones it may state."""
    found = []
    for m in _LEVEL.finditer(normalise(text)):
        value = cn_value("一" + m.group(1))
        if value is not None:
            found.append(
                NumberMention(text=m.group(1), start=m.start(1), end=m.end(1), value=value,
                              strong=False)
            )  # fmt: skip
    return found


def _plans(norm: str) -> Iterator[NumberMention]:
    for m in _PLAN.finditer(norm):
        value = cn_value(m.group(1))
        if value is not None:
            yield NumberMention(
                text=m.group(0), start=m.start(), end=m.end(), value=value, kind="plan"
            )


def _percent_of(norm: str) -> Iterator[NumberMention]:
    for m in _PERCENT_OF.finditer(norm):
        value = _value(m.group(1))
        if value is not None:
            yield NumberMention(
                text=m.group(0), start=m.start(), end=m.end(), value=value, kind="percent"
            )


def _zh_token(norm: str, match: re.Match[str]) -> list[NumberMention]:
    """Classify one numeral token by its neighbours; [] when the policy says it is no number."""
    start, end = match.span()
    token = match.group("ar") or match.group("cn")
    arabic = match.group("ar") is not None
    value = _value(token)
    if value is None or (not arabic and token[0] in "百千万亿萬億"):
        return []
    if arabic and match.group("scale"):
        value, end = _scaled(norm, value, match.group("scale"), end)
    after, before = norm[end:], norm[max(0, start - 1) : start]
    date = _DATE_DAY.match(after)
    if date and 1 <= value <= 12:
        day = _value(date.group(1))
        if day is not None and 1 <= day <= 31:
            return [_mention(norm, start, end + date.end(), value * 100 + day, "date")]
    kind = _kind(token, value, after, before, arabic)
    if kind is None:
        return []
    points = _POINTS.match(after)
    if kind == "points" and points:
        end += points.end()
    elif kind == "percent":
        end += 1
    return [_mention(norm, start, end, value, kind)]


def _scaled(norm: str, value: float, scale: str, end: int) -> tuple[float, int]:
    """Value and end of an Arabic number with its scale, composites included (4万多亿, 1万6千)."""
    scale = re.sub("[多余餘]", "", scale).replace("萬", "万").replace("億", "亿")
    sub = _SUB_THOUSANDS.match(norm[end:])
    whole, value = value.is_integer(), value * _SCALE[scale]
    if sub is None or not whole:  # 1.5亿5千万 is no composite
        return value, end
    if scale == "万" and not sub.group(2):
        return value + int(sub.group(1)) * 1e3, end + sub.end()
    if scale == "亿" and sub.group(2):
        return value + int(sub.group(1)) * 1e7, end + sub.end()
    return value, end


def _kind(token: str, value: float, after: str, before: str, arabic: bool) -> NumberKind | None:
    if after.startswith("%"):
        return "percent"
    if _POINTS.match(after):
        return "points"
    if before == "第":
        return "ordinal"
    if (after.startswith("年") or _RANGE_YEAR.match(after)) and _year_like(value):
        return "year"
    if after.startswith("月") and 1 <= value <= 12:
        return "month"
    if arabic:
        return "number"
    return _cn_policy(token, after)


def _year_like(value: float) -> bool:
    return value.is_integer() and 1000 <= value <= 2999


def _cn_policy(token: str, after: str) -> NumberKind | None:
    """The idiom guard for Chinese numeral runs outside 第/dates/percentages."""
    has_unit = any(ch in _CN_UNIT for ch in token)
    if len(token) > 1:
        if has_unit:
            return "number"
        return "year" if after.startswith("年") and len(token) == 4 else None
    if token == "一":
        return None
    return "number" if _MEASURE.match(after) else None


def _mention(norm: str, start: int, end: int, value: float, kind: NumberKind) -> NumberMention:
    return NumberMention(text=norm[start:end], start=start, end=end, value=value, kind=kind)


# --- English -------------------------------------------------------------------------------

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD_UNITS = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]
_ORD_TENS = [
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
]
_WORDS: dict[str, float] = {w: float(i) for i, w in enumerate(_UNITS)}
_WORDS.update({w: float(20 + 10 * i) for i, w in enumerate(_TENS)})
_ORDINALS: dict[str, float] = {w: float(i) for i, w in enumerate(_ORD_UNITS)}
_ORDINALS.update({w: float(20 + 10 * i) for i, w in enumerate(_ORD_TENS)})
_ORDINALS.update({"hundredth": 100.0, "thousandth": 1000.0})
# Words that render a number but are never an invented figure on their own.
_WEAK_WORDS = {"centenary": 100.0, "centennial": 100.0}
# Names containing digits that are not quantities (新冠肺炎 → COVID-19).
_NAMES = re.compile(r"\b(?:COVID-19|SARS-CoV-2)\b", re.I)
_A_BEFORE = re.compile(r"\b[Aa][\s-]+$")
# List markers ("1. ", "(2) ") at a line start are structure, like （一） in the source.
_LIST_MARKER = re.compile(r"^[\s*#>-]*\(?([0-9]{1,2})[.)](?=\s)", re.M)
_EN_SCALES = {"hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_ROMAN = {"I": 1.0, "II": 2.0, "III": 3.0, "IV": 4.0, "V": 5.0, "VI": 6.0, "VII": 7.0}
_PHASE = re.compile(r"\b(?:[Pp]hase|[Ss]tage)\s+(VII|VI|V|IV|III|II|I)\b")
_EN_TOKEN = re.compile(r"[0-9]+(?:,[0-9]{3}(?![0-9]))*(?:\.[0-9]+)?(?:st|nd|rd|th)?|[A-Za-z]+")
_EN_SUFFIX = re.compile(r"^\s*(?:(%)|(percentage points?)|(per\s?cent)\b)", re.I)
_MONTH_RE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(?:\s+([0-9]{1,2})(?:st|nd|rd|th)?\b)?"
)
_DAY_MONTH_RE = re.compile(
    r"\b([0-9]{1,2})(?:st|nd|rd|th)?\s+(January|February|March|April|May|June|July|August"
    r"|September|October|November|December)\b"
)


def extract_en(text: str) -> list[NumberMention]:
    """Every number in English text: digits, number words, percentages, ordinals, dates, the
    Roman numeral of a phase (二期 → Phase II)."""
    found = list(_en_dates(text)) + list(_en_phases(text))
    taken = [(m.start, m.end) for m in found if m.kind == "date"]
    taken += [m.span() for m in _NAMES.finditer(text)]
    taken += [m.span(1) for m in _LIST_MARKER.finditer(text)]
    for group in _en_groups(text):
        if not any(s < group[-1].end() and group[0].start() < e for s, e in taken):
            mention = _en_mention(text, group)
            if mention is not None:
                found.append(mention)
    return sorted(found, key=lambda m: m.start)


def _en_phases(text: str) -> Iterator[NumberMention]:
    for m in _PHASE.finditer(text):
        yield NumberMention(
            text=m.group(1), start=m.start(1), end=m.end(1), value=_ROMAN[m.group(1)],
            kind="number", strong=False,
        )  # fmt: skip


def _en_dates(text: str) -> Iterator[NumberMention]:
    for m in _DAY_MONTH_RE.finditer(text):
        month = _MONTHS.index(m.group(2).lower()) + 1
        yield NumberMention(
            text=m.group(0),
            start=m.start(),
            end=m.end(),
            value=month * 100 + int(m.group(1)),
            kind="date",
        )
    for m in _MONTH_RE.finditer(text):
        name = m.group(1).lower()
        month = _MONTH_ABBR[name[:4] if name == "sept" else name[:3]]
        yield NumberMention(
            text=m.group(1),
            start=m.start(),
            end=m.start(1) + len(m.group(1)),
            value=month,
            kind="month",
            strong=False,
        )
        if m.group(2) and 1 <= int(m.group(2)) <= 31:
            yield NumberMention(
                text=m.group(0),
                start=m.start(),
                end=m.end(),
                value=month * 100 + int(m.group(2)),
                kind="date",
            )


def _is_num_word(word: str) -> bool:
    w = word.lower()
    return w in _WORDS or w in _EN_SCALES or w in _ORDINALS or w in _WEAK_WORDS


def _en_groups(text: str) -> Iterator[list[re.Match[str]]]:
    """Group adjacent number tokens into phrases: "one hundred and three", "1.2 trillion"."""
    group: list[re.Match[str]] = []
    for tok in _EN_TOKEN.finditer(text):
        word = tok.group(0)
        if word.lower() == "and" and group:
            continue  # "one hundred and three": _joins decides from the gap
        numeric = word[0].isdigit() or _is_num_word(word)
        if group and numeric and _joins(text, group, tok):
            group.append(tok)
            continue
        if group:
            yield group
        group = [tok] if numeric else []
    if group:
        yield group


def _joins(text: str, group: list[re.Match[str]], tok: re.Match[str]) -> bool:
    gap = text[group[-1].end() : tok.start()]
    prev, word = group[-1].group(0).lower(), tok.group(0).lower()
    if (
        word[0].isdigit()
        or prev in _ORDINALS
        or prev in _WEAK_WORDS
        or (prev[0].isdigit() and prev[-1].isalpha())
    ):
        return False
    if re.fullmatch(r"\s+and\s+", gap):
        return prev in _EN_SCALES and word not in _EN_SCALES
    if not re.fullmatch(r"[\s-]+", gap):
        return False
    if word in _EN_SCALES or word in ("hundredth", "thousandth"):
        return True
    return (prev in _TENS and (word in _UNITS[1:10] or word in _ORD_UNITS[1:10])) or (
        prev in _EN_SCALES and word not in _EN_SCALES
    )


def _en_mention(text: str, group: list[re.Match[str]]) -> NumberMention | None:
    words = [t.group(0).lower() for t in group]
    if words[0] in _EN_SCALES and not _A_BEFORE.search(text[: group[0].start()]):
        return None  # "millions of", "hundreds of": no definite value; "a million" has one
    value, ordinal = _parse_words(words)
    start, end = group[0].start(), group[-1].end()
    kind: NumberKind = "ordinal" if ordinal else "number"
    suffix = _EN_SUFFIX.match(text[end:])
    if suffix:
        kind = "points" if suffix.group(2) else "percent"
        end += suffix.end()
    strong = words[0][0].isdigit() or (value >= 10 and words[0] not in _WEAK_WORDS)
    return NumberMention(
        text=text[start:end], start=start, end=end, value=value, kind=kind, strong=strong
    )


def _parse_words(words: list[str]) -> tuple[float, bool]:
    """Value of a grouped phrase and whether it is an ordinal."""
    total, current, ordinal = 0.0, 0.0, False
    for w in words:
        ordinal = w in _ORDINALS or w in _WEAK_WORDS or (w[0].isdigit() and w[-1].isalpha())
        if w[0].isdigit():
            current += float(w.rstrip("stndrh").replace(",", ""))
        elif w in ("hundred", "hundredth"):
            current = (current or 1) * 100
        elif w == "thousandth":
            current = (current or 1) * 1000
        elif w in _EN_SCALES:
            total, current = total + (current or 1) * _EN_SCALES[w], 0.0
        else:
            current += {**_WORDS, **_ORDINALS, **_WEAK_WORDS}[w]
    return total + current, ordinal


# --- Comparison ----------------------------------------------------------------------------


def same_value(a: float, b: float) -> bool:
    """Equal up to float noise (1.2 * 1e12 vs 1.2e12)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def contains_value(mentions: Iterable[NumberMention], probe: NumberMention) -> bool:
    """Whether any mention has the probe's value within the probe's family."""
    return any(m.family == probe.family and same_value(m.value, probe.value) for m in mentions)
