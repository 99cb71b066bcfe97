"""Chinese left in an English answer, replaced where a reliable source knows the English.

In order of trust: the glossary (official renderings, either script), the people named in the
source unit (official pinyin, ``names.py``), then CC-CEDICT's first sense for other words of
two or more characters, or a common single-character morpheme standing alone (区 → district;
``dictionary.py``; marked ``dictionary``: a gloss, not an official rendering), and what no
source knows in pinyin (marked ``pinyin``: mostly place and project names, 樟坑 → Zhangkeng).
Garbled names are repaired first (Premier Li希 → Premier Li Xi, Wang Wei Zhong → Wang
Weizhong; see ``names.find_garbled`` for what counts as reliable), dates in Chinese form become
English (2023年9月19日 → 19 September 2023), and Chinese punctuation becomes ASCII. Without the
dictionary (``use_dictionary=False``) what no glossary or name knows stays in the text, listed as
unresolved for the ``cjk_left`` check and the page to mark. Pure: text in, ``Leftovers`` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from service.checks import dictionary
from service.checks.glossary import Glossary, to_simplified_aligned
from service.checks.names import Person, find_garbled, find_people, syllables
from service.checks.quality import HAN_CLASS, check_no_cjk

Source = Literal["glossary", "name", "dictionary", "pinyin", "punctuation", "date"]
_HAN_RUN = re.compile(HAN_CLASS + "+")
# Chinese punctuation → ASCII, and whether a space goes before / after it next to a word.
_PUNCTUATION: dict[str, tuple[str, bool, bool]] = {
    "，": (",", False, True),
    "、": (",", False, True),
    "。": (".", False, True),
    "；": (";", False, True),
    "：": (":", False, True),
    "！": ("!", False, True),
    "？": ("?", False, True),
    "（": ("(", True, False),
    "）": (")", False, True),
    "“": ('"', False, False),
    "”": ('"', False, False),
    "‘": ("'", False, False),
    "’": ("'", False, False),
    "《": ('"', False, False),
    "》": ('"', False, False),
}
_PUNCTUATION_RUN = re.compile("[" + "".join(_PUNCTUATION) + "]")
# A date in Chinese form with Arabic digits: year, month, day, each optional but contiguous
# (年底 "year end" and 年内 are words, not a bare year; 13月 is no month). The lookahead makes
# finditer skip ahead to digits before 年/月 instead of matching empty at every position.
_DATE = re.compile(
    r"(?<!\d)(?=\d{1,4}\s*[年月])(?:(?P<year>\d{4})\s*年(?![底末初内中度代])\s*)?"
    r"(?:(?P<month>1[0-2]|0?[1-9])\s*月(?![份底末初中])\s*(?:(?P<day>3[01]|[12]\d|0?[1-9])\s*[日号])?)?"
)
# Spelled out: calendar.month_name follows the process's locale.
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip


class Replacement(BaseModel):
    was: str = Field(description="What the answer had (Chinese, or a garbled name).")
    zh: str = Field(description="The Chinese the English stands for.")
    en: str
    source: Source
    start: int = Field(description="Offset of ``en`` in the fixed text.")
    end: int


class Leftovers(BaseModel):
    text: str = Field(description="The English with every replacement made.")
    replacements: list[Replacement] = Field(default_factory=list)
    unresolved: list[str] = Field(
        default_factory=list, description="Chinese runs still in ``text`` (no source knew them)."
    )

    @property
    def ok(self) -> bool:
        return not self.unresolved


@dataclass(frozen=True)
class _Piece:
    text: str  # what goes into the output
    was: str = ""
    zh: str = ""
    source: Source | None = None  # None: kept as it was (unresolved Chinese, spacing)


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    pieces: tuple[_Piece, ...]


def fix_leftovers(
    en: str, zh: str, glossary: Glossary, *, use_dictionary: bool = True
) -> Leftovers:
    """Repair ``en``, the English answer for the Chinese unit ``zh`` (see the module doc)."""
    people = find_people(zh)
    edits = _name_edits(en, people)
    edits += _date_edits(en, taken=edits)
    edits += _run_edits(en, people, glossary, use_dictionary, taken=edits)
    edits += _punctuation_edits(en, taken=edits)
    return _apply(en, edits)


def _overlaps(start: int, end: int, edits: list[_Edit]) -> bool:
    return any(start < e.end and e.start < end for e in edits)


def _name_edits(en: str, people: list[Person]) -> list[_Edit]:
    """Garbled renderings of the unit's people, replaced by their pinyin."""
    edits: list[_Edit] = []
    for person in people:
        unique = sum(_surname(p) == _surname(person) for p in people) == 1
        for start, end in find_garbled(en, person, unique_surname=unique):
            if not _overlaps(start, end, edits):
                piece = _Piece(person.pinyin, en[start:end], person.name, "name")
                edits.append(_Edit(start, end, (piece,)))
    return edits


def _surname(person: Person) -> str:
    return person.pinyin.split(" ")[0]


def _run_edits(
    en: str, people: list[Person], glossary: Glossary, use_dictionary: bool, taken: list[_Edit]
) -> list[_Edit]:
    """One edit per run of Han characters that some source can at least partly translate."""
    edits: list[_Edit] = []
    for run in _HAN_RUN.finditer(en):
        if _overlaps(run.start(), run.end(), taken):
            continue
        pieces = _segment(run.group(), people, glossary, use_dictionary)
        if any(p.source for p in pieces):
            spaced = _spaced(en, run.start(), run.end(), _joined(pieces))
            edits.append(_Edit(run.start(), run.end(), spaced))
    return edits


def _known_spans(run: str, people: list[Person], glossary: Glossary) -> dict[int, _Piece]:
    """Start → piece for each glossary term and person's name in ``run``; longest wins."""
    spans: dict[int, _Piece] = {}
    for entry in glossary.entries_in(run):
        for start, end in entry.positions:
            spans[start] = _Piece(entry.en, run[start:end], entry.zh, "glossary")
    simplified, origin = to_simplified_aligned(run)
    for person in people:
        for match in re.finditer(re.escape(person.simplified), simplified):
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            if start not in spans or len(spans[start].was) < end - start:
                spans[start] = _Piece(person.pinyin, run[start:end], person.name, "name")
    return spans


def _segment(
    run: str, people: list[Person], glossary: Glossary, use_dictionary: bool
) -> list[_Piece]:
    """The run cut into known pieces, dictionary words and morphemes, and what is left in
    pinyin (with the dictionary; without it, left as Chinese)."""
    known = _known_spans(run, people, glossary)
    pieces: list[_Piece] = []
    i = 0
    while i < len(run):
        piece = known.get(i) or _dictionary_piece(run, i, known, use_dictionary)
        if piece is None:
            piece = _Piece(run[i], run[i])
        pieces.append(piece)
        i += len(piece.was)
    merged = _merge_unresolved(pieces)
    return [_transliterated(p) if use_dictionary else p for p in merged]


def _transliterated(piece: _Piece) -> _Piece:
    """An unresolved run in pinyin: mostly a place or project name no source knows (樟坑 →
    Zhangkeng), capitalised when it has two characters or more."""
    if piece.source is not None or not _HAN_RUN.fullmatch(piece.text):
        return piece
    reading = "".join(syllables(piece.text))
    text = reading.capitalize() if len(piece.text) > 1 else reading
    return _Piece(text, piece.text, piece.text, "pinyin")


def _dictionary_piece(run: str, i: int, known: dict[int, _Piece], enabled: bool) -> _Piece | None:
    """A CC-CEDICT word at ``i`` that stops before the next known piece."""
    if not enabled:
        return None
    limit = min([start for start in known if start > i] or [len(run)])
    end = dictionary.longest_word(run, i, limit)
    if end is None:  # a character glossed alone only when it stands alone (樟坑 is a name)
        morpheme = dictionary.morpheme(run) if len(run) == 1 else None
        return _Piece(morpheme, run[i], run[i], "dictionary") if morpheme else None
    sense = dictionary.first_sense(run[i:end])
    return _Piece(sense, run[i:end], run[i:end], "dictionary") if sense else None


def _merge_unresolved(pieces: list[_Piece]) -> list[_Piece]:
    merged: list[_Piece] = []
    for piece in pieces:
        if merged and piece.source is None and merged[-1].source is None:
            text = merged[-1].text + piece.text
            merged[-1] = _Piece(text, text)
        else:
            merged.append(piece)
    return merged


def _joined(pieces: list[_Piece]) -> list[_Piece]:
    """Pieces with a space between neighbours, except between two Chinese ones."""
    out: list[_Piece] = []
    for piece in pieces:
        if out and (piece.source or out[-1].source):
            out.append(_Piece(" "))
        out.append(piece)
    return out


def _spaced(en: str, start: int, end: int, pieces: list[_Piece]) -> tuple[_Piece, ...]:
    """Spaces between the replacement and a word it would otherwise touch (Li希 → Li Xi)."""
    before = [_Piece(" ")] if start > 0 and en[start - 1].isalnum() and pieces[0].source else []
    after = [_Piece(" ")] if end < len(en) and en[end].isalnum() and pieces[-1].source else []
    return (*before, *pieces, *after)


def _date_edits(en: str, taken: list[_Edit]) -> list[_Edit]:
    """Each date in Chinese form written the English way (9月19日 → 19 September)."""
    edits: list[_Edit] = []
    for match in _DATE.finditer(en):
        start, end = match.span()
        if not match.group().strip() or _overlaps(start, end, taken):
            continue
        year, month, day = match.group("year", "month", "day")
        english = " ".join(
            p for p in (day and str(int(day)), month and _MONTHS[int(month) - 1], year) if p
        )
        spaced = _spaced(en, start, end, [_Piece(english, match.group(), match.group(), "date")])
        edits.append(_Edit(start, end, spaced))
    return edits


def _punctuation_edits(en: str, taken: list[_Edit]) -> list[_Edit]:
    edits: list[_Edit] = []
    for match in _PUNCTUATION_RUN.finditer(en):
        start, end = match.span()
        if _overlaps(start, end, taken):
            continue
        ascii_form, space_before, space_after = _PUNCTUATION[match.group()]
        piece = _Piece(ascii_form, match.group(), match.group(), "punctuation")
        before = space_before and start > 0 and en[start - 1].isalnum()
        after = space_after and end < len(en) and en[end].isalnum()
        pieces = ((_Piece(" "),) if before else ()) + (piece,) + ((_Piece(" "),) if after else ())
        edits.append(_Edit(start, end, pieces))
    return edits


def _apply(en: str, edits: list[_Edit]) -> Leftovers:
    """Make the edits (none overlap) and record where each replacement landed."""
    out: list[str] = []
    replacements: list[Replacement] = []
    done = 0
    length = 0
    for edit in sorted(edits, key=lambda e: e.start):
        out.append(en[done : edit.start])
        length += edit.start - done
        for piece in edit.pieces:
            if piece.source is not None:
                replacements.append(_replacement(piece, piece.source, length))
            out.append(piece.text)
            length += len(piece.text)
        done = edit.end
    out.append(en[done:])
    text = "".join(out)
    return Leftovers(text=text, replacements=replacements, unresolved=check_no_cjk(text))


def _replacement(piece: _Piece, source: Source, start: int) -> Replacement:
    return Replacement(
        was=piece.was,
        zh=piece.zh,
        en=piece.text,
        source=source,
        start=start,
        end=start + len(piece.text),
    )
