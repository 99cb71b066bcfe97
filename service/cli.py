"""The ``policy-reader`` command line (typer). Thin: parse, call the service, print."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from service import __version__
from service.config import get_settings
from service.errors import ConfigError, InputError, ServiceError
from service.ingest.batch import document_json, ingest_many
from service.models import Document
from service.tasks.commitments.rules import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from service.artifacts import CommitmentsArtifact, Kind
    from service.batch import Prefill, RunOptions, RunReport
    from service.config import Settings
    from service.eval.commitments import Detector
    from service.tasks.context import ProgressEvent

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a ServiceError into one red line on stderr and exit code 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ServiceError as exc:
            # escape: messages quote things like policy-reader[local], which is not markup
            err_console.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def root() -> None:
    """Policy Reader: English summaries, translations and commitments of Chinese policy texts."""


@app.command()
def version() -> None:
    """Print the Policy Reader version."""
    typer.echo(__version__)


# --- gateway: prompts and cache ---------------------------------------------------------------

prompts_app = typer.Typer(no_args_is_help=True, help="Versioned prompt files.")
cache_app = typer.Typer(no_args_is_help=True, help="The model-call cache and ledger.")
app.add_typer(prompts_app, name="prompts")
app.add_typer(cache_app, name="cache")


@prompts_app.command("list")
@friendly_errors
def prompts_list(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Tasks, versions and modes of every prompt file; which is active; short sha256."""
    from service.config import get_settings
    from service.llm.prompts import PromptRegistry

    settings = get_settings()
    reg = PromptRegistry.load(settings.prompts_dir, settings.prompt_versions)
    rows = reg.listing()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("task", "version", "mode", "active", "schema", "sha256")
    for r in rows:
        active = "[green]●[/green]" if r["active"] else ""
        table.add_row(r["task"], r["version"], r["mode"], active, r["schema"] or "-", r["sha256"])
    Console().print(table)


@cache_app.command("stats")
@friendly_errors
def cache_stats(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Entries, hit rate, and tokens and estimated cost saved, by prompt and model."""
    from service.config import get_settings
    from service.store import Store

    stats = Store(get_settings().db_url).cache_stats()
    if as_json:
        typer.echo(stats.model_dump_json(indent=2))
        return
    console = Console()
    console.print(
        f"entries {stats.entries} · calls {stats.calls} · hits {stats.hits} · "
        f"hit rate {stats.hit_rate:.1%}"
    )
    table = Table("prompt", "model", "calls", "hits", "tokens saved", "saved $", "spent $")
    for u in stats.by_prompt_model:
        table.add_row(u.prompt, u.model, str(u.calls), str(u.hits), str(u.tokens_saved),
                      f"{u.cost_saved_usd:.4f}", f"{u.cost_spent_usd:.4f}")  # fmt: skip
    console.print(table)


@cache_app.command("prune")
@friendly_errors
def cache_prune(
    prompt: str | None = typer.Option(None, help="task or task@version, e.g. translate@v1."),
    model: str | None = typer.Option(None, help="Model name as recorded."),
    older_than: str | None = typer.Option(None, help="Age such as 30d, 12h, 2w."),
) -> None:
    """Delete cache entries matching all given filters; prints how many were removed."""
    from service.config import get_settings
    from service.store import Store
    from service.store.store import parse_age

    age = parse_age(older_than) if older_than else None
    n = Store(get_settings().db_url).prune_cache(prompt=prompt, model=model, older_than=age)
    typer.echo(f"removed {n} cache entr{'y' if n == 1 else 'ies'}")


# --- local model server ---


@app.command("local-server")
@friendly_errors
def local_server() -> None:
    """Run the embedded local model server until Ctrl-C (other runs reuse it meanwhile)."""
    import contextlib

    from service.llm.local import LocalServer

    with LocalServer(get_settings()) as server:
        if not server.owned:
            typer.echo(f"already running at {server.base_url}")
            return
        typer.echo(f"local model server at {server.base_url} (Ctrl-C stops it)")
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()


def main() -> None:
    app(prog_name="policy-reader")


# --- glossary ---


@app.command("glossary")
@friendly_errors
def glossary_command(
    path: Annotated[
        Path | None, typer.Argument(help="A UTF-8 text file: list the glossary terms it uses.")
    ] = None,
) -> None:
    """Validate the glossary; with PATH, print the prompt lines for the terms found in it."""
    from service.glossary import Glossary

    glossary = Glossary.from_settings(get_settings())
    typer.echo(f"glossary {glossary.version}: {len(glossary)} entries")
    if path is not None:
        typer.echo(Glossary.render_lines(glossary.entries_in(_read_text(path))))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as UTF-8 text: {exc}") from exc


# --- ingest ---

# --- commitments (rules) ---

# `commitments` (rule-based detector) and the `eval` sub-app; `eval translation` joins it later.
eval_app = typer.Typer(no_args_is_help=True, help="Measure outputs against hand-made references.")
app.add_typer(eval_app, name="eval")


@app.command()
@friendly_errors
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (.txt/.html) to ingest."),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Print the documents as a JSON list."),
) -> None:
    """Decode, clean and segment documents (no model calls); exit 1 if any file failed."""
    result = ingest_many(paths, settings=get_settings())
    for _path, exc in result.failures:
        # The message names the file already (ServiceError messages say which input failed).
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
    if as_json:
        typer.echo(json.dumps([document_json(d) for d in result.documents], ensure_ascii=False))
    else:
        Console().print(_ingest_table(result.documents))
    if result.failures:
        raise typer.Exit(1)


def _ingest_table(documents: list[Document]) -> Table:
    # Narrow terminals wrap names and ids ("fold") instead of cutting them with "…".
    folded = [Column(name, overflow="fold") for name in ("file", "id", "script")]
    table = Table(*folded, "date", "chars raw→clean", "paras", "removed")
    for doc in documents:
        table.add_row(
            doc.source_name,
            doc.id,
            doc.script,
            str(doc.meta.date or ""),
            f"{doc.cleaning.chars_raw}→{doc.cleaning.chars_clean}",
            str(len(doc.paragraphs)),
            str(sum(doc.cleaning.counts.values())),
        )
    return table


@app.command()
@friendly_errors
def commitments(
    paths: Annotated[list[Path], typer.Argument(help="Documents to scan.")],
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Rule-based detector, no model.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop rule candidates scoring below this.")
    ] = DEFAULT_THRESHOLD,
) -> None:
    """List the pledges a document makes."""
    from service.eval.commitments import load_text
    from service.tasks.commitments.rules import detect

    if not rules_only:
        _print_artifacts(_extract_with_model(paths), as_json=as_json)
        return
    settings = get_settings()
    found = {str(p): detect(load_text(p, settings), threshold=min_score) for p in paths}
    if as_json:
        payload = {k: [c.model_dump() for c in v] for k, v in found.items()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for name, candidates in found.items():
        for c in candidates:
            typer.echo(f"{name}\t{c.start}-{c.end}\t{c.modality}\t{c.score}\t{c.quote}")


@eval_app.command("commitments")
@friendly_errors
def eval_commitments(
    golden: Annotated[Path, typer.Option("--golden", help="JSON list of {doc, quote, kind}.")],
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Score the rule-based detector.")
    ] = False,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Folder of the golden documents.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list false positives.")
    ] = False,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop rule candidates scoring below this.")
    ] = DEFAULT_THRESHOLD,
) -> None:
    """Precision, recall and F1 of pledge detection against a golden set."""
    from service.eval.commitments import evaluate_files, format_report

    detector = None if rules_only else _model_detector(golden, corpus)
    report = evaluate_files(
        golden, get_settings(), corpus_dir=corpus, threshold=min_score, detector=detector
    )
    for line in format_report(report, verbose=verbose):
        typer.echo(line)


# --- commitments (model) ---
# The model-backed pipeline for `commitments` and `eval commitments` (without --rules-only).


def _extract_with_model(paths: list[Path]) -> dict[str, CommitmentsArtifact]:
    """Ingest, chunk at the profile's budget and run the commitments task; keyed by path."""
    return asyncio.run(_extract_all(paths, get_settings()))


async def _extract_all(paths: list[Path], settings: Settings) -> dict[str, CommitmentsArtifact]:
    from service.artifacts import CommitmentsArtifact
    from service.ingest import ingest_path
    from service.reader import Reader

    found: dict[str, CommitmentsArtifact] = {}
    async with Reader.open(settings) as reader:
        for path in paths:
            doc = ingest_path(path, settings=settings)
            artifact = await reader.run_task(doc, "commitments", progress=_progress)
            assert isinstance(artifact, CommitmentsArtifact)
            found[str(path)] = artifact
    return found


def _progress(event: ProgressEvent) -> None:
    mark = " (failed)" if event.failed else ""
    err_console.print(f"{event.doc_id} {event.task} {event.done}/{event.total}{mark}")


def _print_artifacts(found: dict[str, CommitmentsArtifact], *, as_json: bool) -> None:
    if as_json:
        payload = {k: a.model_dump(mode="json") for k, a in found.items()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for name, art in found.items():
        for c in art.commitments:
            typer.echo(f"{name}\t{c.start}-{c.end}\t{c.modality}\t{c.source}\t{c.quote}")
        g = art.grounding
        err_console.print(
            f"{name}: {art.status}, {g.shown} shown, {g.unaligned} unaligned, "
            f"{g.checks_failed} failed checks, {g.second_pass_calls} recall calls"
        )


def _model_detector(golden: Path, corpus: Path | None) -> Detector:
    """Run the pipeline on the golden documents; the scorer then looks predictions up by text."""
    from service.eval.commitments import Prediction, load_golden, load_text

    base = corpus or get_settings().corpus_dir
    paths = [base / doc for doc in sorted({g.doc for g in load_golden(golden)})]
    found = _extract_with_model(paths)
    by_text: dict[str, list[Prediction]] = {}
    for path, art in zip(paths, found.values(), strict=True):
        text = load_text(path, get_settings())
        by_text[text] = [
            Prediction(c.start, c.end, c.quote)
            for c in art.commitments
            if c.start is not None and c.end is not None and c.quote is not None
        ]
    return lambda text: by_text[text]


# --- translate (eval translation) ---


@eval_app.command("translation")
@friendly_errors
def eval_translation(
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", help="A bilingual reference file or folder (Chinese<br/>English)."
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", help="Paragraphs per document.")] = 5,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many paragraphs.")] = 0,
    docs: Annotated[
        list[str] | None,
        typer.Option("--docs", help="Only documents whose name contains this (comma list)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON with every paragraph.")] = False,
) -> None:
    """chrF, number preservation and glossary adherence against official translations."""
    import asyncio

    from service.eval.translation import (
        HEADER,
        load_references,
        run_translation_eval,
        table_rows,
    )

    names = [n.strip() for d in docs or [] for n in d.split(",")]
    refs = load_references(reference, names)
    settings = get_settings()
    result = asyncio.run(run_translation_eval(settings, refs, limit=limit, offset=offset))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = Table(
        *HEADER, title=f"{result.model} ({result.profile}), prompt {result.prompt_version}"
    )
    for row in table_rows(result):
        table.add_row(*row)
    Console().print(table)


# --- batch run ---


@app.command("run")
@friendly_errors
def run(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders (.txt/.html); default: the corpus folder."),
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
) -> None:
    """Run the tasks on a corpus and write the site; exit 1 when anything failed or is partial.

    Resumable: finished model calls are cached, so a re-run continues where a run stopped.
    """
    from service.batch import RunOptions, parse_kinds

    kinds = parse_kinds(tasks)
    forced = parse_kinds(force, "--force") if force else ()
    if not set(forced) <= set(kinds):
        raise InputError(f"--force {force}: force only tasks that run (--tasks {tasks})")
    if dry_run:
        raise typer.Exit(_dry_run(paths or [], kinds, batch_api=batch_api))
    prefill = _batch_api_prefill() if batch_api else None
    report = _run_batch(paths or [], out, RunOptions(kinds, frozenset(forced), prefill))
    _print_run_report(report, out)
    raise typer.Exit(report.exit_code)


def _batch_api_prefill() -> Prefill:
    """``service.batch_api.prefill`` with its round-by-round messages on stderr."""
    from functools import partial

    from service.batch_api import prefill

    if get_settings().uses_local_model:  # refuse before a local server is started for nothing
        raise ConfigError(
            "--batch-api needs an endpoint with the OpenAI Batch API; the embedded local model "
            "has none. Set OPENAI_BASE_URL/OPENAI_API_KEY/READER_MODEL, or run without it."
        )
    return partial(prefill, progress=lambda line: err_console.print(line, highlight=False))


def _run_batch(paths: list[Path], out: Path, options: RunOptions) -> RunReport:
    import asyncio
    import sys

    from service.batch import run_batch
    from service.progress import PlainProgress, RichProgress

    settings = get_settings()
    if err_console.is_terminal:
        with RichProgress(err_console) as display:
            return asyncio.run(run_batch(settings, paths, out, options, display))
    return asyncio.run(run_batch(settings, paths, out, options, PlainProgress(sys.stderr)))


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


def _dry_run(paths: list[Path], kinds: tuple[Kind, ...], *, batch_api: bool) -> int:
    """Print the estimate table and totals; returns the exit code (1 if a file failed)."""
    from rich.markup import escape

    from service.batch import collect, default_paths
    from service.estimate import estimate
    from service.ingest import ingest_path

    settings = get_settings()
    corpus = collect(default_paths(paths, settings), lambda p: ingest_path(p, settings=settings))
    est = estimate(settings, corpus.documents, kinds, batch_api=batch_api)
    table = Table(*_name_columns(), "chunks", "calls", "prompt tok", "output tok", "cost $")
    for r in est.rows:
        tokens = (f"{r.prompt_tokens:,}", f"{r.output_tokens:,}")
        table.add_row(escape(r.source), r.kind, str(r.chunks), str(r.calls), *tokens,
                      f"{r.cost_usd:.4f}")  # fmt: skip
    console = Console()
    console.print(table)
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


# --- api ---


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each has its own jobs).")] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs); READER_API_KEY protects /v1."""
    from service.api.server import serve as run_server

    run_server(get_settings(), host=host, port=port, workers=workers)


if __name__ == "__main__":
    main()
