"""Peak memory (RSS) of ingest+chunk on the largest reference report, and of a 200-doc batch.

Run: PYTHONPATH=. python bench/bench_memory.py [--docs 200] [--via reader|gateway]

Each measurement runs in a fresh subprocess that reports ``ru_maxrss`` twice: after its
imports (the baseline) and after the work, so the difference is what the work itself needed.
Ingest is measured on the Chinese text of the largest reference report, and on that text
repeated to just under the 5 MB input limit (does memory grow with the input, and how much).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, largest_reference, standin


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _chinese_text(path: Path) -> str:
    from service.eval.reference import load_reference

    return "\n\n".join(p.zh for p in load_reference(path).pairs if p.zh.strip())


def child_ingest(path: Path, repeat_to_bytes: int) -> dict[str, Any]:
    from service.chunk import chunk_document
    from service.config import Settings
    from service.ingest import ingest_bytes
    from service.tokens import count_tokens

    text = _chinese_text(path)
    count_tokens("预热")  # load the encoder before the baseline: it is shared by everything
    if repeat_to_bytes:
        unit = len(text.encode())
        text = "\n\n".join([text] * max(1, repeat_to_bytes // (unit + 2)))
    data = text.encode()
    base = _maxrss_mb()
    t0 = time.perf_counter()
    doc = ingest_bytes(data, path.name, settings=Settings())
    chunks = chunk_document(doc.text, doc.paragraphs, 3000)
    return {
        "input_bytes": len(data),
        "paragraphs": len(doc.paragraphs),
        "chunks": len(chunks),
        "seconds": round(time.perf_counter() - t0, 2),
        "baseline_mb": round(base, 1),
        "peak_mb": round(_maxrss_mb(), 1),
    }


def child_batch(base_url: str, n_docs: int, via: str) -> dict[str, Any]:
    from bench.bench_throughput import PROMPT, bench_settings, via_gateway, via_reader
    from bench.common import synthetic_docs

    docs = synthetic_docs(n_docs)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        extra: dict[str, Any] = {}
        if via == "gateway":
            (root / "prompts" / "bench_throughput").mkdir(parents=True)
            (root / "prompts" / "bench_throughput" / "v1.chat.md").write_text(PROMPT, "utf-8")
            extra["prompts_dir"] = root / "prompts"
        settings = bench_settings(base_url, root, 8, **extra)
        # Imported before the baseline: module code is not what the batch allocates.
        import service.llm.gateway
        import service.reader  # noqa: F401

        base = _maxrss_mb()
        run = via_gateway(settings, docs) if via == "gateway" else via_reader(settings, docs)
        wall = asyncio.run(run)
    return {
        "via": via,
        "docs": n_docs,
        "wall_s": round(wall, 1),
        "baseline_mb": round(base, 1),
        "peak_mb": round(_maxrss_mb(), 1),
    }


def in_subprocess(*args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_memory", "--child", *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--via", choices=("reader", "gateway"), default="reader")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "ingest":
            out = child_ingest(Path(rest[0]), int(rest[1]))
        else:
            out = child_batch(rest[0], int(rest[1]), rest[2])
        print(json.dumps(out))
        return
    path = largest_reference()
    result: dict[str, Any] = {"reference_file": path.name}
    result["ingest_largest"] = in_subprocess("ingest", str(path), "0")
    result["ingest_5mb"] = in_subprocess("ingest", str(path), str(5 * 1024 * 1024 - 4096))
    with standin(latency=0.05) as base:
        result["batch"] = in_subprocess("batch", base, str(args.docs), args.via)
    emit("memory", result)


if __name__ == "__main__":
    main()
