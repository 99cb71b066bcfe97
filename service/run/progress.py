"""Progress of a batch run: a rich live display on a terminal, plain log lines elsewhere.

Both are ``service.run.corpus.Observer``s fed by the tasks' ``ProgressEvent``s (one per chunk or
call) and the runner's per-task outcomes. Printing never holds the run up: the rich display
redraws from its own timer a few times a second, and the plain log writes a chunk line at most
every ``min_interval_s`` (task lines and failures are always written).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from service.artifacts import ArtifactKind
from service.run.corpus import RunPlan, TaskOutcome
from service.tasks.context import ProgressEvent


@dataclass
class Tally:
    """Running counts of a batch: documents, chunks (calls), tokens and cache hits."""

    started: float = field(default_factory=time.monotonic)
    units: dict[tuple[str, ArtifactKind | str], tuple[int, int]] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)  # doc id -> tasks not finished
    docs_total: int = 0
    task_tokens: dict[tuple[str, str], int] = field(default_factory=dict)
    task_hits: dict[tuple[str, str], int] = field(default_factory=dict)
    failed_chunks: int = 0

    def plan(self, plan: RunPlan) -> None:
        self.docs_total = len(plan.documents)
        self.pending = {d.id: len(plan.tasks) for d in plan.documents}
        self.units = {key: (0, n) for key, n in plan.units.items()}

    def chunk(self, e: ProgressEvent) -> None:
        key = (e.doc_id, e.task)
        self.units[key] = (e.done, e.total)
        self.task_tokens[key] = self.task_tokens.get(key, 0) + e.tokens
        self.task_hits[key] = self.task_hits.get(key, 0) + e.cached
        self.failed_chunks += e.failed

    def finished(self, o: TaskOutcome) -> None:
        key = (o.doc_id, o.kind)
        _, total = self.units.get(key, (0, 0))
        self.units[key] = (total, total)  # stored or failed: nothing more to come
        self.pending[o.doc_id] = self.pending.get(o.doc_id, 1) - 1
        if not o.reused:
            # Not every task reports tokens or hits per event; its provenance has them all.
            self.task_tokens[key] = max(self.task_tokens.get(key, 0), o.tokens)
            self.task_hits[key] = max(self.task_hits.get(key, 0), o.cache_hits)

    @property
    def tokens(self) -> int:
        """Tokens of the calls made or served from the cache this run (prompt + output)."""
        return sum(self.task_tokens.values())

    @property
    def hits(self) -> int:
        return sum(self.task_hits.values())

    @property
    def chunks_done(self) -> int:
        return sum(d for d, _ in self.units.values())

    @property
    def chunks_total(self) -> int:
        return sum(t for _, t in self.units.values())

    @property
    def docs_done(self) -> int:
        return sum(n <= 0 for n in self.pending.values())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        """Seconds left at the rate so far (cache hits make early rates optimistic)."""
        done, total = self.chunks_done, self.chunks_total
        if done == 0 or done >= total:
            return None
        return self.elapsed * (total - done) / done

    def line(self) -> str:
        eta = self.eta()
        return (
            f"docs {self.docs_done}/{self.docs_total} · chunks {self.chunks_done}/"
            f"{self.chunks_total} · tokens {self.tokens:,} · cache hits {self.hits} · "
            f"{_clock(self.elapsed)} elapsed" + (f" · ETA {_clock(eta)}" if eta is not None else "")
        )


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class PlainProgress:
    """One line per document-task, per failed chunk, and per chunk at most every interval."""

    def __init__(self, stream: IO[str], *, min_interval_s: float = 1.0) -> None:
        self.stream = stream
        self.tally = Tally()
        self.min_interval_s = min_interval_s
        self._last = float("-inf")
        self._names: dict[str, str] = {}

    def planned(self, plan: RunPlan) -> None:
        self.tally.plan(plan)
        self._names = {d.id: d.source_name for d in plan.documents}
        reused = f", {len(plan.reused)} already stored" if plan.reused else ""
        self._write(
            f"run: {len(plan.documents)} documents × {len(plan.tasks)} tasks "
            f"({', '.join(plan.tasks)}){reused}"
        )

    def chunk(self, e: ProgressEvent) -> None:
        self.tally.chunk(e)
        now = time.monotonic()
        if not e.failed and now - self._last < self.min_interval_s:
            return
        self._last = now
        what = "FAILED" if e.failed else ("cached" if e.cached else "done")
        name = self._names.get(e.doc_id, e.doc_id)
        self._write(f"{name} {e.task} {e.done}/{e.total} {what} | {self.tally.line()}")

    def finished(self, o: TaskOutcome) -> None:
        self.tally.finished(o)
        how = " (stored)" if o.reused else ""
        why = f": {o.reason}" if o.reason else ""
        self._write(f"{o.source} {o.kind} {o.status}{how}{why} | {self.tally.line()}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class RichProgress:
    """A live display: bars for documents and chunks, tokens, cache hits, elapsed and ETA."""

    def __init__(self, console: Console) -> None:
        self.tally = Tally()
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[extra]}"),
            console=console,
            refresh_per_second=4,  # redraws on its own thread; updates only set numbers
        )
        self._docs: TaskID | None = None
        self._chunks: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        self._docs = self._progress.add_task("documents", total=None, extra="")
        self._chunks = self._progress.add_task("chunks", total=None, extra="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self._progress.stop()

    def planned(self, plan: RunPlan) -> None:
        self.tally.plan(plan)
        self._refresh()

    def chunk(self, e: ProgressEvent) -> None:
        self.tally.chunk(e)
        self._refresh()

    def finished(self, o: TaskOutcome) -> None:
        self.tally.finished(o)
        if o.status != "ok":
            line = f"{o.source} {o.kind}: {o.status}" + (f" — {o.reason}" if o.reason else "")
            self._progress.console.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)
        self._refresh()

    def _refresh(self) -> None:
        t, p = self.tally, self._progress
        if self._docs is None or self._chunks is None:
            return
        eta = t.eta()
        stats = f"tokens {t.tokens:,} · hits {t.hits} · {_clock(t.elapsed)}"
        p.update(self._docs, completed=t.docs_done, total=t.docs_total, extra=stats)
        left = f"ETA {_clock(eta)}" if eta is not None else ""
        p.update(self._chunks, completed=t.chunks_done, total=t.chunks_total, extra=left)
