"""Batch total caps against the capping counter store: what online decisions already used,
and the job's own proposals added when it is published.

The same counters as online decisions (`nextoffer.capping`): a total cap's counter for the
current window, keyed by sandbox, offer, rule and (for per-placement rules) placement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from nextoffer.batch.caps import UsedCount
from nextoffer.capping.plans import CatalogPlan, Counter, Moment
from nextoffer.capping.store import CounterStore, Increment
from nextoffer.engine import Catalog, Offer


class CapCounters:
    """Reads and adds a batch job's total-cap counts in the online decisions' counter store."""

    def __init__(self, store: CounterStore, sandbox_id: str, catalog: Catalog, now: datetime):
        self.store = store
        self.plan = CatalogPlan(sandbox_id, catalog)
        self.catalog = catalog
        self.moment = Moment(now.timestamp(), None)  # total caps count for everyone

    def _counter(self, offer: Offer, index: int, placement_id: str | None) -> Counter | None:
        rules = [r for r in self.plan.rules(offer) if r[0].index == index]
        found = self.moment.counters(rules, placement_id or next(iter(offer.contents), None))
        return found[0] if found else None

    @property
    def used(self) -> UsedCount:
        def used(offer: Offer, index: int, placement_id: str | None) -> int:
            counter = self._counter(offer, index, placement_id)
            return self.store.read([counter.key])[0] if counter else 0

        return used

    def add(self, charged: Mapping[str, int]) -> None:
        """Add the job's proposals (`<offer>#<rule>[@<placement>]` -> count) to the counters."""
        increments = []
        for key, count in charged.items():
            head, _, placement = key.partition("@")
            offer_id, _, index = head.rpartition("#")
            offer = self.catalog.offers.get(offer_id)
            counter = self._counter(offer, int(index), placement or None) if offer else None
            if counter is not None and count:
                increments.append(Increment(counter.key, count, None, counter.ttl))
        if increments:
            self.store.add(increments)
