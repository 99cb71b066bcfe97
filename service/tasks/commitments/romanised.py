"""Is a model-given English name the romanisation of its Chinese? ``foreign_pinyin`` finds the
words of a name that read as pinyin but are the pinyin of nothing in the name (no model, no
jieba: the tracker runs it on stored names)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import pypinyin
from english_words import get_english_words_set

from service.checks.pinyin import pinyinsyllables

#: A capitalised word this long that reads as pinyin must be the pinyin of the name (or context).
MIN_PINYIN_CHARS = 4
#: Pinyin of at most this many characters in a row makes one word (Shenzhen, Guangming).
MAX_WORD_HANS = 4
_WORD = re.compile(r"[A-Z][a-z']+")
# Conventional romanisations, not Mandarin pinyin (香港 Hong Kong, 澳门 Macao, 九龙 Kowloon), and
# an English word the lower-case dictionary lacks.
_CONVENTIONAL = frozenset({"kong", "macao", "macau", "kowloon", "chinese"})
_INITIALS = frozenset("bpmfdtnlgkhjqxzcsryw")


def foreign_pinyin(name: str, zh: str, glossed: Iterable[str] = ()) -> list[str]:
    """The capitalised words of ``name`` that read as pinyin but are the pinyin of no run of
    ``zh``'s characters, no word of ``glossed`` (the glossary's English for terms of ``zh``) and
    no English word.

    广珠澳科技创新走廊 → "Guangzhou-Ashan-Tongxin Corridor": Ashan and Tongxin; "Qianhai" for
    前海, "Guangzhou" for its short form 广 and "Hong Kong" (conventional) pass. Words shorter
    than ``MIN_PINYIN_CHARS`` (Bay, Ma) are not judged, nor a pinyin word that is also English:
    "Guige" for 兜底 passes (guige is in the dictionaries).
    """
    runs, firsts = _pinyin_runs(zh)
    passing = _CONVENTIONAL | {w.lower() for t in glossed for w in re.findall(r"[A-Za-z]+", t)}
    wrong = []
    for word in _WORD.findall(name):
        plain = word.replace("'", "").lower()
        if len(plain) < MIN_PINYIN_CHARS or plain in passing or plain in runs:
            continue
        if any(plain.startswith(r) and _second_syllable(plain[len(r) :]) for r in firsts):
            continue  # a one-character short form spelt out: 深 → Shenzhen, 广 → Guangzhou
        if _reads_as_pinyin(plain) and plain not in _english():
            wrong.append(word)
    return wrong


def _second_syllable(rest: str) -> bool:
    """The rest of a two-syllable place name after its short form's syllable: one syllable
    with an initial (zhen of Shenzhen), not a vowel or a nasal that would let anything pass
    (Daoping = da + oping is no spelling of 大鹏)."""
    return rest in _name_syllables() and rest[0] in _INITIALS


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    """Common English words that also split into syllables (lake, marine, data): the lower-case
    words of web2 (the ``english-words`` package; 0.15 s, loaded only when a word reads as
    pinyin; GCIDE as well took 0.35 s and changed nothing on the corpus's names). Capitalised
    entries are left out: they hold Beijing and Shangqiu."""
    words = get_english_words_set(["web2"], lower=False, alpha=True)
    return frozenset(w for w in words if w.islower())


def _pinyin_runs(zh: str) -> tuple[set[str], set[str]]:
    """Toneless pinyin of every run of up to ``MAX_WORD_HANS`` characters, and of every
    character (all readings)."""
    readings = [
        set(r)
        for r in pypinyin.pinyin(zh, style=pypinyin.Style.NORMAL, heteronym=True, errors="ignore")
    ]
    runs: set[str] = set()
    for i in range(len(readings)):
        joined = {""}
        for options in readings[i : i + MAX_WORD_HANS]:
            joined = {a + b for a in joined for b in options}
            runs |= joined
    return runs, set().union(*readings)


@lru_cache(maxsize=1)
def _name_syllables() -> frozenset[str]:
    """The syllables a romanised name is made of: not the interjections n, ng, m, hm, hng and
    ê, which would make half of English read as pinyin (online = o n li ne)."""
    return pinyinsyllables() - {"n", "ng", "m", "hm", "hng", "ê"}


@lru_cache(maxsize=4096)
def _reads_as_pinyin(word: str) -> bool:
    """``word`` splits wholly into Mandarin syllables (guige → gui ge; engineering does not)."""
    if not word:
        return True
    syllables = _name_syllables()
    ends = {0}
    for i in range(1, len(word) + 1):
        if any(j in ends and word[j:i] in syllables for j in range(max(0, i - 6), i)):
            ends.add(i)
    return len(word) in ends
