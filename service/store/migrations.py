"""Migrations as data: numbered functions, each applied once and recorded in schema_version."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from service.store.tables import (
    ArtifactRow,
    CacheEntry,
    CallRow,
    ChunkRow,
    DocumentRow,
    JobRow,
    SchemaVersion,
)

Migration = Callable[[Connection], None]


def m001_initial(conn: Connection) -> None:
    """Cache, ledger, documents, chunks, artifacts, jobs."""
    for model in (CacheEntry, CallRow, DocumentRow, ChunkRow, ArtifactRow, JobRow):
        _table(model.__tablename__).create(conn, checkfirst=True)


def _table(name: object) -> Table:
    return SQLModel.metadata.tables[str(name)]


MIGRATIONS: dict[int, Migration] = {1: m001_initial}


def migrate(engine: Engine) -> int:
    """Apply pending migrations in one transaction; return the schema version reached."""
    with engine.begin() as conn:
        _table(SchemaVersion.__tablename__).create(conn, checkfirst=True)
        done = set(conn.execute(select(SchemaVersion.version)).scalars())  # type: ignore[call-overload]
        for number in sorted(MIGRATIONS):
            if number not in done:
                MIGRATIONS[number](conn)
                conn.execute(_table("schema_version").insert().values(version=number))
    return max(MIGRATIONS)
