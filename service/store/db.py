"""Engine creation (SQLite with pragmas for safe concurrent use, or PostgreSQL through psycopg),
and a retry for writes that lost a race for a lock."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import create_engine

from service.errors import ConfigError

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
LOCK_RETRIES = 8
# PostgreSQL's transient errors, by SQLSTATE: the transaction lost to another and may simply be
# run again (serialization_failure, deadlock_detected, lock_not_available).
PG_TRANSIENT = frozenset({"40001", "40P01", "55P03"})
# SQLite's: SQLITE_BUSY (5) and SQLITE_LOCKED (6), the primary code of any extended one.
SQLITE_TRANSIENT = frozenset({5, 6})
# Execution option of an engine that only reads (``Store._reads``): on SQLite its statements
# run without BEGIN IMMEDIATE. A read needs no write lock, and one SELECT is a consistent
# snapshot by itself; under the lock it would also wait for every writer (busy_timeout).
READ_ONLY = "reader_read_only"


def make_engine(db_url: str) -> Engine:
    """Create the engine; for SQLite, make the directory and install the pragmas."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return _server_engine(url)
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _server_engine(url: URL) -> Engine:
    """An engine on a database server (PostgreSQL); a missing driver is a one-line error."""
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"DATABASE_URL needs the driver {exc.name!r}: "
            "pip install 'policy-reader[postgres]' (psycopg)."
        ) from exc


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL's database lives in; None in memory. In URI form (``uri=true``)
    the database is ``file:PATH``: its folder is PATH's, not a folder named ``file:``."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    if url.query.get("uri") == "true":
        database = database.removeprefix("file:")
    return Path(database)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is disabled so that "begin" below is the only BEGIN.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        return  # pysqlite is in autocommit mode (isolation_level None): no transaction at all
    # IMMEDIATE takes the write lock up front: a deferred read-then-write transaction can fail
    # with "database is locked" without waiting on busy_timeout when another writer is active.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def with_lock_retry(fn: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run a short write transaction, again when it lost a race for a lock (``is_transient``)."""
    for attempt in range(LOCK_RETRIES):
        try:
            return fn()
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == LOCK_RETRIES - 1:
                raise
            sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def is_missing_parent(exc: DBAPIError) -> bool:
    """A foreign key points at no row: the document was deleted meanwhile (by error code)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "23503")  # foreign_key_violation
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY


def is_transient(exc: DBAPIError) -> bool:
    """The write may succeed when run again: SQLite's database is busy or locked, or one of
    PostgreSQL's transient errors; told by the error code (a message may be localised)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in PG_TRANSIENT
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in SQLITE_TRANSIENT
