"""Connections to the queue's PostgreSQL database, its schema, and the queue's names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from procrastinate import App, PsycopgConnector
from psycopg_pool import AsyncConnectionPool

TASK = "compute_artifact"
QUEUE = "artifacts"
# Namespaces (first key) of the advisory locks this package takes; the second key varies.
SCHEMA_LOCK = 16_001
ADMIT_LOCK = 16_002
SLOT_LOCK = 16_003
KEY_LOCK = 16_004


def conninfo(database_url: str) -> str:
    """psycopg's URL from SQLAlchemy's (``postgresql+psycopg://…`` → ``postgresql://…``)."""
    return "postgresql://" + database_url.partition("://")[2]


def make_app(database_url: str) -> App:
    """The procrastinate app (opened by the caller); tasks are configured by name."""
    return App(connector=PsycopgConnector(conninfo=conninfo(database_url)))


def make_pool(database_url: str, size: int) -> AsyncConnectionPool:
    """Our own connections (admission and slot locks), in autocommit; opened by the caller."""
    kwargs = {"autocommit": True}
    return AsyncConnectionPool(
        conninfo(database_url), min_size=1, max_size=size, kwargs=kwargs, open=False
    )


@asynccontextmanager
async def advisory_lock(
    conn: psycopg.AsyncConnection, namespace: int, key: str
) -> AsyncIterator[None]:
    """A session-level advisory lock on (namespace, hash of key), held for the block."""
    await conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (namespace, key))
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (namespace, key))


async def ensure_schema(app: App, database_url: str) -> None:
    """Create procrastinate's tables once; concurrent starts wait on a lock, then see them."""
    async with (
        await psycopg.AsyncConnection.connect(conninfo(database_url), autocommit=True) as conn,
        advisory_lock(conn, SCHEMA_LOCK, "procrastinate"),
    ):
        found = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
        if found is None or found[0] is None:
            await conn.execute(app.schema_manager.get_schema().encode())
