"""The LLM gateway: one door to any OpenAI-compatible endpoint, with cache, retries and records.

``Gateway.generate`` renders a versioned prompt, looks the canonical request up in the cache,
and on a miss calls the endpoint under a shared concurrency bound with our own retries
(``retry.with_retries``; the SDK's are off so that backoff, Retry-After and the attempt count
are ours), checks the answer (``answers.Answer``), re-asks or grows the budget, and records the
call (``CallRecord``, one ledger row).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import httpx
import openai
from openai import RequestOptions
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from service.config import Settings
from service.errors import (
    ConfigError,
    Deferred,
    ModelError,
    ModelInvalidOutput,
    ModelTruncated,
    ServiceError,
)
from service.llm.answers import Answer
from service.llm.endpoint import api_key, configured_url
from service.llm.profiles import Profile, configured, resolve_profile
from service.llm.prompts import PromptCatalog, PromptRegistry, PromptTemplate, load_prompts
from service.llm.retry import Sleep, with_retries
from service.llm.slots import PromptSlots
from service.llm.structured import parse_output, schema_json, strict_schema
from service.store import CallRecord as CallRecord  # what CallResult.record holds
from service.store import Store

log = logging.getLogger(__name__)

MAX_REASKS = 2
PASSED_PARAMS = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")


@dataclass
class CallResult:
    """What ``generate`` returns; ``record`` (also written to the ``calls`` ledger) says what
    the call did and used."""

    text: str
    parsed: BaseModel | None
    record: CallRecord


@dataclass
class _Request:
    """A fully rendered request: what gets hashed, sent, and re-asked."""

    template: PromptTemplate
    schema: type[BaseModel] | None
    body: dict[str, Any]  # messages + generation params (what the key covers)
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # response_format (from the schema)


@dataclass(frozen=True)
class PendingCall:
    """A cache miss collected instead of sent (Batch API prefill, ``service/run/prefill.py``)."""

    key: str
    task: str
    prompt_id: str
    prompt_version: str
    body: dict[str, Any]  # the JSON the endpoint would receive: model, messages, params, format
    schema: type[BaseModel] | None
    # The caller's context at the miss: schema validators may read context variables, so an
    # answer is validated inside it, as _miss would.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


Collector = Callable[[PendingCall], None]


class Gateway:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        http_client: httpx.AsyncClient | None = None,
        registry: PromptRegistry | None = None,
        catalog: PromptCatalog | None = None,
        sleep: Sleep = asyncio.sleep,
        base_url: str | None = None,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.model, profile_name = configured(
            settings.model, settings.profile, local=settings.uses_local_model
        )
        if not self.model:
            raise ConfigError("OPENAI_BASE_URL/OPENAI_API_KEY are set but READER_MODEL is not.")
        self.profile: Profile = resolve_profile(profile_name, self.model)
        self.registry = registry or _load_registry(settings, self.profile, catalog)
        self._sleep = sleep
        self._slots = PromptSlots(concurrency(settings, self.profile))
        # Set by a queue worker: one limit across every worker process (service/queue/slots.py),
        # held inside this process's own slots.
        self.shared_hold: Callable[[], AbstractAsyncContextManager[None]] | None = None
        # Also set by a queue worker: held around a miss, so that one call is made once across
        # processes (``_inflight`` dedups within this one); see ``_miss_once``.
        self.key_lock: Callable[[str], AbstractAsyncContextManager[None]] | None = None
        # Awaited before the first request (starts the local server); a failure is kept and
        # raised for every later request instead of starting again.
        self._ready = ready
        self._ready_lock = asyncio.Lock()
        self._ready_error: ServiceError | None = None
        self._inflight: dict[str, asyncio.Task[CallResult]] = {}
        self._no_endpoint: ConfigError | None = None
        # When set, a miss is handed to the collector and raises Deferred instead of calling.
        self.collector: Collector | None = None
        try:
            url = base_url or configured_url(settings)
        except ConfigError as exc:
            # Cache hits still work without an endpoint; a miss raises this error (see _send).
            url, self._no_endpoint = "http://127.0.0.1:9/v1", exc
        timeout = request_timeout(settings, self.profile)
        self._client = openai.AsyncOpenAI(
            base_url=url,
            api_key=api_key(settings),
            # The SDK types httpx2 but accepts a legacy httpx client at run time (it checks);
            # respx intercepts only the latter.
            http_client=cast(Any, http_client or _http_client(settings, timeout)),
            max_retries=0,
            timeout=timeout,
        )

    async def aclose(self) -> None:
        """Cancel calls still in flight (shielded from their callers, who are gone by now: a
        Ctrl-C or SIGTERM), then close the HTTP client they would have used."""
        running = list(self._inflight.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self._client.close()

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client (retries off), for endpoint features beyond generate: Batch API."""
        return self._client

    async def generate(
        self,
        task: str,
        variables: Mapping[str, object],
        *,
        schema: type[BaseModel] | None = None,
        version: str | None = None,
        max_tokens: int | None = None,
    ) -> CallResult:
        """Render the task's prompt, answer from cache or the endpoint, validate, record."""
        started = time.perf_counter()
        req = self._build(task, variables, schema, version, max_tokens)
        hit = self._from_cache(req, started)
        if hit is not None:
            return hit
        running = self._inflight.get(req.key)
        if running is not None:
            # Another task is making this exact call: wait for it instead of paying twice.
            return self._shared(await asyncio.shield(running), started)
        if self.collector is not None:
            self.collector(self._pending(req))
            raise Deferred(f"{req.template.task}: call deferred to the Batch API")
        running = asyncio.ensure_future(self._miss_once(req, started))
        self._inflight[req.key] = running
        running.add_done_callback(lambda _: self._inflight.pop(req.key, None))
        return await asyncio.shield(running)

    # --- building the request ---------------------------------------------------------------

    def _build(
        self,
        task: str,
        variables: Mapping[str, object],
        schema: type[BaseModel] | None,
        version: str | None,
        max_tokens: int | None,
    ) -> _Request:
        tpl = self.registry.get(task, self.profile.mode, version)
        declared = self.registry.schema_for(tpl)
        if schema is not None and declared is not None and schema is not declared:
            raise ConfigError(
                f"{tpl.path} declares schema {tpl.schema!r} ({declared.__name__}) but the "
                f"caller passed {schema.__name__}; make them agree."
            )
        schema = schema or declared
        params = {k: tpl.params[k] for k in PASSED_PARAMS if k in tpl.params}
        extra = {k: tpl.params[k] for k in self.profile.extra_params if k in tpl.params}
        if extra:  # hashed with the request
            params["extra_body"] = extra
        params["max_tokens"] = int(
            max_tokens or tpl.params.get("max_tokens") or self.profile.max_output_tokens
        )
        msgs = [{"role": m.role, "content": m.content} for m in tpl.render_messages(variables)]
        body: dict[str, Any] = {"messages": msgs, **params}
        req = _Request(tpl, schema, body, extra=self._structured(schema))
        req.key = cache_key(self.model, self.profile.mode, body, schema)
        return req

    def _pending(self, req: _Request) -> PendingCall:
        body = json.loads(json.dumps({"model": self.model, **req.body, **req.extra}))
        t = req.template
        ctx = contextvars.copy_context()
        return PendingCall(req.key, t.task, t.id, t.version, body, req.schema, ctx)

    def _structured(self, schema: type[BaseModel] | None) -> dict[str, Any]:
        """response_format for this profile; empty for free text."""
        if schema is None:
            return {}
        if self.profile.structured == "json_schema":
            spec = {"name": schema.__name__, "schema": strict_schema(schema), "strict": True}
            return {"response_format": {"type": "json_schema", "json_schema": spec}}
        return {"response_format": {"type": "json_object"}}

    # --- cache ------------------------------------------------------------------------------

    def _from_cache(self, req: _Request, started: float) -> CallResult | None:
        entry = self.store.get_cached(req.key)
        if entry is None:
            return None
        try:
            parsed = parse_output(entry.response, req.schema) if req.schema else None
        except ValueError:
            # Cannot happen for entries we wrote (the key covers the schema); treat as a miss.
            log.warning("cached output %s no longer validates; calling the model", req.key[:12])
            return None
        rec = self._record(req, outcome="hit")
        rec.tokens_in, rec.tokens_out, rec.cost_usd = (
            entry.tokens_in,
            entry.tokens_out,
            entry.cost_usd,
        )
        return self._finish(CallResult(entry.response, parsed, rec), started)

    def _shared(self, result: CallResult, started: float) -> CallResult:
        shared = result.record.model_copy(update={"outcome": "hit", "attempts": 0})
        return self._finish(CallResult(result.text, result.parsed, shared), started)

    def _record(self, req: _Request, *, outcome: str) -> CallRecord:
        t = req.template
        return CallRecord(
            cache_key=req.key,
            task=t.task,
            prompt_id=t.id,
            prompt_version=t.version,
            model=self.model,
            outcome=outcome,
        )

    def _finish(self, result: CallResult, started: float) -> CallResult:
        result.record.latency_ms = (time.perf_counter() - started) * 1000
        if self.collector is None:  # a collecting replay of cached calls is not a use
            self._ledger(result.record)
        return result

    def _ledger(self, record: CallRecord) -> None:
        self.store.record_call(record)

    # --- miss: call, check, re-ask, store ----------------------------------------------------

    async def _miss_once(self, req: _Request, started: float) -> CallResult:
        """The miss; with a key lock, another process making this very call is waited for,
        and its answer then comes from the cache."""
        if self.key_lock is None:
            return await self._miss(req, started)
        async with self.key_lock(req.key):
            hit = self._from_cache(req, started)
            return hit if hit is not None else await self._miss(req, started)

    async def _miss(self, req: _Request, started: float) -> CallResult:
        rec = self._record(req, outcome="ok")
        try:
            text, parsed = await self._answer(req, rec, started)
        except ServiceError as exc:
            rec.outcome = exc.code
            rec.latency_ms = (time.perf_counter() - started) * 1000
            self._ledger(rec)
            exc.call_record = rec
            raise
        return CallResult(text, parsed, rec)  # recorded with its answer (_store)

    async def _answer(
        self, req: _Request, rec: CallRecord, started: float
    ) -> tuple[str, BaseModel | None]:
        """Loop to a usable answer: one bigger budget on truncation, two re-asks on bad output.
        The usable answer is cached before its request slots are let go: letting a slot go
        waits on the queue's database, and other jobs run meanwhile, all while a worker killed
        -9 would lose an answer already paid for (docs/BENCHMARKS.md, the queue under chaos)."""
        body = json.loads(json.dumps(req.body))  # our own copy to extend with re-asks
        grown, reasks = False, 0
        while True:
            async with AsyncExitStack() as held:
                answer = await self._send(req, body, rec, held)
                try:
                    answer.check(req.template.task, body["max_tokens"])
                except ModelTruncated:
                    fail = grown or req.template.on_truncation == "fail"
                    if fail or not self._grow_budget(body, answer.prompt_tokens):
                        raise
                    grown = True
                    continue
                try:
                    parsed = answer.parse(req.schema) if req.schema is not None else None
                except ValueError as exc:
                    if reasks >= MAX_REASKS:
                        raise ModelInvalidOutput(
                            f"{req.template.task}: output still invalid after "
                            f"{MAX_REASKS} re-asks: {exc}"
                        ) from None
                    reasks += 1
                    _append_correction(body, answer.text, str(exc))
                    continue
                self._store(rec, answer.text, started)
                return answer.text, parsed

    def _store(self, rec: CallRecord, text: str, started: float) -> None:
        """The answer in the cache and the call in the ledger, one commit."""
        rec.cost_usd = self.profile.cost(rec.tokens_in, rec.tokens_out)
        rec.latency_ms = (time.perf_counter() - started) * 1000
        self.store.save_answer(rec, text)

    def _grow_budget(self, body: dict[str, Any], prompt_tokens: int) -> bool:
        """Double max_tokens within the context window; False when it cannot grow."""
        room = self.profile.context_window - prompt_tokens
        bigger = min(body["max_tokens"] * 2, room)
        if bigger <= body["max_tokens"]:
            return False
        body["max_tokens"] = bigger
        return True

    async def _send(
        self, req: _Request, body: dict[str, Any], rec: CallRecord, held: AsyncExitStack
    ) -> Answer:
        """One logical request, retried on 429/5xx/timeouts/connection errors; the slots of
        the attempt that answered stay held in ``held``."""
        if self._no_endpoint is not None:
            raise self._no_endpoint
        await self.connect()

        def exhausted(last: str) -> str:
            task = req.template.task
            return f"Model endpoint failed {rec.attempts} times for {task}; last: {last}."

        return await with_retries(
            partial(self._attempt, req, body, rec, held),
            max_retries=self.settings.max_retries,
            sleep=self._sleep,
            rejected=_rejected,
            exhausted=exhausted,
        )

    async def _attempt(
        self, req: _Request, body: dict[str, Any], rec: CallRecord, held: AsyncExitStack
    ) -> Answer:
        """One HTTP request, counted in the record with the tokens it used. Its slots are let
        go when it fails (before the retry's wait), else handed to ``held``."""
        rec.attempts += 1
        async with AsyncExitStack() as slots:
            await slots.enter_async_context(
                self._slots.hold(f"{req.template.id}/{req.template.version}")
            )
            if self.shared_hold is not None:
                await slots.enter_async_context(self.shared_hold())
            raw = await self._create({**body, **req.extra})
            held.push_async_exit(slots.pop_all())
        answer = Answer.of(raw)
        rec.tokens_in += answer.prompt_tokens
        rec.tokens_out += answer.completion_tokens
        rec.cached_tokens += answer.cached_tokens
        return answer

    @property
    def start_error(self) -> ServiceError | None:
        """Why the endpoint could not be started (then every call fails with it), else None."""
        return self._ready_error

    async def connect(self) -> None:
        """Make sure the endpoint is up: starts the local server now (the API does this at
        start-up) instead of before the first request. A no-op once done, or for a remote
        endpoint."""
        if self._ready is None and self._ready_error is None:
            return
        async with self._ready_lock:
            if self._ready_error is not None:
                # A copy per request: a call's record is attached to the error it raises, and
                # one shared object would carry another call's record (and every traceback).
                again = copy.copy(self._ready_error)
                again.call_record = None
                raise again.with_traceback(None) from None
            if self._ready is None:  # started while this request waited for the lock
                return
            try:
                await self._ready()
            except ServiceError as exc:
                self._ready_error = exc
                raise
            self._ready = None

    async def _create(self, kwargs: dict[str, Any]) -> ChatCompletion:
        """POST /chat/completions as ``chat.completions.create`` would, minus its transform.

        create() walks every parameter through the SDK's TypedDict transform (aliases, dates,
        files), ~1.4 ms a call and the largest part of its request building in
        bench/bench_gateway_overhead.py; our body is plain JSON already. The SDK still builds
        the request (auth, headers, timeout) and parses the response; extra_body is merged
        into the JSON as create() merges it.
        """
        body = {"model": self.model, **kwargs}
        extra = body.pop("extra_body", None)
        options: RequestOptions = {"security": {"bearer_auth": True}}
        if extra:
            options["extra_json"] = extra
        return await self._client.post(
            "/chat/completions", cast_to=ChatCompletion, body=body, options=options
        )


def cache_key(
    model: str, mode: str, body: Mapping[str, Any], schema: type[BaseModel] | None
) -> str:
    """sha256 of the canonical request: model, mode, rendered prompt, params, schema."""
    canonical = {"model": model, "mode": mode, "request": body, "schema": schema_json(schema)}
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _append_correction(body: dict[str, Any], bad: str, error: str) -> None:
    note = (
        f"That answer is not valid: {error}. "
        "Reply again with only the JSON object, matching the schema exactly."
    )
    body["messages"] += [
        {"role": "assistant", "content": bad},
        {"role": "user", "content": note},
    ]


def _rejected(exc: openai.APIStatusError) -> ServiceError:
    status = exc.status_code
    if status in (401, 403):
        return ConfigError(
            f"The model endpoint refused our credentials (HTTP {status}); check OPENAI_API_KEY."
        )
    return ModelError(f"The model endpoint rejected the request (HTTP {status}): {exc.message}")


def _load_registry(
    settings: Settings, profile: Profile, catalog: PromptCatalog | None
) -> PromptRegistry:
    if catalog is None:
        raise TypeError("Gateway needs a prompt registry or the catalog to load one with.")
    return load_prompts(settings, profile, catalog)


def request_timeout(settings: Settings, profile: Profile) -> float:
    """READER_TIMEOUT_S when set, else the profile's own, else the settings' default."""
    if "timeout_s" in settings.model_fields_set or profile.timeout_s is None:
        return settings.timeout_s
    return profile.timeout_s


def concurrency(settings: Settings, profile: Profile) -> int:
    """Requests in flight at once: READER_CONCURRENCY, capped by what the endpoint serves."""
    if profile.max_concurrency is None:
        return settings.concurrency
    return min(settings.concurrency, profile.max_concurrency)


def _http_client(settings: Settings, timeout: float) -> httpx.AsyncClient:
    n = settings.concurrency
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=n * 2, max_keepalive_connections=n),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
    )
