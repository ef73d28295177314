"""SQLAlchemy Core tables. The schema itself is created by Alembic migrations (`migrations/`).

Library objects are stored as whole JSON documents (their read models) with the system columns
beside them; references get a table of their own so that deleting a referenced object can name
its referrers with one indexed query. Each write bumps the sandbox's `revision`; rows and
tombstones carry the revision of their last write, which is how snapshots catch up incrementally.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

metadata = MetaData()

JsonDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")

sandboxes = Table(
    "sandboxes",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("org", String(256), nullable=False),
    Column("name", String(256), nullable=False),
    Column("sandbox_id", String(36), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("tombstones_pruned_through", BigInteger, nullable=False),
    Column("created", String(40), nullable=False),
    UniqueConstraint("org", "name", name="uq_sandboxes_org_name"),
)

library_objects = Table(
    "library_objects",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("etag", Integer, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("created", String(40), nullable=False),
    Column("modified", String(40), nullable=False),
    Column("created_by_client_id", String(256), nullable=False),
    Column("last_modified_by_client_id", String(256), nullable=False),
    Column("doc", JsonDocument, nullable=False),
    Index("ix_library_objects_revision", "sandbox_pk", "revision"),
    Index("ix_library_objects_kind", "sandbox_pk", "kind"),
)

library_references = Table(
    "library_references",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("source_id", String(256), primary_key=True),
    Column("pointer", String(1024), primary_key=True),
    Column("target_id", String(256), nullable=False),
    Index("ix_library_references_target", "sandbox_pk", "target_id"),
)

library_tombstones = Table(
    "library_tombstones",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("revision", BigInteger, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("deleted", String(40), nullable=False),
    Index("ix_library_tombstones_revision", "sandbox_pk", "revision"),
)
