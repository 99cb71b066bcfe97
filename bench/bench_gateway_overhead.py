"""Where a cache miss spends its time inside Gateway.generate (no network, one at a time).

Run: PYTHONPATH=. python bench/bench_gateway_overhead.py [--n 300]

The endpoint is respx-mocked and answers at once, so every millisecond measured is our own
client: render + key, the cache lookup, the OpenAI SDK building and parsing the request, the
cache write and the ledger write. Each of those is wrapped with a timer; the shares show
what bounds throughput when many calls are in flight on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import respx

from bench.bench_cache import chat_body
from bench.bench_throughput import BENCH_CATALOG, PROMPT, bench_settings
from bench.common import emit, synthetic_docs

SPENT: dict[str, list[float]] = defaultdict(list)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name].append((time.perf_counter() - t0) * 1000)

    return wrapper


def atimed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            SPENT[name].append((time.perf_counter() - t0) * 1000)

    return wrapper


async def run(n: int, root: Path) -> list[float]:
    from service.llm.gateway import Gateway
    from service.store import Store

    (root / "prompts" / "bench_throughput").mkdir(parents=True)
    (root / "prompts" / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
    settings = bench_settings("http://llm.bench/v1", root, 4, prompts_dir=root / "prompts")
    store = Store(settings.db_url)
    gw = Gateway(settings, store, http_client=httpx.AsyncClient(), catalog=BENCH_CATALOG)
    store.get_cached = timed("store.get_cached", store.get_cached)  # type: ignore[method-assign]
    store.put_cached = timed("store.put_cached", store.put_cached)  # type: ignore[method-assign]
    store.record_call = timed("store.record_call", store.record_call)  # type: ignore[method-assign]
    gw._create = atimed("sdk request+parse", gw._create)  # type: ignore[method-assign]
    gw._build = timed("render+key", gw._build)  # type: ignore[method-assign]
    docs = synthetic_docs(n)
    total = []
    with respx.mock:
        respx.post("http://llm.bench/v1/chat/completions").respond(json=chat_body())
        await gw.generate("bench_throughput", {"text": "warm-up"})
        SPENT.clear()
        for doc in docs:
            t0 = time.perf_counter()
            await gw.generate("bench_throughput", {"text": doc})
            total.append((time.perf_counter() - t0) * 1000)
    await gw.aclose()
    store.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        total = asyncio.run(run(n, Path(tmp)))
    median = statistics.median(total)
    parts = {name: round(statistics.median(ms), 2) for name, ms in SPENT.items()}
    emit(
        "gateway-overhead",
        {
            "misses": n,
            "median_ms_per_miss": round(median, 2),
            "median_ms_by_part": parts,
            "unaccounted_ms": round(median - sum(parts.values()), 2),
            "max_misses_per_s_one_loop": round(1000 / median, 1),
        },
    )


if __name__ == "__main__":
    main()
