"""The Store: call cache, call ledger, documents, chunks, artifacts and jobs behind one object.

Only this package imports sqlmodel; callers get plain pydantic records back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import CursorResult, Table, bindparam, case, delete, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from service.errors import InputError, NotFound
from service.models import Chunk, CleaningReport, Document, DocumentMeta, Paragraph, Script
from service.store.db import READ_ONLY, is_missing_parent, make_engine, with_lock_retry
from service.store.migrations import upgrade
from service.store.tables import (
    ENDED,
    ArtifactRow,
    CacheEntry,
    CallRecord,
    CallRow,
    ChunkRow,
    DocumentRow,
    JobRow,
    utcnow,
)

JOB_STATUSES = ("queued", "running", "done", "failed")
_CACHE = SQLModel.metadata.tables["cache"]
_CALLS = SQLModel.metadata.tables["calls"]
_DOCUMENTS = SQLModel.metadata.tables["documents"]
_ARTIFACTS = SQLModel.metadata.tables["artifacts"]
_JOBS = SQLModel.metadata.tables["jobs"]
# FOR UPDATE on PostgreSQL; SQLite has no row locks and renders a plain SELECT.
_LOCK_DOCUMENT = (
    sa_select(_DOCUMENTS.c.id).where(_DOCUMENTS.c.id == bindparam("id")).with_for_update()
)
# Prebuilt statements for the cache-hit hot path (building them costs more than running them).
_GET_CACHED = _CACHE.select().where(_CACHE.c.key == bindparam("k"))
_INSERT_CALL = _CALLS.insert()
_BUMP_HITS = (
    _CACHE.update()
    .where(_CACHE.c.key == bindparam("k"))
    .values(hits=_CACHE.c.hits + 1, last_hit=bindparam("now"))
)
# A running job's progress, written on every progress event (one UPDATE, nothing read).
_SET_PROGRESS = (
    _JOBS.update()
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(progress=bindparam("progress"), updated_at=bindparam("now"))
)
# The artifact read (the API's cached GET, ``Library.artifact``), prebuilt for the same reason:
# one variant's artifact (unique per variant), or the newest of any variant.
_ARTIFACT_KEY = (_ARTIFACTS.c.doc_id == bindparam("doc_id")) & (
    _ARTIFACTS.c.kind == bindparam("kind")
)
_ARTIFACT_COLUMNS = [
    _ARTIFACTS.c[name]
    for name in ("doc_id", "kind", "variant", "payload", "provenance", "status", "created_at")
]
_GET_ARTIFACT = sa_select(*_ARTIFACT_COLUMNS).where(
    _ARTIFACT_KEY, _ARTIFACTS.c.variant == bindparam("variant")
)
_NEWEST_ARTIFACT = (
    sa_select(*_ARTIFACT_COLUMNS)
    .where(_ARTIFACT_KEY)
    .order_by(_ARTIFACTS.c.created_at.desc())
    .limit(1)
)
_ARTIFACT_PAYLOAD = sa_select(_ARTIFACTS.c.payload).where(
    _ARTIFACT_KEY, _ARTIFACTS.c.variant == bindparam("variant")
)
# What a cache entry keeps of the call that produced it: which prompt and model, and its usage.
_CACHED_FIELDS = set(CacheEntry.model_fields) & set(CallRecord.model_fields)
# The columns a chunk row copies from a Chunk (its id there is "c0", here the row number).
_CHUNK_FIELDS = set(ChunkRow.model_fields) - {"id", "doc_id", "budget"}


class CachedResponse(BaseModel):
    key: str
    response: str
    model: str
    prompt_id: str
    prompt_version: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    hits: int = 0
    created_at: dt.datetime | None = None


class StoredArtifact(BaseModel):
    doc_id: str
    kind: str
    variant: str
    payload: dict[str, Any]
    provenance: dict[str, Any]
    status: str
    created_at: dt.datetime


class StoredJob(BaseModel):
    id: str
    doc_id: str | None
    kind: str
    status: str
    progress: dict[str, Any]
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class UsageRow(BaseModel):
    """Ledger totals for one prompt version and model."""

    prompt: str
    model: str
    calls: int
    hits: int
    tokens_saved: int
    cost_saved_usd: float
    cost_spent_usd: float


class CacheStats(BaseModel):
    entries: int
    calls: int
    hits: int
    hit_rate: float
    by_prompt_model: list[UsageRow]


class LedgerTotals(BaseModel):
    """What a window of the ledger used: paid calls, cache hits, errors, tokens and cost."""

    calls: int = 0  # answered by the endpoint (outcome ok, or batch for the Batch API)
    requests: int = 0  # HTTP attempts of the calls that were not hits (retries, re-asks)
    hits: int = 0
    errors: int = 0
    tokens_in: int = 0  # of the answered calls only: hits cost nothing
    tokens_out: int = 0
    cost_usd: float = 0.0


class Store:
    """All persistence. One instance per process; safe to share between asyncio tasks."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.engine = make_engine(db_url)
        # The same pool, for statements that only read (see db.READ_ONLY); on PostgreSQL in
        # autocommit, so a read is its one statement, with no ROLLBACK round trip after it.
        reads: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            reads["isolation_level"] = "AUTOCOMMIT"
        self._reads = self.engine.execution_options(**reads)
        self.schema_revision = upgrade(self.engine).after
        # The API's hot read as the driver's own SQL (see artifact_payload), compiled once.
        compiled = _ARTIFACT_PAYLOAD.compile(dialect=self.engine.dialect)
        self._payload_sql, self._payload_order = str(compiled), compiled.positiontup
        # Built once: building the dialect's INSERT … ON CONFLICT per call cost ~0.3 ms.
        self._put_cached = _insert(self.engine, _CACHE).on_conflict_do_nothing(
            index_elements=["key"]
        )

    def close(self) -> None:
        self.engine.dispose()

    # --- call cache ------------------------------------------------------------------------

    def get_cached(self, key: str) -> CachedResponse | None:
        # Core, not ORM: this is the hot path of every cache hit.
        with self._reads.connect() as conn:
            row = conn.execute(_GET_CACHED, {"k": key}).mappings().first()
        return None if row is None else CachedResponse.model_validate(dict(row))

    def put_cached(self, record: CallRecord, response: str) -> None:
        """Store a validated output with the call's usage; an existing entry is kept."""
        # One statement, no read first: two writers of one key both succeed, the first one's
        # entry stays (a check-then-insert races into a duplicate key on PostgreSQL).
        self._write(self._put_cached, _cache_row(record, response))

    def save_answer(self, record: CallRecord, response: str) -> None:
        """``put_cached`` and ``record_call`` of a new answer in one transaction: one commit
        (one round trip fewer on PostgreSQL) for every paid call."""
        entry = _cache_row(record, response)
        row = {**record.model_dump(), "created_at": utcnow()}

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(self._put_cached, entry)
                conn.execute(_INSERT_CALL, row)

        with_lock_retry(write)

    def record_call(self, record: CallRecord) -> None:
        """Append one ledger row; a hit also bumps the cache entry."""
        row = {**record.model_dump(), "created_at": utcnow()}

        def write() -> None:
            # Core statements in one short transaction: the ORM unit of work costs ~2 ms here.
            with self.engine.begin() as conn:
                conn.execute(_INSERT_CALL, row)
                if record.cached:
                    conn.execute(_BUMP_HITS, {"k": record.cache_key, "now": utcnow()})

        with_lock_retry(write)

    # --- ledger window (batch CLI: what one run used) ----------------------------------------

    def ledger_mark(self) -> int:
        """The id of the newest ledger row (0 when empty): rows after it belong to a new run."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa_select(func.max(_CALLS.c.id))).scalar() or 0)

    def ledger_since(self, mark: int) -> LedgerTotals:
        """Totals of the ledger rows written after ``mark`` (see ``ledger_mark``)."""
        rows = _CALLS.select().where(_CALLS.c.id > mark)
        with self.engine.connect() as conn:
            found = conn.execute(rows).mappings().all()
        return _ledger_totals([dict(r) for r in found])

    def cache_keys(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.exec(select(CacheEntry.key)).all())

    def cache_stats(self) -> CacheStats:
        """Entries, hit rate and what the cache saved, from the cache table and the ledger."""
        with Session(self.engine) as s:
            entries = s.exec(select(func.count()).select_from(CacheEntry)).one()
            rows = s.exec(_usage_query()).all()
        usage = [_usage_row(*r) for r in rows]
        calls = sum(u.calls for u in usage)
        hits = sum(u.hits for u in usage)
        return CacheStats(
            entries=entries,
            calls=calls,
            hits=hits,
            hit_rate=hits / calls if calls else 0.0,
            by_prompt_model=usage,
        )

    def prune_cache(
        self,
        *,
        prompt: str | None = None,
        model: str | None = None,
        older_than: dt.timedelta | None = None,
    ) -> int:
        """Delete cache entries matching every given filter; return how many were removed."""
        if prompt is None and model is None and older_than is None:
            raise InputError("cache prune needs --prompt, --model or --older-than.")
        stmt = delete(CacheEntry)
        if prompt is not None:
            name, _, version = prompt.partition("@")
            stmt = stmt.where((col(CacheEntry.task) == name) | (col(CacheEntry.prompt_id) == name))
            if version:
                stmt = stmt.where(col(CacheEntry.prompt_version) == version)
        if model is not None:
            stmt = stmt.where(col(CacheEntry.model) == model)
        if older_than is not None:
            stmt = stmt.where(col(CacheEntry.created_at) < utcnow() - older_than)
        return with_lock_retry(lambda: self._execute_count(stmt))

    def _execute_count(self, stmt: Any) -> int:
        with Session(self.engine) as s:
            n = int(cast(CursorResult[Any], s.execute(stmt)).rowcount)
            s.commit()
            return n

    # --- documents and chunks --------------------------------------------------------------

    def save_document(self, doc: Document) -> None:
        """Insert or replace a document (same id = same cleaned text, so replace is safe)."""
        row = DocumentRow(
            id=doc.id,
            source_name=doc.source_name,
            raw_sha256=doc.raw_sha256,
            meta=doc.meta.model_dump(mode="json"),
            script=doc.script,
            text=doc.text,
            cleaning=doc.cleaning.model_dump(mode="json"),
            paragraphs=[p.model_dump(mode="json") for p in doc.paragraphs],
        )

        values = row.model_dump()
        stmt = _insert(self.engine, _DOCUMENTS).values(values)
        replace = {c: stmt.excluded[c] for c in values if c != "id"}
        self._write(stmt.on_conflict_do_update(index_elements=["id"], set_=replace))

    def _write(self, stmt: Any, params: dict[str, Any] | None = None) -> None:
        """Run one statement in its own short transaction (retried when it lost a lock race)."""

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(stmt, params)

        with_lock_retry(write)

    def get_document(self, doc_id: str) -> Document:
        with Session(self.engine) as s:
            row = s.get(DocumentRow, doc_id)
            if row is None:
                raise NotFound(f"No document with id {doc_id!r}.")
            return _document(row)

    def list_documents(self) -> list[Document]:
        with Session(self.engine) as s:
            rows = s.exec(select(DocumentRow).order_by(col(DocumentRow.created_at))).all()
            return [_document(r) for r in rows]

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document with its chunks and artifacts; the call cache is kept."""

        def write() -> bool:
            with Session(self.engine) as s:
                s.execute(delete(ArtifactRow).where(col(ArtifactRow.doc_id) == doc_id))
                s.execute(delete(ChunkRow).where(col(ChunkRow.doc_id) == doc_id))
                stmt = delete(DocumentRow).where(col(DocumentRow.id) == doc_id)
                n = cast(CursorResult[Any], s.execute(stmt)).rowcount
                s.commit()
                return bool(n)

        return with_lock_retry(write)

    def save_chunks(self, doc_id: str, budget: int, chunks: list[Chunk]) -> None:
        """Replace the chunks of a document at one budget."""
        rows = [
            ChunkRow(doc_id=doc_id, budget=budget, **c.model_dump(include=_CHUNK_FIELDS))
            for c in chunks
        ]

        def write() -> None:
            with Session(self.engine) as s:
                # Two writers of one document's chunks take turns on its row (SQLite's write
                # lock does that already): else both delete nothing and both insert.
                s.execute(_LOCK_DOCUMENT, {"id": doc_id})
                s.execute(
                    delete(ChunkRow).where(
                        (col(ChunkRow.doc_id) == doc_id) & (col(ChunkRow.budget) == budget)
                    )
                )
                s.add_all(rows)
                s.commit()

        with_lock_retry(write)

    def get_chunk_rows(self, doc_id: str, budget: int) -> list[dict[str, Any]]:
        """Stored chunks as dicts (index, start, end, text, tokens), in order."""
        with Session(self.engine) as s:
            stmt = (
                select(ChunkRow)
                .where(col(ChunkRow.doc_id) == doc_id, col(ChunkRow.budget) == budget)
                .order_by(col(ChunkRow.index))
            )
            return [r.model_dump(include=_CHUNK_FIELDS) for r in s.exec(stmt)]

    # --- artifacts -------------------------------------------------------------------------

    def save_artifact(
        self,
        doc_id: str,
        kind: str,
        variant: str,
        payload: dict[str, Any],
        *,
        provenance: dict[str, Any] | None = None,
        status: str = "done",
    ) -> None:
        """Insert or replace the artifact (doc_id, kind, variant)."""
        values: dict[str, Any] = {"payload": payload, "provenance": provenance or {}}
        values.update(status=status, created_at=utcnow())
        stmt = _insert(self.engine, _ARTIFACTS).values(
            doc_id=doc_id, kind=kind, variant=variant, **values
        )
        replace = {c: stmt.excluded[c] for c in values}
        key = ["doc_id", "kind", "variant"]  # the unique constraint uq_artifact
        try:
            self._write(stmt.on_conflict_do_update(index_elements=key, set_=replace))
        except IntegrityError as exc:
            if not is_missing_parent(exc):
                raise
            why = f"No document with id {doc_id!r}: it was deleted while its {kind} was computed."
            raise NotFound(why) from None

    def get_artifact(
        self, doc_id: str, kind: str, variant: str | None = None
    ) -> StoredArtifact | None:
        """The artifact for this variant, or the newest of any variant when none is given."""
        params = {"doc_id": doc_id, "kind": kind}
        stmt = _NEWEST_ARTIFACT
        if variant is not None:
            stmt, params["variant"] = _GET_ARTIFACT, variant
        with self._reads.connect() as conn:
            row = conn.execute(stmt, params).mappings().first()
        return None if row is None else StoredArtifact.model_validate(dict(row))

    def artifact_payload(self, doc_id: str, kind: str, variant: str) -> dict[str, Any] | None:
        """Only the payload of this variant's artifact: the API's read, which sends nothing
        else, skips reading the provenance and building a ``StoredArtifact``.

        On the pool's DB-API connection, not through SQLAlchemy's execution (half of this
        read's cost inside a request, docs/BENCHMARKS.md §23): one SELECT outside any explicit
        transaction (SQLite's driver opens none for it; PostgreSQL's is rolled back when the
        connection goes back to the pool)."""
        params = {"doc_id": doc_id, "kind": kind, "variant": variant}
        args = [params[name] for name in self._payload_order] if self._payload_order else params
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(self._payload_sql, args)
            row = cursor.fetchone()
            cursor.close()
        finally:
            conn.close()  # back to the pool
        if row is None:
            return None
        payload = row[0]  # psycopg decodes JSON columns; SQLite keeps the text
        return cast(dict[str, Any], json.loads(payload) if isinstance(payload, str) else payload)

    def artifacts_version(self, kinds: Sequence[str]) -> tuple[object, ...]:
        """Changes whenever a document or an artifact of ``kinds`` is added, replaced or deleted:
        their counts and newest times (a replaced artifact gets a new ``created_at``)."""
        artifacts = sa_select(func.count(), func.max(_ARTIFACTS.c.created_at)).where(
            _ARTIFACTS.c.kind.in_(kinds)
        )
        documents = sa_select(func.count(), func.max(_DOCUMENTS.c.created_at))
        with self._reads.connect() as conn:
            return (*conn.execute(artifacts).one(), *conn.execute(documents).one())

    def list_artifacts(self, doc_id: str) -> list[StoredArtifact]:
        with Session(self.engine) as s:
            rows = s.exec(select(ArtifactRow).where(col(ArtifactRow.doc_id) == doc_id)).all()
            return [StoredArtifact.model_validate(r, from_attributes=True) for r in rows]

    # --- jobs ------------------------------------------------------------------------------

    def create_job(
        self, kind: str, doc_id: str | None = None, progress: dict[str, Any] | None = None
    ) -> StoredJob:
        """A queued job, with its first progress record (one write)."""
        row = JobRow(id=uuid.uuid4().hex, kind=kind, doc_id=doc_id, progress=progress or {})

        def write() -> StoredJob:
            with Session(self.engine) as s:
                s.add(row)
                s.commit()
                s.refresh(row)
                return StoredJob.model_validate(row, from_attributes=True)

        return with_lock_retry(write)

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        """A job's progress alone, as one UPDATE (``update_job`` reads the row before and
        after: that is three statements for every progress event of a long job)."""

        def write() -> int:
            with self.engine.begin() as conn:
                params = {"job_id": job_id, "progress": progress, "now": utcnow()}
                return int(conn.execute(_SET_PROGRESS, params).rowcount)

        if with_lock_retry(write) == 0:
            raise NotFound(f"No job with id {job_id!r}.")

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> StoredJob:
        if status is not None and status not in JOB_STATUSES:
            raise InputError(f"Unknown job status {status!r}; use one of {JOB_STATUSES}.")

        def write() -> StoredJob:
            with Session(self.engine) as s:
                row = s.get(JobRow, job_id)
                if row is None:
                    raise NotFound(f"No job with id {job_id!r}.")
                row.status = status or row.status
                row.progress = progress if progress is not None else row.progress
                row.error = error if error is not None else row.error
                row.updated_at = utcnow()
                s.add(row)
                s.commit()
                s.refresh(row)
                return StoredJob.model_validate(row, from_attributes=True)

        return with_lock_retry(write)

    def list_jobs(self, *, status: str | None = None, limit: int = 100) -> list[StoredJob]:
        """The newest jobs first, optionally of one status."""
        query = select(JobRow).order_by(col(JobRow.created_at).desc()).limit(limit)
        if status is not None:
            query = query.where(JobRow.status == status)
        with Session(self.engine) as s:
            return [StoredJob.model_validate(r, from_attributes=True) for r in s.exec(query)]

    def live_jobs(self, doc_id: str) -> list[StoredJob]:
        """The document's jobs not yet ended (queued or running)."""
        query = select(JobRow).where(JobRow.doc_id == doc_id, col(JobRow.status).not_in(ENDED))
        with Session(self.engine) as s:
            return [StoredJob.model_validate(r, from_attributes=True) for r in s.exec(query)]

    def get_job(self, job_id: str) -> StoredJob:
        with Session(self.engine) as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"No job with id {job_id!r}.")
            return StoredJob.model_validate(row, from_attributes=True)


def _cache_row(record: CallRecord, response: str) -> dict[str, Any]:
    """The cache table's row for a validated answer of ``record``'s call."""
    row: dict[str, Any] = {f: getattr(record, f) for f in _CACHED_FIELDS}
    row.update(key=record.cache_key, response=response, created_at=utcnow(), hits=0)
    return row


def _insert(engine: Engine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses (both spell them alike)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def parse_age(text: str) -> dt.timedelta:
    """Parse '30d', '12h', '45m' or '2w' into a timedelta."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not m:
        raise InputError(f"Cannot read age {text!r}; use e.g. 30d, 12h, 45m, 2w.")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m[2]]
    return dt.timedelta(**{unit: int(m[1])})


def _document(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        source_name=row.source_name,
        raw_sha256=row.raw_sha256,
        script=cast(Script, row.script),
        text=row.text,
        meta=DocumentMeta.model_validate(row.meta),
        cleaning=CleaningReport.model_validate(row.cleaning),
        paragraphs=[Paragraph.model_validate(p) for p in row.paragraphs],
    )


def _usage_query() -> Any:
    hit = col(CallRow.outcome) == "hit"
    # case(), not iif(): the same query must run on PostgreSQL.
    hits = func.sum(case((hit, 1), else_=0))
    hit_tokens = func.sum(case((hit, CallRow.tokens_in + CallRow.tokens_out), else_=0))
    hit_cost = func.sum(case((hit, CallRow.cost_usd), else_=0.0))
    # "batch": answered through the Batch API (service/run/prefill.py), paid at its price.
    paid = col(CallRow.outcome).in_(("ok", "batch"))
    spent = func.sum(case((paid, CallRow.cost_usd), else_=0.0))
    return (
        sa_select(col(CallRow.task), col(CallRow.prompt_version), col(CallRow.model))
        .add_columns(func.count(), hits)
        .add_columns(hit_tokens, hit_cost, spent)
        .group_by(col(CallRow.task), col(CallRow.prompt_version), col(CallRow.model))
        .order_by(col(CallRow.task), col(CallRow.prompt_version), col(CallRow.model))
    )


def _usage_row(
    task: str,
    version: str,
    model: str,
    calls: int,
    hits: int,
    tokens: int,
    cost: float,
    spent: float,
) -> UsageRow:
    return UsageRow(
        prompt=f"{task}@{version}",
        model=model,
        calls=calls,
        hits=hits or 0,
        tokens_saved=tokens or 0,
        cost_saved_usd=cost or 0.0,
        cost_spent_usd=spent or 0.0,
    )


def _ledger_totals(rows: list[dict[str, Any]]) -> LedgerTotals:
    paid = [r for r in rows if r["outcome"] in ("ok", "batch")]
    return LedgerTotals(
        calls=len(paid),
        requests=sum(r["attempts"] for r in rows if r["outcome"] != "hit"),
        hits=sum(r["outcome"] == "hit" for r in rows),
        errors=len(rows) - len(paid) - sum(r["outcome"] == "hit" for r in rows),
        tokens_in=sum(r["tokens_in"] for r in paid),
        tokens_out=sum(r["tokens_out"] for r in paid),
        cost_usd=round(sum(r["cost_usd"] for r in paid), 6),
    )
