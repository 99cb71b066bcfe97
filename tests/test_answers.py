"""The answer type and its checks, shared by direct calls (the gateway) and Batch API lines."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from service.errors import ModelError, ModelInvalidOutput, ModelRefused, ModelTruncated
from service.llm.answers import Answer
from service.llm.batch_api import read_answer
from service.llm.gateway import PendingCall
from tests.fakes import chat_body


class Items(BaseModel):
    items: list[str]


def chat(content: str | None, **kw: Any) -> Answer:
    return Answer.from_body(chat_body(content, **kw))


# --- reading a response ---------------------------------------------------------------------


def test_chat_answer_carries_text_stop_reason_and_usage() -> None:
    answer = chat("Shenzhen.", prompt_tokens=400, completion_tokens=40, cached_tokens=64)
    assert (answer.raw, answer.finish_reason, answer.refusal) == ("Shenzhen.", "stop", None)
    assert (answer.prompt_tokens, answer.completion_tokens, answer.cached_tokens) == (400, 40, 64)


def test_no_choices_is_a_model_error() -> None:
    body = chat_body("{}")
    body["choices"] = []
    with pytest.raises(ModelError, match="no choices"):
        Answer.from_body(body)


def test_null_content_is_empty_text() -> None:
    assert chat(None).raw == ""


# --- the checks -----------------------------------------------------------------------------


def test_refusal_and_content_filter_are_refusals() -> None:
    with pytest.raises(ModelRefused, match="refused echo: I can't help"):
        chat(None, refusal="I can't help with that.").check("echo", 50)
    with pytest.raises(ModelRefused, match="refused echo: content_filter"):
        chat("", finish_reason="content_filter").check("echo", 50)


def test_length_is_truncation_naming_the_budget() -> None:
    with pytest.raises(ModelTruncated, match=r"echo: output hit max_tokens=50 \(finish_reason"):
        chat('{"items": [', finish_reason="length").check("echo", 50)


def test_a_complete_answer_passes() -> None:
    chat('{"items": []}').check("echo", 50)


def test_think_blocks_are_stripped_closed_or_not() -> None:
    assert chat('<think>the user wants {"no": 1}</think>\n{"items": []}').text == '{"items": []}'
    assert chat("<think>still thinking").text == ""


def test_parse_validates_the_text_without_reasoning() -> None:
    assert chat('<think>hmm</think>{"items": ["a"]}').parse(Items) == Items(items=["a"])
    with pytest.raises(ValueError, match="items"):
        chat('{"items": 3}').parse(Items)


# --- a Batch API line: the same checks, no re-ask -----------------------------------------------


def test_batch_answers_are_checked_like_direct_ones() -> None:
    call = PendingCall("k", "echo", "echo", "v1", {"max_tokens": 50}, Items)
    body = chat_body('<think>hmm</think>{"items": ["a"]}', prompt_tokens=400)
    good, problem = read_answer(call, body)
    assert problem is None and good.text == '{"items": ["a"]}' and good.prompt_tokens == 400
    truncated = chat_body('{"items": [', finish_reason="length")
    assert "max_tokens=50" in str(read_answer(call, truncated)[1])
    refused = chat_body(None, refusal="I can't help with that.")
    assert isinstance(read_answer(call, refused)[1], ModelRefused)
    answer, invalid = read_answer(call, chat_body('{"items": 3}', completion_tokens=7))
    assert isinstance(invalid, ModelInvalidOutput) and answer.completion_tokens == 7
    empty = chat_body("{}")
    empty["choices"] = []
    answer, problem = read_answer(call, empty)
    assert "no choices" in str(problem) and answer == Answer("")
