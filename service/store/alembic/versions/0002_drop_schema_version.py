"""Retire ``schema_version``, the version table of the pre-alembic migration functions.

A database made before alembic is stamped 0001 by ``service.store.migrations`` (its tables are
0001's) and still has that table; a database made by 0001 never had it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_table("schema_version", if_exists=True)


def downgrade() -> None:
    """Nothing: alembic_version records the revision now; the old table is not brought back."""
