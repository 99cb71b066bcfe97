"""SQLModel tables. JSON columns hold pydantic dumps; timestamps are UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CacheEntry(SQLModel, table=True):
    """One validated model output, keyed by the sha256 of the canonical request."""

    __tablename__ = "cache"
    key: str = Field(primary_key=True)
    task: str = Field(index=True)
    prompt_id: str = Field(index=True)
    prompt_version: str
    model: str = Field(index=True)
    response: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    created_at: dt.datetime = Field(default_factory=utcnow, index=True)
    hits: int = 0
    last_hit: dt.datetime | None = None


class CallRecord(SQLModel):
    """What one model call was and used: the gateway's record of it, and a ledger row."""

    cache_key: str = Field(index=True)
    task: str
    prompt_id: str
    prompt_version: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    attempts: int = 0
    outcome: str = Field(default="ok", index=True)  # hit | ok | batch | <error code>

    @property
    def cached(self) -> bool:
        """Answered from the call cache (or by an identical call in flight): paid nothing."""
        return self.outcome == "hit"


class CallRow(CallRecord, table=True):
    """The ledger: one row per Gateway.generate call, hit or miss, success or error."""

    __tablename__ = "calls"
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"
    id: str = Field(primary_key=True)
    source_name: str
    raw_sha256: str = ""
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    script: str
    text: str
    cleaning: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    paragraphs: list[Any] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: dt.datetime = Field(default_factory=utcnow)


class ChunkRow(SQLModel, table=True):
    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_doc_budget", "doc_id", "budget"),)
    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(foreign_key="documents.id", ondelete="CASCADE")
    budget: int
    index: int
    start: int
    end: int
    text: str
    tokens: int


class ArtifactRow(SQLModel, table=True):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("doc_id", "kind", "variant", name="uq_artifact"),)
    id: int | None = Field(default=None, primary_key=True)
    doc_id: str = Field(foreign_key="documents.id", index=True, ondelete="CASCADE")
    kind: str
    variant: str = Field(description="Prompt versions + model, e.g. 'translate@v1|gpt-4o-mini'.")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    provenance: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = "done"
    created_at: dt.datetime = Field(default_factory=utcnow)


#: The statuses of a job that has ended (the others: queued, running).
ENDED = ("done", "failed")


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"
    id: str = Field(primary_key=True)
    doc_id: str | None = Field(default=None, index=True)
    kind: str
    status: str = "queued"
    progress: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
