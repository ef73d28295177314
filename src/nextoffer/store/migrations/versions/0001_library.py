"""The Offer Library: sandboxes, library objects, references and tombstones.

Revision ID: 0001_library
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_library"
down_revision = None
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sandboxes",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("sandbox_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("tombstones_pruned_through", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.UniqueConstraint("org", "name", name="uq_sandboxes_org_name"),
    )
    op.create_table(
        "library_objects",
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("etag", sa.Integer, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("modified", sa.String(40), nullable=False),
        sa.Column("created_by_client_id", sa.String(256), nullable=False),
        sa.Column("last_modified_by_client_id", sa.String(256), nullable=False),
        sa.Column("doc", JsonDocument, nullable=False),
    )
    op.create_index("ix_library_objects_revision", "library_objects", ["sandbox_pk", "revision"])
    op.create_index("ix_library_objects_kind", "library_objects", ["sandbox_pk", "kind"])
    op.create_table(
        "library_references",
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), primary_key=True),
        sa.Column("source_id", sa.String(256), primary_key=True),
        sa.Column("pointer", sa.String(1024), primary_key=True),
        sa.Column("target_id", sa.String(256), nullable=False),
    )
    op.create_index(
        "ix_library_references_target", "library_references", ["sandbox_pk", "target_id"]
    )
    op.create_table(
        "library_tombstones",
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("revision", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("deleted", sa.String(40), nullable=False),
    )
    op.create_index(
        "ix_library_tombstones_revision", "library_tombstones", ["sandbox_pk", "revision"]
    )


def downgrade() -> None:
    op.drop_table("library_tombstones")
    op.drop_table("library_references")
    op.drop_table("library_objects")
    op.drop_table("sandboxes")
