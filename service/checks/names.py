"""People's names in Chinese policy text: found, romanised in official pinyin, hinted, repaired.

Pure and deterministic. Names are found on the matching form (OpenCC t2s, see
``glossary.matching_form``), so Traditional text works, and reported with offsets into the
original text. A name is a surname from ``names.toml`` plus a one- or two-character given name,
accepted only where the context says "person":

- an office right before it (市委书记孟凡利, 市委副书记、市长陈如桂, 记者 林捷兴);
- an honorific right after it (习近平总书记, 习近平同志), if jieba also tags it as a person;
- a 、-list that continues a name found so (市领导黄敏、陶永欣), or a 、-list of names before
  出席/参加/陪同 that jieba tags as people;
- the start of a clause before a verb of officials (孟凡利指出), if jieba tags it as a person;
- a public figure's full name in jieba's dictionary (习近平生态文明思想 has no title).

Every other occurrence of a name found so, in the same text, is the same person. How long the
given name is comes from what follows it: a non-Han character or a word from ``followers``
(王伟中主持 → 王伟中, where jieba says 王伟; 李希到 → 李希).

Why not jieba alone: on the five seeds its person tags (nr*) give 129 distinct "names", 16 of
them right (智慧, 高水平, 文明 … are tagged nr; 王伟中 comes out as 王伟). The rules without jieba
give 16 right and 1 wrong (杨军在). Together: the 17 people, nothing else. So jieba confirms the
weaker contexts and breaks ties, and a word it knows as a non-name (单位, 班子) is never a name.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

import jieba
import jieba.posseg
import pypinyin
from pydantic import BaseModel, Field
from pypinyin.contrib.tone_convert import to_initials

from service.checks.glossary import Glossary, matching_form, to_simplified_aligned
from service.checks.pinyin import pinyinsyllables
from service.checks.quality import HAN
from service.errors import ConfigError

DATA_PATH = Path(__file__).with_name("names.toml")
Evidence = Literal["title", "honorific", "list", "verb", "known"]
Tagged = Mapping[tuple[int, int], str]  # [start, end) → jieba flag, for words tagged nr*
# jieba tags of words that are never a given name: time, adverb, preposition, conjunction,
# particle, pronoun, numeral, direction, measure word, modal, interjection, onomatopoeia.
_NOT_GIVEN_TAGS = frozenset({"t", "d", "p", "c", "u", "r", "m", "f", "q", "y", "e", "o"})
# Where a clause starts: a name here, before a verb of officials, is credible.
_CLAUSE_START = re.compile(r"(?:^|(?<=[。！？；：，,;:!?\n\s]))(?=\S)")


@dataclass(frozen=True)
class NameData:
    """The contents of ``names.toml``, ready for matching."""

    single: frozenset[str]
    compound: frozenset[str]
    readings: Mapping[str, str]
    titles_before: re.Pattern[str]
    titles_after: re.Pattern[str]
    followers: tuple[str, ...]
    verbs: tuple[str, ...]
    list_verbs: tuple[str, ...]
    not_given: frozenset[str]


class Person(BaseModel):
    """One person named in a text, with everything needed to write the name in English."""

    name: str = Field(description="As written in the source (its first occurrence).")
    simplified: str
    pinyin: str = Field(description="Official romanisation, e.g. Wang Weizhong.")
    titles: list[str] = Field(
        default_factory=list, description="Offices written next to the name, as in the source."
    )
    evidence: list[Evidence] = Field(default_factory=list, description="How it was found.")
    positions: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) offsets in the source text."
    )


@dataclass
class _Hit:
    start: int
    end: int
    how: Evidence
    titles: list[tuple[int, int]] = field(default_factory=list)  # title spans in the text


# --- data -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def name_data() -> NameData:
    """``names.toml`` loaded once; a broken file is a ``ConfigError``."""
    try:
        raw = tomllib.loads(DATA_PATH.read_text(encoding="utf-8"))
        return _name_data(raw)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot load {DATA_PATH}: {exc}") from exc


def _name_data(raw: dict[str, object]) -> NameData:
    surnames = cast(dict[str, object], raw["surnames"])
    titles = cast(dict[str, list[str]], raw["titles"])
    context = cast(dict[str, object], raw["context"])
    return NameData(
        single=frozenset(HAN.findall(cast(str, surnames["single"]))),
        compound=frozenset(cast(list[str], surnames["compound"])),
        readings=cast(dict[str, str], raw["readings"]),
        titles_before=_alternation(titles["before"]),
        titles_after=_alternation(titles["after"]),
        followers=tuple(cast(list[str], context["followers"])),
        verbs=tuple(cast(list[str], context["verbs"])),
        list_verbs=tuple(cast(list[str], context["list_verbs"])),
        not_given=frozenset(cast(str, context["not_given"])),
    )


def _alternation(words: list[str]) -> re.Pattern[str]:
    """One regex for a word list; longer words first, so 市委副书记 wins over 书记."""
    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in ordered))


# --- jieba ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jieba_ready() -> None:
    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO


def _person_spans(text: str) -> Tagged:
    """Every word jieba's POS tagger marks as a person's name (nr, nrfg, nrt), by span."""
    _jieba_ready()
    spans: dict[tuple[int, int], str] = {}
    start = 0
    for pair in jieba.posseg.cut(text):
        word, flag = cast(str, pair.word), cast(str, pair.flag)
        if flag.startswith("nr"):
            spans[(start, start + len(word))] = flag
        start += len(word)
    return spans


def _jieba_tag(word: str) -> str | None:
    """The part of speech jieba's dictionary gives ``word``, None when it is not a word there."""
    _jieba_ready()
    return cast(dict[str, str], jieba.posseg.dt.word_tag_tab).get(word)


def _plausible(word: str) -> bool:
    """Not a word jieba knows as something other than a name (单位, 高校), and the part after
    the surname not a time word, adverb, pronoun … (局长于今日宣布: 于今日 is no name)."""
    tag = _jieba_tag(word)
    if tag is not None and not tag.startswith("nr"):
        return False
    given_tag = _jieba_tag(split_name(word)[1])
    return given_tag is None or given_tag not in _NOT_GIVEN_TAGS


# --- finding ----------------------------------------------------------------------------------


def find_people(zh: str) -> list[Person]:
    """People named in ``zh`` (Traditional or Simplified), in order of first occurrence."""
    simplified, origin = to_simplified_aligned(zh)
    hits = _find_hits(simplified, _person_spans(simplified))
    return _people(zh, simplified, origin, hits)


def _find_hits(s: str, nr: Tagged) -> list[_Hit]:
    hits = [*_after_titles(s, nr), *_before_honorifics(s, nr), *_before_verbs(s, nr)]
    hits += _known_figures(s, nr)
    hits += _lists_before_verbs(s, nr)
    hits += _list_continuations(s, hits, nr)
    return _without_overlaps(hits)


# When two contexts disagree on where a name ends, the stronger one wins.
_STRENGTH: dict[Evidence, int] = {"title": 0, "list": 1, "honorific": 2, "known": 3, "verb": 4}


def _without_overlaps(hits: list[_Hit]) -> list[_Hit]:
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: _STRENGTH[h.how]):
        clash = any(
            hit.start < k.end and k.start < hit.end and (k.start, k.end) != (hit.start, hit.end)
            for k in kept
        )
        if not clash:
            kept.append(hit)
    return kept


def _is_han(char: str) -> bool:
    return bool(HAN.fullmatch(char))


def _surname_lengths(s: str, pos: int) -> list[int]:
    data = name_data()
    lengths = [2] if s[pos : pos + 2] in data.compound else []
    return lengths + ([1] if s[pos : pos + 1] in data.single else [])


def _shapes(s: str, pos: int) -> Iterator[int]:
    """Ends of the name-shaped strings starting at ``pos``: a surname plus 1–2 given chars."""
    not_given = name_data().not_given
    for surname in _surname_lengths(s, pos):
        for given in (1, 2):
            end = pos + surname + given
            chars = s[pos + surname : end]
            if end <= len(s) and all(_is_han(c) and c not in not_given for c in chars):
                yield end


def _boundary(s: str, end: int) -> bool:
    """Whether a name may end at ``end``: text end, a non-Han char, or a follower word."""
    if end >= len(s) or not _is_han(s[end]):
        return True
    return any(s.startswith(word, end) for word in name_data().followers)


def _name_end(s: str, pos: int, nr: Tagged) -> int | None:
    """End of the name starting at ``pos``, or None; jieba breaks ties, else the longer."""
    ends = [e for e in _shapes(s, pos) if _plausible(s[pos:e]) and _boundary(s, e)]
    tagged = [e for e in ends if (pos, e) in nr]
    pool = tagged or ends
    return max(pool) if pool else None


def _after_titles(s: str, nr: Tagged) -> Iterator[_Hit]:
    data = name_data()
    for title in data.titles_before.finditer(s):
        pos = title.end()
        while pos < len(s) and s[pos] in " \t:：":  # 记者 林捷兴, 编辑：李晓慧
            pos += 1
        end = _name_end(s, pos, nr)
        if end is not None:
            yield _Hit(pos, end, "title", _title_chain(s, title.span()))


def _title_chain(s: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """The title before a name plus those joined to it by 、 (市委副书记、市长陈如桂)."""
    chain = [span]
    pattern = name_data().titles_before
    while chain[0][0] > 0 and s[chain[0][0] - 1] == "、":
        window_start = max(0, chain[0][0] - 13)
        left = s[window_start : chain[0][0] - 1]
        before = next((m for m in pattern.finditer(left) if m.end() == len(left)), None)
        if before is None:
            break
        chain.insert(0, (window_start + before.start(), window_start + before.end()))
    return chain


def _before_honorifics(s: str, nr: Tagged) -> Iterator[_Hit]:
    """习近平总书记, 习近平同志: jieba must agree, since 关心老同志 has the same shape."""
    for honorific in name_data().titles_after.finditer(s):
        end = honorific.start()
        if s.startswith("们", honorific.end()):  # 同志们: "comrades", not an honorific
            continue
        starts = [p for p in range(max(0, end - 4), end - 1) if (p, end) in nr]
        starts = [p for p in starts if end in _shapes(s, p) and _plausible(s[p:end])]
        if starts:
            yield _Hit(starts[0], end, "honorific", [honorific.span()])


def _before_verbs(s: str, nr: Tagged) -> Iterator[_Hit]:
    """孟凡利指出, 孟凡利在…调研: a clause-initial name that jieba tags as a person."""
    verbs = name_data().verbs
    for clause in _CLAUSE_START.finditer(s):
        pos = clause.start()
        for end in _shapes(s, pos):
            verb_follows = any(s.startswith(v, end) for v in verbs)
            if verb_follows and (pos, end) in nr and _plausible(s[pos:end]):
                yield _Hit(pos, end, "verb")
                break


def _known_figures(s: str, nr: Tagged) -> list[_Hit]:
    """Full names of public figures in jieba's dictionary (习近平生态文明思想 has no title).

    jieba's dictionary also tags some ordinary words nrfg (祥和, 胡说), so only three-character
    words that start with a surname count.
    """
    return [
        _Hit(start, end, "known")
        for (start, end), flag in nr.items()
        if flag == "nrfg"
        and end - start == 3
        and end in _shapes(s, start)
        and _jieba_tag(s[start:end]) == "nrfg"
    ]


def _lists_before_verbs(s: str, nr: Tagged) -> list[_Hit]:
    """黄敏、陶永欣参加活动: two or more names, each tagged as a person, before 出席/参加/陪同."""
    hits: list[_Hit] = []
    for verb in re.finditer("|".join(name_data().list_verbs), s):
        items = _list_back(s, verb.start(), nr)
        if len(items) >= 2:
            hits += [_Hit(start, end, "list") for start, end in items]
    return hits


def _list_back(s: str, end: int, nr: Tagged) -> list[tuple[int, int]]:
    """The 、-separated names ending at ``end``, read backwards; stops at the first non-name."""
    items: list[tuple[int, int]] = []
    while True:
        start = next((p for p in range(end - 2, end - 5, -1) if (p, end) in nr), None)
        if start is None or end not in _shapes(s, start) or not _plausible(s[start:end]):
            return items[::-1]
        items.append((start, end))
        if start == 0 or s[start - 1] != "、":
            return items[::-1]
        end = start - 1


def _list_continuations(s: str, hits: list[_Hit], nr: Tagged) -> list[_Hit]:
    """Names joined by 、 to a found one, with no title of their own (市领导黄敏、陶永欣)."""
    found: list[_Hit] = []
    titles = name_data().titles_before
    for hit in hits:
        # A group title (市领导) belongs to every name of the list; an office to the first only.
        shared = [t for t in hit.titles if s[t[0] : t[1]].endswith("领导")]
        end: int | None = hit.end
        while end is not None and s[end : end + 1] == "、" and not titles.match(s, end + 1):
            start = end + 1
            end = _name_end(s, start, nr)
            if end is not None:
                found.append(_Hit(start, end, "list", shared))
    return found


def _people(zh: str, s: str, origin: list[int], hits: list[_Hit]) -> list[Person]:
    """One Person per distinct name, with every occurrence of it in the text."""
    by_name: dict[str, list[_Hit]] = {}
    for hit in sorted(hits, key=lambda h: h.start):
        by_name.setdefault(s[hit.start : hit.end], []).append(hit)
    people = [_person(zh, s, origin, name, own) for name, own in by_name.items()]
    return sorted(people, key=lambda p: p.positions[0])


def _person(zh: str, s: str, origin: list[int], name: str, hits: list[_Hit]) -> Person:
    def source(span: tuple[int, int]) -> tuple[int, int]:
        return origin[span[0]], origin[span[1] - 1] + 1

    spans = [source(span) for span in _occurrences(s, name, hits)]
    titles = [zh[slice(*source(t))] for hit in hits for t in hit.titles]
    return Person(
        name=zh[spans[0][0] : spans[0][1]],
        simplified=name,
        pinyin=romanise(name),
        titles=list(dict.fromkeys(titles)),
        evidence=list(dict.fromkeys(hit.how for hit in hits)),
        positions=spans,
    )


def _occurrences(s: str, name: str, hits: list[_Hit]) -> list[tuple[int, int]]:
    """Where the hits are, plus every other place the name occurs (for a two-character name,
    only where it stands as a word of its own: 李希 is not in 李希望)."""
    spans = {(h.start, h.end) for h in hits}
    for match in re.finditer(re.escape(name), s):
        if len(name) > 2 or _boundary(s, match.end()):
            spans.add(match.span())
    return sorted(spans)


# --- romanising -------------------------------------------------------------------------------


def split_name(name: str) -> tuple[str, str]:
    """Surname and given name of a Simplified name: compound surnames (欧阳) stay together."""
    if len(name) > 2 and name[:2] in name_data().compound:
        return name[:2], name[2:]
    return name[:1], name[1:]


def romanise(name: str) -> str:
    """A Chinese name in official pinyin: surname first, given name joined, no tones.

    孟凡利 → Meng Fanli, 王偉中 → Wang Weizhong, 欧阳修 → Ouyang Xiu, 单雄信 → Shan Xiongxin.
    """
    surname, given = _pinyin_parts(name)
    return f"{surname} {''.join(given).capitalize()}".strip()


def _pinyin_parts(name: str) -> tuple[str, list[str]]:
    """Capitalised surname and the given name's syllables (apostrophes included: Xi'an)."""
    simplified = matching_form(name).strip()
    if not simplified or not all(_is_han(c) for c in simplified):
        raise ValueError(f"not a Chinese name: {name!r}")
    surname, given = split_name(simplified)
    reading = name_data().readings.get(surname) or "".join(syllables(surname))
    return reading.capitalize(), syllables(given)


def syllables(text: str) -> list[str]:
    """Toneless pinyin syllables, ü kept, with an apostrophe before a, o or e after the first."""
    syllables = pypinyin.lazy_pinyin(text, style=pypinyin.Style.NORMAL, v_to_u=True)
    return [s if i == 0 or s[0] not in "aoe" else f"'{s}" for i, s in enumerate(syllables)]


# --- prompt hints -----------------------------------------------------------------------------


def name_hints(zh: str, glossary: Glossary | None = None) -> str:
    """One prompt line naming the people in ``zh`` in pinyin, with their glossary titles.

    ``Names: 孟凡利 = Meng Fanli (市委书记: Secretary of the CPC Shenzhen Municipal Committee);
    李希 = Li Xi`` — empty when no one is named.
    """
    people = find_people(zh)
    if not people:
        return ""
    return "Names: " + "; ".join(_hint(p, glossary) for p in people)


def _hint(person: Person, glossary: Glossary | None) -> str:
    titles = [(t, _title_english(t, glossary)) for t in person.titles]
    known = ", ".join(f"{zh}: {en}" for zh, en in titles if en)
    base = f"{person.name} = {person.pinyin}"
    return f"{base} ({known})" if known else base


def _title_english(title: str, glossary: Glossary | None) -> str | None:
    """The glossary's English for a title, when one entry covers all of it."""
    if glossary is None:
        return None
    entries = glossary.entries_in(title)
    whole = [e for e in entries if (0, len(title)) in e.positions]
    return whole[0].en if whole else None


# --- garbled names in English -----------------------------------------------------------------


def find_garbled(en: str, person: Person, *, unique_surname: bool = True) -> list[tuple[int, int]]:
    """Spans of ``en`` that are a wrong rendering of ``person``'s name, to become its pinyin.

    Only what is reliable: the surname in pinyin followed by the given name still in Chinese
    (Li希); the right syllables split or hyphenated (Wang Wei Zhong, Wang Wei-zhong); and, when
    no other person in the text has that surname (``unique_surname``), syllables each starting
    like the right ones with at least one exact (Wang Wei Zhi for Wang Weizhong). A mangled
    given name with no syllable right (Chen Liang Guai for Chen Rugui) is left alone: telling it
    from another person's name would be a guess.
    """
    surname, given = _pinyin_parts(person.simplified)
    spans = _han_given(en, surname, person.simplified)
    if len(given) < 2:
        return spans
    split = rf"\b{re.escape(surname)}[ -]+([A-Za-z']+(?:[ -]+[A-Za-z']+){{{len(given) - 1}}})\b"
    for match in re.finditer(split, en):
        if _wrongsyllables(re.split(r"[ -]+", match.group(1)), given, unique_surname):
            spans.append(match.span())
    return sorted(spans)


def _han_given(en: str, surname: str, simplified: str) -> list[tuple[int, int]]:
    """Li希 / Li 希: the given name left in Chinese (either script) after the pinyin surname."""
    given = split_name(simplified)[1]
    matchable, origin = to_simplified_aligned(en)
    pattern = rf"\b{re.escape(surname)} ?{re.escape(given)}"
    return [(origin[m.start()], origin[m.end() - 1] + 1) for m in re.finditer(pattern, matchable)]


def _wrongsyllables(tokens: list[str], given: list[str], loose: bool) -> bool:
    """Whether ``tokens`` stand for the given name's syllables but are not written as one word."""
    words = [t.lower() for t in tokens]
    right = [g.lstrip("'") for g in given]
    if words == right:
        return True  # split or hyphenated, syllables exact
    if not loose or not all(w in pinyinsyllables() for w in words):
        return False
    pairs = list(zip(words, right, strict=True))
    alike = all(w == r or _initial(w) == _initial(r) != "" for w, r in pairs)
    return alike and any(w == r for w, r in pairs)


def _initial(syllable: str) -> str:
    return to_initials(syllable, strict=False)
