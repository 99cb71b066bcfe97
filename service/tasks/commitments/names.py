"""English names for the entities the glossary lacks: glossary first, the model second.

Under the ``rules_en`` strategy, each entity a concrete commitment is about and the glossary
does not name gets ONE short plain-text call (``prompts/entity_name``; cached like every call),
checked like a commitment's English (English only, a name's length, not the prompt's example)
and re-asked once with the reason. The names are stored in the commitments artifact, so the
tracker reads them with no model call and says which came from the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import pypinyin
from english_words import get_english_words_set

from service.checks.glossary import Glossary, matching_form
from service.checks.names import pinyinsyllables
from service.checks.quality import check_no_cjk
from service.errors import ModelError, ModelInvalidOutput
from service.llm.prompts import PromptTemplate
from service.tasks.commitments.entities import Mention
from service.tasks.context import TaskContext
from service.tasks.guard import without_comments
from service.tasks.units import in_prompt, one_line

NAME_TASK = "entity_name"
#: A name has at most this many words (the longest official zone name in the glossary has 14).
MAX_WORDS = 20
#: English characters per Han character of the name at the least (前海 → Qianhai: 3.5).
MIN_CHARS_PER_HAN = 2
_ADVICE = "Answer with the English name only, in English, with no Chinese characters."
#: A capitalised word this long that reads as pinyin must be the pinyin of the name (or context).
MIN_PINYIN_CHARS = 4
#: Pinyin of at most this many characters in a row makes one word (Shenzhen, Guangming).
MAX_WORD_HANS = 4
_WORD = re.compile(r"[A-Z][a-z']+")
# Conventional romanisations, not Mandarin pinyin (香港 Hong Kong, 澳门 Macao, 九龙 Kowloon), and
# an English word the lower-case dictionary lacks.
_CONVENTIONAL = frozenset({"kong", "macao", "macau", "kowloon", "chinese"})
_INITIALS = frozenset("bpmfdtnlgkhjqxzcsryw")


def unnamed(entities: Sequence[Mention], glossary: Glossary | None) -> list[str]:
    """The keys of ``entities`` the glossary (if any) does not name, each once, in order."""
    known = {matching_form(e.zh) for e in glossary.entries} if glossary else set()
    return list(dict.fromkeys(m.key for m in entities if m.key not in known))


async def name_entities(
    keys: Sequence[str], contexts: dict[str, str], ctx: TaskContext
) -> dict[str, str]:
    """The checked English name of each key the model could name (one call each, one re-ask)."""
    gateway = ctx.gateway
    template = gateway.registry.get(NAME_TASK, gateway.profile.mode, ctx.versions.get(NAME_TASK))
    names: dict[str, str] = {}
    for key in keys:  # one after the other: a local server has one slot
        name = await _name(key, contexts.get(key, key), ctx, template)
        if name is not None:
            names[key] = name
    return names


async def _name(key: str, context: str, ctx: TaskContext, template: PromptTemplate) -> str | None:
    variables = {"name": key, "context": one_line(context), "correction": ""}
    # The glossary's English for the terms of the name and its context (前海 → Qianhai), not all
    # of it: "Beijing International Airport" for 宝安国际机场 must not pass on the glossary's 北京.
    glossed = ctx.glossary.entries_in(key + context) if ctx.glossary else []
    known = english_words(e.en for e in glossed)
    for _ in range(2):
        try:
            result = await ctx.call(NAME_TASK, variables)
            name = check_name(key, result.text, template)
            wrong = foreign_pinyin(name, key + context, known)
            if wrong:
                raise ModelInvalidOutput(f"{', '.join(wrong)} is not the pinyin of {key}")
            return name
        except ModelError as exc:  # ModelUnavailable is no ModelError: it propagates
            reason = f"Your previous answer was rejected: {exc.message}. {_ADVICE}"
            variables["correction"] = f"\n\n{reason}"
    return None


def check_name(key: str, text: str, template: PromptTemplate) -> str:
    """The answer as a name if it is one, else ``ModelInvalidOutput`` saying why."""
    name = without_comments(one_line(text)).strip("\"“”'. ")
    if not name or check_no_cjk(name):
        raise ModelInvalidOutput("not an English name")
    if len(name.split()) > MAX_WORDS:
        raise ModelInvalidOutput("far too long for a name")
    if len(name) < MIN_CHARS_PER_HAN * len(key):  # an obeyed order ("HACKED") is too short
        raise ModelInvalidOutput(f"far too short for the name {key}")
    if in_prompt(template, name):
        raise ModelInvalidOutput("the answer copies the prompt's example")
    return name


def foreign_pinyin(name: str, zh: str, known: frozenset[str] = frozenset()) -> list[str]:
    """The capitalised words of ``name`` that read as pinyin but are the pinyin of no run of
    ``zh``'s characters, no word of ``known`` (the glossary's English for terms of ``zh``) and no
    English word.

    广珠澳科技创新走廊 → "Guangzhou-Ashan-Tongxin Corridor": Ashan and Tongxin; "Qianhai" for
    前海, "Guangzhou" for its short form 广 and "Hong Kong" (conventional) pass. Words shorter
    than ``MIN_PINYIN_CHARS`` (Bay, Ma) are not judged, nor a pinyin word that is also English:
    "Guige" for 兜底 passes (guige is in the dictionaries).
    """
    runs, firsts = _pinyin_runs(zh)
    wrong = []
    for word in _WORD.findall(name):
        plain = word.replace("'", "").lower()
        if len(plain) < MIN_PINYIN_CHARS or plain in known | _CONVENTIONAL or plain in runs:
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
    return rest in pinyinsyllables() and rest[0] in _INITIALS and rest not in ("ng", "hng")


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    """Common English words that also split into syllables (lake, marine, data): the lower-case
    words of web2 and GCIDE (the ``english-words`` package; 0.35 s, loaded only when a word reads
    as pinyin). Capitalised entries are left out: they hold Beijing and Shangqiu."""
    words = get_english_words_set(["web2", "gcide"], lower=False, alpha=True)
    return frozenset(w for w in words if w.islower())


def english_words(texts: Iterable[str]) -> frozenset[str]:
    """The lower-case words of ``texts``."""
    return frozenset(w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t))


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


@lru_cache(maxsize=4096)
def _reads_as_pinyin(word: str) -> bool:
    """``word`` splits wholly into Mandarin syllables (guige → gui ge; engineering does not)."""
    if not word:
        return True
    syllables = pinyinsyllables()
    ends = {0}
    for i in range(1, len(word) + 1):
        if any(j in ends and word[j:i] in syllables for j in range(max(0, i - 6), i)):
            ends.add(i)
    return len(word) in ends
