"""Operating commands: prompt files, the call cache, the database, the local model server, API."""

from __future__ import annotations

import json
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from service.cli.app import app, cache_app, db_app, friendly_errors, prompts_app
from service.config import get_settings
from service.errors import InputError


@prompts_app.command("list")
@friendly_errors
def prompts_list(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Tasks, versions, modes and strategies of every prompt file; which is active (for the
    configured model's profile); short sha256."""
    from service.config import get_settings
    from service.llm.profiles import configured, resolve_profile
    from service.llm.prompts import load_prompts
    from service.tasks.registry import CATALOG

    settings = get_settings()
    model, name = configured(settings.model, settings.profile, local=settings.uses_local_model)
    rows = load_prompts(settings, resolve_profile(name, model), CATALOG).listing()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("task", "version", "mode", "active", "strategy", "schema", "sha256")
    for r in rows:
        active = "[green]●[/green]" if r["active"] else ""
        table.add_row(r["task"], r["version"], r["mode"], active, r["strategy"], r["schema"] or "-",
                      r["sha256"])  # fmt: skip
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


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Migrate the database (DATABASE_URL, else the cache folder's) to the newest schema."""
    from service.store.migrations import upgrade_url

    done = upgrade_url(get_settings().db_url)
    if done.before == done.after:
        typer.echo(f"database schema at revision {done.after}, up to date")
    else:
        typer.echo(
            f"database schema upgraded from revision {done.before or '(empty)'} to {done.after}"
        )


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
        # SIGTERM (kill, systemd, CI) must stop the llama.cpp child too, like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
@friendly_errors
def relay(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8790,
) -> None:
    """Relay model requests for every worker (READER_RELAY_URL=http://HOST:PORT on them): one
    limit in flight (READER_CONCURRENCY), each call made once, answers kept for workers that die."""
    import uvicorn

    from service.api.relay import create_relay

    settings = get_settings()
    if settings.relay_url:
        raise InputError("READER_RELAY_URL is set for the relay itself; unset it there.")
    uvicorn.run(create_relay(settings), host=host, port=port, access_log=False)


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="API processes. With PostgreSQL they share the job queue (start "
            "`policy-reader worker` too); with SQLite each runs its own jobs."
        ),
    ] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs); READER_API_KEY protects /v1."""
    from service.api.server import serve as run_server

    run_server(get_settings(), host=host, port=port, workers=workers)
