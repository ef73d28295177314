"""Datastreams: how a browser, which cannot send tenant headers, reaches a tenant.

A datastream maps its id (the Web SDK's `configId` / `dataStreamId`) to an org and sandbox and
lists the origins allowed to call the Edge endpoints with it. `SqlDatastreams` implements the
Edge's `DatastreamStore` port; `DatastreamResolver` serves the Edge hot path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from nextoffer.records.datastreams import Datastream
from nextoffer.records.library import Sandbox
from nextoffer.store.database import Database
from nextoffer.store.library_repo import ensure_sandbox
from nextoffer.store.tables import metadata, sandboxes

JsonDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")

datastreams = Table(
    "datastreams",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), nullable=False, index=True),
    Column("etag", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("modified", String(40), nullable=False),
    Column("doc", JsonDocument, nullable=False),
)


_BY_ID = select(
    datastreams.c.id,
    datastreams.c.sandbox_pk,
    datastreams.c.etag,
    datastreams.c.doc,
    sandboxes.c.org,
    sandboxes.c.name,
).join(sandboxes, sandboxes.c.pk == datastreams.c.sandbox_pk)
_GET = _BY_ID.where(datastreams.c.id == bindparam("b_id"))
_LIST = _BY_ID.where(datastreams.c.sandbox_pk == bindparam("b_pk")).order_by(datastreams.c.created)


def _row(r: Any) -> Datastream:
    return Datastream(r.id, r.org, r.name, r.sandbox_pk, r.etag, r.doc)


def get(conn: Connection, datastream_id: str) -> Datastream | None:
    r = conn.execute(_GET, {"b_id": datastream_id}).first()
    return _row(r) if r else None


def list_for(conn: Connection, sandbox_pk: int) -> list[Datastream]:
    return [_row(r) for r in conn.execute(_LIST, {"b_pk": sandbox_pk})]


def insert_datastream(conn: Connection, sandbox_pk: int, doc: dict[str, Any]) -> None:
    conn.execute(
        insert(datastreams).values(
            id=doc["id"],
            sandbox_pk=sandbox_pk,
            etag=doc["etag"],
            created=doc["created"],
            modified=doc["modified"],
            doc=doc,
        )
    )


def update_datastream(conn: Connection, doc: dict[str, Any], expected_etag: int) -> bool:
    result = conn.execute(
        update(datastreams)
        .where(datastreams.c.id == doc["id"], datastreams.c.etag == expected_etag)
        .values(etag=doc["etag"], modified=doc["modified"], doc=doc)
    )
    return result.rowcount == 1


def delete_datastream(conn: Connection, datastream_id: str) -> None:
    conn.execute(delete(datastreams).where(datastreams.c.id == datastream_id))


class DatastreamResolver:
    """Datastream ids to tenants for the Edge hot path, cached for a few seconds."""

    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Datastream | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, datastream_id: str) -> Datastream | None:
        now = time.monotonic()
        hit = self._cache.get(datastream_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self.db.read() as conn:
            found = get(conn, datastream_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[datastream_id] = (now, found)
        return found

    def forget(self, datastream_id: str) -> None:
        """This process changed or deleted the datastream: stop serving the cached one."""
        self._cache.pop(datastream_id, None)


class SqlDatastreamWrite:
    """The Edge's `DatastreamWrite` port over an open write transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure_sandbox(self, org: str, name: str) -> Sandbox:
        return ensure_sandbox(self.conn, org, name)

    def get(self, datastream_id: str) -> Datastream | None:
        return get(self.conn, datastream_id)

    def insert(self, sandbox_pk: int, doc: dict[str, Any]) -> None:
        insert_datastream(self.conn, sandbox_pk, doc)

    def update(self, doc: dict[str, Any], expected_etag: int) -> bool:
        return update_datastream(self.conn, doc, expected_etag)

    def delete(self, datastream_id: str) -> None:
        delete_datastream(self.conn, datastream_id)


class SqlDatastreams:
    """The Edge's `DatastreamStore` port; changes reach this process's resolver at once."""

    def __init__(self, db: Database, resolver: DatastreamResolver) -> None:
        self.db = db
        self.resolver = resolver

    @contextmanager
    def writing(self) -> Iterator[SqlDatastreamWrite]:
        with self.db.write() as conn:
            yield SqlDatastreamWrite(conn)

    def get(self, datastream_id: str) -> Datastream | None:
        with self.db.read() as conn:
            return get(conn, datastream_id)

    def list_for(self, sandbox_pk: int) -> list[Datastream]:
        with self.db.read() as conn:
            return list_for(conn, sandbox_pk)

    def forget(self, datastream_id: str) -> None:
        self.resolver.forget(datastream_id)
