"""Tables of the profile store (created by migration 0005).

`profiles` holds each profile whole (identities, attributes, audiences, recent events as JSON),
so a decision reads one row. `profile_identities` is the identity index: its primary key makes
an identity belong to at most one profile per sandbox; `claimed` marks an identity only an
anonymous Edge call vouched for. `profile_segments` indexes audience
memberships so a batch run can page through one audience by key.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, false

from nextoffer.store.tables import JsonDocument, metadata

profiles = Table(
    "profiles",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("etag", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("modified", String(40), nullable=False),
    Column("identity_map", JsonDocument, nullable=False),
    Column("attributes", JsonDocument, nullable=False),
    Column("segments", JsonDocument, nullable=False),
    Column("events", JsonDocument, nullable=False),
)

profile_identities = Table(
    "profile_identities",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("namespace", String(128), primary_key=True),
    Column("identity", String(1024), primary_key=True),
    Column("profile_id", String(36), nullable=False),
    Column("claimed", Boolean, nullable=False, server_default=false()),
    # an anonymous Edge call's claim, which the tenant's own writes take over (0008)
    sqlite_with_rowid=False,
)

profile_segments = Table(
    "profile_segments",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("audience_id", String(256), primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    sqlite_with_rowid=False,
)
