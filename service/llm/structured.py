"""Structured output helpers: strict JSON schemas, GBNF grammars, parsing model text."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
UNCLOSED_THINK = re.compile(r"^\s*<think>.*", re.DOTALL)
CODE_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """Drop ``<think>…</think>`` blocks, and a leading ``<think>`` that never closes."""
    text = THINK_BLOCK.sub("", text)
    return UNCLOSED_THINK.sub("", text).strip()


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema made acceptable to OpenAI strict mode."""
    schema = model.model_json_schema()
    _make_strict(schema)
    return schema


def _make_strict(node: Any) -> None:
    # Strict mode: every object closed, every property required, no defaults.
    if isinstance(node, dict):
        node.pop("default", None)
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _make_strict(value)
    elif isinstance(node, list):
        for item in node:
            _make_strict(item)


def schema_json(model: type[BaseModel] | None) -> str | None:
    return None if model is None else json.dumps(model.model_json_schema(), sort_keys=True)


@lru_cache(maxsize=64)
def gbnf_for(schema_text: str) -> str | None:
    """GBNF for llama.cpp's ``grammar`` field, or None when the local extra is not installed."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError:
        return None
    return str(json_schema_to_gbnf(schema_text))


def parse_output(text: str, model: type[BaseModel]) -> BaseModel:
    """Validate model text as JSON of ``model``; raises ValueError with a readable reason."""
    fenced = CODE_FENCE.match(text.strip())
    body = fenced[1] if fenced else text
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
