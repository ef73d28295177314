"""Identity claims: identities an anonymous Edge call attached to the profile it created.

A claim is no proof: a write by the tenant (profile API, bulk load, `/v1/events`, an Edge call
with credentials or a verified identity token) that names a claimed identity takes it over
instead of failing with 409 (`profiles.merge`).

Revision ID: 0008_trust
Revises: 0007_batch_workloads
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_trust"
down_revision = "0007_batch_workloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profile_identities") as batch:
        batch.add_column(
            sa.Column("claimed", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("profile_identities") as batch:
        batch.drop_column("claimed")
