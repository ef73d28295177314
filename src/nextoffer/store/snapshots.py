"""In-memory snapshots of sandboxes' libraries, kept current from the revision history.

A `SandboxSnapshot` (records.library) is an immutable view of every document of a sandbox at
one revision. The cache (the library's `SnapshotSource` port) checks the sandbox's revision (one
indexed read) and catches up with only what changed since, so list queries run over memory
instead of re-reading thousands of JSON documents, and several nodes stay consistent through
the database alone. The decision engine's Catalog is
built from the same snapshots.
"""

from __future__ import annotations

import time

from nextoffer.caching import BuildCache
from nextoffer.memory import paused_gc, settle_long_lived
from nextoffer.records.library import SandboxSnapshot
from nextoffer.store import library_repo as repo
from nextoffer.store.database import Database


class SnapshotCache:
    """Per-process cache of sandbox snapshots, least recently used evicted first."""

    def __init__(self, db: Database, max_sandboxes: int = 64) -> None:
        self._db = db
        self._cache: BuildCache[SandboxSnapshot] = BuildCache(max_sandboxes)
        self._checked: dict[int, float] = {}
        self._written: set[int] = set()

    def note_write(self, sandbox_pk: int) -> None:
        """This process wrote to the sandbox: the next `get` must look at the database."""
        self._written.add(sandbox_pk)

    def get(self, sandbox_pk: int, max_age: float = 0.0) -> SandboxSnapshot:
        """The sandbox's snapshot at its current revision.

        With `max_age` > 0, a snapshot whose revision was confirmed less than `max_age` seconds
        ago is returned without asking the database (writes of this process always are seen):
        the decision hot path trades that much staleness of other nodes' writes for one query.
        """
        snap = self._cache.peek(sandbox_pk)
        if (
            max_age > 0
            and snap is not None
            and sandbox_pk not in self._written
            and time.monotonic() - self._checked.get(sandbox_pk, 0.0) < max_age
        ):
            return snap
        self._written.discard(sandbox_pk)
        with self._db.read() as conn:
            current, pruned = repo.revision(conn, sandbox_pk)
        self._checked[sandbox_pk] = time.monotonic()

        def build(stale: SandboxSnapshot | None) -> SandboxSnapshot:
            with paused_gc():
                snap = self._catch_up(sandbox_pk, stale, pruned)
            settle_long_lived()
            return snap

        return self._cache.get(sandbox_pk, lambda s: s.revision >= current, build)

    def _catch_up(
        self, sandbox_pk: int, snap: SandboxSnapshot | None, pruned: int
    ) -> SandboxSnapshot:
        with self._db.read() as conn:
            if snap is None or snap.revision < pruned:
                # deletions before `pruned` are forgotten: start again from the rows
                changes = repo.changes_since(conn, sandbox_pk, -1)
                base = SandboxSnapshot(sandbox_pk, 0, {})
                return base.apply([c for c in changes if c.doc is not None], 0)
            return snap.apply(repo.changes_since(conn, sandbox_pk, snap.revision), snap.revision)


__all__ = ["SandboxSnapshot", "SnapshotCache"]
