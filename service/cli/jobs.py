"""The job queue: ``worker`` and ``jobs list | cancel | retry``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from service.cli.app import app, friendly_errors, jobs_app
from service.config import Settings, get_settings
from service.errors import InputError

if TYPE_CHECKING:
    from service.queue.jobs import JobQueue

T = TypeVar("T")


@app.command()
@friendly_errors
def worker(
    concurrency: Annotated[
        int, typer.Option(help="Jobs this worker runs at once (model calls: READER_CONCURRENCY).")
    ] = 4,
    name: Annotated[
        str | None, typer.Option(help="Name in the logs and the workers table.")
    ] = None,
) -> None:
    """Take jobs from the queue (DATABASE_URL on PostgreSQL) until Ctrl-C or SIGTERM."""
    import logging

    from service.queue.worker import work

    settings = _queue_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(work(settings, concurrency=concurrency, name=name))


@jobs_app.command("list")
@friendly_errors
def jobs_list(
    status: Annotated[str | None, typer.Option(help="queued, running, done or failed.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """The newest jobs (the API's and the queue's): status, progress, error."""
    from service.store import Store

    rows = Store(get_settings().db_url).list_jobs(status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table("id", "document", "kind", "status", "progress", "error", "updated")
    for r in rows:
        done = f"{r.progress.get('done', 0)}/{r.progress.get('total', 0)}"
        table.add_row(r.id, r.doc_id or "-", r.kind, r.status, done, r.error or "",
                      f"{r.updated_at:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    Console().print(table)


@jobs_app.command("cancel")
@friendly_errors
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="The job's id.")]) -> None:
    """Stop a queued or running job; it ends failed with the reason 'cancelled'."""
    job = _with_queue(lambda q: q.cancel(job_id))
    typer.echo(f"job {job.id} cancelled")


@jobs_app.command("retry")
@friendly_errors
def jobs_retry(job_id: Annotated[str, typer.Argument(help="A failed job's id.")]) -> None:
    """Queue a failed job's artifact again (a new job; the live one if there is one)."""
    new_id, created = _with_queue(lambda q: q.retry(job_id))
    typer.echo(
        f"job {new_id} {'queued' if created else 'already live'} for job {job_id}'s artifact"
    )


def _queue_settings() -> Settings:
    from service.queue import uses_queue

    settings = get_settings()
    if not uses_queue(settings.db_url):
        raise InputError(
            "The job queue needs DATABASE_URL=postgresql+psycopg://…; with the SQLite default, "
            "jobs run inside `policy-reader serve`."
        )
    return settings


def _with_queue(action: Callable[[JobQueue], Awaitable[T]]) -> T:
    from service.queue.jobs import JobQueue
    from service.reader import Reader

    settings = _queue_settings()

    async def main() -> T:
        async with Reader.open(settings) as reader, JobQueue.open(reader, settings.db_url) as q:
            return await action(q)

    return asyncio.run(main())
