"""Engine creation: SQLite pragmas for safe concurrent use, and a retry for locked writes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import create_engine

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
LOCK_RETRIES = 8


def make_engine(db_url: str) -> Engine:
    """Create the engine; for SQLite, make the directory and install the pragmas."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(db_url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


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
    # IMMEDIATE takes the write lock up front: a deferred read-then-write transaction can fail
    # with "database is locked" without waiting on busy_timeout when another writer is active.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def with_lock_retry(fn: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run a short write transaction, retrying when SQLite reports the database is locked."""
    for attempt in range(LOCK_RETRIES):
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if attempt == LOCK_RETRIES - 1:
                raise
            sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")
