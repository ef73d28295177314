"""Catalogs per sandbox, rebuilt when the library revision moves and swapped in atomically.

A request takes the current Catalog once and keeps it: requests in flight finish on the old
one while a newer revision is compiled. Rules are compiled through the PQL cache, so a rebuild
only compiles what changed.
"""

from __future__ import annotations

import time

from nextoffer.caching import BuildCache
from nextoffer.engine import Catalog, build_catalog
from nextoffer.library.ports import SnapshotSource
from nextoffer.memory import settle_long_lived
from nextoffer.telemetry import NO_TELEMETRY, Telemetry

AGE_REPORT_INTERVAL = 1.0
"""Seconds between two reports of the age of the catalog in use."""


class CatalogCache:
    def __init__(
        self,
        snapshots: SnapshotSource,
        *,
        max_age: float = 0.1,
        size: int = 64,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.snapshots = snapshots
        self.max_age = max_age
        self.telemetry = telemetry
        self._cache: BuildCache[Catalog] = BuildCache(size)
        self._built: dict[int, float] = {}
        """When each sandbox's current catalog was compiled (monotonic), for its age."""
        self._next_age_report = 0.0

    def get(self, sandbox_pk: int) -> Catalog:
        """The Catalog of the sandbox's current library (at most `max_age` behind other nodes)."""
        snap = self.snapshots.get(sandbox_pk, max_age=self.max_age)

        def build(previous: Catalog | None) -> Catalog:
            started = time.monotonic()
            with self.telemetry.span("nextoffer.catalog.build") as span:
                span.set_attribute("nextoffer.catalog.revision", snap.revision)
                catalog = build_catalog(snap.by_kind, revision=snap.revision, previous=previous)
                settle_long_lived()
            done = time.monotonic()
            self.telemetry.catalog_built(done - started)
            if len(self._built) >= 4096:
                self._built.clear()
            self._built[sandbox_pk] = done
            return catalog

        catalog = self._cache.get(sandbox_pk, lambda c: c.revision == snap.revision, build)
        if self.telemetry.metrics:
            now = time.monotonic()
            if now >= self._next_age_report:  # an age a second stale at most, not a report
                self._next_age_report = now + AGE_REPORT_INTERVAL  # per decision
                self.telemetry.catalog_age(now - self._built.get(sandbox_pk, now))
        return catalog
