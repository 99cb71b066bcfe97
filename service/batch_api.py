"""``--batch-api``: answer a corpus's uncached model calls through the Batch API, at its price.

``prefill`` runs every (document, kind) task with the gateway in collecting mode: a cache hit
is served as usual, a miss is recorded and aborts that task run (``Deferred``). The collected
requests go to the provider as one batch per endpoint; each answer is checked as the gateway
would check it and cached under the request's key. Then the tasks run again: calls that
depend on earlier answers (translation chunk k carries chunk k-1's English, the summary's
reduce needs the map notes, the commitments recall needs the first pass) now render and miss,
so they form the next round. It stops when a round collects nothing new.

Afterwards the normal run finds every successful answer in the cache. An answer that failed
its checks stays uncached (and its task's later calls unbatched): the normal run calls the
model directly for those, with the gateway's re-asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from service.artifacts import Kind
from service.errors import BatchIncomplete, ConfigError, Deferred
from service.llm.batch import (
    ENDPOINTS,
    BatchClient,
    BatchState,
    LineResult,
    read_answer,
    request_line,
    split_lines,
)
from service.llm.gateway import Gateway, PendingCall
from service.models import Document
from service.reader import Reader

# Profiles of servers without a Batch API (llama.cpp, Ollama, vLLM's OpenAI server).
NO_BATCH_API = ("ollama", "vllm")
BATCH_OUTCOME = "batch"  # ledger outcome of a call answered through the Batch API


class PrefillFailure(BaseModel):
    """A request the batch did not answer usably; the direct run will call it."""

    key: str
    task: str
    reason: str


class PrefillReport(BaseModel):
    rounds: int = 0
    batches: list[str] = Field(default_factory=list, description="Batch ids, in order.")
    submitted: int = Field(0, description="Requests sent in batches (deduplicated by key).")
    cached: int = Field(0, description="Answers that passed the checks and were cached.")
    failed: list[PrefillFailure] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = Field(0.0, description="Estimated, at the profile's batch price.")
    direct_cost_usd: float = Field(0.0, description="The same tokens at the direct price.")
    waiting: int = Field(
        0, description="Task runs left incomplete (behind a failed request or max_rounds)."
    )
    stopped: str | None = Field(None, description="Why rounds stopped early, if they did.")

    def summary(self) -> str:
        saved = self.direct_cost_usd - self.cost_usd
        return (
            f"Batch API: {self.rounds} round(s), {self.submitted} requests, {self.cached} cached, "
            f"{len(self.failed)} failed; {self.tokens_in}+{self.tokens_out} tokens, "
            f"~${self.cost_usd:.4f} (direct ~${self.direct_cost_usd:.4f}, saved ~${saved:.4f})"
        )


Say = Callable[[str], None]
Run = tuple[Document, Kind]


async def prefill(
    reader: Reader,
    docs: list[Document],
    kinds: list[Kind],
    *,
    poll_interval_s: float = 30.0,
    max_rounds: int = 50,
    progress: Callable[[str], None] | None = None,
) -> PrefillReport:
    """Fill the cache for these tasks through the Batch API; see the module docstring."""
    gateway = reader.gateway
    check_supported(gateway)
    say: Say = progress or (lambda _msg: None)
    report = PrefillReport()
    client = BatchClient(gateway.client, max_retries=gateway.settings.max_retries)
    runs = [(d, k) for d in docs for k in kinds if reader.stored(d.id, k) is None]
    given_up: set[str] = set()  # keys the batch answered unusably: never resubmitted
    for number in range(1, max_rounds + 1):
        calls, runs = await collect(reader, runs, given_up)
        if not calls:
            break
        report.rounds = number
        say(f"Batch API round {number}: {len(calls)} request(s) to submit")
        await _round(gateway, client, calls, report, given_up, poll_interval_s, say)
    else:
        if runs:
            report.stopped = f"stopped after max_rounds={max_rounds}"
    report.waiting = len(runs)
    say(report.summary())
    return report


def check_supported(gateway: Gateway) -> None:
    """Refuse endpoints known to have no Batch API, before any work."""
    profile = gateway.profile
    if profile.name.startswith("local-") or gateway.settings.uses_local_model:
        raise ConfigError(
            "--batch-api needs an endpoint with the OpenAI Batch API; the embedded local model "
            "has none. Set OPENAI_BASE_URL/OPENAI_API_KEY/READER_MODEL, or run without it."
        )
    if profile.name in NO_BATCH_API:
        raise ConfigError(
            f"--batch-api needs an endpoint with the OpenAI Batch API; {profile.name} servers "
            "have none. Run without --batch-api."
        )


async def collect(
    reader: Reader, runs: list[Run], skip: set[str]
) -> tuple[dict[str, PendingCall], list[Run]]:
    """Run the tasks in collecting mode: the new misses by key, and the runs that deferred."""
    found: dict[str, PendingCall] = {}

    def keep(call: PendingCall) -> None:
        if call.key not in skip:
            found.setdefault(call.key, call)  # identical requests are submitted once

    reader.gateway.collector = keep
    try:
        # Every run finishes before the collector is unset: none may reach the model directly.
        outcomes = await asyncio.gather(
            *(_deferred(reader, doc, kind) for doc, kind in runs), return_exceptions=True
        )
    finally:
        reader.gateway.collector = None
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return found, [run for run, waits in zip(runs, outcomes, strict=True) if waits]


async def _deferred(reader: Reader, doc: Document, kind: Kind) -> bool:
    """True when the run stopped at an uncached call; False when the cache answered it all."""
    try:
        await reader.run_task(doc, kind)
    except Deferred:
        return True
    return False


async def _round(
    gateway: Gateway,
    client: BatchClient,
    calls: dict[str, PendingCall],
    report: PrefillReport,
    given_up: set[str],
    poll_interval_s: float,
    say: Say,
) -> None:
    """Submit one round's calls (a batch per endpoint and file), wait, cache the answers."""
    by_mode: dict[str, list[PendingCall]] = {}
    for call in calls.values():
        by_mode.setdefault(call.mode, []).append(call)
    files = [
        (ENDPOINTS[mode], jsonl)
        for mode, group in by_mode.items()
        for jsonl in split_lines([request_line(c) for c in group])
    ]
    states = [await client.submit(endpoint, jsonl) for endpoint, jsonl in files]
    report.submitted += len(calls)
    report.batches += [s.id for s in states]
    for s in states:
        say(f"batch {s.id}: {s.status} ({s.total or '?'} requests)")
    finals = await asyncio.gather(
        *(client.wait(s, poll_interval_s=poll_interval_s, on_poll=_poll_note(say)) for s in states)
    )
    lines: dict[str, LineResult] = {}
    for state in finals:
        lines.update(await client.results(state))
    _Results(gateway, report, given_up).take(calls, lines, finals)
    say(f"cached {report.cached} of {report.submitted} so far, {len(report.failed)} failed")
    _raise_if_incomplete(finals, report)


def _poll_note(say: Say) -> Callable[[BatchState], None]:
    """A progress line when a batch's status or count changes (polls can run for hours)."""
    last: dict[str, tuple[str, int]] = {}

    def note(s: BatchState) -> None:
        now = (s.status, s.completed + s.failed)
        if last.get(s.id) != now:
            last[s.id] = now
            say(f"batch {s.id}: {s.status} {now[1]}/{s.total}")

    return note


@dataclass
class _Results:
    """Cache the usable answers, record the rest, count tokens and money."""

    gateway: Gateway
    report: PrefillReport
    given_up: set[str]

    def take(
        self, calls: dict[str, PendingCall], lines: dict[str, LineResult], states: list[BatchState]
    ) -> None:
        bad = [f"batch {s.id} {s.status}" for s in states if s.status != "completed"]
        unfinished = "; ".join(bad)
        missing = unfinished or "no result line in the batch output"
        for key, call in calls.items():
            line = lines.get(key)
            if line is None:
                self._fail(call, missing)
            elif line.body is None:
                self._fail(call, line.error or "no response body")
            else:
                self._answer(call, line.body)

    def _answer(self, call: PendingCall, body: dict[str, object]) -> None:
        answer = read_answer(call, dict(body))
        profile = self.gateway.profile
        direct = profile.cost(answer.tokens_in, answer.tokens_out)
        cost = direct * (1 - profile.batch_discount)
        self.report.tokens_in += answer.tokens_in
        self.report.tokens_out += answer.tokens_out
        self.report.direct_cost_usd += direct
        self.report.cost_usd += cost
        outcome = BATCH_OUTCOME if answer.problem is None else answer.problem.code
        self._ledger(call, outcome, answer.tokens_in, answer.tokens_out, cost)
        if answer.problem is not None:
            self._fail(call, answer.problem.message, ledger=False)
            return
        self.gateway.store.put_cached(
            key=call.key,
            task=call.task,
            prompt_id=call.prompt_id,
            prompt_version=call.prompt_version,
            model=self.gateway.model,
            response=answer.text,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            cost_usd=cost,
        )
        self.report.cached += 1

    def _fail(self, call: PendingCall, reason: str, *, ledger: bool = True) -> None:
        if ledger:
            self._ledger(call, "batch_failed", 0, 0, 0.0)
        self.given_up.add(call.key)
        self.report.failed.append(PrefillFailure(key=call.key, task=call.task, reason=reason))

    def _ledger(
        self, call: PendingCall, outcome: str, tokens_in: int, tokens_out: int, cost: float
    ) -> None:
        self.gateway.store.record_call(
            cache_key=call.key,
            task=call.task,
            prompt_id=call.prompt_id,
            prompt_version=call.prompt_version,
            model=self.gateway.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost,
            attempts=1,
            outcome=outcome,
        )


def _raise_if_incomplete(states: list[BatchState], report: PrefillReport) -> None:
    """A failed, expired or cancelled batch stops the prefill with what it did say."""
    bad = [s for s in states if s.status != "completed"]
    if not bad:
        return
    report.stopped = "; ".join(_describe(s) for s in bad)
    raise BatchIncomplete(
        f"{report.stopped}. {report.cached} answer(s) were cached; run again with --batch-api "
        "to resubmit the rest, or without it to call the model directly.",
        detail=report.model_dump(mode="json"),
    )


def _describe(state: BatchState) -> str:
    errors = f": {'; '.join(state.errors[:3])}" if state.errors else ""
    counts = f" with {state.completed} of {state.total} requests answered" if state.total else ""
    return f"Batch {state.id} {state.status}{counts}{errors}"
