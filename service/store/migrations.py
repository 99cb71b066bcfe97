"""Migrations as data: alembic revisions in ``service/store/alembic/versions``, run in code.

The store upgrades its database to the newest revision when it opens (``Store(db_url)``), and
``policy-reader db upgrade`` does the same on demand. An upgrade runs under a lock, so that
processes starting together do not collide: SQLite's write lock (BEGIN IMMEDIATE), on
PostgreSQL a transaction-level advisory lock; the later ones find the work done. No
alembic.ini: the configuration is built here and the connection handed to ``env.py``. A
database already at the newest revision is recognised by one query, without alembic (importing
it costs a command ~0.3 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

from service.errors import ConfigError
from service.store.db import make_engine, with_lock_retry

SCRIPTS = Path(__file__).with_name("alembic")
# Before alembic, numbered functions recorded themselves in this table; the only one, version 1,
# built exactly the tables of revision 0001, so such a database is stamped 0001 and upgraded.
LEGACY_TABLE = "schema_version"
LEGACY_REVISION = "0001"
# Revisions are numbered in their file names and ids alike (0002_drop_schema_version.py has
# revision "0002"), one after the other: the newest is the highest number (a test checks that
# this is alembic's head).
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
# The key of PostgreSQL's advisory lock around an upgrade: any fixed 64-bit number that other
# users of the database are unlikely to pick; this one is the ASCII of "policy-r".
MIGRATION_LOCK = int.from_bytes(b"policy-r", "big")


class Upgrade(NamedTuple):
    """The schema revision before and after an upgrade (before is None for an empty database)."""

    before: str | None
    after: str


def alembic_config(conn: Connection) -> Config:
    """An alembic configuration that runs ``env.py`` on this connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision this code knows, as alembic reads it."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory(str(SCRIPTS)).get_current_head()
    assert revision is not None, "no revisions in service/store/alembic/versions"
    return revision


def current(conn: Connection) -> str | None:
    """The revision the database is at (None: no alembic_version table yet)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def newest_revision() -> str:
    """The newest revision from the file names alone (no alembic import)."""
    found = (_REVISION_FILE.match(p.name) for p in (SCRIPTS / "versions").iterdir())
    return max(m.group(1) for m in found if m)


def upgrade(engine: Engine, revision: str = "head") -> Upgrade:
    """Bring the database to ``revision`` in one transaction, adopting a pre-alembic database."""
    if revision == "head" and (at := _recorded(engine)) == newest_revision():
        return Upgrade(at, at)
    # Processes starting together queue on the lock in migration_connection; the later ones
    # find the work done.
    return with_lock_retry(lambda: _upgrade_once(engine, revision))


def _recorded(engine: Engine) -> str | None:
    """The revision in ``alembic_version``, by one query (None when there is no such table)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def _upgrade_once(engine: Engine, revision: str) -> Upgrade:
    from alembic import command
    from alembic.util import CommandError

    with migration_connection(engine) as conn:
        config = alembic_config(conn)
        _stamp_legacy(conn, config)
        before = current(conn)
        try:
            command.upgrade(config, revision)
        except CommandError as exc:
            raise ConfigError(
                f"Cannot migrate the database from schema revision {before} to {revision} "
                f"(this Policy Reader knows up to {head()}): {exc}"
            ) from exc
        after = current(conn)
        assert after is not None, f"upgrade to {revision} left no revision"
        return Upgrade(before, after)


def upgrade_url(db_url: str) -> Upgrade:
    """Bring the database at this URL to the newest revision (``policy-reader db upgrade``)."""
    engine = make_engine(db_url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that holds the migration lock: SQLite's write lock
    (taken by BEGIN IMMEDIATE), PostgreSQL's advisory lock MIGRATION_LOCK."""
    with _transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            # Released by the transaction's end; DDL is transactional there, so a waiting
            # process sees all of an upgrade or none of it.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        yield conn


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction; on SQLite with foreign-key enforcement off meanwhile."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on, dropping
        # documents would cascade-delete its chunks and artifacts. The pragma is a no-op inside
        # a transaction, so it is set on the DBAPI connection before BEGIN.
        if sqlite:
            _sqlite_pragma(conn, "foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                _sqlite_pragma(conn, "foreign_keys=ON")


def _sqlite_pragma(conn: Connection, pragma: str) -> None:
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _stamp_legacy(conn: Connection, config: Config) -> None:
    """Record the revision of a database made by the numbered functions, keeping its data."""
    from alembic import command

    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables or LEGACY_TABLE not in tables:
        return
    versions = set(conn.execute(text(f"SELECT version FROM {LEGACY_TABLE}")).scalars())
    if versions != {1}:
        raise ConfigError(
            f"The database has pre-alembic schema versions {sorted(versions)}; "
            "only version 1 can be upgraded."
        )
    command.stamp(config, LEGACY_REVISION)
