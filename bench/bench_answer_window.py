"""How long a queue worker holds a paid answer before it is in the call cache.

Run: PYTHONPATH=. python -m bench.bench_answer_window [--docs 60] [--faults 0.2]

A worker killed -9 loses every answer the stand-in has sent it but it has not yet committed
to the call cache; the job's next worker asks for those again, and pays again. This measures
that window, per paid answer, in one process set up as ``policy-reader worker`` sets up its
reader (PostgreSQL store, the shared slots and key locks on the queue's database): N documents
× summary, translation, commitments computed 4 at a time (a worker's default), the stand-in as
in bench/chaos_queue.py (50 ms, 20 % faults, 2 s timeout, 3 retries). The window of an answer
runs from the stand-in's send (its ``x-sent-at`` header) to the end of ``save_answer``; split at
the return of the gateway's HTTP call (``Gateway._create``: read and parsed by the SDK).

``in_window_at_a_random_instant`` = Σ windows / wall time: the expected number of paid answers
in their window when a kill lands at a random moment, i.e. what one kill -9 of this worker is
expected to cost in repaid answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.chaos_queue import KINDS, environment, server_url
from bench.common import ROOT, emit, standin, standin_requests, synthetic_docs
from service.config import Settings
from service.llm.gateway import Gateway
from service.queue.worker import share_calls
from service.reader import Reader
from tests.databases import fresh_database

JOBS_AT_ONCE = 4


class Windows:
    """Per asyncio task (a gateway miss runs in its own): the last answer's send and receipt."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.received: dict[int, float] = {}
        # (send → received, received → committed, of which the cache write itself)
        self.rows: list[tuple[float, float, float]] = []

    async def on_response(self, response: httpx.Response) -> None:
        if "x-sent-at" in response.headers:
            self.sent[_task()] = float(response.headers["x-sent-at"])

    def wrap_create(self, create: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(kwargs: dict[str, Any]) -> Any:
            raw = await create(kwargs)
            self.received[_task()] = time.time()
            return raw

        return timed

    def wrap_put(self, put: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: Any) -> None:
            begun = time.time()
            put(*args)
            done, task = time.time(), _task()
            if task in self.sent:
                got = self.received.pop(task)
                self.rows.append((got - self.sent.pop(task), done - got, done - begun))

        return timed


def _task() -> int:
    return id(asyncio.current_task())


async def measure(settings: Settings, docs: list[str], windows: Windows) -> float:
    limits = httpx.Limits(max_connections=2 * settings.concurrency)
    hooks = {"response": [windows.on_response]}
    client = httpx.AsyncClient(event_hooks=hooks, limits=limits, timeout=2)
    async with Reader.open(settings, http_client=client) as reader, AsyncExitStack() as shared:
        gateway: Gateway = reader.gateway
        await share_calls(gateway, settings.db_url, settings.concurrency, shared)
        gateway._create = windows.wrap_create(gateway._create)  # type: ignore[method-assign]
        store = gateway.store
        store.save_answer = windows.wrap_put(store.save_answer)  # type: ignore[method-assign]
        ids = [reader.library.add_bytes(d.encode(), f"w-{i}.txt")[0].id for i, d in enumerate(docs)]
        jobs = asyncio.Semaphore(JOBS_AT_ONCE)

        async def job(doc_id: str, kind: str) -> None:
            async with jobs:
                await reader.compute(doc_id, kind)  # type: ignore[arg-type]

        t0 = time.perf_counter()
        await asyncio.gather(*(job(d, k) for d in ids for k in KINDS))
        return time.perf_counter() - t0


def summary(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 2)  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(ms[-1], 2)}


def run(n: int, faults: float) -> dict[str, Any]:
    windows = Windows()
    with (
        fresh_database(server_url()) as db,
        standin(latency=0.05, faults=faults, seed=16) as base,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = environment(db, base, Path(tmp) / "cache")
        subprocess.run([sys.executable, "-m", "service.cli", "db", "upgrade"], env=env,
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        settings = Settings(
            database_url=db, openai_base_url=base, openai_api_key="sk-bench", model="gpt-4o-mini",
            cache_dir=Path(tmp) / "cache", concurrency=8, timeout_s=2, max_retries=3,
        )  # fmt: skip
        wall = asyncio.run(measure(settings, synthetic_docs(n), windows))
        paid = standin_requests(base)["paid"]
    whole = [a + b for a, b, _ in windows.rows]
    return {
        "docs": n, "faults": faults, "load_1min": round(os.getloadavg()[0], 2),
        "paid": paid, "measured": len(whole), "wall_s": round(wall, 2),
        "window_ms": summary(whole),
        "send_to_received_ms": summary([r[0] for r in windows.rows]),
        "received_to_committed_ms": summary([r[1] for r in windows.rows]),
        "cache_write_ms": summary([r[2] for r in windows.rows]),
        "in_window_at_a_random_instant": round(sum(whole) / wall, 4),
        "mean_window_ms": round(statistics.fmean(whole) * 1000, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--faults", type=float, default=0.2)
    args = parser.parse_args()
    emit("answer_window", run(args.docs, args.faults))


if __name__ == "__main__":
    main()
