"""Tables of the profile store (created by migrations 0005, 0008 and 0009).

`profiles` holds each profile's identities, attributes and audiences as JSON, so a decision
reads one row. `profile_identities` is the identity index: its primary key makes an identity
belong to at most one profile per sandbox; `claimed` marks an identity only an anonymous Edge
call vouched for. `profile_segments` indexes audience memberships so a batch run can page
through one audience by key.

`profile_events` holds the recent experience events, one row each, so that keeping an event
appends a row instead of rewriting the profile's whole list. `seq` orders events of the same
instant (a later write's first); the index, newest last, serves the decision's read (the newest
N within the window, one range scan) and retention (`size` rides along for the byte budget).
The event is compact JSON text, kept as written and never queried inside.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

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

profile_events = Table(
    "profile_events",
    metadata,
    Column(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("timestamp", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("event", Text, nullable=False),
    Index("ix_profile_events_recent", "sandbox_pk", "profile_id", "timestamp", "seq", "size"),
)
