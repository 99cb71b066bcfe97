"""The ``policy-reader`` command line (typer). Thin: parse, call the service, print."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from service import __version__
from service.config import get_settings
from service.errors import InputError, ServiceError
from service.ingest.batch import document_json, ingest_many
from service.models import Document
from service.tasks.commitments.rules import DEFAULT_THRESHOLD

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
            err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def root() -> None:
    """Policy Reader: English summaries, translations and commitments of Chinese policy texts."""


@app.command()
def version() -> None:
    """Print the Policy Reader version."""
    typer.echo(__version__)


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
        raise ServiceError(
            "the model-backed commitments pipeline is not wired yet; use --rules-only"
        )
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

    if not rules_only:
        raise ServiceError(
            "the model-backed commitments pipeline is not wired yet; use --rules-only"
        )
    report = evaluate_files(golden, get_settings(), corpus_dir=corpus, threshold=min_score)
    for line in format_report(report, verbose=verbose):
        typer.echo(line)


def main() -> None:
    app(prog_name="policy-reader")


if __name__ == "__main__":
    main()
