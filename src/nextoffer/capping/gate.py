"""Capped decisions: the engine decides against counters, and picks are reserved atomically.

A counting decision is optimistic: the engine runs against what is already known to be
exhausted (counters only grow inside a window, so a count seen at its limit stays there), then
ONE store call checks every counter of the chosen offers and reserves their decision-event
counts, all or nothing. When a concurrent decision took the last room first, the counter that
refused is marked exhausted and the engine decides again (each retry rules out one more
counter, so it ends); no counter is ever pushed past its limit, and a decision that proposes
no capped offer never touches the store. Dry runs and explanations read the counters of every
capped candidate (one round trip), decide against them and count nothing.

Feedback (impressions, clicks, custom events) adds to the counters of the matching rules.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nextoffer.capping.plans import CatalogPlan, Counter, Moment
from nextoffer.capping.rules import EventKind
from nextoffer.capping.store import CounterStore, Increment
from nextoffer.timeutil import utcnow

if TYPE_CHECKING:
    from nextoffer.engine import Catalog, DecisionRequest, Offer, Proposition
    from nextoffer.engine.protocols import CappingView

Run = Callable[["CappingView | None"], "list[Proposition]"]

MAX_ATTEMPTS = 16
"""Reservations tried before a decision leaves out every capped offer (then none is counted)."""
KNOWN_EXHAUSTED = 65_536
"""Counters remembered as exhausted per process (forgotten all at once beyond that)."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """One event that may move impression, click or custom counters."""

    kind: str
    """`impression`, `click` or `custom` (decision events are counted when deciding)."""
    offer_id: str | None
    """The offer displayed or clicked; for `custom`, None matches every offer's custom rules."""
    placement_id: str | None = None
    """Where it was shown; None: per-placement rules of impressions and clicks are left out,
    and a custom event counts toward every placement of the offer."""
    event: Mapping[str, Any] | None = None
    """The experience event (custom rules match their `eventCondition` against it)."""


class _View:
    """Which rule caps an offer, from counts read (dry runs) or counters known exhausted."""

    __slots__ = ("_counts", "_known", "_marks", "_moment", "_plan")

    def __init__(
        self,
        plan: CatalogPlan,
        moment: Moment,
        counts: Mapping[str, int],
        marks: set[str] | None = None,
    ) -> None:
        self._plan, self._moment, self._counts = plan, moment, counts
        self._marks = marks or set()

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        counts, marks = self._counts, self._marks
        if not counts and not marks:
            return None
        for counter in self._moment.counters(self._plan.rules(offer), placement_id):
            if counter.key in marks or counts.get(counter.key, 0) >= counter.rule.limit:
                return counter.rule.index
        return None

    def describe(self, offer: Offer, placement_id: str, index: int) -> dict[str, Any]:
        """The count of a rule's counter and its current window, for an explanation."""
        for counter in self._moment.counters(self._plan.rules(offer), placement_id):
            if counter.rule.index == index:
                out: dict[str, Any] = {"count": self._counts.get(counter.key, 0)}
                window = counter.rule.period.window(self._moment.now)
                if window is not None and window.end is not None:
                    out["windowStart"] = _iso(window.start)
                    out["windowEnd"] = _iso(window.end)
                return out
        return {}


class _Everything:
    """The last resort: every offer with a rule that applies is capped."""

    __slots__ = ("_moment", "_plan")

    def __init__(self, plan: CatalogPlan, moment: Moment) -> None:
        self._plan, self._moment = plan, moment

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        counters = self._moment.counters(self._plan.rules(offer), placement_id)
        return counters[0].rule.index if counters else None


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CappingGate:
    """Capping for every decision of a process, over one counter store."""

    def __init__(self, store: CounterStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock
        self._plans: dict[str, CatalogPlan] = {}
        self._known: dict[str, int] = {}

    def plan(self, sandbox: str, catalog: Catalog) -> CatalogPlan:
        found = self._plans.get(sandbox)
        if found is None or found.catalog is not catalog:
            if len(self._plans) >= 1024:
                self._plans.clear()
            found = self._plans[sandbox] = CatalogPlan(sandbox, catalog)
        return found

    # -- decisions ------------------------------------------------------------------------

    def decide(
        self,
        sandbox: str,
        catalog: Catalog,
        request: DecisionRequest,
        run: Run,
        *,
        subject: str | None,
        count: bool,
    ) -> list[Proposition]:
        """Run the engine (`run(view)`) under the catalog's caps; reserve picks when `count`."""
        plan = self.plan(sandbox, catalog)
        if not plan.any_caps:
            return run(None)
        moment = Moment(request.now.timestamp(), subject)
        if not count:
            keys = plan.scope_keys(request.scopes, moment)
            counts = dict(zip(keys, self.store.read(keys), strict=True)) if keys else {}
            return run(_View(plan, moment, counts))
        if request.seed is None:  # retries break ties the same way
            request.seed = secrets.randbits(63)
        marks: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            propositions = run(_View(plan, moment, self._known, marks))
            counters = self._picked(plan, moment, propositions)
            if not counters:
                return propositions
            increments = [
                c.increment(1 if c.rule.event is EventKind.DECISION else 0) for c in counters
            ]
            outcome = self.store.reserve(increments)
            self._remember(increments, outcome.counts)
            if outcome.ok:
                return propositions
            marks.add(outcome.over or "")
        return run(_Everything(plan, moment))

    def _picked(
        self, plan: CatalogPlan, moment: Moment, propositions: Sequence[Proposition]
    ) -> list[Counter]:
        out: list[Counter] = []
        for prop in propositions:
            for choice in prop.options:
                rules = plan.rules(choice.offer)
                if rules:
                    out += moment.counters(rules, prop.placement.id)
        return out

    def _remember(self, increments: Sequence[Increment], counts: Sequence[int]) -> None:
        known = self._known
        for inc, count in zip(increments, counts, strict=True):
            if inc.limit is not None and count >= inc.limit and known.get(inc.key, -1) < count:
                if len(known) >= KNOWN_EXHAUSTED:
                    known.clear()
                known[inc.key] = count

    # -- feedback -------------------------------------------------------------------------

    def count_events(
        self,
        sandbox: str,
        catalog: Catalog,
        subject: str | None,
        events: Sequence[Feedback],
        *,
        now: datetime | None = None,
    ) -> int:
        """Add impressions, clicks and custom events to the counters of the rules they match.

        Unknown offers and decision events move nothing. Returns how many counter increments
        were made (one store call for all of them).
        """
        plan = self.plan(sandbox, catalog)
        if not plan.any_caps:
            return 0
        when = now or self.clock()
        moment = Moment(when.timestamp(), subject)
        increments: list[Increment] = []
        for fb in events:
            kind = fb.kind
            if kind == EventKind.CUSTOM:
                targets = plan.custom_rules()
                if fb.offer_id is not None:
                    targets = [t for t in targets if t[0].id == fb.offer_id]
                event = fb.event or {}
                for offer, rules in targets:
                    matching = tuple(r for r in rules if r[0].matches(event, when))
                    places = (fb.placement_id,) if fb.placement_id else tuple(offer.contents)
                    for counter in _counters(moment, matching, places):
                        increments.append(counter.increment(1))
            elif kind in (EventKind.IMPRESSION, EventKind.CLICK):
                offer = catalog.offers.get(fb.offer_id or "")
                if offer is None:
                    continue
                rules = tuple(r for r in plan.rules(offer) if r[0].event == kind)
                for counter in moment.counters(rules, fb.placement_id):
                    increments.append(counter.increment(1))
        if increments:
            self.store.add(increments)
        return len(increments)

    def close(self) -> None:
        self.store.close()


def _counters(moment: Moment, rules: Sequence[Any], placements: Sequence[str]) -> list[Counter]:
    """Counters of rules for an event on any of several placements: an across-placements
    counter once, a per-placement counter per placement."""
    out: dict[str, Counter] = {}
    for placement in placements:
        for counter in moment.counters(rules, placement):
            out.setdefault(counter.key, counter)
    if not placements:
        for counter in moment.counters(rules, None):
            out.setdefault(counter.key, counter)
    return list(out.values())
