"""The benchmark stand-in provider answers like an OpenAI endpoint (real HTTP on loopback)."""

from __future__ import annotations

import json

import httpx

from bench.fake_provider import BackgroundServer, Config

SCHEMA = {
    "type": "object",
    "properties": {
        "paragraphs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "en": {"type": "string"}},
                "required": ["id", "en"],
            },
        }
    },
    "required": ["paragraphs"],
}


def test_structured_answer_lists_every_paragraph_id() -> None:
    with BackgroundServer(Config(latency=0.0)) as base:
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": '<p id="p1">一</p><p id="p2">二</p>'}],
            "response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
        }
        data = httpx.post(f"{base}/chat/completions", json=body).json()
        content = json.loads(data["choices"][0]["message"]["content"])
        assert [p["id"] for p in content["paragraphs"]] == ["p1", "p2"]
        assert data["usage"]["total_tokens"] > 0


def test_fault_mix_is_reported_in_stats() -> None:
    with BackgroundServer(Config(latency=0.0, faults=1.0, fault_kinds=("429",))) as base:
        response = httpx.post(f"{base}/completions", json={"model": "m", "prompt": "x"})
        assert response.status_code == 429
        assert float(response.headers["retry-after"]) > 0
        stats = httpx.get(base.removesuffix("/v1") + "/stats").json()
        assert stats == {"requests": 1, "429": 1, "max_in_flight": 1}
