"""Chinese magnitudes in English: hints for the prompt and a deterministic repair (no model).

Chinese counts in 万 (10^4) and 亿 (10^8); English in thousands, millions and billions. Small
models keep the Chinese digits and guess the scale: 1361万 becomes "1361 million" (right:
13.61 million), 近14亿 "14 billion" (right: 1.4 billion). Two defences:

- ``hints``/``hint_line``: the English of every scaled source number, given to the model with
  the unit (``Numbers: 1361万 = 13.61 million; 近14亿 = nearly 1.4 billion``).
- ``repair``: an English number with exactly the digits of one source number but at another
  power of ten is replaced by that number's English. Only when the match is unambiguous; never
  years, dates, ordinals or percentages. Whatever is still missing is listed for the page.

English follows the official translations of the Government Work Reports: 50,000 below a
million, then "13.61 million", "830 billion", "2.38 trillion".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, Field

from service.checks.numbers import NumberMention, extract_en, extract_zh, same_value
from service.checks.quality import NumberRef, check_numbers

_EN_SCALES = (
    (Decimal(10) ** 12, "trillion"),
    (Decimal(10) ** 9, "billion"),
    (Decimal(10) ** 6, "million"),
)
_SCALE_WORDS = {"thousand", "million", "billion", "trillion"}
_ZH_SCALES = set("万亿萬億千百")
_MORE = set("多余餘")
# Qualifiers written right before the number. 约 also ends 节约 (save), 制约, 签约...: those
# words are excluded by the character before it.
_QUALIFIERS = (
    ("将近", "nearly"),
    ("接近", "nearly"),
    ("近", "nearly"),
    ("大约", "about"),
    ("约", "about"),
    ("超过", "more than"),
    ("逾", "more than"),
    ("超", "more than"),
)
_NOT_QUALIFIER = re.compile(
    "(?:[节節制签簽合公条條预預履违違集特契相邀]约|[最附靠亲親邻鄰临臨]近|赶超|趕超)$"
)
_UNITS = (("美元", "US dollars"), ("元", "yuan"))
_YEAR = re.compile(r"(?:19|20)[0-9]{2}|2100")


class Hint(BaseModel):
    """One scaled source number and its English, e.g. 近14亿 = nearly 1.4 billion."""

    zh: str = Field(description="The source text: qualifier, number, unit.")
    en: str
    start: int = Field(description="Span of ``zh`` in the source.")
    end: int
    value: float


class MagnitudeFix(BaseModel):
    """One English number replaced: ``wrong`` at ``[start, end)`` of the model's English."""

    wrong: str
    right: str
    start: int
    end: int
    source: NumberRef


class Repair(BaseModel):
    text: str = Field(description="The English with every fix applied.")
    fixes: list[MagnitudeFix] = Field(default_factory=list)
    missing: list[NumberRef] = Field(
        default_factory=list, description="Source numbers still without an equivalent."
    )


# --- English of a value ----------------------------------------------------------------------


def english(value: float) -> str:
    """Official-style English of a quantity: 50,000 · 13.61 million · 1.4 billion."""
    exact = _decimal(value)
    for size, word in _EN_SCALES:
        if abs(exact) >= size:
            return f"{_plain(exact / size)} {word}"
    return _plain(exact)


def _decimal(value: float) -> Decimal:
    # 12 significant digits drop the float noise of 2.38 * 1e12 and keep every real figure.
    return Decimal(f"{value:.12g}")


def _plain(number: Decimal) -> str:
    return f"{number.normalize():,f}"


# --- Hints -----------------------------------------------------------------------------------


def hints(zh: str) -> list[Hint]:
    """The English of every number in ``zh`` that carries a magnitude, in source order."""
    return [_hint(zh, m) for m in extract_zh(zh) if _needs_hint(m)]


def hint_line(zh: str) -> str:
    """``Numbers: 1361万 = 13.61 million; 近14亿 = nearly 1.4 billion``, or "" when none."""
    pairs = dict.fromkeys(f"{h.zh} = {h.en}" for h in hints(zh))
    return f"Numbers: {'; '.join(pairs)}" if pairs else ""


def _scaled(m: NumberMention) -> bool:
    """A number written with a scale character: 1361万, 5千, 一千三百六十一万, 一百零三."""
    return m.kind == "number" and any(ch in _ZH_SCALES for ch in m.text)


def _needs_hint(m: NumberMention) -> bool:
    """Digits with a scale (1361万, 5千), Chinese numerals from 千 up, 百分之五; not 6.7%."""
    if m.kind == "percent":
        return m.text.startswith("百分之")
    return _scaled(m) and (m.text[0].isdigit() or m.value >= 1000)  # 一百零三 needs no help


def _hint(zh: str, m: NumberMention) -> Hint:
    start, qualifier = _qualifier(zh, m.start)
    end = m.end + 1 if zh[m.end : m.end + 1] in _MORE else m.end  # 1万多: 多 after the scale
    if not qualifier and any(ch in _MORE for ch in zh[m.start : end]):
        qualifier = "more than"
    en = f"{_plain(_decimal(m.value))} percent" if m.kind == "percent" else english(m.value)
    unit = next(((z, e) for z, e in _UNITS if zh.startswith(z, end)), None)
    if unit is not None:
        end, en = end + len(unit[0]), f"{en} {unit[1]}"
    en = f"{qualifier} {en}" if qualifier else en
    return Hint(zh=zh[start:end], en=en, start=start, end=end, value=m.value)


def _qualifier(zh: str, start: int) -> tuple[int, str]:
    """Start and English of a qualifier right before the number (近 → nearly), if any."""
    for word, english_word in _QUALIFIERS:
        at = start - len(word)
        if at >= 0 and zh.startswith(word, at) and not _NOT_QUALIFIER.search(zh[:start]):
            return at, english_word
    return start, ""


# --- Repair ----------------------------------------------------------------------------------


def repair(zh: str, en: str) -> Repair:
    """Replace English numbers that are a source number at the wrong power of ten."""
    src, tgt = extract_zh(zh), extract_en(en)
    fixes = [fix for m in tgt if (fix := _fix(m, src, tgt)) is not None]
    text = _apply(en, fixes)
    return Repair(text=text, fixes=fixes, missing=check_numbers(zh, text).missing)


def _fix(
    m: NumberMention, src: Sequence[NumberMention], tgt: Sequence[NumberMention]
) -> MagnitudeFix | None:
    """The fix for one English number, or None unless exactly one source number fits."""
    if not _repairable(m) or any(s.family == "num" and same_value(s.value, m.value) for s in src):
        return None
    # Only a number written with a scale can lose it: 六 (6) is no candidate for "60 billion".
    # One the English already renders right is none either (830万 and 8300万 both fit
    # "830,000", but "83 million" is also there: the wrong one can only be 830万).
    fits = {
        s.value: s
        for s in src
        if _scaled(s) and _shifted(s.value, m.value) and _unmatched(s, src, tgt)
    }
    if len(fits) != 1:
        return None
    [source] = fits.values()
    right = english(source.value)
    return MagnitudeFix(
        wrong=m.text, right=right, start=m.start, end=m.end, source=NumberRef.of(source)
    )


def _repairable(m: NumberMention) -> bool:
    """A cardinal written with digits, or in words with a scale ("fourteen billion")."""
    if m.kind != "number" or m.value == 0:
        return False
    if m.text[0].isdigit():
        return not _YEAR.fullmatch(m.text)  # a bare 2021 is a year, whatever the source says
    words = m.text.lower().split()
    return words[0] not in _SCALE_WORDS and any(w in _SCALE_WORDS for w in words)


def _significant(value: float) -> tuple[tuple[int, ...], int]:
    """Significant digits and the power of ten of the first: 13610000 → ((1, 3, 6, 1), 7)."""
    digits = _decimal(abs(value)).normalize().as_tuple()
    return tuple(digits.digits), int(digits.exponent) + len(digits.digits) - 1


def _shifted(source: float, english_value: float) -> bool:
    """Same significant digits at a different power of ten."""
    (a, pa), (b, pb) = _significant(source), _significant(english_value)
    return a == b and pa != pb


def _unmatched(
    s: NumberMention, src: Sequence[NumberMention], tgt: Sequence[NumberMention]
) -> bool:
    """The English renders this source value fewer times than the source states it."""
    stated = sum(1 for m in src if m.family == "num" and same_value(m.value, s.value))
    rendered = sum(1 for m in tgt if m.family == "num" and same_value(m.value, s.value))
    return rendered < stated


def _apply(en: str, fixes: Sequence[MagnitudeFix]) -> str:
    """Splice the replacements in; everything between them stays byte-identical."""
    parts, cursor = [], 0
    for fix in sorted(fixes, key=lambda f: f.start):
        parts += [en[cursor : fix.start], fix.right]
        cursor = fix.end
    return "".join([*parts, en[cursor:]])
