"""Profiles (rows, identity index, audience index) and decision events.

Revision ID: 0005_profiles_events
Revises: 0004_datastreams
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_profiles_events"
down_revision = "0004_datastreams"
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _sandbox() -> sa.Column:
    return sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "profiles",
        _sandbox(),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("etag", sa.Integer, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("modified", sa.String(40), nullable=False),
        sa.Column("identity_map", JsonDocument, nullable=False),
        sa.Column("attributes", JsonDocument, nullable=False),
        sa.Column("segments", JsonDocument, nullable=False),
        sa.Column("events", JsonDocument, nullable=False),
    )
    op.create_table(
        "profile_identities",
        _sandbox(),
        sa.Column("namespace", sa.String(128), primary_key=True),
        sa.Column("identity", sa.String(1024), primary_key=True),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "profile_segments",
        _sandbox(),
        sa.Column("audience_id", sa.String(256), primary_key=True),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "decision_events",
        _sandbox(),
        sa.Column("proposition_id", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("profile_id", sa.String(36)),
        sa.Column("identity_namespace", sa.String(128)),
        sa.Column("identity", sa.String(1024)),
        sa.Column("activity_id", sa.String(256), nullable=False),
        sa.Column("placement_id", sa.String(256), nullable=False),
        sa.Column("offers", JsonDocument, nullable=False),
        sa.Column("fallback_id", sa.String(256)),
        sa.Column("request_id", sa.String(256)),
    )
    for name, columns in (
        ("time", ["timestamp"]),
        ("profile", ["profile_id", "timestamp"]),
        ("identity", ["identity_namespace", "identity", "timestamp"]),
        ("activity", ["activity_id", "timestamp"]),
        ("placement", ["placement_id", "timestamp"]),
    ):
        op.create_index(f"ix_decision_events_{name}", "decision_events", ["sandbox_pk", *columns])
    op.create_table(
        "decision_event_offers",
        _sandbox(),
        sa.Column("offer_id", sa.String(256), primary_key=True),
        sa.Column("proposition_id", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_decision_event_offers_time",
        "decision_event_offers",
        ["sandbox_pk", "offer_id", "timestamp"],
    )


def downgrade() -> None:
    op.drop_table("decision_event_offers")
    op.drop_table("decision_events")
    op.drop_table("profile_segments")
    op.drop_table("profile_identities")
    op.drop_table("profiles")
