"""The stand-in's measuring additions: paid answers per body hash, recorded texts, context ids."""

from __future__ import annotations

import json

import httpx

from bench.fake_provider import BackgroundServer, Config, answer_text


def chat(content: str) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


def test_requests_counts_repaid_bodies_and_records_texts() -> None:
    with BackgroundServer(Config(latency=0, record=True)) as base:
        root = base.removesuffix("/v1")
        for content in ("甲", "乙", "甲"):
            httpx.post(f"{base}/chat/completions", json=chat(content)).raise_for_status()
        seen = httpx.get(f"{root}/requests").json()
        assert (seen["paid"], seen["distinct"], seen["repaid"]) == (3, 2, 1)
        assert [r["prompt"] for r in seen["log"]] == ["甲", "乙", "甲"]
        httpx.post(f"{root}/reset")
        assert httpx.get(f"{root}/requests").json()["paid"] == 0


def test_failed_answers_are_not_counted_as_paid() -> None:
    with BackgroundServer(Config(latency=0, faults=1.0, fault_kinds=("500",))) as base:
        httpx.post(f"{base}/chat/completions", json=chat("甲"))
        assert httpx.get(base.removesuffix("/v1") + "/requests").json()["paid"] == 0


def test_paragraph_ids_inside_context_are_not_answered() -> None:
    schema = {
        "type": "object",
        "properties": {
            "paragraphs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "en": {"type": "string"}},
                },
            }
        },
    }
    prompt = '<context><p id="p1">旧</p></context>\n<document><p id="p2">新</p></document>'
    body = {
        **chat(prompt),
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }
    answer = json.loads(answer_text(body, Config()))
    assert [p["id"] for p in answer["paragraphs"]] == ["p2"]
