"""Trained ranking models (versioned) and the training leases that keep one trainer at a time.

Revision ID: 0010_ranking_models
Revises: 0009_profile_events
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_ranking_models"
down_revision = "0009_profile_events"
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ranking_models",
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), primary_key=True),
        sa.Column("strategy_id", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("trained_at", sa.String(40), nullable=False),
        sa.Column("state", JsonDocument, nullable=False),
    )
    op.create_table(
        "training_leases",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("training_leases")
    op.drop_table("ranking_models")
