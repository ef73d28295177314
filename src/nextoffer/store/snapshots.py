"""In-memory snapshots of sandboxes' libraries, kept current from the revision history.

A `SandboxSnapshot` is an immutable view of every document of a sandbox at one revision. The
cache checks the sandbox's revision (one indexed read) and catches up with only what changed
since, so list queries run over memory instead of re-reading thousands of JSON documents, and
several nodes stay consistent through the database alone. The decision engine's Catalog is
built from the same snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nextoffer.caching import BuildCache
from nextoffer.memory import paused_gc, settle_long_lived
from nextoffer.records.library import Change
from nextoffer.store import library_repo as repo
from nextoffer.store.database import Database

Doc = dict[str, Any]
_EMPTY: Mapping[str, Doc] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SandboxSnapshot:
    sandbox_pk: int
    revision: int
    by_kind: Mapping[str, Mapping[str, Doc]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> Mapping[str, Doc]:
        return self.by_kind.get(kind, _EMPTY)

    def get(self, object_id: str) -> tuple[str, Doc] | None:
        for kind, docs in self.by_kind.items():
            doc = docs.get(object_id)
            if doc is not None:
                return kind, doc
        return None

    def apply(self, changes: list[Change], revision: int) -> SandboxSnapshot:
        """A new snapshot with `changes` applied; untouched kinds share their mappings."""
        top = max([revision, self.revision, *(c.revision for c in changes)])
        if not changes:
            return SandboxSnapshot(self.sandbox_pk, top, self.by_kind)
        merged: dict[str, Mapping[str, Doc]] = dict(self.by_kind)
        copied: dict[str, dict[str, Doc]] = {}

        def writable(kind: str) -> dict[str, Doc]:
            docs = copied.get(kind)
            if docs is None:
                docs = copied[kind] = dict(merged.get(kind, {}))
                merged[kind] = docs
            return docs

        for change in changes:
            # an id lives in one kind, but a deleted id may come back under another kind
            stale = [k for k, docs in merged.items() if k != change.kind and change.id in docs]
            for kind in stale:
                writable(kind).pop(change.id, None)
            docs = writable(change.kind)
            if change.doc is None:
                docs.pop(change.id, None)
            else:
                docs[change.id] = change.doc
        return SandboxSnapshot(self.sandbox_pk, top, merged)


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
