"""Initial schema: cache, ledger, documents, chunks, artifacts, jobs.

Frozen copy of what the pre-alembic ``m001_initial`` created from the models of its day
(without its ``schema_version`` table, which 0002 retires). Never edit: add a revision.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# sqlmodel's column types, spelt in plain SQLAlchemy so the DDL stays as released:
# AutoString is VARCHAR, and its datetimes are timezone-aware (TIMESTAMPTZ on PostgreSQL).
TEXT = sa.String
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    _cache()
    _calls()
    _documents()
    _chunks()
    _artifacts()
    _jobs()


def downgrade() -> None:
    for table in ("jobs", "artifacts", "chunks", "documents", "calls", "cache"):
        op.drop_table(table)


def _cache() -> None:
    op.create_table(
        "cache",
        sa.Column("key", TEXT(), nullable=False),
        sa.Column("task", TEXT(), nullable=False),
        sa.Column("prompt_id", TEXT(), nullable=False),
        sa.Column("prompt_version", TEXT(), nullable=False),
        sa.Column("model", TEXT(), nullable=False),
        sa.Column("response", TEXT(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_hit", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    for column in ("created_at", "model", "prompt_id", "task"):
        op.create_index(f"ix_cache_{column}", "cache", [column])


def _calls() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cache_key", TEXT(), nullable=False),
        sa.Column("task", TEXT(), nullable=False),
        sa.Column("prompt_id", TEXT(), nullable=False),
        sa.Column("prompt_version", TEXT(), nullable=False),
        sa.Column("model", TEXT(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", TEXT(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("cache_key", "outcome"):
        op.create_index(f"ix_calls_{column}", "calls", [column])


def _documents() -> None:
    op.create_table(
        "documents",
        sa.Column("id", TEXT(), nullable=False),
        sa.Column("source_name", TEXT(), nullable=False),
        sa.Column("raw_sha256", TEXT(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("script", TEXT(), nullable=False),
        sa.Column("text", TEXT(), nullable=False),
        sa.Column("cleaning", sa.JSON(), nullable=True),
        sa.Column("paragraphs", sa.JSON(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _chunks() -> None:
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_id", TEXT(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("text", TEXT(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_chunks_doc_budget", "chunks", ["doc_id", "budget"])


def _artifacts() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_id", TEXT(), nullable=False),
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("variant", TEXT(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.Column("status", TEXT(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("doc_id", "kind", "variant", name="uq_artifact"),
        sa.ForeignKeyConstraint(["doc_id"], ["documents.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_artifacts_doc_id", "artifacts", ["doc_id"])


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", TEXT(), nullable=False),
        sa.Column("doc_id", TEXT(), nullable=True),
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("status", TEXT(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("error", TEXT(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_doc_id", "jobs", ["doc_id"])
