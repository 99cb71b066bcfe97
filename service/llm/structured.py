"""Structured output helpers: strict JSON schemas, parsing model text."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
UNCLOSED_THINK = re.compile(r"^\s*<think>.*", re.DOTALL)
CODE_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """Drop ``<think>…</think>`` blocks, and a leading ``<think>`` that never closes."""
    text = THINK_BLOCK.sub("", text)
    return UNCLOSED_THINK.sub("", text).strip()


@cache
def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema made acceptable to OpenAI strict mode (cached: treat read-only)."""
    schema = model.model_json_schema()
    _make_strict(schema)
    return schema


def _make_strict(schema: Any) -> None:
    # Strict mode: every object closed, every property required, no defaults.
    if not isinstance(schema, dict):
        return
    schema.pop("default", None)
    props = schema.get("properties")
    if schema.get("type") == "object" and isinstance(props, dict):
        schema["additionalProperties"] = False
        schema["required"] = list(props)
    # Walk sub-schemas only, so a property that happens to be named "default" survives.
    for key in ("properties", "$defs", "definitions"):
        for sub in (schema.get(key) or {}).values():
            _make_strict(sub)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for sub in schema.get(key) or []:
            _make_strict(sub)
    for key in ("items", "additionalItems"):
        _make_strict(schema.get(key))


def schema_json(model: type[BaseModel] | None) -> str | None:
    return None if model is None else _schema_text(model)


@cache
def _schema_text(model: type[BaseModel]) -> str:
    # Schema generation costs ~1 ms; it runs on every cache lookup, so compute it once per model.
    return json.dumps(model.model_json_schema(), sort_keys=True)


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
