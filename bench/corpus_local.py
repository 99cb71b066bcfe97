"""The corpus end to end through the ``Reader`` facade: wall time, model calls, tokens, tokens/s.

Runs every (seed, task) one after the other (a single llama.cpp server on 2 cores gains nothing
from concurrency, and queued requests would only eat into the client timeout), then reports
what reached the model according to three independent counters: the artifacts' provenance,
the gateway's ledger (``calls`` rows that are not cache hits) and, for the local server, the
``POST`` lines it logged during the run. A re-run with the same ``READER_CACHE_DIR`` must show
zero on all three (stored artifacts are returned; ``--force`` recomputes through the call
cache instead, which re-asks the model only for calls that failed last time).

    # first run, cold cache, model already assembled (any local run assembles it into the
    # checkout's cache/models/; READER_LOCAL_MODEL_PATH must name an existing file):
    export READER_LOCAL_MODEL_PATH=$PWD/cache/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    READER_CACHE_DIR=/tmp/bench-corpus READER_TIMEOUT_S=1800 \
        PYTHONPATH=. python bench/corpus_local.py [--seeds 000,002] [--json out.json]
    # cached re-run: the same command again

With no OPENAI_BASE_URL/OPENAI_API_KEY this uses the embedded local model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from service.artifacts import KINDS, ArtifactKind
from service.config import Settings, get_settings
from service.reader import Reader


@dataclass
class TaskRun:
    seed: str
    doc_id: str
    kind: ArtifactKind
    seconds: float
    status: str
    calls: int  # provenance: model calls (not cache hits) made while computing this artifact
    cache_hits: int
    tokens_in: int
    tokens_out: int
    stored: bool  # served from the store (no computation at all)


@dataclass
class Report:
    model: str
    endpoint: str
    seeds: list[str]
    kinds: list[str]
    wall_s: float = 0.0
    tasks: list[TaskRun] = field(default_factory=list)
    ledger_model_calls: int = 0  # calls rows written during the run with outcome != "hit"
    ledger_errors: int = 0
    ledger_tokens_in: int = 0
    ledger_tokens_out: int = 0
    server_posts: int | None = None  # POSTs the local server logged (None: remote endpoint)
    server_busy_s: float = 0.0  # llama.cpp's own "total time" per request, summed
    server_tokens_out: int = 0  # llama.cpp's generated tokens ("eval time ... runs"), summed

    @property
    def server_tokens_per_s(self) -> float:
        """Generated tokens per second the server was busy (prompt processing and sampling
        included). Call latencies are no measure here: queued calls overlap."""
        return self.server_tokens_out / self.server_busy_s if self.server_busy_s else 0.0


def seed_paths(settings: Settings, seeds: list[str] | None) -> list[Path]:
    paths = sorted(settings.corpus_dir.glob("0*.txt"))
    if seeds:
        paths = [p for p in paths if p.name.split("_")[0] in seeds]
    if not paths:
        sys.exit(f"no seed documents matched {seeds} in {settings.corpus_dir}")
    return paths


async def run(
    settings: Settings, paths: list[Path], kinds: list[ArtifactKind], force: bool
) -> Report:
    """Open the reader (starting or reusing the local server), ingest, compute, count."""
    async with Reader.open(settings) as reader:
        # Start (or reuse) the server now, as the reader no longer does: its start-up stays out
        # of the timings and its log exists before the offset is read.
        await reader.gateway.connect()
        report = Report(reader.gateway.model, reader.endpoint, [p.name for p in paths], [*kinds])
        log = settings.cache_dir / "local-server.log"
        log_start = log.stat().st_size if log.exists() else None
        ledger_start = _ledger_max_id(settings)
        started = time.perf_counter()
        for path in paths:
            doc, _ = reader.library.add_path(path)
            for kind in kinds:
                report.tasks.append(await _one(reader, path, doc.id, kind, force))
                print(_line(report.tasks[-1]), file=sys.stderr, flush=True)
        report.wall_s = time.perf_counter() - started
    _ledger(settings, ledger_start, report)
    if log_start is not None:
        _server_log(log, log_start, report)
    return report


async def _one(reader: Reader, path: Path, doc_id: str, kind: ArtifactKind, force: bool) -> TaskRun:
    stored = not force and reader.stored(doc_id, kind) is not None
    t0 = time.perf_counter()
    artifact = await reader.compute(doc_id, kind, force=force)
    seconds = time.perf_counter() - t0
    p = artifact.provenance
    calls, hits = (0, 0) if stored else (p.calls, p.cache_hits)
    tokens_in, tokens_out = (0, 0) if stored else (p.tokens_in, p.tokens_out)
    seed = path.name.split("_")[0]
    return TaskRun(
        seed, doc_id, kind, seconds, artifact.status, calls, hits, tokens_in, tokens_out, stored
    )


def _line(t: TaskRun) -> str:
    how = "stored" if t.stored else f"{t.calls} calls, {t.cache_hits} hits"
    return f"{t.seed} {t.kind:<12} {t.status:<8} {t.seconds:8.1f} s  {how}, {t.tokens_out} tok out"


def _db_path(settings: Settings) -> Path:
    prefix = "sqlite:///"
    if not settings.db_url.startswith(prefix):
        sys.exit(f"this benchmark reads the SQLite ledger; got {settings.db_url}")
    return Path(settings.db_url.removeprefix(prefix))


def _ledger_max_id(settings: Settings) -> int:
    path = _db_path(settings)
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            row = db.execute("SELECT COALESCE(MAX(id), 0) FROM calls").fetchone()
        except sqlite3.OperationalError:  # no table yet
            return 0
    return int(row[0])


def _ledger(settings: Settings, after_id: int, report: Report) -> None:
    """Ledger rows of this run that reached the model (hits excluded)."""
    query = (
        "SELECT COUNT(*), SUM(outcome != 'ok'), COALESCE(SUM(tokens_in), 0), "
        "COALESCE(SUM(tokens_out), 0) "
        "FROM calls WHERE id > ? AND outcome != 'hit'"
    )
    with sqlite3.connect(_db_path(settings)) as db:
        n, errors, t_in, t_out = db.execute(query, (after_id,)).fetchone()
    report.ledger_model_calls, report.ledger_errors = int(n), int(errors or 0)
    report.ledger_tokens_in, report.ledger_tokens_out = int(t_in), int(t_out)


EVAL = re.compile(r"^llama_perf_context_print:\s+eval time =\s+[\d.]+ ms /\s+(\d+) runs", re.M)
TOTAL = re.compile(r"^llama_perf_context_print:\s+total time =\s+([\d.]+) ms", re.M)


def _server_log(log: Path, offset: int, report: Report) -> None:
    """POSTs, generated tokens and busy time the local server logged during the run."""
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    report.server_posts = text.count('"POST /v1/')
    report.server_tokens_out = sum(int(n) for n in EVAL.findall(text))
    report.server_busy_s = sum(float(ms) for ms in TOTAL.findall(text)) / 1000


def summary(report: Report) -> str:
    tasks = report.tasks
    lines = [
        f"model {report.model} at {report.endpoint}; {len(report.seeds)} seeds x "
        f"{len(report.kinds)} tasks",
        f"wall time            {report.wall_s:.1f} s",
        f"statuses             {_statuses(tasks)}",
        f"provenance calls     {sum(t.calls for t in tasks)} (cache hits {_hits(tasks)})",
        f"ledger model calls   {report.ledger_model_calls} ({report.ledger_errors} errors)",
        f"server POSTs         {report.server_posts}",
        f"tokens in / out      {report.ledger_tokens_in} / {report.ledger_tokens_out}",
        f"server busy          {report.server_busy_s:.1f} s, {report.server_tokens_out} tokens",
        f"server tokens/s      {report.server_tokens_per_s:.2f} (generated / busy time)",
        f"overall tokens/s     {_overall(report):.2f} (tokens out / wall time)",
    ]
    return "\n".join(lines)


def _statuses(tasks: list[TaskRun]) -> str:
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _hits(tasks: list[TaskRun]) -> int:
    return sum(t.cache_hits for t in tasks)


def _overall(report: Report) -> float:
    return report.ledger_tokens_out / report.wall_s if report.wall_s else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", help="comma-separated seed prefixes, e.g. 000,002 (default all)")
    parser.add_argument("--tasks", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--force", action="store_true", help="recompute (through the call cache)")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args()
    # Stopped with kill (or Ctrl-C while in the background): unwind like Ctrl-C, so the
    # Reader stops the local server it started instead of orphaning it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = get_settings()
    kinds: list[ArtifactKind] = [k for k in KINDS if k in args.tasks.split(",")]
    seeds = args.seeds.split(",") if args.seeds else None
    report = asyncio.run(run(settings, seed_paths(settings, seeds), kinds, args.force))
    print(summary(report))
    if args.json:
        payload = {**asdict(report), "server_tokens_per_s": report.server_tokens_per_s}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
