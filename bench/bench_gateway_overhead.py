"""Where a cache miss spends its time inside Gateway.generate (no network, one at a time).

Run: PYTHONPATH=. python bench/bench_gateway_overhead.py [--n 300] [--compare-create]

The endpoint is respx-mocked and answers at once, so every millisecond measured is our own
client: render + key, the cache lookup, the OpenAI SDK building and parsing the request, and
the cache and ledger write (one transaction, ``save_answer``). Each of those is wrapped with
a timer; the shares show what bounds throughput when many calls are in flight on one loop.

``--compare-create`` runs the misses twice in one process, alternating blocks of 25: through
the SDK's typed ``chat.completions.create`` (what the gateway used until it posted the body
itself) and through the gateway as shipped, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import respx

from bench.bench_cache import chat_body
from bench.bench_throughput import BENCH_CATALOG, PROMPT, bench_settings
from bench.common import emit, synthetic_docs

SPENT: dict[str, list[float]] = defaultdict(list)
TOTAL: dict[str, list[float]] = defaultdict(list)


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


async def sdk_create(gw: Any, kwargs: dict[str, Any]) -> Any:
    """The gateway's request before it skipped the SDK's parameter transform."""
    return await gw._client.chat.completions.create(model=gw.model, **kwargs)


async def run(n: int, root: Path, compare: bool = False) -> list[float]:
    from service.llm.gateway import Gateway
    from service.store import Store

    (root / "prompts" / "bench_throughput").mkdir(parents=True)
    (root / "prompts" / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
    settings = bench_settings("http://llm.bench/v1", root, 4, prompts_dir=root / "prompts")
    store = Store(settings.db_url)
    gw = Gateway(settings, store, http_client=httpx.AsyncClient(), catalog=BENCH_CATALOG)
    store.get_cached = timed("store.get_cached", store.get_cached)  # type: ignore[method-assign]
    store.save_answer = timed("store.save_answer", store.save_answer)  # type: ignore[method-assign]
    store.record_call = timed("store.record_call", store.record_call)  # type: ignore[method-assign]
    shipped = atimed("sdk request+parse", gw._create)
    typed = atimed("create(): sdk request+parse", partial(sdk_create, gw))
    gw._create = shipped  # type: ignore[method-assign]
    gw._build = timed("render+key", gw._build)  # type: ignore[method-assign]
    docs = synthetic_docs(n)
    with respx.mock:
        respx.post("http://llm.bench/v1/chat/completions").respond(json=chat_body())
        await gw.generate("bench_throughput", {"text": "warm-up"})
        SPENT.clear()
        for i, doc in enumerate(docs * 2 if compare else docs):
            use_create = compare and (i // 25) % 2 == 1
            gw._create = typed if use_create else shipped  # type: ignore[method-assign]
            text = f"{doc} [{i}]" if compare else doc  # every call a miss
            t0 = time.perf_counter()
            await gw.generate("bench_throughput", {"text": text})
            TOTAL["create(): total" if use_create else "total"].append(
                (time.perf_counter() - t0) * 1000
            )
    await gw.aclose()
    store.close()
    return TOTAL["total"]


def shipped_parts(parts: dict[str, float]) -> dict[str, float]:
    return {name: ms for name, ms in parts.items() if not name.startswith("create():")}


def compared() -> dict[str, Any]:
    """With --compare-create: the typed create() path's median total, same run."""
    if not TOTAL["create(): total"]:
        return {}
    before = statistics.median(TOTAL["create(): total"])
    return {"create_median_ms_per_miss": round(before, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--compare-create", action="store_true")
    args = parser.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        total = asyncio.run(run(n, Path(tmp), args.compare_create))
    median = statistics.median(total)
    parts = {name: round(statistics.median(ms), 2) for name, ms in SPENT.items()}
    emit(
        "gateway-overhead",
        {
            "misses": n,
            "median_ms_per_miss": round(median, 2),
            "median_ms_by_part": parts,
            "unaccounted_ms": round(median - sum(shipped_parts(parts).values()), 2),
            "max_misses_per_s_one_loop": round(1000 / median, 1),
            **compared(),
        },
    )


if __name__ == "__main__":
    main()
