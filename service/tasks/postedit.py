"""Deterministic post-editing of the model's English, unit by unit (no model).

After the answer: an English number that is a source number at the wrong magnitude is repaired
(``checks.magnitudes``), then Chinese left in the English is replaced from the glossary, the
people's pinyin or the dictionary, and Chinese punctuation made ASCII (``checks.leftovers``).
The call cache keeps the raw answer and the previous-chunk context shows it too, so prompts and
cache keys do not depend on the repairs; what remains wrong is left for the quality report and
the page to mark. Changing what this does means bumping ``checks.repairs.VERSION``.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.checks.glossary import Glossary
from service.checks.leftovers import Leftovers, fix_leftovers
from service.checks.magnitudes import Repair, repair
from service.checks.repairs import NumberFix, Repairs, TermFix

_NO_GLOSSARY = Glossary([], version="none")


def post_edit(zh: str, en: str, glossary: Glossary | None) -> tuple[str, Repairs]:
    """The repaired English of one unit and what was changed."""
    numbers = repair(zh, en)
    leftovers = fix_leftovers(numbers.text, zh, glossary or _NO_GLOSSARY)
    return leftovers.text, Repairs(numbers=_number_fixes(numbers), terms=_term_fixes(leftovers))


def post_edit_pieces(
    pieces: Sequence[tuple[str, str]], glossary: Glossary | None
) -> tuple[str, Repairs]:
    """A paragraph from its units' ``(zh, en)``: each repaired, joined with a space."""
    texts: list[str] = []
    repairs = Repairs()
    for zh, en in pieces:
        text, fixes = post_edit(zh, en, glossary)
        texts.append(text)
        repairs += fixes
    return " ".join(texts), repairs


def _number_fixes(result: Repair) -> list[NumberFix]:
    return [NumberFix(wrong=f.wrong, right=f.right, zh=f.source.text) for f in result.fixes]


def _term_fixes(result: Leftovers) -> list[TermFix]:
    return [TermFix(was=r.was, zh=r.zh, en=r.en, source=r.source) for r in result.replacements]
