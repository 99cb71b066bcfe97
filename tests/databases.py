"""Databases for the store's tests: SQLite files in tmp_path, and PostgreSQL databases made on
the server that READER_TEST_DATABASE_URL names (``bash .ci/postgres`` starts one and prints it).

Each test session makes its own uniquely named databases and drops them afterwards, so runs on
one server (two engineers, CI) never see each other's rows.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import service.store.tables  # noqa: F401  (the tables to empty)

SERVER_VARIABLE = "READER_TEST_DATABASE_URL"
NO_SERVER = (
    f"no PostgreSQL server for the tests: set {SERVER_VARIABLE} "
    "(`bash .ci/postgres` starts one and prints its URL)"
)


def server_url() -> str | None:
    """The URL of a database on the test server (its role may create databases), if any."""
    return os.environ.get(SERVER_VARIABLE) or None


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty database on the server of ``server``: its URL; dropped afterwards."""
    url = make_url(server)
    name = f"reader_test_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE: a pooled connection a test left open must not keep the database alive.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def empty_tables(db_url: str) -> None:
    """Delete every row of the store's tables (the schema stays), ids counting from 1 again."""
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def at_once(target: Callable[..., None], calls: list[tuple[Any, ...]]) -> list[int | None]:
    """Run ``target(*args, ready, go)`` in a process per args; each releases ``ready`` once set
    up and waits for ``go``, set when all are ready. Their exit codes (None: still running)."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, ready, go)) for args in calls]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=300), "a process did not get ready"
    go.set()
    for p in procs:
        p.join(300)
    return [p.exitcode for p in procs]
