"""``policy-reader relay``: one door to the model endpoint for every worker process.

Workers with READER_RELAY_URL send their model requests here instead of to the endpoint. The
relay forwards them and

- makes each distinct chat completion once: a request identical (byte for byte, once its JSON
  is put in canonical form) to one in flight waits for it, and one answered in the last
  ``keep_s`` seconds is answered again from memory;
- finishes a request whose client has gone (a worker killed -9, a client that timed out) and
  keeps its answer, so the worker that takes the job over is answered without a second paid
  call: the window between an answer's arrival and its commit to the call cache, which no
  process of a worker can close for itself, is the relay's to cover;
- holds the one limit on requests in flight across all workers (READER_CONCURRENCY, capped by
  the model profile), in memory instead of in the database, with the gateway's timeout for
  the profile.

Only a 200 answer whose body is a JSON chat completion is kept; 429s, 5xx, timeouts and
anything unreadable pass through as the endpoint sent them and are asked again next time
(nothing was paid, or the gateway's retries want a new try). Every prompt of ours is sent at
temperature 0, so an answer kept is the answer asking again would give. Other paths (the
Batch API's files and batches) are forwarded as they are, never kept.

What the relay keeps is in memory: a relay killed -9 loses its in-flight and kept answers (the
workers' call cache keeps everything they committed). Run one relay for all the workers that
share a limit; it is a single process by design (the limit and the waiting are in memory).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.config import Settings
from service.llm.endpoint import Endpoint, api_key, resolve_endpoint
from service.llm.gateway import concurrency, request_timeout
from service.llm.profiles import resolve_profile

log = logging.getLogger("service.relay")

CHAT = "chat/completions"
KEEP_S = 3600.0  # how long an answer is kept for a client that asks again
KEEP_BYTES = 256 * 1024 * 1024  # most answer bytes kept; the oldest go first
PASSED_HEADERS = ("content-type", "retry-after", "x-request-id")


@dataclass(frozen=True)
class Reply:
    """What the endpoint answered, as the client is to get it."""

    status: int
    body: bytes
    headers: dict[str, str]

    def response(self) -> Response:
        return Response(self.body, self.status, headers=self.headers)


class Relay:
    """Forwards requests to ``base_url`` under one limit; chat completions once each."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        limit: int,
        timeout_s: float,
        keep_s: float = KEEP_S,
        keep_bytes: int = KEEP_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.limit, self.timeout_s = limit, timeout_s
        self.keep_s, self.keep_bytes = keep_s, keep_bytes
        self._clock = clock
        self._slots = asyncio.Semaphore(limit)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=limit * 2, max_keepalive_connections=limit),
        )
        self._inflight: dict[str, asyncio.Task[Reply]] = {}
        self._kept: OrderedDict[str, tuple[float, Reply]] = OrderedDict()
        self._kept_bytes = 0
        # forwarded (sent to the endpoint), joined (waited for an identical request in
        # flight), kept (answered from memory), passed (other paths, forwarded as they are)
        self.stats: Counter[str] = Counter()

    async def aclose(self) -> None:
        running = list(self._inflight.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self._client.aclose()

    def authorised(self, request: Request) -> bool:
        """The client's bearer key is the relay's own (the workers and the relay share it)."""
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {self.key}".encode())

    async def chat(self, raw: bytes) -> Reply:
        """One chat completion: from memory, from the identical request in flight, or sent."""
        try:
            key = request_key(raw)
        except ValueError:
            return _error(400, "invalid_request_error", "The request body is not JSON.")
        kept = self._kept_reply(key)
        if kept is not None:
            self.stats["kept"] += 1
            return kept
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._forward(key, raw))
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        else:
            self.stats["joined"] += 1
        # Shielded: a client that disconnects or times out cancels its wait, not the request.
        return await asyncio.shield(running)

    async def _forward(self, key: str, raw: bytes) -> Reply:
        reply = await self.send("POST", CHAT, raw, {"content-type": "application/json"})
        self.stats["forwarded"] += 1
        if reply.status == 200 and _is_completion(reply.body):
            self._keep(key, reply)
        return reply

    async def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        """One request to the endpoint under the limit; transport failures become the 502 or
        504 a proxy would answer (the client's retries treat them as a 5xx)."""
        headers = {**headers, "authorization": f"Bearer {self.key}"}
        async with self._slots:
            try:
                resp = await self._client.request(
                    method, f"{self.base_url}/{path}", content=body, headers=headers
                )
            except httpx.TimeoutException:
                return _error(504, "timeout", "The model endpoint did not answer in time.")
            except httpx.TransportError as exc:
                return _error(502, "bad_gateway", f"The model endpoint is unreachable: {exc}")
        passed = {k: v for k, v in resp.headers.items() if k in PASSED_HEADERS}
        return Reply(resp.status_code, resp.content, passed)

    def _kept_reply(self, key: str) -> Reply | None:
        self._expire()
        entry = self._kept.get(key)
        return entry[1] if entry is not None else None

    def _keep(self, key: str, reply: Reply) -> None:
        if len(reply.body) > self.keep_bytes:
            return
        self._kept[key] = (self._clock(), reply)
        self._kept_bytes += len(reply.body)
        self._expire()

    def _expire(self) -> None:
        """Drop answers older than keep_s, then the oldest while over keep_bytes."""
        now = self._clock()
        while self._kept:
            at, reply = next(iter(self._kept.values()))
            if now - at < self.keep_s and self._kept_bytes <= self.keep_bytes:
                return
            self._kept.popitem(last=False)
            self._kept_bytes -= len(reply.body)

    def snapshot(self) -> dict[str, float]:
        return {
            **self.stats,
            "in_flight": len(self._inflight),
            "kept_answers": len(self._kept),
            "kept_bytes": self._kept_bytes,
            "limit": self.limit,
            "timeout_s": self.timeout_s,
        }


def request_key(raw: bytes) -> str:
    """sha256 of the request's JSON in canonical form (sorted keys, no spaces)."""
    body = json.loads(raw)
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _is_completion(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("choices"), list)


def _error(status: int, code: str, message: str) -> Reply:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return Reply(status, json.dumps(body).encode(), {"content-type": "application/json"})


def create_relay(settings: Settings, *, endpoint: Endpoint | None = None) -> Starlette:
    """The relay's ASGI app: /v1/… forwarded to the configured endpoint (remote, or the
    embedded server, started with the relay), /healthz, and /relay/stats."""
    relay: Relay | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal relay
        # The relay's own requests go to the endpoint, never to a relay (itself).
        upstream = settings.model_copy(update={"relay_url": None})
        target = endpoint
        if target is None:
            target = await asyncio.to_thread(resolve_endpoint, upstream)
        await target.ready()
        profile = resolve_profile(target.profile_name, target.model)
        # The gateway's own limit and timeout for this endpoint (the embedded model's profile
        # allows a slow CPU minutes per request; a shorter relay timeout would cut them off).
        limit, timeout = concurrency(settings, profile), request_timeout(settings, profile)
        relay = Relay(target.base_url, api_key(settings), limit=limit, timeout_s=timeout)
        log.info("relay to %s, %d in flight at most", target.base_url, limit)
        try:
            yield
        finally:
            await relay.aclose()
            if endpoint is None:
                await asyncio.to_thread(target.close)

    def current() -> Relay:
        assert relay is not None, "the relay is used before its lifespan started"
        return relay

    async def forward(request: Request) -> Response:
        r = current()
        if not r.authorised(request):
            return _error(401, "invalid_api_key", "The relay's key was not sent.").response()
        path = request.path_params["path"]
        body = await request.body()
        if request.method == "POST" and path == CHAT:
            return (await r.chat(body)).response()
        r.stats["passed"] += 1
        query = request.url.query
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        reply = await r.send(request.method, path + (f"?{query}" if query else ""), body, headers)
        return reply.response()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(_: Request) -> Response:
        return JSONResponse(current().snapshot())

    methods = ["GET", "POST", "DELETE"]
    routes = [
        Route("/healthz", healthz),
        Route("/relay/stats", stats),
        Route("/v1/{path:path}", forward, methods=methods),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
