"""Profile events in a table of their own, one row each, so keeping an event is an insert.

Until now `profiles.events` held each profile's whole recent list as one JSON document, and
every kept event rewrote it (up to 1,000 events of up to 64 KB). Upgrade moves every stored
event into `profile_events` (compact JSON, its size, oldest first so `seq` keeps the list's
order among equal timestamps) and drops the column; downgrade rebuilds the column from the
rows, newest first, and drops the table. Both move the data in pages of profiles, so they run
in bounded memory on SQLite and PostgreSQL alike.

Revision ID: 0009_profile_events
Revises: 0008_trust
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_profile_events"
down_revision = "0008_trust"
branch_labels = None
depends_on = None

JsonDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_PAGE = 500

_profiles = sa.table(
    "profiles",
    sa.column("sandbox_pk", sa.Integer),
    sa.column("profile_id", sa.String),
    sa.column("events", JsonDocument),
)
_events = sa.table(
    "profile_events",
    sa.column("sandbox_pk", sa.Integer),
    sa.column("profile_id", sa.String),
    sa.column("timestamp", sa.String),
    sa.column("size", sa.Integer),
    sa.column("event", sa.Text),
    sa.column("seq", sa.BigInteger),
)


def _pages(conn: sa.Connection, columns: list[Any]) -> Any:
    """The profiles' `columns` in pages, by key (bounded memory)."""
    after: tuple[int, str] = (-1, "")
    key = sa.tuple_(_profiles.c.sandbox_pk, _profiles.c.profile_id)
    while True:
        rows = conn.execute(
            sa.select(_profiles.c.sandbox_pk, _profiles.c.profile_id, *columns)
            .where(key > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
            .order_by(_profiles.c.sandbox_pk, _profiles.c.profile_id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].sandbox_pk, rows[-1].profile_id)


def upgrade() -> None:
    op.create_table(
        "profile_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("sandbox_pk", sa.Integer, sa.ForeignKey("sandboxes.pk"), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_profile_events_recent",
        "profile_events",
        ["sandbox_pk", "profile_id", "timestamp", "seq", "size"],
    )
    conn = op.get_bind()
    for rows in _pages(conn, [_profiles.c.events]):
        moved = []
        for r in rows:
            for event in reversed(r.events or []):  # stored newest first: insert oldest first
                raw = orjson.dumps(event)
                moved.append(
                    {
                        "sandbox_pk": r.sandbox_pk,
                        "profile_id": r.profile_id,
                        "timestamp": event["timestamp"],
                        "size": len(raw),
                        "event": raw.decode(),
                    }
                )
        if moved:
            conn.execute(sa.insert(_events), moved)
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("events")


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("events", JsonDocument, nullable=True))
    conn = op.get_bind()
    for rows in _pages(conn, []):
        for r in rows:
            texts = conn.execute(
                sa.select(_events.c.event)
                .where(_events.c.sandbox_pk == r.sandbox_pk, _events.c.profile_id == r.profile_id)
                .order_by(_events.c.timestamp.desc(), _events.c.seq.desc())
            ).scalars()
            conn.execute(
                sa.update(_profiles)
                .where(
                    _profiles.c.sandbox_pk == r.sandbox_pk,
                    _profiles.c.profile_id == r.profile_id,
                )
                .values(events=[orjson.loads(t) for t in texts])
            )
    with op.batch_alter_table("profiles") as batch:
        batch.alter_column("events", existing_type=JsonDocument, nullable=False)
    op.drop_table("profile_events")
