"""The benchmark stand-in provider (bench/fake_provider.py): it answers like an OpenAI endpoint
over real HTTP on loopback, injects faults on demand, and counts what a run paid for."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bench.fake_provider import BackgroundServer, Config, answer_text

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


def chat(content: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chat request body, with a structured-output schema when given."""
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
    }
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
    return body


def root_of(base: str) -> str:
    """The server's own routes (/stats, /requests, /reset) sit beside /v1."""
    return base.removesuffix("/v1")


# --- answers ---------------------------------------------------------------------------------


def test_structured_answer_lists_every_paragraph_id() -> None:
    with BackgroundServer(Config(latency=0.0)) as base:
        body = chat('<p id="p1">一</p><p id="p2">二</p>', SCHEMA)
        data = httpx.post(f"{base}/chat/completions", json=body).json()
        content = json.loads(data["choices"][0]["message"]["content"])
        assert [p["id"] for p in content["paragraphs"]] == ["p1", "p2"]
        assert data["usage"]["total_tokens"] > 0


def test_paragraph_ids_inside_context_are_not_answered() -> None:
    prompt = '<context><p id="p1">旧</p></context>\n<document><p id="p2">新</p></document>'
    answer = json.loads(answer_text(chat(prompt, SCHEMA), Config()))
    assert [p["id"] for p in answer["paragraphs"]] == ["p2"]


# --- faults and counts -----------------------------------------------------------------------


def test_fault_mix_is_reported_in_stats() -> None:
    with BackgroundServer(Config(latency=0.0, faults=1.0, fault_kinds=("429",))) as base:
        response = httpx.post(f"{base}/chat/completions", json=chat("x"))
        assert response.status_code == 429
        assert float(response.headers["retry-after"]) > 0
        stats = httpx.get(f"{root_of(base)}/stats").json()
        assert stats == {"requests": 1, "429": 1, "max_in_flight": 1}


def test_requests_counts_repaid_bodies_and_records_texts() -> None:
    with BackgroundServer(Config(latency=0, record=True)) as base:
        for content in ("甲", "乙", "甲"):
            httpx.post(f"{base}/chat/completions", json=chat(content)).raise_for_status()
        seen = httpx.get(f"{root_of(base)}/requests").json()
        assert (seen["paid"], seen["distinct"], seen["repaid"]) == (3, 2, 1)
        ((first, second),) = seen["repaid_sends"].values()  # the twice-paid body, its two sends
        assert first[0] <= second[0] and first[1] > 0 and second[1] > 0
        assert [r["prompt"] for r in seen["log"]] == ["甲", "乙", "甲"]
        httpx.post(f"{root_of(base)}/reset")
        assert httpx.get(f"{root_of(base)}/requests").json()["paid"] == 0


def test_failed_answers_are_not_counted_as_paid() -> None:
    with BackgroundServer(Config(latency=0, faults=1.0, fault_kinds=("500",))) as base:
        httpx.post(f"{base}/chat/completions", json=chat("甲"))
        assert httpx.get(f"{root_of(base)}/requests").json()["paid"] == 0


# --- paid when delivered ---------------------------------------------------------------------

# A client in its own process: it posts one request and prints the status it got.
CLIENT = (
    "import httpx, json, sys; "
    "r = httpx.post(sys.argv[1], json=json.loads(sys.argv[2]), timeout=30); print(r.status_code)"
)


def _wait_for(url: str, ready: Callable[[dict[str, Any]], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready(httpx.get(url).json()):
            return
        time.sleep(0.02)
    raise AssertionError(f"{url}: not reached in {timeout_s} s: {httpx.get(url).json()}")


def _client(base: str, content: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", CLIENT, f"{base}/chat/completions", json.dumps(chat(content))]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def test_an_answer_whose_client_was_killed_is_abandoned_not_paid() -> None:
    with BackgroundServer(Config(latency=1.5)) as base:
        stats = f"{root_of(base)}/stats"
        client = _client(base, "甲")
        _wait_for(stats, lambda s: s.get("requests") == 1)  # the stand-in is sleeping on it
        client.send_signal(signal.SIGKILL)
        client.wait()
        _wait_for(stats, lambda s: s.get("abandoned") == 1)
        assert httpx.get(f"{root_of(base)}/requests").json()["paid"] == 0


def test_an_answer_to_a_live_client_is_paid_and_stamped() -> None:
    with BackgroundServer(Config(latency=0.3)) as base:
        client = _client(base, "甲")
        assert client.communicate(timeout=30)[0].strip() == "200"
        assert httpx.get(f"{root_of(base)}/requests").json()["paid"] == 1
        assert "abandoned" not in httpx.get(f"{root_of(base)}/stats").json()
        sent = httpx.post(f"{base}/chat/completions", json=chat("乙")).headers["x-sent-at"]
        assert abs(float(sent) - time.time()) < 5


def test_an_answer_after_the_client_timed_out_is_abandoned() -> None:
    with BackgroundServer(Config(latency=1.0)) as base:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{base}/chat/completions", json=chat("甲"), timeout=0.2)
        _wait_for(f"{root_of(base)}/stats", lambda s: s.get("abandoned") == 1)
        assert httpx.get(f"{root_of(base)}/requests").json()["paid"] == 0
