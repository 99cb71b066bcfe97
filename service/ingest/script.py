"""Traditional vs Simplified detection, and a Simplified view of the text for matching only.

The original text is always kept; ``to_simplified`` exists so glossary and rule matching can
work on one script. OpenCC's ``t2s`` profile converts character by character (no phrase
substitutions that change length) for our corpus, which ``tests/test_ingest.py`` checks on
every seed, so offsets found in the Simplified view are valid in the original text.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

from service.models import Script

# Share of script-specific characters that decides the label.
_CLEAR = 0.8


@lru_cache(maxsize=2)
def _converter(profile: str) -> opencc.OpenCC:
    return opencc.OpenCC(f"{profile}.json")


def to_simplified(text: str) -> str:
    """Simplified form of ``text`` (OpenCC t2s), for matching only, never for quoting."""
    return str(_converter("t2s").convert(text))


def to_traditional(text: str) -> str:
    """Traditional form of ``text`` (OpenCC s2t)."""
    return str(_converter("s2t").convert(text))


def detect_script(text: str) -> Script:
    """Count characters that only one script uses, by comparing with both conversions."""
    simplified, traditional = to_simplified(text), to_traditional(text)
    if len(simplified) != len(text) or len(traditional) != len(text):
        simplified, traditional = _per_char(text, "t2s"), _per_char(text, "s2t")
    trad_only = sum(1 for a, b in zip(text, simplified, strict=True) if a != b)
    simp_only = sum(1 for a, b in zip(text, traditional, strict=True) if a != b)
    total = trad_only + simp_only
    if total == 0:
        return "unknown"
    share = trad_only / total
    if share >= _CLEAR:
        return "traditional"
    if share <= 1 - _CLEAR:
        return "simplified"
    return "mixed"


def _per_char(text: str, profile: str) -> str:
    """Fallback alignment when a phrase conversion changed the length: convert char by char."""
    converter = _converter(profile)
    return "".join(c if len(o := str(converter.convert(c))) != 1 else o for c in text)
