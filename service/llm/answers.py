"""A model's answer as the endpoint returned it, and the checks before it is used.

One answer type and one set of checks for both ways an answer arrives: a direct call through
``Gateway`` (which then re-asks or grows the budget) and a Batch API output line
(``service/llm/batch_api.py``, which does neither). The checks: no choices, a refusal or the
content filter, ``finish_reason=length``, ``<think>`` reasoning stripped, the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from service.errors import ModelError, ModelRefused, ModelTruncated
from service.llm.structured import parse_output, strip_reasoning


@dataclass(frozen=True)
class Answer:
    """The first choice of a chat completion, with the usage it reported."""

    raw: str  # as the model wrote it, reasoning included
    finish_reason: str | None = None
    refusal: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def of(cls, response: Any) -> Answer:
        """From an SDK response object; ``ModelError`` when it has no choices."""
        if not getattr(response, "choices", None):
            raise ModelError("The model endpoint returned no choices.")
        choice = response.choices[0]
        message = choice.message
        usage = getattr(response, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None)
        return cls(
            raw=message.content or "",
            finish_reason=choice.finish_reason,
            refusal=getattr(message, "refusal", None),
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cached_tokens=getattr(details, "cached_tokens", 0) or 0,
        )

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Answer:
        """From a chat completion's JSON body (a Batch API output line)."""
        return cls.of(ChatCompletion.construct(**body))

    @property
    def text(self) -> str:
        """The answer without its ``<think>`` reasoning: what is validated and cached."""
        return strip_reasoning(self.raw)

    def check(self, task: str, max_tokens: object) -> None:
        """Raise ``ModelRefused`` for a refusal or a content filter stop, ``ModelTruncated``
        for an answer cut off at ``max_tokens``."""
        if self.refusal is not None or self.finish_reason == "content_filter":
            reason = self.refusal or "content_filter"
            raise ModelRefused(f"The model refused {task}: {reason}")
        if self.finish_reason == "length":
            raise ModelTruncated(
                f"{task}: output hit max_tokens={max_tokens} (finish_reason=length); "
                "shorten the input chunk or raise the budget.",
                detail={"partial": self.text},
            )

    def parse(self, schema: type[BaseModel]) -> BaseModel:
        """The text validated against the schema; ``ValueError`` says what is wrong."""
        return parse_output(self.text, schema)
