"""Datastreams: Edge configuration ids mapped to an org, a sandbox and allowed origins.

Revision ID: 0004_datastreams
Revises: 0001_library
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_datastreams"
down_revision = "0001_library"
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "datastreams",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), nullable=False),
        sa.Column("etag", sa.Integer, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("modified", sa.String(40), nullable=False),
        sa.Column("doc", JsonDocument, nullable=False),
    )
    op.create_index("ix_datastreams_sandbox_pk", "datastreams", ["sandbox_pk"])


def downgrade() -> None:
    op.drop_table("datastreams")
