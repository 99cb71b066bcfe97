"""``policy-reader relay`` (service/api/relay.py): over real HTTP on loopback, in front of the
stand-in model server (bench/fake_provider.py), which counts what was paid for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest
import respx

from bench.fake_provider import BackgroundServer, Config, ThreadedServer
from service.api.relay import Relay, create_relay, request_key
from service.config import Settings
from service.llm.endpoint import Endpoint, configured_url, resolve_endpoint

KEY = "sk-relay-test"
MODEL = "gpt-4o-mini"


def chat(content: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], "temperature": 0}


@contextmanager
def relayed(config: Config, *, concurrency: int = 8, timeout_s: float = 10) -> Iterator[str]:
    """The stand-in, and the relay in front of it; yields the relay's root URL."""
    with BackgroundServer(config) as model:
        settings = Settings(
            openai_base_url=model, openai_api_key=KEY, model=MODEL,
            concurrency=concurrency, timeout_s=timeout_s,
        )  # fmt: skip
        app = create_relay(settings, endpoint=Endpoint(model, MODEL, None))
        with ThreadedServer(app) as relay:
            yield relay


def post(
    relay: str, body: dict[str, Any], *, key: str = KEY, timeout: float = 10
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"}
    return httpx.post(f"{relay}/v1/chat/completions", json=body, headers=headers, timeout=timeout)


def relay_stats(relay: str) -> dict[str, Any]:
    return dict(httpx.get(f"{relay}/relay/stats", timeout=10).json())


def paid(model: str) -> dict[str, Any]:
    return dict(httpx.get(model.removesuffix("/v1") + "/requests", timeout=10).json())


def test_identical_requests_in_flight_are_sent_once() -> None:
    with relayed(Config(latency=0.4)) as relay, ThreadPoolExecutor(4) as pool:
        bodies = [chat("同一个请求")] * 3 + [chat("另一个请求")]
        answers = list(pool.map(lambda b: post(relay, b), bodies))
        stats = relay_stats(relay)
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[0].content == answers[1].content == answers[2].content  # one answer, shared
    assert stats["forwarded"] == 2
    assert stats["joined"] + stats.get("kept", 0) == 2


def test_an_answer_whose_client_gave_up_is_kept_for_the_next_ask() -> None:
    """A worker killed -9 (or timed out) while its request is in flight: the relay finishes it
    and answers the worker that asks again from memory; the provider is paid once."""
    config = Config(latency=0.6)
    with BackgroundServer(config) as model:
        settings = Settings(openai_base_url=model, openai_api_key=KEY, model=MODEL)
        app = create_relay(settings, endpoint=Endpoint(model, MODEL, None))
        with ThreadedServer(app) as relay:
            with pytest.raises(httpx.TimeoutException):
                post(relay, chat("在途的请求"), timeout=0.2)
            for _ in range(50):  # until the relay has the answer the client never read
                if relay_stats(relay)["kept_answers"] == 1:
                    break
                asyncio.run(asyncio.sleep(0.05))
            again = post(relay, chat("在途的请求"))
            stats, bill = relay_stats(relay), paid(model)
    assert again.status_code == 200
    assert stats["forwarded"] == 1 and stats["kept"] == 1
    assert bill["paid"] == 1 and bill["repaid"] == 0


@pytest.mark.parametrize("fault", ["429", "500"])
def test_errors_pass_through_and_are_asked_again(fault: str) -> None:
    with relayed(Config(latency=0.0, faults=1.0, fault_kinds=(fault,))) as relay:
        first = post(relay, chat("会失败的请求"))
        second = post(relay, chat("会失败的请求"))
        stats = relay_stats(relay)
    assert first.status_code == second.status_code == int(fault)
    assert first.json()["error"]["code"] in {"rate_limit_exceeded", "server_error"}
    if fault == "429":
        assert first.headers["retry-after"]  # the gateway's backoff reads it
    assert stats["forwarded"] == 2 and stats["kept_answers"] == 0


def test_a_request_without_the_key_is_refused_and_not_sent() -> None:
    with relayed(Config(latency=0.0)) as relay:
        refused = post(relay, chat("无钥匙"), key="sk-wrong")
        bare = httpx.post(f"{relay}/v1/chat/completions", json=chat("无钥匙"))
        stats = relay_stats(relay)
    assert refused.status_code == bare.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert stats.get("forwarded", 0) == 0


def test_one_limit_in_flight_for_every_client() -> None:
    config = Config(latency=0.3)
    with BackgroundServer(config) as model:
        settings = Settings(openai_base_url=model, openai_api_key=KEY, model=MODEL, concurrency=2)
        app = create_relay(settings, endpoint=Endpoint(model, MODEL, None))
        with ThreadedServer(app) as relay, ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda i: post(relay, chat(f"请求{i}")), range(6)))
            stats = relay_stats(relay)
        seen = httpx.get(model.removesuffix("/v1") + "/stats", timeout=10).json()
    assert all(a.status_code == 200 for a in answers)
    assert stats["limit"] == 2 and stats["forwarded"] == 6
    assert seen["requests"] == 6 and seen["max_in_flight"] == 2


def test_the_sdk_reads_the_relay_as_an_endpoint() -> None:
    """The openai SDK (the gateway's client) through the relay, and the endpoint a reader with
    READER_RELAY_URL resolves: the relay's /v1 with the upstream's model."""
    with relayed(Config(latency=0.0)) as relay:
        settings = Settings(
            relay_url=relay, openai_base_url="https://api.openai.com/v1", openai_api_key=KEY
        )
        endpoint = resolve_endpoint(settings)
        assert endpoint.base_url == configured_url(settings) == f"{relay}/v1"
        assert endpoint.model == MODEL and endpoint.local_server is None

        async def ask() -> str:
            async with openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=KEY) as client:
                done = await client.chat.completions.create(
                    model=endpoint.model, messages=[{"role": "user", "content": "你好"}]
                )
            return done.choices[0].message.content or ""

        assert asyncio.run(ask())


def test_the_embedded_model_behind_a_relay_is_started_by_the_relay() -> None:
    settings = Settings(relay_url="http://127.0.0.1:8790/")
    endpoint = resolve_endpoint(settings)
    assert endpoint.base_url == "http://127.0.0.1:8790/v1"
    assert endpoint.local_server is None  # the worker starts no llama.cpp of its own


# --- in process: what is kept ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "{\"paragraphs\": []}"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}  # fmt: skip


def raw(content: str) -> bytes:
    return json.dumps(chat(content)).encode()


@respx.mock
async def test_only_readable_completions_are_kept_and_for_keep_s() -> None:
    route = respx.post("https://model.test/v1/chat/completions")
    route.side_effect = [
        httpx.Response(200, content=b'{"id": "chatcmpl-2", "choices": [{"ind'),  # cut short
        httpx.Response(200, json=COMPLETION),
        httpx.Response(200, json=COMPLETION),
    ]
    clock = Clock()
    relay = Relay("https://model.test/v1", KEY, limit=2, timeout_s=5, keep_s=60, clock=clock)
    try:
        cut = await relay.chat(raw("a"))
        whole = await relay.chat(raw("a"))
        assert cut.status == whole.status == 200 and json.loads(whole.body) == COMPLETION
        assert route.call_count == 2  # the unreadable body was not kept
        assert (await relay.chat(raw("a"))).body == whole.body and route.call_count == 2
        clock.now = 61
        await relay.chat(raw("a"))
        assert route.call_count == 3  # kept no longer than keep_s
        sent = route.calls.last.request
        assert sent.headers["authorization"] == f"Bearer {KEY}"
    finally:
        await relay.aclose()


@respx.mock
async def test_the_oldest_answers_go_first_past_keep_bytes() -> None:
    respx.post("https://model.test/v1/chat/completions").respond(200, json=COMPLETION)
    size = len(json.dumps(COMPLETION).encode())
    relay = Relay("https://model.test/v1", KEY, limit=2, timeout_s=5, keep_bytes=size * 2 + 1)
    try:
        for content in ("a", "b", "c"):
            await relay.chat(raw(content))
        snap = relay.snapshot()
        assert snap["kept_answers"] == 2 and snap["kept_bytes"] <= size * 2 + 1
        await relay.chat(raw("c"))
        await relay.chat(raw("a"))  # the oldest, dropped: sent again
        assert relay.stats["forwarded"] == 4 and relay.stats["kept"] == 1
    finally:
        await relay.aclose()


@respx.mock
async def test_timeouts_and_refused_connections_become_504_and_502() -> None:
    route = respx.post("https://model.test/v1/chat/completions")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")]
    relay = Relay("https://model.test/v1", KEY, limit=1, timeout_s=1)
    try:
        assert (await relay.chat(raw("x"))).status == 504
        assert (await relay.chat(raw("x"))).status == 502
        assert (await relay.chat(b"{not json")).status == 400
        assert relay.snapshot()["kept_answers"] == 0
    finally:
        await relay.aclose()


def test_the_key_is_the_canonical_json() -> None:
    a = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
    b = b'{"messages":[{"content":"x","role":"user"}],"model":"m"}'
    assert request_key(a) == request_key(b) != request_key(raw("y"))


def test_the_relay_takes_the_profiles_limit_and_timeout() -> None:
    """The embedded model's profile: one request at a time, and its long timeout (a CPU
    takes minutes for a long chunk; the relay must not cut off what the worker waits for)."""
    from service.llm.gateway import request_timeout
    from service.llm.profiles import LOCAL_PROFILE, resolve_profile

    settings = Settings(concurrency=4)
    profile = resolve_profile(LOCAL_PROFILE, None)
    endpoint = Endpoint("http://127.0.0.1:9/v1", "local", LOCAL_PROFILE)
    with ThreadedServer(create_relay(settings, endpoint=endpoint)) as relay:
        stats = relay_stats(relay)
    assert stats["limit"] == min(4, profile.max_concurrency or 4)
    assert stats["timeout_s"] == request_timeout(settings, profile) > settings.timeout_s
