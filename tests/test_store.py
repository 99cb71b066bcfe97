"""Store: documents, artifacts, jobs, migrations and concurrent writers on one SQLite file."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from service.errors import InputError, NotFound
from service.models import Chunk, CleaningReport, Document, DocumentMeta, Paragraph
from service.store import CallRecord, Store
from service.store.db import sqlite_file
from service.store.migrations import head
from service.store.store import parse_age


def _record(key: str, task: str, version: str, model: str) -> CallRecord:
    """A call of one token in and out, as the gateway records it."""
    return CallRecord(
        cache_key=key, task=task, prompt_id=task, prompt_version=version, model=model,
        tokens_in=1, tokens_out=1,
    )  # fmt: skip


def _doc(doc_id: str = "d1") -> Document:
    text = "第一段。\n第二段。"
    paras = [
        Paragraph(id="p1", index=0, start=0, end=4, text="第一段。"),
        Paragraph(id="p2", index=1, start=5, end=9, text="第二段。"),
    ]
    return Document(
        id=doc_id,
        source_name="a.txt",
        raw_sha256="ab" * 32,
        script="simplified",
        text=text,
        meta=DocumentMeta(title_zh="标题", date=dt.date(2024, 1, 2)),
        cleaning=CleaningReport(encoding="utf-8", chars_raw=12, chars_clean=9),
        paragraphs=paras,
    )


def test_pragmas_and_schema_revision(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == store.schema_revision == head()


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    first = Store(url)
    first.save_document(_doc())
    first.close()
    assert Store(url).get_document("d1") == _doc()


def test_document_roundtrip_and_idempotent_save(store: Store) -> None:
    doc = _doc()
    store.save_document(doc)
    store.save_document(doc)
    assert store.get_document("d1") == doc
    assert [d.id for d in store.list_documents()] == ["d1"]


def test_delete_document_cascades_artifacts_but_keeps_cache(store: Store) -> None:
    store.save_document(_doc())
    store.save_artifact("d1", "summary", "summary@v1|m", {"headline": "x"})
    store.save_chunks(
        "d1",
        500,
        [Chunk(id="c0", index=0, start=0, end=9, text="t", tokens=3, paragraph_ids=["p1"])],
    )
    store.put_cached(_record("k", "t", "v1", "m"), "r")
    assert store.delete_document("d1") is True
    assert store.get_artifact("d1", "summary") is None
    assert store.get_chunk_rows("d1", 500) == []
    assert store.get_cached("k") is not None
    with pytest.raises(NotFound):
        store.get_document("d1")
    assert store.delete_document("d1") is False


def test_artifact_unique_per_variant_and_replace(store: Store) -> None:
    store.save_document(_doc())
    store.save_artifact("d1", "summary", "v1|m", {"n": 1}, provenance={"model": "m"})
    store.save_artifact("d1", "summary", "v1|m", {"n": 2})
    store.save_artifact("d1", "summary", "v2|m", {"n": 3}, status="partial")
    got = store.get_artifact("d1", "summary", "v1|m")
    assert got is not None and got.payload == {"n": 2}
    assert len(store.list_artifacts("d1")) == 2
    newest = store.get_artifact("d1", "summary")
    assert newest is not None and newest.variant == "v2|m" and newest.status == "partial"


def test_chunks_replace_per_budget(store: Store) -> None:
    store.save_document(_doc())
    c = Chunk(id="c0", index=0, start=0, end=4, text="第一段。", tokens=4, paragraph_ids=["p1"])
    store.save_chunks("d1", 100, [c])
    store.save_chunks("d1", 100, [c])
    rows = store.get_chunk_rows("d1", 100)
    assert rows == [{"index": 0, "start": 0, "end": 4, "text": "第一段。", "tokens": 4}]


def test_jobs_lifecycle(store: Store) -> None:
    job = store.create_job("translate", "d1")
    assert job.status == "queued"
    job = store.update_job(job.id, status="running", progress={"done": 1, "total": 3})
    assert store.get_job(job.id).progress == {"done": 1, "total": 3}
    job = store.update_job(job.id, status="failed", error="boom")
    assert (job.status, job.error) == ("failed", "boom")
    with pytest.raises(InputError):
        store.update_job(job.id, status="exploded")
    with pytest.raises(NotFound):
        store.get_job("nope")


def test_prune_filters(store: Store) -> None:
    for i, (task, ver, model) in enumerate(
        [("translate", "v1", "a"), ("translate", "v2", "a"), ("summary", "v1", "b")]
    ):
        store.put_cached(_record(f"k{i}", task, ver, model), "r")
    assert store.prune_cache(older_than=dt.timedelta(days=1)) == 0
    assert store.prune_cache(prompt="translate@v1") == 1
    assert store.prune_cache(model="b") == 1
    assert store.cache_keys() == ["k1"]
    with pytest.raises(InputError):
        store.prune_cache()


def test_parse_age() -> None:
    assert parse_age("30d") == dt.timedelta(days=30)
    assert parse_age("12h") == dt.timedelta(hours=12)
    with pytest.raises(InputError, match="30d"):
        parse_age("soon")


def _writer(url: str, prefix: str, n: int, ready: Any, go: Any) -> None:
    store = Store(url)
    ready.release()
    go.wait(30)  # both processes start writing at the same moment
    for i in range(n):
        store.put_cached(_record(f"{prefix}{i}", "t", "v1", "m"), "x" * 200)
        store.record_call(_record(f"{prefix}{i}", "t", "v1", "m"))


def test_two_processes_write_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    url = f"sqlite:///{path}"
    n = 150
    ctx = mp.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_writer, args=(url, p, n, ready, go)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=30)
    go.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    store = Store(url)
    keys = set(store.cache_keys())
    assert keys == {f"{p}{i}" for p in "ab" for i in range(n)}
    assert store.cache_stats().calls == 2 * n
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


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
