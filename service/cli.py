"""The ``policy-reader`` command line (typer). Thin: parse, call the service, print."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

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


# --- local model server ---


@app.command("local-server")
@friendly_errors
def local_server() -> None:
    """Run the embedded local model server until Ctrl-C (other runs reuse it meanwhile)."""
    import contextlib

    from service.config import get_settings
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


if __name__ == "__main__":
    main()
