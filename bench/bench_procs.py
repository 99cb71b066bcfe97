"""Does splitting a batch over processes lift the throughput ceiling? One process vs P.

Run: PYTHONPATH=. python bench/bench_procs.py [--via gateway|reader] [--concurrency 16]
     [--procs 1 2] [--docs 400] [--latency 0.2]

The same documents and the same total concurrency C: one process with C, or P processes with
C/P each on a share of the documents, all on one SQLite database. Every process prepares
(imports, gateway, ingest) and then waits for a common start time, so the wall time covers
only the computing: first start to last finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
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
        settings = bench_settings(args.base, root, args.concurrency, prompts_dir=prompts)
        store = Store(settings.db_url)
        gw = Gateway(settings, store, catalog=BENCH_CATALOG)
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


def level(base: str, via: str, procs: int, concurrency: int, docs: int) -> dict[str, Any]:
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
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
            rows.append(level(base, args.via, procs, args.concurrency, args.docs))
            print(rows[-1], flush=True)
    emit("procs", {"latency_s": 0.2, "levels": rows})


if __name__ == "__main__":
    main()
