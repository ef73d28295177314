"""Catalogs per sandbox, rebuilt when the library revision moves and swapped in atomically.

A request takes the current Catalog once and keeps it: requests in flight finish on the old
one while a newer revision is compiled. Rules are compiled through the PQL cache, so a rebuild
only compiles what changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from nextoffer.engine import Catalog, build_catalog
from nextoffer.memory import settle_long_lived
from nextoffer.store.snapshots import SnapshotCache


class CatalogCache:
    def __init__(self, snapshots: SnapshotCache, *, max_age: float = 0.1, size: int = 64) -> None:
        self.snapshots = snapshots
        self.max_age = max_age
        self._size = size
        self._catalogs: OrderedDict[int, Catalog] = OrderedDict()
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, sandbox_pk: int) -> Catalog:
        """The Catalog of the sandbox's current library (at most `max_age` behind other nodes)."""
        snap = self.snapshots.get(sandbox_pk, max_age=self.max_age)
        catalog = self._catalogs.get(sandbox_pk)
        if catalog is not None and catalog.revision == snap.revision:
            return catalog
        with self._guard:
            lock = self._locks.setdefault(sandbox_pk, threading.Lock())
        with lock:
            catalog = self._catalogs.get(sandbox_pk)
            if catalog is None or catalog.revision != snap.revision:
                catalog = build_catalog(snap.by_kind, revision=snap.revision, previous=catalog)
                settle_long_lived()
                with self._guard:
                    self._catalogs[sandbox_pk] = catalog
                    self._catalogs.move_to_end(sandbox_pk)
                    while len(self._catalogs) > self._size:
                        evicted, _ = self._catalogs.popitem(last=False)
                        self._locks.pop(evicted, None)
        return catalog
