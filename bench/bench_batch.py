"""First run vs cached re-runs of ``policy-reader run`` against the stand-in provider.

    PYTHONPATH=. python bench/bench_batch.py [--tasks commitments] [--runs 3]

Each run is a fresh process (``python -m service.cli run``) on the seed corpus, sharing one
cache directory; prints wall time, the run's own summary line and the provider's counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.fake_provider import BackgroundServer, Config


def run_once(base_url: str, work: Path, tasks: str) -> tuple[float, int, str]:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "READER_MODEL": "gpt-4o-mini",
        "READER_CACHE_DIR": str(work / "cache"),
    }
    command = [sys.executable, "-m", "service.cli", "run", "--out", str(work / "site")]
    started = time.perf_counter()
    done = subprocess.run([*command, "--tasks", tasks], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if "this run:" in line]
    return wall, done.returncode, lines[-1] if lines else done.stderr[-800:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="summary,translation,commitments")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Config()) as base:
        work = Path(tmp)
        (work / "cache").mkdir()
        for n in range(1, args.runs + 1):
            wall, code, line = run_once(base, work, args.tasks)
            stats_url = base.rsplit("/v1", 1)[0] + "/stats"
            with urllib.request.urlopen(stats_url) as response:
                stats = json.load(response)
            print(f"run {n}: wall {wall:.1f}s, exit {code} | {line} | provider {stats}")
        print("site:", *sorted(str(p.relative_to(work)) for p in work.rglob("*.*") if p.is_file()
                               and "cache" not in p.parts), sep="\n  ")  # fmt: skip


if __name__ == "__main__":
    main()
