"""Inline pinyin annotations left by some news sites: ``會(huì )議`` → ``會議``."""

from __future__ import annotations

import re

# Tone-marked vowels (ā á ǎ à ē … ǜ); an annotation must carry at least one, which keeps
# real parentheses such as (2020-2025年), (深圳) or (a) untouched.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_SYLLABLE = rf"[a-zü{_TONED}]*[{_TONED}][a-zü{_TONED}]*"
# Only directly after a CJK character; sometimes with a space before ")".
PINYIN_RE = re.compile(rf"(?<=[\u3400-\u9fff])\((?P<py>{_SYLLABLE})\s*\)")


def strip_pinyin(line: str) -> tuple[str, list[str]]:
    """Remove annotations from one line; return the new line and the removed annotations."""
    removed: list[str] = []

    def _drop(match: re.Match[str]) -> str:
        removed.append(match.group(0))
        return ""

    return PINYIN_RE.sub(_drop, line), removed
