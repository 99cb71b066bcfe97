"""Store: documents, artifacts, jobs and concurrent writers, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from service.errors import ConfigError, InputError, NotFound
from service.models import Chunk
from service.store import Store
from service.store.db import LOCK_RETRIES, is_transient, make_engine, sqlite_file, with_lock_retry
from service.store.migrations import head
from service.store.store import parse_age
from tests.databases import at_once
from tests.racers import DOCS, KEYS, RACERS, document, racer, record, writer

if TYPE_CHECKING:
    from tests.fakes import Configure


_record, _doc = record, document


def test_pragmas_and_schema_revision(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == store.schema_revision == head()


def test_reopening_keeps_the_data(db_url: str) -> None:
    first = Store(db_url)
    first.save_document(_doc())
    first.close()
    again = Store(db_url)
    assert again.get_document("d1") == _doc()
    assert again.schema_revision == head()
    again.close()


def test_document_roundtrip_and_idempotent_save(db_store: Store) -> None:
    doc = _doc()
    db_store.save_document(doc)
    db_store.save_document(doc)
    assert db_store.get_document("d1") == doc
    assert [d.id for d in db_store.list_documents()] == ["d1"]


def test_delete_document_cascades_artifacts_but_keeps_cache(db_store: Store) -> None:
    db_store.save_document(_doc())
    db_store.save_artifact("d1", "summary", "summary@v1|m", {"headline": "x"})
    db_store.save_chunks(
        "d1",
        500,
        [Chunk(id="c0", index=0, start=0, end=9, text="t", tokens=3, paragraph_ids=["p1"])],
    )
    db_store.put_cached(_record("k", "t", "v1", "m"), "r")
    assert db_store.delete_document("d1") is True
    assert db_store.get_artifact("d1", "summary") is None
    assert db_store.get_chunk_rows("d1", 500) == []
    assert db_store.get_cached("k") is not None
    with pytest.raises(NotFound):
        db_store.get_document("d1")
    assert db_store.delete_document("d1") is False


def test_artifact_unique_per_variant_and_replace(db_store: Store) -> None:
    db_store.save_document(_doc())
    db_store.save_artifact("d1", "summary", "v1|m", {"n": 1}, provenance={"model": "m"})
    db_store.save_artifact("d1", "summary", "v1|m", {"n": 2})
    db_store.save_artifact("d1", "summary", "v2|m", {"n": 3}, status="partial")
    got = db_store.get_artifact("d1", "summary", "v1|m")
    assert got is not None and got.payload == {"n": 2}
    assert len(db_store.list_artifacts("d1")) == 2
    newest = db_store.get_artifact("d1", "summary")
    assert newest is not None and newest.variant == "v2|m" and newest.status == "partial"


def test_artifact_payload_is_the_stored_payload_of_that_variant(db_store: Store) -> None:
    db_store.save_document(_doc())
    payload = {"headline": "国务院", "points": [{"n": 1.5, "ok": True}], "none": None}
    db_store.save_artifact("d1", "summary", "v1|m", payload, provenance={"model": "m"})
    db_store.save_artifact("d1", "summary", "v2|m", {"n": 2})
    assert db_store.artifact_payload("d1", "summary", "v1|m") == payload
    assert db_store.artifact_payload("d1", "summary", "v2|m") == {"n": 2}
    assert db_store.artifact_payload("d1", "summary", "v3|m") is None
    assert db_store.artifact_payload("d1", "translation", "v1|m") is None


def test_reads_neither_wait_for_a_writer_nor_see_its_open_transaction(store: Store) -> None:
    """SQLite: a read takes no write lock (it used to begin IMMEDIATE and wait for every
    writer up to busy_timeout); it sees what was committed."""
    store.save_document(_doc())
    store.save_artifact("d1", "summary", "v1|m", {"n": 1})
    store.put_cached(_record("k", "t", "v1", "m"), "r")
    path = sqlite_file(make_url(store.db_url))
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE artifacts SET payload = '{\"n\": 2}'")
        writer.execute("UPDATE cache SET response = 'changed'")
        assert store.artifact_payload("d1", "summary", "v1|m") == {"n": 1}
        artifact = store.get_artifact("d1", "summary")
        assert artifact is not None and artifact.payload == {"n": 1}
        cached = store.get_cached("k")
        assert cached is not None and cached.response == "r"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_chunks_replace_per_budget(db_store: Store) -> None:
    db_store.save_document(_doc())
    c = Chunk(id="c0", index=0, start=0, end=4, text="第一段。", tokens=4, paragraph_ids=["p1"])
    db_store.save_chunks("d1", 100, [c])
    db_store.save_chunks("d1", 100, [c])
    rows = db_store.get_chunk_rows("d1", 100)
    assert rows == [{"index": 0, "start": 0, "end": 4, "text": "第一段。", "tokens": 4}]


def test_jobs_lifecycle(db_store: Store) -> None:
    job = db_store.create_job("translate", "d1")
    assert job.status == "queued"
    job = db_store.update_job(job.id, status="running", progress={"done": 1, "total": 3})
    assert db_store.get_job(job.id).progress == {"done": 1, "total": 3}
    job = db_store.update_job(job.id, status="failed", error="boom")
    assert (job.status, job.error) == ("failed", "boom")
    with pytest.raises(InputError):
        db_store.update_job(job.id, status="exploded")
    with pytest.raises(NotFound):
        db_store.get_job("nope")


def test_set_progress_writes_the_progress_alone(db_store: Store) -> None:
    job = db_store.update_job(db_store.create_job("translate", "d1").id, status="running")
    db_store.set_progress(job.id, {"done": 2, "total": 3, "step": "translate"})
    stored = db_store.get_job(job.id)
    assert stored.progress == {"done": 2, "total": 3, "step": "translate"}
    assert stored.status == "running" and stored.updated_at >= job.updated_at
    with pytest.raises(NotFound):
        db_store.set_progress("nope", {})


def test_live_jobs_are_a_documents_queued_and_running_ones(db_store: Store) -> None:
    queued, running = db_store.create_job("translate", "d1"), db_store.create_job("summary", "d1")
    db_store.update_job(running.id, status="running")
    done, failed = db_store.create_job("summary", "d1"), db_store.create_job("summary", "d1")
    db_store.update_job(done.id, status="done")
    db_store.update_job(failed.id, status="failed", error="boom")
    db_store.create_job("translate", "d2")
    assert sorted(j.id for j in db_store.live_jobs("d1")) == sorted([queued.id, running.id])
    assert db_store.live_jobs("nope") == []


def test_prune_filters(db_store: Store) -> None:
    for i, (task, ver, model) in enumerate(
        [("translate", "v1", "a"), ("translate", "v2", "a"), ("summary", "v1", "b")]
    ):
        db_store.put_cached(_record(f"k{i}", task, ver, model), "r")
    assert db_store.prune_cache(older_than=dt.timedelta(days=1)) == 0
    assert db_store.prune_cache(prompt="translate@v1") == 1
    assert db_store.prune_cache(model="b") == 1
    assert db_store.cache_keys() == ["k1"]
    with pytest.raises(InputError):
        db_store.prune_cache()


def test_parse_age() -> None:
    assert parse_age("30d") == dt.timedelta(days=30)
    assert parse_age("12h") == dt.timedelta(hours=12)
    with pytest.raises(InputError, match="30d"):
        parse_age("soon")


def test_two_processes_write_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    url = f"sqlite:///{path}"
    n = 150
    assert at_once(writer, [(url, p, n) for p in "ab"]) == [0, 0]
    store = Store(url)
    keys = set(store.cache_keys())
    assert keys == {f"{p}{i}" for p in "ab" for i in range(n)}
    assert store.cache_stats().calls == 2 * n
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_processes_racing_the_same_writes_lose_and_duplicate_nothing(db_url: str) -> None:
    Store(db_url).close()  # the schema first: the race is the writes' (test_migrations races it)
    names = [f"w{n}" for n in range(RACERS)]
    assert at_once(racer, [(db_url, name) for name in names]) == [0] * RACERS
    store = Store(db_url)
    assert sorted(store.cache_keys()) == sorted(f"k{i}" for i in range(KEYS))
    responses = {getattr(store.get_cached(f"k{i}"), "response", None) for i in range(KEYS)}
    assert responses <= set(names)
    assert store.cache_stats().calls == RACERS * KEYS
    assert sorted(d.id for d in store.list_documents()) == [f"d{i}" for i in range(DOCS)]
    for i in range(DOCS):
        (artifact,) = store.list_artifacts(f"d{i}")
        assert artifact.payload["by"] in names
        assert [c["text"] for c in store.get_chunk_rows(f"d{i}", 100)] in ([n] for n in names)
    store.close()


def test_saving_a_document_again_keeps_its_artifacts(db_store: Store) -> None:
    # ON CONFLICT DO UPDATE replaces the row in place: no delete that would cascade.
    db_store.save_document(_doc())
    db_store.save_artifact("d1", "summary", "v1|m", {"n": 1})
    db_store.save_document(_doc().model_copy(update={"source_name": "b.txt"}))
    assert db_store.get_document("d1").source_name == "b.txt"
    assert db_store.get_artifact("d1", "summary") is not None


class _DriverError(Exception):
    """What a driver raises: psycopg's errors carry ``sqlstate``, sqlite3's an error code."""

    def __init__(self, sqlstate: str | None = None, sqlite_errorcode: int | None = None) -> None:
        super().__init__("a message in any language")
        self.sqlstate, self.sqlite_errorcode = sqlstate, sqlite_errorcode


@pytest.mark.parametrize(
    ("orig", "transient"),
    [
        (_DriverError(sqlstate="40001"), True),  # serialization_failure
        (_DriverError(sqlstate="40P01"), True),  # deadlock_detected
        (_DriverError(sqlstate="55P03"), True),  # lock_not_available
        (_DriverError(sqlstate="23505"), False),  # unique_violation: a bug, not a race
        (_DriverError(sqlite_errorcode=5), True),  # SQLITE_BUSY
        (_DriverError(sqlite_errorcode=6 | 1 << 8), True),  # SQLITE_LOCKED_SHAREDCACHE
        (_DriverError(sqlite_errorcode=19), False),  # SQLITE_CONSTRAINT
        (_DriverError(), False),
    ],
)
def test_transient_errors_are_told_by_their_code(orig: _DriverError, transient: bool) -> None:
    assert is_transient(OperationalError("UPDATE ...", {}, orig)) is transient


def _failing(*sqlstates: str) -> Callable[[], str]:
    """A write that fails with these SQLSTATEs, one per attempt, then succeeds."""
    left = list(sqlstates)

    def write() -> str:
        if left:
            raise OperationalError("INSERT ...", {}, _DriverError(sqlstate=left.pop(0)))
        return "written"

    return write


def test_a_write_that_lost_a_race_is_run_again_and_others_are_not() -> None:
    sleeps: list[float] = []
    assert with_lock_retry(_failing("40P01", "40001"), sleep=sleeps.append) == "written"
    assert sleeps == [0.05, 0.1]
    with pytest.raises(OperationalError):
        with_lock_retry(_failing("23505"), sleep=sleeps.append)
    with pytest.raises(OperationalError):
        with_lock_retry(_failing(*["55P03"] * LOCK_RETRIES), sleep=sleeps.append)
    assert len(sleeps) == 2 + LOCK_RETRIES - 1


def test_postgresql_lock_timeout_is_retried_until_the_lock_is_free(pg_url: str) -> None:
    store = Store(pg_url)
    store.save_document(_doc())
    # A second engine that gives up waiting for a row lock after 50 ms (SQLSTATE 55P03).
    impatient = make_engine(f"{pg_url}?options=-c%20lock_timeout%3D50")
    holder = store.engine.connect()
    held = holder.begin()
    holder.execute(text("SELECT id FROM documents WHERE id = 'd1' FOR UPDATE"))

    def rename() -> None:
        with impatient.begin() as conn:
            conn.execute(text("UPDATE documents SET source_name = 'b.txt' WHERE id = 'd1'"))

    def release(_seconds: float) -> None:
        held.rollback()  # instead of sleeping: the holder commits while the writer waits

    with_lock_retry(rename, sleep=release)
    assert not held.is_active
    assert store.get_document("d1").source_name == "b.txt"
    holder.close()
    impatient.dispose()
    store.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////data/reader.sqlite3", "/data/reader.sqlite3"),
        ("sqlite:///file:/data/reader.sqlite3?mode=ro&uri=true", "/data/reader.sqlite3"),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
    ],
)
def test_the_sqlite_file_of_a_url(url: str, expected: str | None) -> None:
    path = sqlite_file(make_url(url))
    assert (None if path is None else str(path)) == expected


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_a_postgresql_url_goes_through_psycopg(scheme: str, configure: Configure) -> None:
    settings = configure(DATABASE_URL=f"{scheme}://u:p@db.example:5432/reader")
    assert settings.db_url == "postgresql+psycopg://u:p@db.example:5432/reader"


def test_a_missing_database_driver_is_one_line_naming_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"needs the driver 'pg8000'.*policy-reader\[postgres\]"):
        make_engine("postgresql+pg8000://u:p@127.0.0.1:1/reader")


def test_save_answer_writes_the_cache_entry_and_the_ledger_row_together(db_store: Store) -> None:
    mark = db_store.ledger_mark()
    first = _record("k", "t", "v1", "m")
    first.tokens_in, first.tokens_out = 120, 30
    db_store.save_answer(first, "answer")
    db_store.save_answer(_record("k", "t", "v1", "m"), "another")  # a second writer of k
    cached = db_store.get_cached("k")
    assert cached is not None and cached.response == "answer" and cached.tokens_in == 120
    totals = db_store.ledger_since(mark)
    assert totals.calls == 2 and totals.tokens_in == 120 + 1  # both calls were paid


def test_save_answer_writes_neither_when_the_ledger_row_fails(db_store: Store) -> None:
    bad = _record("k", "t", "v1", "m")
    bad.outcome = None  # type: ignore[assignment]  # NOT NULL in the ledger
    with pytest.raises(IntegrityError):
        db_store.save_answer(bad, "answer")
    assert db_store.get_cached("k") is None


def test_an_artifact_of_a_document_deleted_meanwhile_is_not_found(db_store: Store) -> None:
    """A background compute that ends after its document was deleted: a clear NotFound (the
    job fails with it), not the driver's foreign-key error."""
    db_store.save_document(_doc())
    assert db_store.delete_document("d1") is True
    with pytest.raises(NotFound, match="deleted while its summary was computed"):
        db_store.save_artifact("d1", "summary", "v1|m", {"n": 1})
