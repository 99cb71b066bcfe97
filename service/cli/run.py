"""`run`: the batch over a corpus into the Markdown site (and its dry run)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from service.cli.app import app, err_console, friendly_errors
from service.config import get_settings
from service.errors import ConfigError, InputError
from service.ingest.paths import Source, sources

if TYPE_CHECKING:
    from service.artifacts import ArtifactKind
    from service.run.corpus import Prefill, RunOptions, RunReport


@app.command("run")
@friendly_errors
def run(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders (.txt/.html/.pdf/.docx) or http(s) URLs; default: the corpus."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the Markdown site and JSON export.")
    ] = Path("site"),
    tasks: Annotated[
        str, typer.Option("--tasks", help="Comma-separated: summary,translation,commitments.")
    ] = "summary,translation,commitments",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan, tokens and cost only: no model, no server.")
    ] = False,
    force: Annotated[
        str | None, typer.Option("--force", help="Recompute these tasks' artifacts: TASK[,TASK].")
    ] = None,
    batch_api: Annotated[
        bool, typer.Option("--batch-api", help="Fill the cache through the Batch API first.")
    ] = False,
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="Through the job queue (DATABASE_URL on PostgreSQL): `policy-reader worker` "
            "processes compute; this command waits, reading their progress from the database.",
        ),
    ] = False,
    mkdocs: Annotated[
        Path | None,
        typer.Option(
            "--mkdocs",
            help="Also write this mkdocs.yml for the site (outside --out; mkdocs needs that).",
        ),
    ] = None,
) -> None:
    """Run the tasks on a corpus and write the site; exit 1 when anything failed or is partial.

    Resumable: finished model calls are cached, so a re-run continues where a run stopped.
    Writes into --out only (and the --mkdocs file when given).
    """
    from service.run.corpus import RunOptions, parse_kinds

    kinds = parse_kinds(tasks)
    forced = parse_kinds(force, "--force") if force else ()
    if not set(forced) <= set(kinds):
        raise InputError(f"--force {force}: force only tasks that run (--tasks {tasks})")
    if dry_run:
        raise typer.Exit(_dry_run(sources(paths or []), kinds, batch_api=batch_api))
    if enqueue:
        _check_queue(batch_api)
    prefill = _batch_api_prefill() if batch_api else None
    options = RunOptions(kinds, frozenset(forced), prefill, enqueue=enqueue)
    report = _run_batch(sources(paths or []), out, options, mkdocs)
    _print_run_report(report, out)
    raise typer.Exit(report.exit_code)


def _check_queue(batch_api: bool) -> None:
    from service.queue import uses_queue

    if not uses_queue(get_settings().db_url):
        raise InputError(
            "--enqueue needs the job queue: set DATABASE_URL=postgresql+psycopg://… and start "
            "`policy-reader worker`."
        )
    if batch_api:
        raise InputError("--enqueue and --batch-api do not combine: the workers make the calls.")


def _batch_api_prefill() -> Prefill:
    """``service.run.prefill.prefill`` with its round-by-round messages on stderr."""
    from functools import partial

    from service.run.prefill import prefill

    if get_settings().uses_local_model:  # refuse before a local server is started for nothing
        raise ConfigError(
            "--batch-api needs an endpoint with the OpenAI Batch API; the embedded local model "
            "has none. Set OPENAI_BASE_URL/OPENAI_API_KEY/READER_MODEL, or run without it."
        )
    return partial(prefill, progress=lambda line: err_console.print(line, highlight=False))


def _run_batch(
    paths: list[Source], out: Path, options: RunOptions, mkdocs: Path | None
) -> RunReport:
    import sys

    from service.run.corpus import Observer, run_batch
    from service.run.progress import PlainProgress, RichProgress

    def work(display: Observer) -> Coroutine[Any, Any, RunReport]:
        return run_batch(get_settings(), paths, out, options, display, mkdocs=mkdocs)

    if err_console.is_terminal:
        with RichProgress(err_console) as display:
            return _until_terminated(work(display))
    return _until_terminated(work(PlainProgress(sys.stderr)))


def _until_terminated(work: Coroutine[Any, Any, RunReport]) -> RunReport:
    """``asyncio.run``, with SIGTERM (kill, CI, systemd) unwinding the run like Ctrl-C does:
    calls in flight are cancelled and a local model server this run started is stopped."""

    async def main() -> RunReport:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await work
        finally:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        err_console.print(
            "terminated: finished model calls are cached; run the same command to resume",
            highlight=False,
        )
        raise typer.Exit(128 + signal.SIGTERM) from None


def _name_columns() -> tuple[Column, Column]:
    # Narrow terminals and logs fold file names instead of cutting them with "…".
    return Column("document", overflow="fold"), Column("task", no_wrap=True, min_width=11)


def _print_run_report(report: RunReport, out: Path) -> None:
    from rich.markup import escape

    console = Console()
    table = Table(*_name_columns(), "status", "calls", "hits", "tokens", "cost $")
    colours = {"ok": "green", "partial": "yellow", "failed": "red"}
    for o in report.outcomes:
        status = f"[{colours[o.status]}]{o.status}[/]" + (" (stored)" if o.reused else "")
        table.add_row(escape(o.source), o.kind, status, str(o.calls), str(o.cache_hits),
                      f"{o.tokens:,}", f"{o.cost_usd:.4f}")  # fmt: skip
    console.print(table)
    for o in report.outcomes:
        if o.status != "ok":
            reason = escape(o.reason or "no reason given")
            line = f"[{colours[o.status]}]{o.status}:[/] {escape(o.source)} {o.kind}: {reason}"
            console.print(line, highlight=False, soft_wrap=True)
    for f in report.ingest_failures:
        err_console.print(f"[red]not read:[/red] {escape(f.path)}: {escape(f.reason)}")
    for path, doc_id in report.duplicates:
        console.print(f"skipped {escape(path)}: same text as document {doc_id}", soft_wrap=True)
    for note in report.notes:
        console.print(escape(note), soft_wrap=True)
    kept = sorted({o.kind for o in report.outcomes if o.reused and o.status != "ok"})
    if kept:
        retry = " ".join(f"--force {kind}" for kind in kept)
        console.print(f"stored partial/failed artifacts were kept; `{retry}` asks again")
    led = report.ledger
    console.print(
        f"{report.documents} documents: {report.count('ok')} ok, {report.count('partial')} "
        f"partial, {report.count('failed')} failed tasks, {len(report.ingest_failures)} files "
        f"not read · this run: {led.calls} model calls ({led.requests} requests), {led.hits} "
        f"cache hits, {led.errors} "
        f"errors, {led.tokens_in:,}+{led.tokens_out:,} tokens, ~${led.cost_usd:.4f} · "
        f"{report.elapsed_s:.1f}s",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"site: {len(report.site_files)} files in {escape(str(out))}",
        highlight=False,
        soft_wrap=True,
    )


def _dry_run(paths: list[Source], kinds: tuple[ArtifactKind, ...], *, batch_api: bool) -> int:
    """Print the estimate table and totals; returns the exit code (1 if a file failed)."""
    from rich.markup import escape

    from service.ingest import ingest_source
    from service.run.corpus import collect, default_paths
    from service.run.estimate import estimate

    settings = get_settings()
    corpus = collect(default_paths(paths, settings), lambda p: ingest_source(p, settings=settings))
    est = estimate(settings, corpus.documents, kinds, batch_api=batch_api)
    table = Table(*_name_columns(), "chunks", "calls", "prompt tok", "output tok", "cost $")
    notes = list(dict.fromkeys(r.note for r in est.rows if r.note))  # each once, under the table
    for r in est.rows:
        tokens = (f"{r.prompt_tokens:,}", f"{r.output_tokens:,}")
        calls = f"{r.calls} {'*' * (notes.index(r.note) + 1)}" if r.note else str(r.calls)
        table.add_row(escape(r.source), r.kind, str(r.chunks), calls, *tokens,
                      f"{r.cost_usd:.4f}")  # fmt: skip
    console = Console()
    console.print(table)
    for n, note in enumerate(notes, 1):
        console.print(f"{'*' * n} {note}", highlight=False, soft_wrap=True)
    for f in corpus.failures:
        err_console.print(f"[red]not read:[/red] {escape(f.path)}: {escape(f.reason)}")
    price = " at the Batch API price" if est.batch_discount else ""
    console.print(
        f"dry run ({est.model}, profile {est.profile}, {est.budget}-token chunks): "
        f"{len(corpus.documents)} documents, {est.calls} calls, {est.prompt_tokens:,} prompt + "
        f"{est.output_tokens:,} output tokens, ~${est.cost_usd:.4f}{price}; no model was called",
        highlight=False,
        soft_wrap=True,
    )
    return 1 if corpus.failures else 0
