"""Batch decisioning jobs (workloads), persisted so they survive restarts.

Revision ID: 0007_batch_workloads
Revises: 0006_capping_counters
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_batch_workloads"
down_revision = "0006_capping_counters"
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org", sa.String(256), nullable=False),
        sa.Column("sandbox", sa.String(256), nullable=False),
        sa.Column("container_id", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("request", JsonDocument, nullable=False),
        sa.Column("decided_at_ms", sa.BigInteger),
        sa.Column("detail", JsonDocument),
        sa.Column("summary", JsonDocument),
        sa.Column("output", sa.String(2048)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("heartbeat_ms", sa.BigInteger),
    )
    op.create_index("ix_batch_jobs_tenant", "batch_jobs", ["org", "sandbox", "created_ms"])
    op.create_index("ix_batch_jobs_status", "batch_jobs", ["status", "created_ms"])


def downgrade() -> None:
    op.drop_table("batch_jobs")
