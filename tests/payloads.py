"""Model responses exactly as the providers shape them, for respx-mocked endpoints."""

from __future__ import annotations

from typing import Any


def chat_body(
    content: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int = 120,
    completion_tokens: int = 14,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A chat.completion exactly as api.openai.com shapes it."""
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }


def completion_body(
    text: str, *, finish_reason: str = "stop", prompt_tokens: int = 60, completion_tokens: int = 22
) -> dict[str, Any]:
    """A text_completion as llama.cpp's OpenAI-compatible server returns it."""
    return {
        "id": "cmpl-5c1b6a0e-3f1d-4a4e-9a55-2f0d8c1e7b11",
        "object": "text_completion",
        "created": 1741570290,
        "model": "gemma-3-270m",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
