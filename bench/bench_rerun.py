"""A cached re-run of a whole batch: model calls (must be 0) and wall time, cold vs warm.

Run: PYTHONPATH=. python bench/bench_rerun.py [--via gateway|reader] [--docs 200]
     [--latency 0.2] [--concurrency 8]

Cold: a fresh database, every document computed against the stand-in. Warm: a new
Gateway/Reader on the same database, the same documents again; the stand-in's request
counter is reset in between, so ``warm_model_calls`` is what the re-run asked the model.
With ``--via reader`` there are two warm runs: ``stored`` (the artifact is returned from the
store) and ``force`` (``compute(force=True)``: the task runs again, every call a cache hit).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_throughput import PROMPT, bench_settings, via_gateway, via_reader
from bench.common import emit, standin, standin_reset, standin_stats, synthetic_docs


def timed_run(base: str, run: Any) -> dict[str, Any]:
    standin_reset(base)
    wall = asyncio.run(run())
    return {"wall_s": round(wall, 3), "model_calls": standin_stats(base).get("requests", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=("reader", "gateway"), default="reader")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    docs = synthetic_docs(args.docs)
    result: dict[str, Any] = {"via": args.via, "docs": args.docs, "latency_s": args.latency}
    with standin(latency=args.latency) as base, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.via == "gateway":
            (root / "prompts" / "bench_throughput").mkdir(parents=True)
            (root / "prompts" / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
            settings = bench_settings(base, root, args.concurrency, prompts_dir=root / "prompts")
            runs = {"cold": lambda: via_gateway(settings, docs)}
            runs["warm"] = runs["cold"]
        else:
            settings = bench_settings(base, root, args.concurrency)
            runs = {
                "cold": lambda: via_reader(settings, docs),
                "warm_stored": lambda: via_reader(settings, docs),
                "warm_force": lambda: via_reader(settings, docs, force=True),
            }
        for name, run in runs.items():
            result[name] = timed_run(base, run)
            print(name, result[name], flush=True)
    cold = result["cold"]["wall_s"]
    for name in runs:
        if name != "cold":
            result[name]["speedup"] = round(cold / max(result[name]["wall_s"], 1e-9), 1)
    emit("rerun", result)


if __name__ == "__main__":
    main()
