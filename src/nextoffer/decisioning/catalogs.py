"""Catalogs per sandbox, rebuilt when the library revision moves and swapped in atomically.

A request takes the current Catalog once and keeps it: requests in flight finish on the old
one while a newer revision is compiled. Rules are compiled through the PQL cache, so a rebuild
only compiles what changed.
"""

from __future__ import annotations

from nextoffer.caching import BuildCache
from nextoffer.engine import Catalog, build_catalog
from nextoffer.library.ports import SnapshotSource
from nextoffer.memory import settle_long_lived


class CatalogCache:
    def __init__(self, snapshots: SnapshotSource, *, max_age: float = 0.1, size: int = 64) -> None:
        self.snapshots = snapshots
        self.max_age = max_age
        self._cache: BuildCache[Catalog] = BuildCache(size)

    def get(self, sandbox_pk: int) -> Catalog:
        """The Catalog of the sandbox's current library (at most `max_age` behind other nodes)."""
        snap = self.snapshots.get(sandbox_pk, max_age=self.max_age)

        def build(previous: Catalog | None) -> Catalog:
            catalog = build_catalog(snap.by_kind, revision=snap.revision, previous=previous)
            settle_long_lived()
            return catalog

        return self._cache.get(sandbox_pk, lambda c: c.revision == snap.revision, build)
