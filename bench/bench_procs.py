"""Does splitting a batch over processes lift the throughput ceiling? One process vs P.

Run: PYTHONPATH=. python bench/bench_procs.py [--via gateway|reader] [--concurrency 16]
     [--procs 1 2] [--docs 400] [--pg] [--relay]

The same documents and the same total concurrency C: one process with C, or P processes with
C/P each on a share of the documents, all on one SQLite database; with ``--pg``, on one fresh
PostgreSQL database (READER_TEST_DATABASE_URL, else ``.ci/postgres``) with the gateway set up
as ``policy-reader worker`` sets it up: the shared slots (one limit C across the processes)
and the cache-key locks. With ``--relay``, every process sends through one ``policy-reader
relay`` (its own process, limit C) instead, and takes no slots or key locks, as a worker
with READER_RELAY_URL does. Every process prepares (imports, gateway, ingest) and then waits for
a common start time, so the wall time covers only the computing: first start to last finish.
The stand-in answers after L = 0.2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, standin, standin_reset, standin_stats, synthetic_docs

PREPARE_S = 25.0  # time every process gets to import and ingest before the common start


async def child(args: argparse.Namespace) -> dict[str, float | bool]:
    from bench.bench_throughput import BENCH_CATALOG, PROMPT, bench_settings

    docs = synthetic_docs(args.docs)[args.share :: args.of]
    root = Path(args.cache_dir)
    if args.via == "gateway":
        from service.llm.gateway import Gateway
        from service.store import Store

        prompts = root / "prompts"
        (prompts / "bench_throughput").mkdir(parents=True, exist_ok=True)
        (prompts / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
        db = {"database_url": args.database_url} if args.database_url else {}
        if args.relay_url:
            db["relay_url"] = args.relay_url
        settings = bench_settings(args.base, root, args.concurrency, prompts_dir=prompts, **db)
        store = Store(settings.db_url)
        gw = Gateway(settings, store, catalog=BENCH_CATALOG)
        async with AsyncExitStack() as stack:
            if args.database_url and not args.relay_url:  # as policy-reader worker sets it up
                from service.queue.worker import share_calls

                await share_calls(gw, args.database_url, args.total, stack)
            late = time.time() > args.start
            await asyncio.sleep(max(0.0, args.start - time.time()))
            await asyncio.gather(*(gw.generate("bench_throughput", {"text": d}) for d in docs))
            end = time.time()
        await gw.aclose()
        return {"end": end, "late": late}
    from service.reader import Reader

    async with Reader.open(bench_settings(args.base, root, args.concurrency)) as reader:
        ids = [reader.library.add_bytes(d.encode(), f"p-{hash(d)}.txt")[0].id for d in docs]
        late = time.time() > args.start
        await asyncio.sleep(max(0.0, args.start - time.time()))
        await asyncio.gather(*(reader.compute(i, "translation") for i in ids))
        return {"end": time.time(), "late": late}


def level(
    base: str, via: str, procs: int, concurrency: int, docs: int, db: str | None, relay: str | None
) -> dict[str, Any]:
    standin_reset(base)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time() + PREPARE_S
        cmds = [
            [
                sys.executable,
                "-m",
                "bench.bench_procs",
                "--child",
                "--base",
                base,
                "--cache-dir",
                tmp,
                "--via",
                via,
                "--docs",
                str(docs),
                "--share",
                str(k),
                "--of",
                str(procs),
                "--concurrency",
                str(concurrency // procs),
                "--start",
                str(start),
                "--total",
                str(concurrency),
                *(["--database-url", db] if db else []),
                *(["--relay-url", relay] if relay else []),
            ]
            for k in range(procs)
        ]
        running = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, text=True) for c in cmds]
        outs = [json.loads(p.communicate(timeout=900)[0].splitlines()[-1]) for p in running]
    stats = standin_stats(base)
    wall = max(o["end"] for o in outs) - start
    ideal = concurrency / 0.2
    return {
        "via": via,
        "procs": procs,
        "relay": relay is not None,
        "concurrency_total": concurrency,
        "requests": stats["requests"],
        "max_in_flight": stats["max_in_flight"],
        "wall_s": round(wall, 2),
        "req_per_s": round(stats["requests"] / wall, 1),
        "fraction_of_ideal": round(stats["requests"] / wall / ideal, 3),
        "late_start": any(o["late"] for o in outs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=("gateway", "reader"), default="gateway")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL, as queue workers.")
    parser.add_argument("--relay", action="store_true", help="Through one policy-reader relay.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay-url", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--share", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--of", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args))))
        return
    rows = []
    with standin(latency=0.2) as base:
        for procs in args.procs:
            with ExitStack() as stack:
                db = stack.enter_context(pg_database()) if args.pg else None
                relay = (
                    stack.enter_context(relay_process(base, args.concurrency))
                    if args.relay
                    else None
                )
                rows.append(level(base, args.via, procs, args.concurrency, args.docs, db, relay))
            print(rows[-1], flush=True)
    emit("procs", {"latency_s": 0.2, "pg": args.pg, "relay": args.relay, "levels": rows})


@contextmanager
def relay_process(base: str, concurrency: int) -> Iterator[str]:
    """``policy-reader relay`` in front of the stand-in, limit ``concurrency``; its URL."""
    import os

    import httpx

    from bench.common import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": base,
           "OPENAI_API_KEY": "sk-bench", "READER_MODEL": "gpt-4o-mini",
           "READER_CONCURRENCY": str(concurrency)}  # fmt: skip
    cmd = [sys.executable, "-m", "service.cli", "relay", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database with the store's tables (made once, not by each process)."""
    from bench.chaos_queue import server_url
    from service.store import Store
    from tests.databases import fresh_database

    with fresh_database(server_url()) as db:
        Store(db).close()
        yield db


if __name__ == "__main__":
    main()
