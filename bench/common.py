"""Shared pieces of the benchmarks and chaos scripts: stand-in process, corpus, machine, output.

The stand-in provider runs in its own process (not a thread) so that it does not compete with
the client for the GIL: what we time is our client, not the instrument.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from service.eval.reference import default_reference_dir, load_reference_dir

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def standin(
    *,
    latency: float = 0.2,
    tps: float = 100_000.0,
    faults: float = 0.0,
    seed: int = 7,
    record: bool = False,
    port: int | None = None,
) -> Iterator[str]:
    """Start bench/fake_provider.py in a subprocess on loopback; yields its /v1 base URL."""
    port = port or free_port()
    cmd = [sys.executable, str(BENCH_DIR / "fake_provider.py"), "--port", str(port)]
    cmd += ["--latency", str(latency), "--tps", str(tps), "--faults", str(faults)]
    cmd += ["--seed", str(seed)] + (["--record"] if record else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_up(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_up(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"stand-in exited with {proc.returncode}: {err[-500:]}")
        try:
            httpx.get(f"{base}/models", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"stand-in at {base} not up after {timeout_s} s")


def standin_stats(base: str) -> dict[str, int]:
    """Requests by outcome (``GET /stats``)."""
    stats: dict[str, int] = httpx.get(base.removesuffix("/v1") + "/stats", timeout=10).json()
    return stats


def standin_requests(base: str) -> dict[str, Any]:
    """Successful answers by body hash, and the texts when recording (``GET /requests``)."""
    data: dict[str, Any] = httpx.get(base.removesuffix("/v1") + "/requests", timeout=30).json()
    return data


def standin_reset(base: str) -> None:
    httpx.post(base.removesuffix("/v1") + "/reset", timeout=10)


def reference_paragraphs() -> list[str]:
    """Every Chinese paragraph of the reference reports, in order."""
    folder = default_reference_dir()
    if folder is None:
        raise SystemExit("reference set not found (expected ../shared/reference/gwr-bilingual)")
    return [p.zh for doc in load_reference_dir(folder) for p in doc.pairs if p.zh.strip()]


def source_paragraphs() -> list[str]:
    """Chinese paragraphs to build documents from: the reference reports' when they are there
    (outside the repository), else the seed corpus's, cleaned (a clean clone has those)."""
    if default_reference_dir() is not None:
        return reference_paragraphs()
    from service.config import Settings
    from service.ingest import ingest_path

    settings = Settings()
    paras: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        doc = ingest_path(path, settings=settings)
        paras += [p.text for p in doc.paragraphs if not p.is_heading and len(p.text) >= 20]
    return paras


def synthetic_docs(n: int, paragraphs: int = 3) -> list[str]:
    """``n`` distinct short documents: sliding windows of ``paragraphs`` source paragraphs, then
    of one more, one fewer, … when the source has fewer windows than ``n``."""
    paras = list(dict.fromkeys(source_paragraphs()))  # a few paragraphs repeat verbatim
    sizes = [paragraphs] + [
        s for k in range(1, 6) for s in (paragraphs + k, paragraphs - k) if s > 0
    ]
    docs = [
        "\n\n".join(paras[(i + k) % len(paras)] for k in range(size))
        for size in sizes
        for i in range(len(paras))
    ]
    if n > len(docs):
        raise SystemExit(f"only {len(docs)} distinct documents available, asked for {n}")
    return docs[:n]


def largest_reference() -> Path:
    folder = default_reference_dir()
    if folder is None:
        raise SystemExit("reference set not found")
    return max(folder.glob("*.md"), key=lambda p: p.stat().st_size)


def machine() -> str:
    """One line describing where a figure was measured."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, shared (1-min load avg "
        f"{load:.1f} when reported)"
    )


def command_line() -> str:
    """The command that produced this output, relative to the repo root."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(script)
    return "PYTHONPATH=. python " + shlex.join([shown, *sys.argv[1:]])


def emit(name: str, result: dict[str, Any]) -> None:
    """Print a result with its command and machine; append it to bench/results.jsonl."""
    line = {"bench": name, "command": command_line(), "machine": machine(), **result}
    print(json.dumps(line, ensure_ascii=False, indent=1))
    with (BENCH_DIR / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
