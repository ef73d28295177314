"""Capping counters: one row per counter key (see nextoffer.capping.keys).

`expires_at` (epoch seconds) is when the counter's window and a grace period are over; it is
written once, when the counter is created, and an index finds expired counters to purge.

Revision ID: 0006_capping_counters
Revises: 0004_datastreams
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_capping_counters"
down_revision = "0005_profiles_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capping_counters",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sqlite_with_rowid=False,  # one B-tree, keyed by the counter key
    )
    op.create_index("ix_capping_counters_expires_at", "capping_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_table("capping_counters")
