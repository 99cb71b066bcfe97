"""What processes racing on one database run (``tests.databases.at_once``): a module of light
imports, as each spawned process imports it afresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.models import Chunk, CleaningReport, Document, DocumentMeta, Paragraph
from service.store import CallRecord, Store

RACERS, KEYS, DOCS = 4, 30, 3


def record(key: str, task: str = "t", version: str = "v1", model: str = "m") -> CallRecord:
    """A call of one token in and out, as the gateway records it."""
    return CallRecord(
        cache_key=key, task=task, prompt_id=task, prompt_version=version, model=model,
        tokens_in=1, tokens_out=1,
    )  # fmt: skip


def document(doc_id: str = "d1") -> Document:
    """A two-paragraph document."""
    paras = [
        Paragraph(id="p1", index=0, start=0, end=4, text="第一段。"),
        Paragraph(id="p2", index=1, start=5, end=9, text="第二段。"),
    ]
    return Document(
        id=doc_id,
        source_name="a.txt",
        raw_sha256="ab" * 32,
        script="simplified",
        text="第一段。\n第二段。",
        meta=DocumentMeta(title_zh="标题", date=dt.date(2024, 1, 2)),
        cleaning=CleaningReport(encoding="utf-8", chars_raw=12, chars_clean=9),
        paragraphs=paras,
    )


def open_store(url: str, ready: Any, go: Any) -> None:
    """Open the store (migrating an empty database) at the same moment as the others."""
    ready.release()
    go.wait(60)
    Store(url).close()


def writer(url: str, prefix: str, n: int, ready: Any, go: Any) -> None:
    """Write n cache entries and ledger rows of keys of its own."""
    store = Store(url)
    ready.release()
    go.wait(60)  # all processes start writing at the same moment
    for i in range(n):
        store.put_cached(record(f"{prefix}{i}"), "x" * 200)
        store.record_call(record(f"{prefix}{i}"))


def racer(url: str, name: str, ready: Any, go: Any) -> None:
    """Write what every other racer writes, the same keys in the same order."""
    store = Store(url)
    ready.release()
    go.wait(60)
    for i in range(KEYS):
        call, doc_id = record(f"k{i}"), f"d{i % DOCS}"
        store.put_cached(call, name)
        store.record_call(call)
        store.save_document(document(doc_id))
        store.save_artifact(doc_id, "summary", "v1|m", {"by": name, "i": i})
        chunk = Chunk(id="c0", index=0, start=0, end=4, text=name, tokens=1, paragraph_ids=[])
        store.save_chunks(doc_id, 100, [chunk])
    store.close()
