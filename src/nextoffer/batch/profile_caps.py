"""Per-profile (`scope: profile`) caps in batch: decided exactly as one online decision would.

Workers never touch the counter store. The coordinator reads, once per input batch, the
per-profile counters of every capped candidate offer for the batch's profiles, and sends each
profile's non-zero counts with its row (`schema.COUNTS`). A worker then decides like the
online gate (`capping.gate`): an offer is capped when one of its per-profile counters is at its
limit, and when the proposals would overflow a counter (the same offer in several scopes), that
counter is marked exhausted and the profile is decided again, the way a refused reservation is.

Whose counters: the stored profile (`pid:<id>`) when profiles come from the profile store,
else the primary identity (`id:<namespace>:<id>`), as online decisions for an inline profile;
without an identity, per-profile caps do not apply (as online).

This module is pure (no store): workers, the coordinator's re-decisions and the publishing
step use it to compute the same keys and views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from nextoffer.capping.gate import MAX_ATTEMPTS
from nextoffer.capping.keys import capping_subject
from nextoffer.capping.plans import CatalogPlan, Counter, Moment
from nextoffer.capping.rules import CappingRule, EventKind
from nextoffer.capping.store import Increment, merge
from nextoffer.engine import Catalog, Offer, Proposition, ScopeRequest

if TYPE_CHECKING:
    from nextoffer.engine.protocols import CappingView

Rules = tuple[tuple[CappingRule, str], ...]


def subject_of(
    profile_id: str | None, identity: tuple[str, str] | None, stored: bool
) -> str | None:
    """Whose per-profile counters a batch decision reads and moves (as online: `keys.py`)."""
    return capping_subject(profile_id if stored else None, [identity] if identity else [])


class ProfileCaps:
    """The per-profile rules of a catalog's candidate offers for a job's scopes, at its instant."""

    def __init__(
        self, catalog: Catalog, sandbox_id: str, scopes: Sequence[ScopeRequest], now: datetime
    ) -> None:
        self._plan = CatalogPlan(sandbox_id, catalog)
        self._now = now.timestamp()
        self._rules: dict[str, Rules] = {}
        self.candidates: list[tuple[Offer, str]] = []
        """(offer, placement) of every scope's candidate with a per-profile rule, once each."""
        seen: set[tuple[str, str]] = set()
        for scope in scopes:
            for offer in self._plan.capped_members(scope.activity_id, scope.placement_id):
                if self.rules(offer) and (offer.id, scope.placement_id) not in seen:
                    seen.add((offer.id, scope.placement_id))
                    self.candidates.append((offer, scope.placement_id))

    def __bool__(self) -> bool:
        return bool(self.candidates)

    def rules(self, offer: Offer) -> Rules:
        found = self._rules.get(offer.id)
        if found is None:
            found = tuple(r for r in self._plan.rules(offer) if r[0].per_profile)
            self._rules[offer.id] = found
        return found

    def moment(self, subject: str) -> Moment:
        return Moment(self._now, subject)

    def keys(self, moment: Moment) -> list[str]:
        """Every per-profile counter the subject's decision may check (the coordinator reads
        these)."""
        out: dict[str, None] = {}
        for offer, placement_id in self.candidates:
            for counter in moment.counters(self.rules(offer), placement_id):
                out[counter.key] = None
        return list(out)

    def counters(self, moment: Moment, props: Sequence[Proposition]) -> list[Counter]:
        """The per-profile counters the proposals move or check, in proposal order."""
        return [
            counter
            for prop in props
            for choice in prop.options
            for counter in moment.counters(self.rules(choice.offer), prop.placement.id)
        ]

    def decide(
        self,
        run: Callable[[CappingView | None], list[Proposition]],
        total: CappingView | None,
        subject: str | None,
        counts: Mapping[str, int],
    ) -> list[Proposition]:
        """`run(view)` under the total caps' view and the subject's per-profile counters,
        ending where the online gate's reservation would: no counter is pushed past its limit."""
        if not self or subject is None:
            return run(total)
        moment = self.moment(subject)
        marks: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            props = run(_View(self, moment, counts, marks, total))
            over = self._over(moment, props, counts)
            if over is None:
                return props
            marks.add(over)
        return run(_View(self, moment, counts, None, total))

    def _over(
        self, moment: Moment, props: Sequence[Proposition], counts: Mapping[str, int]
    ) -> str | None:
        """The first counter the proposals' reservation would find without room, or None."""
        increments = [
            c.increment(1 if c.rule.event is EventKind.DECISION else 0)
            for c in self.counters(moment, props)
        ]
        for inc in merge(increments):
            room = inc.room
            if room is not None and counts.get(inc.key, 0) > room:
                return inc.key
        return None

    def increments(self, moment: Moment, props: Sequence[Proposition]) -> list[Increment]:
        """What publishing a decision adds: one per proposal to each decision-event counter."""
        return [
            c.increment(1)
            for c in self.counters(moment, props)
            if c.rule.event is EventKind.DECISION
        ]


class _View:
    """Total caps (from the coordinator) and the profile's own counters, as one view.

    `marks` None: the last resort, every offer with a per-profile rule that applies is capped.
    """

    __slots__ = ("_caps", "_counts", "_marks", "_moment", "_total")

    def __init__(
        self,
        caps: ProfileCaps,
        moment: Moment,
        counts: Mapping[str, int],
        marks: set[str] | None,
        total: CappingView | None,
    ) -> None:
        self._caps, self._moment, self._counts = caps, moment, counts
        self._marks, self._total = marks, total

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        if self._total is not None:
            index = self._total.capped(offer, placement_id)
            if index is not None:
                return index
        rules = self._caps.rules(offer)
        if not rules:
            return None
        for counter in self._moment.counters(rules, placement_id):
            if (
                self._marks is None
                or counter.key in self._marks
                or self._counts.get(counter.key, 0) >= counter.rule.limit
            ):
                return counter.rule.index
        return None
