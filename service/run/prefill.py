"""``--batch-api``: answer a corpus's uncached model calls through the Batch API, at its price.

``prefill`` runs every (document, kind) task with the gateway in collecting mode: a cache hit
is served as usual, a miss is recorded and aborts that task run (``Deferred``). The collected
requests go to the provider in batches (one per input file within the API's limits); each
answer is checked as the gateway would check it and cached under the request's key. Then the
tasks run again: calls that depend on earlier answers (translation chunk k carries chunk
k-1's English, the summary's reduce needs the map notes, the commitments recall needs the first
pass) now render and miss, so they form the next round. It stops when a round collects nothing
new.

Afterwards the normal run finds every successful answer in the cache. An answer that failed
its checks stays uncached (and its task's later calls unbatched): the normal run calls the
model directly for those, with the gateway's re-asks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from service.artifacts import ArtifactKind
from service.errors import BatchIncomplete, ConfigError, Deferred
from service.llm.batch_api import (
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
from service.store import CallRecord

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
    submitted: int = Field(0, description="Requests sent in new batches (one per cache key).")
    resumed: int = Field(0, description="Requests found in batches an earlier run submitted.")
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
Run = tuple[Document, ArtifactKind]


async def prefill(
    reader: Reader,
    docs: list[Document],
    kinds: list[ArtifactKind],
    *,
    poll_interval_s: float = 30.0,
    max_rounds: int = 50,
    progress: Callable[[str], None] | None = None,
) -> PrefillReport:
    """Fill the cache for these tasks through the Batch API; see the module docstring."""
    gateway = reader.gateway
    check_supported(gateway)
    session = _Session(
        gateway,
        BatchClient(gateway.client, max_retries=gateway.settings.max_retries),
        OpenBatches(gateway.settings.cache_dir / "batch-api"),
        PrefillReport(),
        poll_interval_s,
        progress or (lambda _msg: None),
    )
    runs = [(d, k) for d in docs for k in kinds if reader.stored(d.id, k) is None]
    for number in range(1, max_rounds + 2):
        calls, runs = await collect(reader, runs, session.given_up)
        calls = session.drop_replayed(calls)
        if not calls:
            break
        if number > max_rounds:
            session.report.stopped = f"max_rounds={max_rounds} reached, {len(calls)} calls left"
            break
        session.report.rounds = number
        session.say(f"Batch API round {number}: {len(calls)} request(s)")
        await session.round(calls)
    session.report.waiting = len(runs)
    session.say(session.report.summary())
    return session.report


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


async def _deferred(reader: Reader, doc: Document, kind: ArtifactKind) -> bool:
    """True when the run stopped at an uncached call; False when the cache answered it all."""
    try:
        await reader.run_task(doc, kind)
    except Deferred:
        return True
    return False


class OpenBatches:
    """Submitted batches not yet collected, one small JSON file each under the cache dir.

    A run stopped while a batch runs (Ctrl-C, a dropped session) picks its results up next
    time instead of submitting and paying for the same requests again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def remember(self, batch_id: str, keys: Iterable[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"batch_id": batch_id, "keys": sorted(keys)}
        (self.folder / f"{batch_id}.json").write_text(json.dumps(data))

    def forget(self, batch_id: str) -> None:
        (self.folder / f"{batch_id}.json").unlink(missing_ok=True)

    def covering(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Open batch id -> which of these keys it holds (batches holding none are left out)."""
        wanted = set(keys)
        found: dict[str, set[str]] = {}
        for path in sorted(self.folder.glob("*.json")):
            batch_id, held = self._read(path)
            if held & wanted:
                found[batch_id] = held & wanted
        return found

    @staticmethod
    def _read(path: Path) -> tuple[str, set[str]]:
        try:
            data = json.loads(path.read_text())
            return str(data["batch_id"]), set(data["keys"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{path} is not a batch record written by --batch-api; delete it."
            ) from None


@dataclass
class _Session:
    """One prefill: the clients, the report so far and what not to resubmit."""

    gateway: Gateway
    client: BatchClient
    open: OpenBatches
    report: PrefillReport
    poll_interval_s: float
    say: Say
    given_up: set[str] = field(default_factory=set)  # answered unusably: never resubmitted
    answered: set[str] = field(default_factory=set)  # cached by this prefill

    def drop_replayed(self, calls: dict[str, PendingCall]) -> dict[str, PendingCall]:
        """Calls whose cached batch answer the gateway rejected on replay are not resubmitted.

        Cannot happen while our check and the gateway's agree; without this guard a
        disagreement would resubmit (and pay for) the same request every round.
        """
        for key in calls.keys() & self.answered:
            reason = "the cached batch answer did not validate when the task replayed it"
            _Results(self.gateway, self.report, self.given_up, self.answered).fail(
                calls[key], reason
            )
        return {k: c for k, c in calls.items() if k not in self.answered}

    async def round(self, calls: dict[str, PendingCall]) -> None:
        """Submit the calls (resuming open batches that hold some), wait, cache the answers."""
        resumed = self._resume(calls)
        held = set().union(*resumed.values()) if resumed else set()
        fresh = [c for k, c in calls.items() if k not in held]
        states = [BatchState(batch_id, "in_progress") for batch_id in resumed]
        states += await self._submit(fresh)
        note = _poll_note(self.say)
        waits = [
            self.client.wait(s, poll_interval_s=self.poll_interval_s, on_poll=note) for s in states
        ]
        finals = await asyncio.gather(*waits)
        lines: dict[str, LineResult] = {}
        for state in finals:
            lines.update(await self.client.results(state))
        _Results(self.gateway, self.report, self.given_up, self.answered).take(calls, lines, finals)
        for state in finals:
            self.open.forget(state.id)
        self.say(f"cached {self.report.cached} so far, {len(self.report.failed)} failed")
        _raise_if_incomplete(finals, self.report)

    def _resume(self, calls: dict[str, PendingCall]) -> dict[str, set[str]]:
        """Open batches (from a stopped run) that hold some of these calls."""
        resumed = self.open.covering(calls)
        for batch_id, keys in resumed.items():
            self.say(f"batch {batch_id}: resuming, it holds {len(keys)} of these requests")
            self.report.resumed += len(keys)
            self.report.batches.append(batch_id)
        return resumed

    async def _submit(self, calls: list[PendingCall]) -> list[BatchState]:
        """One batch per file; each remembered until its results are in."""
        states = []
        for jsonl, keys in split_lines([request_line(c) for c in calls]):
            state = await self.client.submit(jsonl)
            self.open.remember(state.id, keys)
            self.say(f"batch {state.id}: {state.status} ({len(keys)} requests)")
            states.append(state)
        self.report.submitted += len(calls)
        self.report.batches += [s.id for s in states]
        return states


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
    answered: set[str]

    def take(
        self, calls: dict[str, PendingCall], lines: dict[str, LineResult], states: list[BatchState]
    ) -> None:
        bad = [f"batch {s.id} {s.status}" for s in states if s.status != "completed"]
        unfinished = "; ".join(bad)
        missing = unfinished or "no result line in the batch output"
        for key, call in calls.items():
            line = lines.get(key)
            if line is None:
                self.fail(call, missing)
            elif line.body is None:
                self.fail(call, line.error or "no response body")
            else:
                self._answer(call, line.body)

    def _answer(self, call: PendingCall, body: dict[str, object]) -> None:
        answer, problem = read_answer(call, dict(body))
        profile = self.gateway.profile
        direct = profile.cost(answer.prompt_tokens, answer.completion_tokens)
        record = self._record(call, BATCH_OUTCOME if problem is None else problem.code)
        record.tokens_in, record.tokens_out = answer.prompt_tokens, answer.completion_tokens
        record.cached_tokens = answer.cached_tokens
        record.cost_usd = direct * (1 - profile.batch_discount)
        self.report.tokens_in += record.tokens_in
        self.report.tokens_out += record.tokens_out
        self.report.direct_cost_usd += direct
        self.report.cost_usd += record.cost_usd
        if problem is not None:
            self.gateway.store.record_call(record)
            self.fail(call, problem.message, ledger=False)
            return
        self.gateway.store.save_answer(record, answer.text)
        self.answered.add(call.key)
        self.report.cached += 1

    def fail(self, call: PendingCall, reason: str, *, ledger: bool = True) -> None:
        if ledger:
            self.gateway.store.record_call(self._record(call, "batch_failed"))
        self.given_up.add(call.key)
        self.report.failed.append(PrefillFailure(key=call.key, task=call.task, reason=reason))

    def _record(self, call: PendingCall, outcome: str) -> CallRecord:
        """The ledger record of a call answered (or not) by the Batch API: one attempt."""
        return CallRecord(
            cache_key=call.key,
            task=call.task,
            prompt_id=call.prompt_id,
            prompt_version=call.prompt_version,
            model=self.gateway.model,
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
