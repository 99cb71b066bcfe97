"""Alembic environment, configured in code: ``service.store.migrations`` passes the connection."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import service.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def run_migrations() -> None:
    """Run the pending revisions inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise RuntimeError("Run migrations through service.store.migrations.upgrade.")
    # Batch mode: SQLite cannot ALTER most things, so changed tables are copied and renamed;
    # on other databases the same scripts emit plain ALTER statements.
    context.configure(
        connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
