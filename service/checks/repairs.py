"""What the deterministic repairs changed in a model's English, as kept on the artifact.

``service/tasks/postedit.py`` applies ``magnitudes.repair`` then ``leftovers.fix_leftovers`` to
every unit's answer; these records say what they changed, for the quality report and the page.
Records only (no checks imported here), so that ``quality`` and ``artifacts`` can use them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Part of the translation's artifact variant: bump it whenever a repair would change its output
# (magnitudes, leftovers, names, the dictionary data, or how postedit applies them), so stored
# translations are recomputed; their model calls still come from the call cache.
VERSION = "3"

TermSource = Literal["glossary", "name", "dictionary", "pinyin", "punctuation", "date"]


class NumberFix(BaseModel):
    """An English number at the wrong magnitude, replaced: 1361 million → 13.61 million."""

    wrong: str = Field(description="What the model wrote.")
    right: str = Field(description="What replaced it.")
    zh: str = Field(description="The source number it renders, e.g. 1361万.")


class TermFix(BaseModel):
    """Chinese (or a garbled name) left in the English, replaced: 先行示范区 → pilot …"""

    was: str = Field(description="What the model wrote.")
    zh: str = Field(description="The Chinese the English stands for.")
    en: str
    source: TermSource = Field(description="dictionary: a gloss, not an official rendering.")


class Repairs(BaseModel):
    """Every fix made to one paragraph's English, in text order."""

    numbers: list[NumberFix] = Field(default_factory=list)
    terms: list[TermFix] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.numbers or self.terms)

    def __add__(self, other: Repairs) -> Repairs:
        return Repairs(numbers=self.numbers + other.numbers, terms=self.terms + other.terms)
