"""The decision-event tables, and the one way rows get into them (in a server's thread or in
its writer process alike: `decision_event_writers.py`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, ForeignKey, Index, Integer, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError

from nextoffer.store.database import Database
from nextoffer.store.profile_tables import JsonDocument
from nextoffer.store.sandbox_ids import SandboxIds
from nextoffer.store.tables import metadata
from nextoffer.tenants import Tenant

log = logging.getLogger("nextoffer.decision_events")

decision_events = Table(
    "decision_events",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("proposition_id", String(64), primary_key=True),
    Column("timestamp", String(40), nullable=False),
    Column("profile_id", String(36)),
    Column("identity_namespace", String(128)),
    Column("identity", String(1024)),
    Column("activity_id", String(256), nullable=False),
    Column("placement_id", String(256), nullable=False),
    Column("offers", JsonDocument, nullable=False),
    Column("fallback_id", String(256)),
    Column("request_id", String(256)),
    Index("ix_decision_events_time", "sandbox_pk", "timestamp"),
    Index("ix_decision_events_profile", "sandbox_pk", "profile_id", "timestamp"),
    Index(
        "ix_decision_events_identity", "sandbox_pk", "identity_namespace", "identity", "timestamp"
    ),
    Index("ix_decision_events_activity", "sandbox_pk", "activity_id", "timestamp"),
    Index("ix_decision_events_placement", "sandbox_pk", "placement_id", "timestamp"),
)

decision_event_offers = Table(
    "decision_event_offers",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("offer_id", String(256), primary_key=True),
    Column("proposition_id", String(64), primary_key=True),
    Column("timestamp", String(40), nullable=False),
    Index("ix_decision_event_offers_time", "sandbox_pk", "offer_id", "timestamp"),
    sqlite_with_rowid=False,
)
"""Which events proposed an offer (as an option or as the fallback): the `offer` filter."""

EventRow = Sequence[Any]
"""One event as plain JSON values, ready for a pipe: org, sandbox, then `ROW_FIELDS`."""

ROW_FIELDS = (
    "proposition_id",
    "timestamp",
    "profile_id",
    "identity_namespace",
    "identity",
    "activity_id",
    "placement_id",
    "offers",
    "fallback_id",
    "request_id",
)
_OFFERS = 2 + ROW_FIELDS.index("offers")
_FALLBACK = 2 + ROW_FIELDS.index("fallback_id")


def _insert(conn: Connection, table: Table) -> Any:
    """INSERT that skips rows already there (a retried write must not fail on them)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def write_rows(db: Database, sandboxes: SandboxIds, rows: Sequence[EventRow]) -> int:
    """Insert events and their offer index in one transaction; rows already there are kept.

    A row the database refuses (a value too long for its column, a missing one) is logged and
    skipped, found by halving the batch, so that one bad event never holds back the others.
    How many were skipped; any other error (the database unreachable) is raised.
    """
    try:
        _insert_rows(db, sandboxes, rows)
        return 0
    except (DataError, IntegrityError) as exc:
        if len(rows) == 1:
            log.error("a decision event was refused by the database and skipped: %s", exc.orig)
            return 1
    half = len(rows) // 2
    return write_rows(db, sandboxes, rows[:half]) + write_rows(db, sandboxes, rows[half:])


def _insert_rows(db: Database, sandboxes: SandboxIds, rows: Sequence[EventRow]) -> None:
    with db.write() as conn:
        pks: dict[tuple[str, str], int] = {}
        events, offers = [], []
        for row in rows:
            key = (row[0], row[1])
            pk = pks.get(key)
            if pk is None:
                pk = pks[key] = sandboxes.ensure(conn, Tenant(*key))
            event = dict(zip(ROW_FIELDS, row[2:], strict=True))
            event["sandbox_pk"] = pk
            events.append(event)
            proposed = [o[0] for o in row[_OFFERS]]
            if row[_FALLBACK]:
                proposed.append(row[_FALLBACK])
            offers.extend(
                {
                    "sandbox_pk": pk,
                    "offer_id": offer_id,
                    "proposition_id": event["proposition_id"],
                    "timestamp": event["timestamp"],
                }
                for offer_id in dict.fromkeys(proposed)
            )
        conn.execute(_insert(conn, decision_events), events)
        if offers:
            conn.execute(_insert(conn, decision_event_offers), offers)
