"""Exact counters in the SQL database (SQLite or PostgreSQL), in the `capping_counters` table.

SQLite: a reservation reads and writes inside `BEGIN IMMEDIATE`, behind the Database's writer
lock, so it is serialised with every other writer, in this process and in others.

PostgreSQL: a reservation is ONE statement in autocommit: a guarded upsert
(`INSERT .. ON CONFLICT DO UPDATE .. WHERE count <= room RETURNING`) locks each counter row and
only increments it if it has room; when any row had none, a one-row guard divides by zero on
purpose, which aborts the statement and undoes every increment it made — all or nothing in one
round trip. Statement texts are constant (arrays, not IN lists) and prepared on first use.

A counter's expiry is fixed by its key (the window's end), so it is written with the row and
never updated: an update then touches the counter's row only, not the expiry index.

This is the hot path of capped decisions, so it runs on plain DB-API connections of its own
(per thread on SQLite; a small pool on PostgreSQL), not through SQLAlchemy.
"""

from __future__ import annotations

import select
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from nextoffer.capping.store import Increment, Reservation, lifetime, merge, settled_locally
from nextoffer.store.database import Database, is_lock_timeout

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
        SET count = c.count + excluded.count
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
ON CONFLICT (key) DO UPDATE SET count = c.count + excluded.count
"""
_PG_PURGE = "DELETE FROM capping_counters WHERE expires_at < %s"
_SQLITE_UPSERT = (
    "INSERT INTO capping_counters (key, count, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count"
)
_SQLITE_PURGE = "DELETE FROM capping_counters WHERE expires_at < ?"


def _sqlite_read(n: int) -> str:
    return f"SELECT key, count FROM capping_counters WHERE key IN ({','.join('?' * n)})"


def _expiries(rows: Sequence[Increment]) -> list[int | None]:
    """Epoch seconds after which each counter may be purged (None: never)."""
    now = int(time.time())
    return [None if (keep := lifetime(r.ttl)) is None else now + keep for r in rows]


def merged(increments: Sequence[Increment]) -> list[Increment]:
    """One increment per key (a statement may touch a row once), in key order (no deadlocks)."""
    return sorted(merge(increments), key=lambda inc: inc.key)


class _PgPool:
    """A few autocommit psycopg connections, reused LIFO; a broken one is dropped, and the
    idle ones with it (after an outage, one failed request instead of one per connection)."""

    def __init__(self, conninfo: str, keep: int = 10) -> None:
        self.conninfo, self.keep = conninfo, keep
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        import psycopg

        conn = self._checkout()
        if conn is None:
            conn = psycopg.connect(self.conninfo, autocommit=True, prepare_threshold=0)
            # like SQLite's synchronous=NORMAL and Redis without fsync: a crash may lose the
            # last moments of counts, never their consistency; an fsync per decision is the
            # price otherwise (the library's own writes keep full durability)
            conn.execute("SET synchronous_commit = off")
        healthy = False
        try:
            with conn.cursor() as cur:
                yield cur
            healthy = True
        except psycopg.errors.DivisionByZero:
            healthy = True  # the reservation guard: the connection is fine
            raise
        finally:
            if healthy and not conn.closed:
                with self._lock:
                    if len(self._idle) < self.keep:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                if conn.broken:  # the server went away: the idle connections died with it
                    self.close()
                conn.close()

    def _checkout(self) -> Any:
        """An idle connection the server has not closed, or None.

        An idle autocommit connection has nothing to read; a readable one got the server's
        goodbye or EOF (a restart, an outage): one `select` instead of a ping's round trip."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or (not conn.closed and not select.select([conn], [], [], 0)[0]):
                return conn
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class SqlStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.dialect == "postgresql"
        self._pg: _PgPool | None = None
        if self.postgres:
            url = db.url.set(drivername="postgresql")
            self._pg = _PgPool(url.render_as_string(hide_password=False))
        self._local = threading.local()
        self._next_purge = time.monotonic() + _PURGE_EVERY

    # -- connections ----------------------------------------------------------------------

    def _sqlite(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.db.url.database or "",
                timeout=self.db.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={round(self.db.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _sqlite_write(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` behind the Database's writer lock; commit, or roll back on error.
        Both waits are the Database's: past them, `Busy`."""
        conn = self._sqlite()
        with self.db.writer_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_lock_timeout(exc):
                    raise self.db.busy() from exc
                raise
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- the protocol ---------------------------------------------------------------------

    def read(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        if self._pg is not None:
            with self._pg.cursor() as cur:
                cur.execute(_PG_READ, (list(keys),))
                found = dict(cur.fetchall())
        else:
            conn, found = self._sqlite(), {}
            step = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            for at in range(0, len(keys), step):  # a batch job reads many keys at once
                chunk = keys[at : at + step]
                found.update(conn.execute(_sqlite_read(len(chunk)), chunk).fetchall())
        return [found.get(k, 0) for k in keys]

    def reserve(self, increments: Sequence[Increment]) -> Reservation:
        if (settled := settled_locally(increments)) is not None:
            return settled
        self._maybe_purge()
        rows = merged(increments)
        counts = self._reserve_pg(rows) if self._pg is not None else self._reserve_sqlite(rows)
        if isinstance(counts, str):
            seen = dict(zip([r.key for r in rows], self.read([r.key for r in rows]), strict=True))
            return Reservation(counts, tuple(seen[i.key] for i in increments))
        return Reservation(None, tuple(counts[i.key] for i in increments))

    def _reserve_pg(self, rows: list[Increment]) -> dict[str, int] | str:
        import psycopg

        assert self._pg is not None
        params = (
            [r.key for r in rows],
            [r.by for r in rows],
            [_UNLIMITED if r.room is None else r.room for r in rows],
            _expiries(rows),
            len(rows),
        )
        try:
            with self._pg.cursor() as cur:
                cur.execute(_PG_RESERVE, params)
                return {key: count for key, count, _ in cur.fetchall()}
        except psycopg.errors.DivisionByZero:
            pass
        # which counter had no room: the first (in key order) still without it
        for row, count in zip(rows, self.read([r.key for r in rows]), strict=True):
            if row.room is not None and count > row.room:
                return row.key
        return rows[0].key  # it has room again (its window just ended): the caller retries

    def _reserve_sqlite(self, rows: list[Increment]) -> dict[str, int] | str:
        keys = [r.key for r in rows]
        with self._sqlite_write() as conn:
            found = dict(conn.execute(_sqlite_read(len(keys)), keys).fetchall())
            for row in rows:
                if row.room is not None and found.get(row.key, 0) > row.room:
                    return row.key
            writes = [(r.key, r.by, e) for r, e in zip(rows, _expiries(rows), strict=True) if r.by]
            if writes:
                conn.executemany(_SQLITE_UPSERT, writes)
        return {r.key: found.get(r.key, 0) + r.by for r in rows}

    def add(self, increments: Sequence[Increment]) -> None:
        rows = [r for r in merged(increments) if r.by]
        if not rows:
            return
        keys, bys, expiries = [r.key for r in rows], [r.by for r in rows], _expiries(rows)
        if self._pg is not None:
            with self._pg.cursor() as cur:
                cur.execute(_PG_ADD, (keys, bys, expiries))
            return
        with self._sqlite_write() as conn:
            conn.executemany(_SQLITE_UPSERT, list(zip(keys, bys, expiries, strict=True)))

    def purge(self, now: float | None = None) -> int:
        """Forget counters whose window (and grace) is over; returns how many went."""
        moment = int(time.time() if now is None else now)
        if self._pg is not None:
            with self._pg.cursor() as cur:
                cur.execute(_PG_PURGE, (moment,))
                return cur.rowcount or 0
        with self._sqlite_write() as conn:
            return conn.execute(_SQLITE_PURGE, (moment,)).rowcount or 0

    def _maybe_purge(self) -> None:
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _PURGE_EVERY
            self.purge()

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
