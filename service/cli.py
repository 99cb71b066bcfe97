"""The ``policy-reader`` command line (typer). Thin: parse, call the service, print."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from service import __version__
from service.errors import ServiceError

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


# --- commitments (rules) ---
from service.tasks.commitments.rules import DEFAULT_THRESHOLD  # noqa: E402  (pure, no I/O)

# `commitments` (rule-based detector) and the `eval` sub-app; `eval translation` joins it later.
eval_app = typer.Typer(no_args_is_help=True, help="Measure outputs against hand-made references.")
app.add_typer(eval_app, name="eval")


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
    from service.config import get_settings
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
    from service.config import get_settings
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
