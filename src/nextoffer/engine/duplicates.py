"""Which offers may be proposed again in a later scope of the same request."""

from __future__ import annotations

from collections.abc import Sequence

from nextoffer.engine.catalog import Catalog, Offer
from nextoffer.engine.request import DecisionRequest, ScopeRequest


class DuplicatePolicy:
    """May an offer proposed in an earlier scope be proposed again in this one? (DESIGN.md §3)"""

    __slots__ = ("_across_activities", "_across_placements", "_used")

    def __init__(self, request: DecisionRequest, catalog: Catalog) -> None:
        if request.allow_duplicates is not None:
            self._across_activities, self._across_placements = request.allow_duplicates
        else:
            # one placement that forbids duplicates makes the whole request forbid them
            allow = all(
                catalog.placements[s.placement_id].allow_duplicates
                for s in request.scopes
                if s.placement_id in catalog.placements
            )
            self._across_activities = self._across_placements = allow
        self._used: dict[str, list[tuple[int, str, str]]] = {}

    def blocked_by(self, offer_id: str, activity_id: str, placement_id: str) -> int | None:
        """The earlier scope whose proposal of the offer rules it out here, or None."""
        for index, activity, placement in self._used.get(offer_id, ()):
            same_activity_ok = activity == activity_id or self._across_activities
            same_placement_ok = placement == placement_id or self._across_placements
            if not (same_activity_ok and same_placement_ok):
                return index
        return None

    def record(self, index: int, scope: ScopeRequest, offers: Sequence[Offer]) -> None:
        for offer in offers:
            self._used.setdefault(offer.id, []).append(
                (index, scope.activity_id, scope.placement_id)
            )
