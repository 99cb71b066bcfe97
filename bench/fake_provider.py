"""A stand-in OpenAI-compatible provider for measurement: real HTTP on loopback.

It is a measuring instrument, not a test mock: configurable latency, token speed and a fault
mix (429 with Retry-After, 500, timeouts, truncated JSON, ``finish_reason: length``,
refusals). Structured requests get a valid instance of the requested JSON schema; requests
that list paragraphs as ``<p id="pN">`` get one item per paragraph id, so translation runs
complete. ``GET /stats`` reports requests by outcome; ``GET /requests`` reports successful
answers per request-body hash (``repaid`` > 0 means an identical request was paid for twice;
``repaid_sends`` gives, for each such request, every answer's send time and client port) and,
with ``record``, every request's prompt and answer text (for token counting).

An answer is paid when it is delivered: one whose client disconnected before it was sent (a
client timeout, a process killed -9) is counted ``abandoned`` instead. A real provider may
well bill a generation whose client died; what ``repaid`` measures is whether *our* system
asks again for an answer it had received. An answer handed to the socket just before its
client dies still counts as paid (the stand-in cannot see what the client read); every
answer carries its send time (``x-sent-at``, Unix seconds) so a client can measure how long
it holds an answer before storing it.

    python bench/fake_provider.py --port 8099 --latency 0.2 --tps 400 --faults 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FAULTS = ("429", "500", "timeout", "truncated", "length", "refusal")
PARA_ID = re.compile(r'<p id="(p\d+)"')
# Earlier paragraphs quoted for continuity are not to be answered: only ids outside <context>.
CONTEXT = re.compile(r"<context\b[^>]*>.*?</context>", re.S)
WORD = "policy "  # ~1 token
# Fields our task validators constrain beyond JSON Schema (a summary's abstract is three
# sentences, its date ISO, its key points 3-8): answered so that the answer passes, like a
# model that follows the prompt.
SHAPED = {
    "abstract": "The plan sets targets. Local governments carry it out. Progress is reviewed.",
    "date": "2024-03-05",
}
ITEMS = {"key_points": 3}


@dataclass
class Config:
    latency: float = 0.05  # seconds before the first token
    tps: float = 1000.0  # generated tokens per second
    out_tokens: int = 60  # free-text answer length
    faults: float = 0.0  # share of requests that fail
    fault_kinds: tuple[str, ...] = FAULTS
    retry_after: float = 0.05
    timeout_sleep: float = 30.0
    seed: int = 7
    record: bool = False  # keep every prompt/answer text for GET /requests


@dataclass
class State:
    config: Config
    rng: random.Random = field(init=False)
    stats: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    # Each successful answer's send time and the client's port, by body hash: who was paid,
    # and how many times (a list longer than one: repaid).
    sends: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)  # with config.record

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)

    def draw_fault(self) -> str | None:
        if self.config.faults and self.rng.random() < self.config.faults:
            return self.rng.choice(self.config.fault_kinds)
        return None


def instance(schema: dict[str, Any], defs: dict[str, Any], ids: list[str]) -> Any:
    """A small valid instance of a JSON schema (enough for our task schemas)."""
    if "$ref" in schema:
        return instance(defs[schema["$ref"].split("/")[-1]], defs, ids)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance(options[0], defs, ids)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {k: _prop(k, v, defs, ids) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("items", {})
        count = max(schema.get("minItems", 1), 1)
        if ids and _has_id(items, defs):
            return [_with_id(instance(items, defs, ids), pid) for pid in ids]
        return [instance(items, defs, ids) for _ in range(count)]
    return {"string": "Policy text", "integer": 1, "number": 1.0, "boolean": True}.get(str(kind))


def _prop(name: str, schema: dict[str, Any], defs: dict[str, Any], ids: list[str]) -> Any:
    value = instance(schema, defs, ids)
    if value == "Policy text":
        return SHAPED.get(name, f"{name} of the document")
    if isinstance(value, list) and len(value) == 1 and name in ITEMS:
        return value * ITEMS[name]
    return value


def _has_id(items: dict[str, Any], defs: dict[str, Any]) -> bool:
    if "$ref" in items:
        items = defs[items["$ref"].split("/")[-1]]
    return "id" in items.get("properties", {})


def _with_id(item: Any, pid: str) -> Any:
    if isinstance(item, dict):
        item["id"] = pid
    return item


def answer_text(body: dict[str, Any], config: Config) -> str:
    """The content the stand-in answers with for this request."""
    prompt = _prompt_text(body)
    ids = list(dict.fromkeys(PARA_ID.findall(CONTEXT.sub("", prompt))))
    schema = _schema_of(body)
    if schema is not None:
        return json.dumps(instance(schema, schema.get("$defs", {}), ids))
    return (WORD * config.out_tokens).strip()


def _prompt_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    return "\n".join(str(m.get("content") or "") for m in messages)


def _schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema: dict[str, Any] = fmt["json_schema"]["schema"]
        return schema
    if fmt.get("type") == "json_object":
        return fmt.get("schema") or {"type": "object", "properties": {}}
    return None


def completion_body(body: dict[str, Any], text: str, finish: str) -> dict[str, Any]:
    """A chat.completion answering ``body`` with ``text``."""
    prompt_chars = len(_prompt_text(body))
    usage = {
        "prompt_tokens": max(prompt_chars // 2, 1),
        "completion_tokens": max(len(text) // 4, 1),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    common = {"created": int(time.time()), "model": body.get("model", "stand-in"), "usage": usage}
    msg = {"role": "assistant", "content": text, "refusal": None}
    choice = {"index": 0, "message": msg, "finish_reason": finish, "logprobs": None}
    return {"id": "chatcmpl-standin", "object": "chat.completion", "choices": [choice], **common}


def build_app(config: Config) -> Starlette:
    state = State(config)

    async def generate(request: Request) -> Response:
        body = await request.json()
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await _respond(state, body, request)
        finally:
            state.in_flight -= 1

    async def stats(_: Request) -> Response:
        return JSONResponse({**state.stats, "max_in_flight": state.max_in_flight})

    async def requests(_: Request) -> Response:
        paid = [len(sends) for sends in state.sends.values()]
        repaid = sum(n - 1 for n in paid)
        return JSONResponse(
            {
                "paid": sum(paid),
                "distinct": len(paid),
                "repaid": repaid,
                "repaid_sends": {k: v for k, v in state.sends.items() if len(v) > 1},
                "log": state.log,
            }
        )

    async def reset(_: Request) -> Response:
        state.stats.clear()
        state.max_in_flight = 0
        state.sends.clear()
        state.log.clear()
        return JSONResponse({"ok": True})

    async def models(_: Request) -> Response:
        data = [{"id": "stand-in", "object": "model", "created": 0, "owned_by": "bench"}]
        return JSONResponse({"object": "list", "data": data})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", generate, methods=["POST"]),
            Route("/v1/models", models),
            Route("/stats", stats),
            Route("/requests", requests),
            Route("/reset", reset, methods=["POST"]),
        ]
    )


async def _respond(state: State, body: dict[str, Any], request: Request) -> Response:
    config = state.config
    fault = state.draw_fault()
    state.stats["requests"] += 1
    state.stats[fault or "ok"] += 1
    await asyncio.sleep(config.latency)
    if fault == "429":
        headers = {"retry-after": str(config.retry_after)}
        return JSONResponse(_error("rate_limit_exceeded", "Rate limit reached"), 429, headers)
    if fault == "500":
        return JSONResponse(_error("server_error", "The server had an error"), 500)
    if fault == "timeout":
        await asyncio.sleep(config.timeout_sleep)
    text = answer_text(body, config)
    await asyncio.sleep(max(len(text) // 4, 1) / config.tps)
    if await request.is_disconnected():
        # The client is gone: it timed out and asked again, or its process was killed. Nothing
        # is delivered, so nothing is paid. Counted as paid, every timeout fault of a run
        # longer than timeout_sleep, and every request of a worker killed -9, read as repaid.
        state.stats["abandoned"] += 1
        return Response(status_code=499)
    if fault == "refusal":
        payload = completion_body(body, "", "stop")
        payload["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
        return JSONResponse(payload)
    if fault == "truncated":
        return JSONResponse(completion_body(body, text[: len(text) // 2], "stop"))
    if fault == "length":
        return JSONResponse(completion_body(body, text[: len(text) // 2], "length"))
    now = time.time()
    _note_paid(state, body, text, (now, request.client.port if request.client else 0))
    sent = {"x-sent-at": f"{now:.6f}"}
    return JSONResponse(completion_body(body, text, "stop"), headers=sent)


def _note_paid(state: State, body: dict[str, Any], text: str, send: tuple[float, int]) -> None:
    """Count a successful answer by request-body hash, with its send time and client port;
    keep the texts when recording."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    state.sends.setdefault(digest, []).append(send)
    if state.config.record:
        state.log.append({"body": digest, "prompt": _prompt_text(body), "answer": text})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


class ThreadedServer:
    """Any ASGI app under uvicorn in a daemon thread on a loopback port; yields its base URL."""

    def __init__(self, app: Any, port: int = 0, path: str = "") -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        config.access_log = False
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.path = path

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}{self.path}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class BackgroundServer(ThreadedServer):
    """Run the stand-in in a thread (for benchmarks and chaos scripts); yields .../v1."""

    def __init__(self, config: Config, port: int = 0) -> None:
        super().__init__(build_app(config), port, "/v1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=Config.latency)
    parser.add_argument("--tps", type=float, default=Config.tps)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--record", action="store_true", help="Keep texts for /requests.")
    args = parser.parse_args()
    config = Config(
        latency=args.latency, tps=args.tps, faults=args.faults, seed=args.seed, record=args.record
    )
    uvicorn.run(build_app(config), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
