"""The batch runner behind ``policy-reader run``: a corpus in, artifacts and a site out.

``collect`` ingests the given files (a bad file is recorded, the rest go on); ``run_corpus``
computes every (document, task) concurrently through the facade; ``publish`` writes the site.
Resuming is the call cache's job: every finished model call is cached by the gateway, so an
interrupted run repeats no call and a finished corpus re-runs with zero model calls (stored
ok artifacts are returned as they are; partial or failed ones are recomputed, their good
chunks from the cache). No typer or rich here: a display plugs in as an ``Observer`` (see
``service/run/progress.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, Field

from service import __version__
from service.artifacts import KINDS, Artifact, ArtifactKind
from service.config import Settings
from service.errors import InputError, ServiceError
from service.ingest.paths import Source, expand
from service.models import Document
from service.reader import Reader
from service.render.bundle import DocumentBundle, TaskFailure
from service.render.site import mkdocs_docs_dir, write_mkdocs, write_site
from service.store.store import LedgerTotals
from service.tasks.context import Progress, ProgressEvent

# ``--batch-api``: fills the call cache before the run (``service.run.prefill.prefill``).
Prefill = Callable[[Reader, list[Document], list[ArtifactKind]], Awaitable[object]]
Outcome = Literal["ok", "partial", "failed"]


class Compute(Protocol):
    """``Reader.compute`` or what stands in for it (``run --enqueue``: the queue's workers)."""

    def __call__(
        self, doc_id: str, kind: ArtifactKind, *, force: bool, progress: Progress | None = None
    ) -> Awaitable[Artifact]: ...


class Observer(Protocol):
    """What a progress display receives from the runner."""

    def planned(self, plan: RunPlan) -> None: ...
    def chunk(self, event: ProgressEvent) -> None: ...
    def finished(self, outcome: TaskOutcome) -> None: ...


@runtime_checkable
class Summarised(Protocol):
    """A prefill report that can say in one line what it did (``PrefillReport``)."""

    def summary(self) -> str: ...


class IngestFailure(BaseModel):
    path: str
    reason: str


class Corpus(BaseModel):
    """The documents of a run, in input order, and the files that could not be read."""

    documents: list[Document] = Field(default_factory=list)
    failures: list[IngestFailure] = Field(default_factory=list)
    duplicates: list[tuple[str, str]] = Field(
        default_factory=list, description="(file, id of the document with the same text)"
    )


@dataclass(frozen=True)
class RunOptions:
    tasks: tuple[ArtifactKind, ...] = KINDS
    force: frozenset[ArtifactKind] = frozenset()
    prefill: Prefill | None = None
    # Through the queue's workers (PostgreSQL) instead of in this process.
    enqueue: bool = False


@dataclass(frozen=True)
class RunPlan:
    """What the display needs up front: documents, tasks and expected units per task."""

    documents: list[Document]
    tasks: tuple[ArtifactKind, ...]
    units: dict[tuple[str, ArtifactKind], int]  # chunks per (doc id, kind); summaries may differ
    reused: frozenset[tuple[str, ArtifactKind]]  # stored artifacts, returned as they are


class TaskOutcome(BaseModel):
    doc_id: str
    source: str
    kind: ArtifactKind
    status: Outcome
    reason: str | None = None
    reused: bool = Field(False, description="A stored artifact: nothing computed this run.")
    calls: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


class RunReport(BaseModel):
    """The end summary: per document and task, and what the run used (from the ledger)."""

    documents: int
    outcomes: list[TaskOutcome]
    ingest_failures: list[IngestFailure] = Field(default_factory=list)
    duplicates: list[tuple[str, str]] = Field(default_factory=list)
    ledger: LedgerTotals = Field(default_factory=LedgerTotals)
    elapsed_s: float = 0.0
    site_files: list[Path] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 only when every file was read and every task is ok; partial counts as failure."""
        incomplete = any(o.status != "ok" for o in self.outcomes)
        return 1 if incomplete or self.ingest_failures else 0

    def count(self, status: Outcome) -> int:
        return sum(o.status == status for o in self.outcomes)


@dataclass
class _Done:
    doc: Document
    kind: ArtifactKind
    artifact: Artifact | None
    failure: TaskFailure | None = None
    reused: bool = False


@dataclass
class RunResult:
    bundles: list[DocumentBundle]
    report: RunReport
    glossary_terms: list[tuple[str, str, str]] = field(default_factory=list)


# --- planning -------------------------------------------------------------------------------


def default_paths(paths: Sequence[Source], settings: Settings) -> list[Source]:
    return list(paths) or [settings.corpus_dir]


def collect(paths: Sequence[Source], add: Callable[[Source], Document]) -> Corpus:
    """Ingest every file or URL under ``paths`` with ``add``; failures and repeats are recorded."""
    corpus, seen = Corpus(), set[str]()
    files = expand(list(paths))
    for path in files:
        try:
            doc = add(path)
        except ServiceError as exc:
            corpus.failures.append(IngestFailure(path=str(path), reason=exc.message))
            continue
        if doc.id in seen:
            corpus.duplicates.append((str(path), doc.id))
        else:
            seen.add(doc.id)
            corpus.documents.append(doc)
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise InputError(
            f"no .txt, .html, .pdf or .docx files in {where}; give files or folders holding them"
        )
    return corpus


def parse_kinds(text: str, option: str = "--tasks") -> tuple[ArtifactKind, ...]:
    """``summary,translation`` → the kinds, in the canonical order; unknown names are refused."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(names - set(KINDS))
    if unknown or not names:
        raise InputError(
            f"{option} {text!r}: unknown task(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {','.join(KINDS)}"
        )
    return tuple(k for k in KINDS if k in names)


def make_plan(reader: Reader, corpus: Corpus, options: RunOptions) -> RunPlan:
    docs, units, reused = corpus.documents, {}, set()
    # A stored partial/failed artifact is computed again (its good units from the call cache),
    # unless the model would only give the same answers again.
    keep_failed = reader.gateway.profile.deterministic
    for doc in docs:
        n = len(reader.library.chunks(doc, reader.budget))
        for kind in options.tasks:
            units[doc.id, kind] = n
            stored = reader.stored(doc.id, kind)
            kept = stored is not None and (stored.status == "ok" or keep_failed)
            if kind not in options.force and kept:
                reused.add((doc.id, kind))
    return RunPlan(docs, options.tasks, units, frozenset(reused))


# --- running --------------------------------------------------------------------------------


async def run_corpus(
    reader: Reader,
    corpus: Corpus,
    options: RunOptions,
    observer: Observer,
    compute: Compute | None = None,
) -> RunResult:
    """Compute every requested artifact; a task that raises becomes a TaskFailure."""
    compute = compute or reader.compute
    started, mark = time.perf_counter(), reader.library.store.ledger_mark()
    plan = make_plan(reader, corpus, options)
    observer.planned(plan)
    notes = []
    if options.prefill is not None and corpus.documents:
        prefilled = await options.prefill(reader, corpus.documents, list(options.tasks))
        if isinstance(prefilled, Summarised):
            notes.append(prefilled.summary())
    jobs = [_one(reader, compute, d, k, plan, observer) for d in plan.documents for k in plan.tasks]
    done = await asyncio.gather(*jobs)
    bundles = [_bundle(reader, doc, done, options.tasks) for doc in plan.documents]
    report = RunReport(
        documents=len(plan.documents),
        outcomes=[_outcome(d) for d in done],
        ingest_failures=corpus.failures,
        duplicates=corpus.duplicates,
        ledger=reader.library.store.ledger_since(mark),
        elapsed_s=time.perf_counter() - started,
        notes=notes,
    )
    return RunResult(bundles, report, glossary_terms(reader, plan.documents))


async def _one(
    reader: Reader,
    compute: Compute,
    doc: Document,
    kind: ArtifactKind,
    plan: RunPlan,
    obs: Observer,
) -> _Done:
    reused = (doc.id, kind) in plan.reused
    # A stored partial or failed artifact is recomputed: its good chunks come from the cache,
    # only the failed ones are asked again. A stored ok artifact is returned as it is.
    try:
        artifact = await compute(doc.id, kind, force=not reused, progress=obs.chunk)
        done = _Done(doc, kind, artifact, reused=reused)
    except ServiceError as exc:
        if reader.gateway.start_error is not None:
            raise  # the model server could not start: no task can run, the run fails as a whole
        # ModelUnavailable and friends: this task has no artifact; finished calls stay cached.
        done = _Done(doc, kind, None, TaskFailure(kind=kind, message=exc.message))
    obs.finished(_outcome(done))
    return done


def _outcome(done: _Done) -> TaskOutcome:
    base = {"doc_id": done.doc.id, "source": done.doc.source_name, "kind": done.kind}
    if done.artifact is None:
        reason = done.failure.message if done.failure else "no artifact"
        return TaskOutcome(**base, status="failed", reason=reason)
    state = DocumentBundle(document=done.doc, **{done.kind: done.artifact}).state(done.kind)
    p = done.artifact.provenance
    return TaskOutcome(
        **base,
        status=done.artifact.status,
        reason=state.reason,
        reused=done.reused,
        calls=p.calls,
        cache_hits=p.cache_hits,
        tokens=p.tokens_in + p.tokens_out,
        cost_usd=p.cost_usd,
    )


def _bundle(
    reader: Reader, doc: Document, done: list[_Done], tasks: tuple[ArtifactKind, ...]
) -> DocumentBundle:
    """This run's artifacts and failures, plus stored artifacts of tasks not requested."""
    mine = [d for d in done if d.doc.id == doc.id]
    artifacts: dict[str, Artifact] = {d.kind: d.artifact for d in mine if d.artifact is not None}
    for kind in KINDS:
        if kind not in tasks and (stored := reader.stored(doc.id, kind)) is not None:
            artifacts[kind] = stored
    failures = [d.failure for d in mine if d.failure is not None]
    return DocumentBundle(document=doc, failures=failures, **artifacts)


def glossary_terms(reader: Reader, docs: Sequence[Document]) -> list[tuple[str, str, str]]:
    """(zh, en, source) of the glossary entries the corpus uses, each once, in corpus order."""
    terms: dict[str, tuple[str, str, str]] = {}
    for doc in docs:
        for e in reader.glossary.entries_in(doc.text):
            terms.setdefault(e.zh, (e.zh, e.en, e.source))
    return list(terms.values())


# --- the whole command ----------------------------------------------------------------------


async def run_batch(
    settings: Settings,
    paths: Sequence[Source],
    out: Path,
    options: RunOptions,
    observer: Observer,
    *,
    mkdocs: Path | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> RunReport:
    """Open the reader, ingest, run, write the site; the report is the end summary.

    Files are written into ``out`` only, plus ``mkdocs`` (an ``mkdocs.yml``) when given.
    """
    if mkdocs is not None:
        mkdocs_docs_dir(mkdocs, out)  # refuse a config mkdocs would reject before any work
    async with Reader.open(settings, http_client=http_client) as reader:
        corpus = collect(default_paths(paths, settings), lambda p: reader.library.add_source(p)[0])
        if options.enqueue:
            # Imported here: procrastinate and psycopg load only for a run through the queue.
            from service.queue.batch import Enqueued
            from service.queue.jobs import JobQueue

            async with JobQueue.open(reader, settings.db_url) as queue:
                result = await run_corpus(reader, corpus, options, observer, Enqueued(queue))
        else:
            result = await run_corpus(reader, corpus, options, observer)
    report = result.report
    report.site_files, note = publish(result, out, mkdocs)
    report.notes.extend([note] if note else [])
    return report


def publish(
    result: RunResult, out: Path, mkdocs: Path | None = None
) -> tuple[list[Path], str | None]:
    """Write the site (failures shown), and ``mkdocs`` when asked; return files and a note."""
    site = write_site(
        result.bundles,
        out,
        glossary_terms=result.glossary_terms,
        generated_at=dt.datetime.now(dt.UTC),
        reader_version=__version__,
    )
    if mkdocs is None:
        return site.files, None
    return site.files, f"mkdocs config: {write_mkdocs(mkdocs, out)}"
