"""Entities of commitments: the named projects, zones, platforms, plans and programmes.

No model. A name is found two ways on the OpenCC t2s form of any text (char-for-char, so
offsets carry over): a curated alias table (河套 → 深港科技创新合作区), and a pattern, a name
ending (…合作区, …科学城, …计划, …工程, …平台) with its own part before it, back to a
boundary (punctuation, a verb, a particle). Every form folds to one key: the place word before
it dropped (深圳光明科学城 → 光明科学城), then the alias table applied. A short form standing
alone (推进合作区建设, 優化科學城建設) is the last full name with the same ending earlier in the
document. The lexicon is data (``entities.toml``); this module only knows how to apply it.

A commitment is *about* the entities its quote names; those its sentence names outside any
commitment; and the entity of its section: a short sentence naming one (高标准建设光明科学城。)
heads the sentences after it in its paragraph.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.errors import ConfigError
from service.tasks.commitments.rules import SENTENCE_END, load_lexicon, simplified_view

ENTITIES_PATH = Path(__file__).with_name("entities.toml")

Via = Literal["name", "alias", "short_form", "sentence", "section"]

# A run of anything that is not a Han character ends a name (punctuation, digits, spaces), but
# Latin letters after a Han character (国际I期临床医院) are inside it.
_NOT_HAN = re.compile(r"[^\u3400-\u9fff]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_CLAUSE_MARK = re.compile(r"[，,；;：:、]")
# Verbs that also occur inside names (可持续发展议程创新示范区): no boundary.
_NAME_VERBS = frozenset({"发展", "开发", "计划", "规划", "运营", "投入", "安排", "合作办学"})


class Mention(BaseModel):
    """One place a text names an entity: text[start:end] == surface."""

    key: str = Field(description="The entity's one key (Simplified), e.g. 光明科学城.")
    start: int
    end: int
    surface: str = Field(description="As written, in the text's own script.")
    via: Via


@dataclass(frozen=True)
class EntityLexicon:
    suffixes: tuple[str, ...]
    min_prefix: int
    max_chars: int
    boundaries: tuple[str, ...]
    inside_words: frozenset[str]
    generic: tuple[str, ...]
    place_prefixes: tuple[str, ...]
    short_forms: frozenset[str]
    aliases: dict[str, str]
    version: str


@lru_cache(maxsize=4)
def load_entity_lexicon(path: Path = ENTITIES_PATH) -> EntityLexicon:
    """Read and compile the entity lexicon; a broken file is a ConfigError naming it."""
    try:
        return _compile(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot load entity lexicon {path}: {exc}; fix or restore it") from exc


def _longest_first(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(words), key=len, reverse=True))


def _compile(data: dict[str, Any]) -> EntityLexicon:
    names, pledge = data["names"], load_lexicon()
    verbs = [v for v in (*pledge.action, *pledge.completion) if len(v) > 1]
    aliases = {form: a["key"] for a in data["aliases"] for form in (a["key"], *a["forms"])}
    return EntityLexicon(
        suffixes=_longest_first(names["suffixes"]),
        min_prefix=int(names["min_prefix"]),
        max_chars=int(names["max_chars"]),
        # The inside words are in the pattern so that a match of one passes over its boundary.
        boundaries=_longest_first(
            [*names["boundaries"], *set(verbs) - _NAME_VERBS, *names["inside_words"]]
        ),
        inside_words=frozenset(names["inside_words"]),
        generic=_longest_first(names["generic"]),
        place_prefixes=_longest_first(names["place_prefixes"]),
        short_forms=frozenset(data["anaphora"]["short_forms"]),
        aliases=aliases,
        version=str(data["version"]),
    )


# --- names in a text ---------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words))


def find_mentions(text: str, lex: EntityLexicon | None = None) -> list[Mention]:
    """Every entity ``text`` (any script) names, in reading order, short forms resolved."""
    lex = lex or load_entity_lexicon()
    simple = simplified_view(text)
    found = _alias_mentions(text, simple, lex)
    taken = [(m.start, m.end) for m in found]
    for m in _pattern(lex.suffixes).finditer(simple):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        low = max([b for _, b in taken if b <= m.start()], default=0)
        mention = _named(text, simple, (low, m.start(), m.end()), lex)
        if mention is not None:
            found.append(mention)
    return _resolve_short_forms(_fold_places(_outermost(found), lex), lex)


def _alias_mentions(text: str, simple: str, lex: EntityLexicon) -> list[Mention]:
    pattern = _pattern(_longest_first(list(lex.aliases)))
    return [
        Mention(key=lex.aliases[m[0]], start=m.start(), end=m.end(),
                surface=text[m.start() : m.end()], via="alias")
        for m in pattern.finditer(simple)
    ]  # fmt: skip


def _named(
    text: str, simple: str, where: tuple[int, int, int], lex: EntityLexicon
) -> Mention | None:
    """The name ending in the suffix at [start, end), or a short form (its key unresolved).

    ``where`` is (low, start, end): the name begins at ``low`` at the earliest (after an alias).
    """
    low, start, end = where
    begin = _name_start(simple, max(low, start - lex.max_chars), start, lex)
    own = simple[begin:start]
    suffix = simple[start:end]
    if len(own) < lex.min_prefix:
        if suffix not in lex.short_forms:
            return None
        return Mention(key="", start=start, end=end, surface=text[start:end], via="short_form")
    if _generic(own, lex):
        return None
    key = lex.aliases.get(own + suffix, own + suffix)
    return Mention(key=key, start=begin, end=end, surface=text[begin:end], via="name")


def _name_start(simple: str, low: int, start: int, lex: EntityLexicon) -> int:
    """Where the name ending at ``start`` begins: after the last boundary from ``low`` on."""
    begin = low
    for m in _NOT_HAN.finditer(simple, low, start):
        inside = m[0].isascii() and m[0].isalpha() and _HAN.match(simple, m.start() - 1)
        if not inside:
            begin = max(begin, m.end())
    for m in _pattern(lex.boundaries).finditer(simple, begin, start):
        if m[0] not in lex.inside_words:
            begin = max(begin, m.end())
    return begin


def _fold_places(mentions: list[Mention], lex: EntityLexicon) -> list[Mention]:
    """深圳光明科学城 → 光明科学城 when the text also names it without the place word.

    Only then: 深圳湾超级总部基地 keeps its 深圳 (湾超级总部基地 is no name).
    """
    keys = {m.key for m in mentions}
    return [m.model_copy(update={"key": _without_place(m.key, keys, lex)}) for m in mentions]


def _without_place(key: str, keys: set[str], lex: EntityLexicon) -> str:
    for place in lex.place_prefixes:
        rest = key[len(place) :]
        if key.startswith(place) and (rest in keys or rest in lex.aliases.values()):
            return rest
    return key


def _generic(own: str, lex: EntityLexicon) -> bool:
    """True when the name's own part is only generic words (创新平台, 公共服务平台)."""
    rest = own
    while rest:
        word = next((g for g in lex.generic if rest.startswith(g)), None)
        if word is None:
            return False
        rest = rest[len(word) :]
    return True


def _outermost(mentions: list[Mention]) -> list[Mention]:
    """Mentions in reading order, one inside another dropped (the longer name wins)."""
    ordered = sorted(mentions, key=lambda m: (m.start, -m.end))
    kept: list[Mention] = []
    for m in ordered:
        if kept and m.end <= kept[-1].end:
            continue
        kept.append(m)
    return kept


def _resolve_short_forms(mentions: list[Mention], lex: EntityLexicon) -> list[Mention]:
    """A short form is the last full name with its ending before it; dropped when none."""
    last: dict[str, str] = {}
    resolved: list[Mention] = []
    for m in mentions:
        if m.via != "short_form":
            ending = next((s for s in lex.short_forms if m.key.endswith(s)), None)
            if ending is not None:
                last[ending] = m.key
            resolved.append(m)
        elif (key := last.get(simplified_view(m.surface))) is not None:
            resolved.append(m.model_copy(update={"key": key}))
    return resolved


# --- what a commitment is about -----------------------------------------------------------------


class DocumentEntities:
    """The mentions of one document and its sections, to say what a quote span is about.

    ``pledges`` are the spans of the document's commitments: a name in a clause of the same
    sentence that is no commitment itself (联动香港园区、光明科学城…) is what the sentence's
    commitments are about too.
    """

    def __init__(
        self, text: str, pledges: Sequence[tuple[int, int]] = (), lex: EntityLexicon | None = None
    ) -> None:
        self.text = text
        self.mentions = find_mentions(text, lex)
        self.sections = _sections(text, self.mentions)
        self.pledges = sorted(pledges)

    def about(self, start: int, end: int) -> list[Mention]:
        """The entities of the quote text[start:end]: its own names, its sentence's, its
        section's."""
        own = [m for m in self.mentions if start <= m.start and m.end <= end]
        around = [m.model_copy(update={"via": "sentence"}) for m in self._sentence(start, end)]
        section = next((s[2] for s in self.sections if s[0] <= start < s[1]), [])
        return _unique(own + around + [m.model_copy(update={"via": "section"}) for m in section])

    def _sentence(self, start: int, end: int) -> list[Mention]:
        """Names of the quote's sentence outside every commitment."""
        s_start = max((m.end() for m in SENTENCE_END.finditer(self.text, 0, start)), default=0)
        found = SENTENCE_END.search(self.text, end)
        s_end = found.start() if found else len(self.text)
        return [
            m for m in self.mentions
            if s_start <= m.start and m.end <= s_end
            and not any(a <= m.start and m.end <= b for a, b in self.pledges)
            and not (start <= m.start and m.end <= end)
        ]  # fmt: skip


def _unique(mentions: list[Mention]) -> list[Mention]:
    seen: set[str] = set()
    out: list[Mention] = []
    for m in mentions:
        if m.key not in seen:
            seen.add(m.key)
            out.append(m)
    return out


def _sections(text: str, mentions: list[Mention]) -> list[tuple[int, int, list[Mention]]]:
    """(start, end, entities) of the sentences under a heading sentence that names entities.

    A heading is a sentence of at most the lexicon's ``heading_max_chars`` without clause
    marks; its section runs to the next heading or the end of the paragraph (a newline).
    """
    sections: list[tuple[int, int, list[Mention]]] = []
    current: list[Mention] = []
    for m in _SENTENCE.finditer(text):
        body = m[0].strip(" \t\u3000。！？!?")
        if m.start() > 0 and text[m.start() - 1] == "\n":
            current = []
        if body and len(body) <= load_lexicon().heading_max_chars and not _CLAUSE_MARK.search(body):
            current = [x for x in mentions if m.start() <= x.start and x.end <= m.end()]
        elif current:
            sections.append((m.start(), m.end(), current))
    return sections
