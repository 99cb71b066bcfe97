"""Batch throughput against the stand-in provider, as a fraction of the ideal C/L requests/s.

Run: PYTHONPATH=. python bench/bench_throughput.py [--via raw gateway reader] [--latency 0.2]
     [--concurrency 1 2 4 8 16 32] [--docs 200]

Each concurrency level gets a fresh database and ``max(--docs, 25*C)`` distinct synthetic
documents (three Chinese paragraphs of the reference reports each). ``--via raw`` is the
instrument's ceiling on this machine: bare httpx posts of the same documents under the same
semaphore, no SDK, no cache, so "ours / raw" is the overhead of our client. ``--via reader`` ingests
them through ``Library.add_bytes`` (untimed) and times ``Reader.compute(doc, "translation")``
for all of them at once, bounded by ``settings.concurrency``; ``--via gateway`` times one
``Gateway.generate`` per document on a bench prompt (the floor: no task logic). The stand-in
answers after ``--latency`` seconds, generation time negligible (100k tokens/s), so the ideal
is C/L requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, standin, standin_reset, standin_stats, synthetic_docs
from service.config import Settings
from service.llm.prompts import PromptCatalog

PROMPT = """+++
id = "bench_throughput"
version = "v1"
task = "bench_throughput"
mode = "chat"
strategy = "plain"
variables = ["text"]
[params]
temperature = 0
max_tokens = 200
+++
## system
Translate the document into English.

## user
{{text}}
"""
# What the gateway checks PROMPT against (the bench task is none of the service's).
BENCH_CATALOG = PromptCatalog(strategies={"bench_throughput": ("plain",)})


def bench_settings(base: str, root: Path, concurrency: int, **extra: Any) -> Settings:
    fields: dict[str, Any] = {
        "openai_base_url": base,
        "openai_api_key": "sk-bench",
        "model": "gpt-4o-mini",
        "cache_dir": root,
        "concurrency": concurrency,
    }
    return Settings(**{**fields, **extra})


async def via_raw(settings: Settings, docs: list[str]) -> float:
    import httpx

    limit = asyncio.Semaphore(settings.concurrency)
    url = f"{settings.openai_base_url}/chat/completions"
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=2 * settings.concurrency)
    ) as client:

        async def one(text: str) -> None:
            async with limit:
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
                (await client.post(url, json=body)).raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(d) for d in docs))
        return time.perf_counter() - t0


async def via_gateway(settings: Settings, docs: list[str]) -> float:
    from service.llm.gateway import Gateway
    from service.store import Store

    store = Store(settings.db_url)
    gw = Gateway(settings, store, catalog=BENCH_CATALOG)
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(gw.generate("bench_throughput", {"text": d}) for d in docs))
        return time.perf_counter() - t0
    finally:
        await gw.aclose()
        store.close()


async def via_reader(
    settings: Settings, docs: list[str], kind: str = "translation", *, force: bool = False
) -> float:
    from service.reader import Reader

    async with Reader.open(settings) as reader:
        ids = [
            reader.library.add_bytes(d.encode(), f"bench-{i:04d}.txt")[0].id
            for i, d in enumerate(docs)
        ]
        t0 = time.perf_counter()
        artifacts = await asyncio.gather(
            *(reader.compute(i, kind, force=force) for i in ids)  # type: ignore[arg-type]
        )
        wall = time.perf_counter() - t0
    bad = [a.status for a in artifacts if a.status != "ok"]
    if bad:
        raise SystemExit(f"{len(bad)} artifacts not ok: {bad[:5]}")
    return wall


def run_level(base: str, via: str, concurrency: int, n_docs: int, latency: float) -> dict[str, Any]:
    docs = synthetic_docs(n_docs)
    standin_reset(base)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if via == "raw":
            wall = asyncio.run(via_raw(bench_settings(base, root, concurrency), docs))
        elif via == "gateway":
            (root / "prompts" / "bench_throughput").mkdir(parents=True)
            (root / "prompts" / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
            settings = bench_settings(base, root, concurrency, prompts_dir=root / "prompts")
            wall = asyncio.run(via_gateway(settings, docs))
        else:
            wall = asyncio.run(via_reader(bench_settings(base, root, concurrency), docs))
    stats = standin_stats(base)
    achieved = stats["requests"] / wall
    ideal = concurrency / latency
    return {
        "via": via,
        "concurrency": concurrency,
        "docs": n_docs,
        "requests": stats["requests"],
        "max_in_flight": stats["max_in_flight"],
        "wall_s": round(wall, 2),
        "req_per_s": round(achieved, 1),
        "ideal_req_per_s": round(ideal, 1),
        "fraction_of_ideal": round(achieved / ideal, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--via", choices=("raw", "gateway", "reader"), nargs="+", default=["raw", "gateway"]
    )
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--docs", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with standin(latency=args.latency) as base:
        for c in args.concurrency:
            for via in args.via:
                rows.append(run_level(base, via, c, max(args.docs, 25 * c), args.latency))
                print(rows[-1], flush=True)
    emit("throughput", {"latency_s": args.latency, "levels": rows})


if __name__ == "__main__":
    main()
