"""Exact counters in the SQL database (SQLite or PostgreSQL), in the `capping_counters` table.

SQLite: a reservation reads and writes inside `BEGIN IMMEDIATE` behind the Database's writer
lock, so it is serialised with every other writer, in this process and in others.

PostgreSQL: a reservation is ONE statement in autocommit: a guarded upsert
(`INSERT .. ON CONFLICT DO UPDATE .. WHERE count <= room RETURNING`) locks each counter row and
only increments it if it has room; when any row had none, a one-row guard divides by zero on
purpose, which aborts the statement and undoes every increment it made — all or nothing in one
round trip.
Statement texts are constant (arrays, not IN lists), so psycopg prepares them once.

Both use plain DB-API cursors on pooled connections: no ORM on this path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from nextoffer.capping.store import Increment, Reservation, lifetime, merge, without_room
from nextoffer.store.database import Database

_UNLIMITED = 2**62
_PURGE_EVERY = 3600.0
"""Seconds between sweeps of expired counters (each process sweeps on its own)."""

_PG_READ = "SELECT key, count FROM capping_counters WHERE key = ANY(%s)"
_PG_RESERVE = """
WITH req(key, by, room, expires_at) AS (
    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[])
),
up AS (
    INSERT INTO capping_counters AS c (key, count, expires_at)
    SELECT key, by, expires_at FROM req
    ON CONFLICT (key) DO UPDATE
        SET count = c.count + excluded.count,
            expires_at = greatest(c.expires_at, excluded.expires_at)
        WHERE c.count <= (SELECT r.room FROM req r WHERE r.key = c.key)
    RETURNING c.key, c.count
)
SELECT up.key, up.count, guard.ok
FROM (SELECT 1 / (CASE WHEN (SELECT count(*) FROM up) = %s THEN 1 ELSE 0 END) AS ok) AS guard
LEFT JOIN up ON true
"""
_PG_ADD = """
INSERT INTO capping_counters AS c (key, count, expires_at)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[])
ON CONFLICT (key) DO UPDATE
    SET count = c.count + excluded.count, expires_at = greatest(c.expires_at, excluded.expires_at)
"""
_SQLITE_UPSERT = (
    "INSERT INTO capping_counters (key, count, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count, "
    "expires_at = nullif(max(coalesce(expires_at, 0), coalesce(excluded.expires_at, 0)), 0)"
)


def _expiries(rows: Sequence[Increment]) -> list[int | None]:
    """Epoch seconds after which each counter may be purged (None: never)."""
    now = int(time.time())
    return [None if (keep := lifetime(r.ttl)) is None else now + keep for r in rows]


def merged(increments: Sequence[Increment]) -> list[Increment]:
    """One increment per key (a statement may touch a row once), in key order (no deadlocks)."""
    return sorted(merge(increments), key=lambda inc: inc.key)


class SqlStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.dialect == "postgresql"
        self._engine: sa.Engine = (
            sa.create_engine(db.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=40)
            if self.postgres
            else db.engine
        )
        self._next_purge = time.monotonic() + _PURGE_EVERY

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        raw = self._engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            raw.close()

    def read(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        with self._cursor() as cur:
            if self.postgres:
                cur.execute(_PG_READ, (list(keys),))
            else:
                marks = ",".join("?" * len(keys))
                cur.execute(f"SELECT key, count FROM capping_counters WHERE key IN ({marks})", keys)
            found = dict(cur.fetchall())
        return [found.get(k, 0) for k in keys]

    def reserve(self, increments: Sequence[Increment]) -> Reservation:
        if not increments:
            return Reservation(None, ())
        hopeless = without_room(increments)
        if hopeless is not None:
            return Reservation(increments[hopeless].key, tuple(0 for _ in increments))
        self._maybe_purge()
        rows = merged(increments)
        counts = self._reserve_pg(rows) if self.postgres else self._reserve_sqlite(rows)
        if isinstance(counts, str):
            over = counts
            seen = dict(zip([r.key for r in rows], self.read([r.key for r in rows]), strict=True))
            return Reservation(over, tuple(seen[i.key] for i in increments))
        return Reservation(None, tuple(counts[i.key] for i in increments))

    def _reserve_pg(self, rows: list[Increment]) -> dict[str, int] | str:
        import psycopg

        params = (
            [r.key for r in rows],
            [r.by for r in rows],
            [_UNLIMITED if r.room is None else r.room for r in rows],
            _expiries(rows),
            len(rows),
        )
        with self._cursor() as cur:
            try:
                cur.execute(_PG_RESERVE, params)
                return {key: count for key, count, _ in cur.fetchall()}
            except psycopg.errors.DivisionByZero:
                pass
        # which counter had no room: the first (in key order) still without it
        for row, count in zip(rows, self.read([r.key for r in rows]), strict=True):
            if row.room is not None and count > row.room:
                return row.key
        return rows[0].key  # a counter moved back below its limit meanwhile (window expiry)

    def _reserve_sqlite(self, rows: list[Increment]) -> dict[str, int] | str:
        keys = [r.key for r in rows]
        with self.db.write() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                marks = ",".join("?" * len(keys))
                cur.execute(f"SELECT key, count FROM capping_counters WHERE key IN ({marks})", keys)
                found = dict(cur.fetchall())
                for row in rows:
                    if row.room is not None and found.get(row.key, 0) > row.room:
                        return row.key
                bys = [r.by for r in rows]
                writes = [w for w in zip(keys, bys, _expiries(rows), strict=True) if w[1]]
                if writes:
                    cur.executemany(_SQLITE_UPSERT, writes)
            finally:
                cur.close()
        return {r.key: found.get(r.key, 0) + r.by for r in rows}

    def add(self, increments: Sequence[Increment]) -> None:
        rows = [r for r in merged(increments) if r.by]
        if not rows:
            return
        keys, bys = [r.key for r in rows], [r.by for r in rows]
        if self.postgres:
            params = (keys, bys, _expiries(rows))
            with self._cursor() as cur:
                cur.execute(_PG_ADD, params)
            return
        with self.db.write() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.executemany(_SQLITE_UPSERT, list(zip(keys, bys, _expiries(rows), strict=True)))
            finally:
                cur.close()

    def purge(self, now: float | None = None) -> int:
        """Forget counters whose window (and grace) is over; returns how many went."""
        moment = int(time.time() if now is None else now)
        with self.db.write() as conn:
            result = conn.execute(
                sa.text("DELETE FROM capping_counters WHERE expires_at < :now"),
                {"now": moment},
            )
            return result.rowcount or 0

    def _maybe_purge(self) -> None:
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _PURGE_EVERY
            self.purge()

    def close(self) -> None:
        if self.postgres:
            self._engine.dispose()
