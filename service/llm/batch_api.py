"""The OpenAI Batch API: upload a JSONL of requests, create a batch, poll it, read its lines.

Transport and the per-answer check only (this package is the one openai importer); the rounds,
the cache writes and the report live in ``service/run/prefill.py``. Answers are checked with
the gateway's checks (``service/llm/answers.py``), but nothing is re-asked here: an unusable
answer stays uncached and the direct run re-asks it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

import openai
from openai.types import Batch

from service.errors import ConfigError, ModelError, ModelInvalidOutput, ServiceError
from service.llm.answers import Answer
from service.llm.gateway import PendingCall
from service.llm.retry import Sleep, with_retries

ENDPOINT: Final = "/v1/chat/completions"  # every batch line's, and the batch's
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# OpenAI's limits per batch input file: 50,000 requests and 200 MB; stay under both.
MAX_LINES = 50_000
MAX_BYTES = 190 * 1024 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True)
class BatchState:
    """What we need of a Batch object."""

    id: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    total: int = 0
    errors: tuple[str, ...] = ()  # batch-level errors, e.g. an input line the API rejected

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class LineResult:
    """One output or error-file line: the response body on HTTP 200, else why not."""

    custom_id: str
    body: dict[str, Any] | None
    error: str | None


def request_line(call: PendingCall) -> dict[str, Any]:
    """The JSONL line for one collected call; its cache key is the custom_id."""
    return {"custom_id": call.key, "method": "POST", "url": ENDPOINT, "body": call.body}


def split_lines(lines: list[dict[str, Any]]) -> list[tuple[bytes, list[str]]]:
    """JSONL files that each fit the per-batch limits, with the custom_ids each holds."""
    files: list[tuple[bytes, list[str]]] = []
    current: list[bytes] = []
    ids: list[str] = []
    size = 0
    for line in lines:
        data = json.dumps(line, ensure_ascii=False).encode() + b"\n"
        if current and (len(current) >= MAX_LINES or size + len(data) > MAX_BYTES):
            files.append((b"".join(current), ids))
            current, ids, size = [], [], 0
        current.append(data)
        ids.append(line["custom_id"])
        size += len(data)
    if current:
        files.append((b"".join(current), ids))
    return files


class BatchClient:
    """Batch API calls over the gateway's SDK client, retried like the gateway's calls."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, max_retries: int, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._client = client
        self._max_retries = max_retries
        self._sleep = sleep

    async def submit(self, jsonl: bytes) -> BatchState:
        """Upload one JSONL file and start a batch on it (24 h completion window)."""
        file = await self._call(
            "upload the batch file (POST /files)",
            lambda: self._client.files.create(
                file=("policy-reader-batch.jsonl", jsonl, "application/jsonl"), purpose="batch"
            ),
            first=True,
        )
        batch = await self._call(
            "create the batch (POST /batches)",
            lambda: self._client.batches.create(
                completion_window="24h",
                endpoint=ENDPOINT,
                input_file_id=file.id,
                metadata={"client": "policy-reader"},
            ),
        )
        return batch_state(batch)

    async def wait(
        self,
        state: BatchState,
        *,
        poll_interval_s: float,
        on_poll: Callable[[BatchState], None] | None = None,
    ) -> BatchState:
        """Poll until the batch is completed, failed, expired or cancelled."""
        while not state.done:
            await self._sleep(poll_interval_s)
            batch = await self._call(
                f"poll batch {state.id}", partial(self._client.batches.retrieve, state.id)
            )
            state = batch_state(batch)
            if on_poll is not None:
                on_poll(state)
        return state

    async def results(self, state: BatchState) -> dict[str, LineResult]:
        """Every line of the output and error files, by custom_id."""
        found: dict[str, LineResult] = {}
        for file_id in (state.output_file_id, state.error_file_id):
            if not file_id:
                continue
            content = await self._call(
                f"download batch file {file_id}", partial(self._client.files.content, file_id)
            )
            for raw in content.text.splitlines():
                if raw.strip():
                    line = parse_result_line(raw)
                    found[line.custom_id] = line
        return found

    async def _call(
        self, what: str, send: Callable[[], Awaitable[_T]], *, first: bool = False
    ) -> _T:
        """One Batch API request, retried on 429/5xx/timeouts/connection errors.

        ``first``: the first Batch API request of a round, where a 404 means no Batch API.
        """
        return await with_retries(
            send,
            max_retries=self._max_retries,
            sleep=self._sleep,
            rejected=partial(_rejected, what, first=first),
            exhausted=lambda last: f"Batch API: could not {what}; last: {last}.",
        )


def batch_state(batch: Batch) -> BatchState:
    counts = batch.request_counts
    errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
    return BatchState(
        id=batch.id,
        status=batch.status,
        output_file_id=batch.output_file_id,
        error_file_id=batch.error_file_id,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        total=counts.total if counts else 0,
        errors=tuple(_batch_error(e.line, e.code, e.message) for e in errors),
    )


def _batch_error(line: int | None, code: str | None, message: str | None) -> str:
    where = f"line {line}: " if line is not None else ""
    return f"{where}{message or code or 'unknown error'}"


def parse_result_line(raw: str) -> LineResult:
    """One line of an output or error file: ``{custom_id, response{status_code, body}, error}``."""
    item = json.loads(raw)
    custom_id = str(item.get("custom_id", ""))
    error = item.get("error")
    response = item.get("response") or {}
    body = response.get("body")
    if error:
        return LineResult(custom_id, None, _error_text(error))
    status = response.get("status_code")
    if status != 200 or not isinstance(body, dict):
        inner = body.get("error") if isinstance(body, dict) else None
        detail = _error_text(inner) if inner else "no response body"
        return LineResult(custom_id, None, f"HTTP {status}: {detail}")
    return LineResult(custom_id, body, None)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return f"{code}: {message}" if code and message else str(message or code or error)
    return str(error)


def read_answer(call: PendingCall, body: dict[str, Any]) -> tuple[Answer, ModelError | None]:
    """A batch answer and, when it is unusable, why: the gateway's checks without its re-asks
    or bigger budget. An answer without choices is an empty one (no text, no usage)."""
    try:
        answer = Answer.from_body(body)
    except ModelError as exc:  # a 200 without choices
        return Answer(""), exc
    try:
        answer.check(call.task, call.body.get("max_tokens"))
        if call.schema is not None:
            call.context.run(answer.parse, call.schema)  # validators may read context vars
    except ModelError as exc:
        return answer, exc
    except ValueError as exc:
        return answer, ModelInvalidOutput(f"{call.task}: invalid output: {exc}")
    return answer, None


def _rejected(what: str, exc: openai.APIStatusError, *, first: bool) -> ServiceError:
    status = exc.status_code
    if status in (401, 403):
        return ConfigError(
            f"Batch API: could not {what}: the endpoint refused our credentials "
            f"(HTTP {status}); check OPENAI_API_KEY."
        )
    if first and status in (404, 405, 501):
        return ConfigError(
            f"Batch API: could not {what} (HTTP {status}): this endpoint has no OpenAI Batch "
            "API; run without --batch-api."
        )
    return ModelError(f"Batch API: could not {what} (HTTP {status}): {exc.message}")
