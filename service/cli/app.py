"""The typer application and what every command shares: error handling and consoles."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from service import __version__
from service.errors import ServiceError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Policy Reader: English summaries, translations and commitments of Chinese policy texts.",
)
eval_app = typer.Typer(no_args_is_help=True, help="Measure outputs against hand-made references.")
prompts_app = typer.Typer(no_args_is_help=True, help="Versioned prompt files.")
cache_app = typer.Typer(no_args_is_help=True, help="The model-call cache and ledger.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
jobs_app = typer.Typer(no_args_is_help=True, help="Jobs: list them; on the queue, cancel, retry.")
app.add_typer(eval_app, name="eval")
app.add_typer(prompts_app, name="prompts")
app.add_typer(cache_app, name="cache")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
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


def main() -> None:
    app(prog_name="policy-reader")
