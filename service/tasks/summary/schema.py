"""The summary's output models: what each prompt's ``schema`` names, with the rules a valid
answer keeps (sentence counts, English only, ISO dates); a broken rule triggers a re-ask.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from service.artifacts import Person, Summary
from service.checks.quality import check_no_cjk

# A period after these never ends a sentence ("Mr. Wang", "No. 1 Document", "e.g. schools").
_NEVER_END = {"mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "gen", "vs", "e.g", "i.e"}
_TERMINATOR = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def count_sentences(text: str) -> int:
    """Sentences in English prose: . ! ? ends one, except decimals, initials and titles."""
    count, last = 0, 0
    for match in _TERMINATOR.finditer(text):
        word = _WORD_BEFORE.search(text[: match.start()])
        if match.group().startswith(".") and word and _abbreviation(word.group(1)):
            continue
        count, last = count + 1, match.end()
    return count + (1 if text[last:].strip() else 0)


def _abbreviation(word: str) -> bool:
    """A title, a Latin short form, or a single initial ("J." in "Xi J. Ping")."""
    return word.lower() in _NEVER_END or (len(word) == 1 and word.isupper())


def _cjk_errors(fields: Iterable[tuple[str, str | None]]) -> list[str]:
    return [
        f"{name} contains Chinese characters ({''.join(check_no_cjk(text))[:20]}); "
        "write English only"
        for name, text in fields
        if text and check_no_cjk(text)
    ]


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise ValueError("; ".join(errors))


class SummaryOut(Summary):
    """The chat models' answer (summary and reduce): ``Summary`` plus its rules."""

    model_config = ConfigDict(title="Summary")

    @model_validator(mode="after")
    def _rules(self) -> Self:
        errors = _shape_errors(self.headline, self.abstract, self.key_points, (3, 3), (3, 8))
        if self.date is not None and not ISO_DATE.match(self.date):
            errors.append(f"date {self.date!r} must be YYYY-MM-DD, YYYY-MM, YYYY or null")
        errors += _cjk_errors(_english_fields(self))
        _raise_if(errors)
        return self


def _shape_errors(
    headline: str,
    abstract: str,
    points: Sequence[str],
    sentences: tuple[int, int],
    n_points: tuple[int, int],
) -> list[str]:
    errors = []
    if not headline.strip() or "\n" in headline.strip():
        errors.append("headline must be one non-empty line")
    found = count_sentences(abstract.strip())
    if not sentences[0] <= found <= sentences[1]:
        low, high = sentences
        want = str(high) if low == high else f"{low} to {high}"
        errors.append(f"abstract must be {want} sentences, found {found}")
    if not n_points[0] <= len(points) <= n_points[1]:
        errors.append(f"key_points must hold {n_points[0]} to {n_points[1]} items")
    if any(not p.strip() for p in points):
        errors.append("key_points must not be empty strings")
    return errors


def _english_fields(s: Summary) -> list[tuple[str, str | None]]:
    """Every English field of a summary with its name (``name_zh`` is the one exception)."""
    out: list[tuple[str, str | None]] = [
        ("headline", s.headline),
        ("abstract", s.abstract),
        ("body", s.body),
        ("date", s.date),
        ("place", s.place),
    ]
    out += [(f"key_points[{i}]", p) for i, p in enumerate(s.key_points)]
    for i, person in enumerate(s.people):
        out += [(f"people[{i}].name_en", person.name_en), (f"people[{i}].role", person.role)]
    return out


class ChunkNotes(BaseModel):
    """Notes on one chunk (or on a batch of earlier notes), English except ``name_zh``."""

    model_config = ConfigDict(title="ChunkNotes")
    setting: str | None
    facts: list[str]
    decisions: list[str]
    people: list[Person]

    @model_validator(mode="after")
    def _english(self) -> Self:
        fields = [("setting", self.setting)]
        fields += [(f"facts[{i}]", f) for i, f in enumerate(self.facts)]
        fields += [(f"decisions[{i}]", d) for i, d in enumerate(self.decisions)]
        for i, p in enumerate(self.people):
            fields += [(f"people[{i}].name_en", p.name_en), (f"people[{i}].role", p.role)]
        _raise_if(_cjk_errors(fields))
        return self
