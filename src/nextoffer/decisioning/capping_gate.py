"""Capped decisions online: the engine decides against a capping ledger, and picks are
reserved atomically in the counter store.

A counting decision is optimistic: the engine runs against what is already known to be
exhausted (counters only grow inside a window, so a count seen at its limit stays there), then
ONE store call checks every counter of the chosen offers and reserves their decision-event
counts, all or nothing. When a concurrent decision took the last room first, the counter that
refused is marked exhausted and the engine decides again (`Ledger.decide`: each retry rules out
one more counter, so it ends); no counter is ever pushed past its limit, and a decision that
proposes no capped offer never touches the store. Dry runs and explanations read the counters
of every capped candidate (one round trip), decide against them and count nothing.

Feedback (impressions, clicks, custom events) adds to the counters of the matching rules.
The clock (feedback without a time) and the random source (tie-break seeds) are injected.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from nextoffer.capping.ledger import MAX_ATTEMPTS, Ledger, Run
from nextoffer.capping.plans import CatalogPlan, Feedback, Moment
from nextoffer.capping.store import CounterStore, Increment
from nextoffer.telemetry import NO_TELEMETRY, Telemetry
from nextoffer.timeutil import utcnow

if TYPE_CHECKING:
    from nextoffer.engine import Catalog, DecisionRequest, Offer, Proposition
    from nextoffer.engine.protocols import CappingView

__all__ = ["KNOWN_EXHAUSTED", "MAX_ATTEMPTS", "CappingGate", "Feedback"]

KNOWN_EXHAUSTED = 65_536
"""Counters remembered as exhausted per process (forgotten all at once beyond that)."""


def new_seed() -> int:
    return secrets.randbits(63)


class CappingGate:
    """Capping for every decision of a process, over one counter store."""

    def __init__(
        self,
        store: CounterStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        seeds: Callable[[], int] = new_seed,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.store = store
        self.telemetry = telemetry
        self.clock = clock
        self.seeds = seeds
        """Seeds for counting decisions without one (retries then break ties the same way)."""
        self._plans: dict[str, CatalogPlan] = {}
        self._known: dict[str, int] = {}
        self._reserve = self.reserve  # bound once: no allocation per decision

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
            ledger = Ledger(plan, moment)
            keys = ledger.scope_keys(request.scopes)
            if keys:
                ledger.counts = dict(zip(keys, self.store.read(keys), strict=True))
            return run(ledger)
        if request.seed is None:
            request.seed = self.seeds()
        ledger = Ledger(plan, moment, self._known)
        if not (self.telemetry.metrics or self.telemetry.tracing):
            return ledger.decide(run, self._reserve)
        return self._observed(ledger, run)

    def _observed(self, ledger: Ledger, run: Run) -> list[Proposition]:
        """`Ledger.decide`, reporting the offers the caps left out of the decision finally
        made, and the reservations lost to concurrent decisions; a span per reservation."""
        telemetry = self.telemetry
        views: list[_Counting] = []
        lost = 0

        def counted(view: CappingView | None) -> list[Proposition]:
            if view is None:
                return run(None)
            views.append(_Counting(view))
            return run(views[-1])

        def reserve(increments: list[Increment]) -> str | None:
            nonlocal lost
            with telemetry.span("nextoffer.capping.reserve") as span:
                over = self.reserve(increments)
                span.set_attribute("nextoffer.capping.counters", len(increments))
                span.set_attribute("nextoffer.capping.refused", over is not None)
            lost += over is not None
            return over

        propositions = ledger.decide(counted, reserve)
        # `Ledger.decide` runs the engine at least once, so there is always a last view
        telemetry.capping(views[-1].rejected, lost)
        return propositions

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
        counters = plan.feedback_counters(Moment(when.timestamp(), subject), events, when)
        if counters:
            self.store.add([c.increment(1) for c in counters])
        return len(counters)

    def reserve(self, increments: list[Increment]) -> str | None:
        """One store reservation; the counter without room, or None. Counters seen at their
        limit are remembered as exhausted (later decisions leave them out without asking)."""
        outcome = self.store.reserve(increments)
        known = self._known
        for inc, count in zip(increments, outcome.counts, strict=True):
            if inc.limit is not None and count >= inc.limit and known.get(inc.key, -1) < count:
                if len(known) >= KNOWN_EXHAUSTED:
                    known.clear()
                known[inc.key] = count
        return outcome.over  # None exactly when the reservation was taken (`ok`)

    def close(self) -> None:
        self.store.close()


class _Counting:
    """A capping view that counts the offers it reports capped (the engine asks only about
    offers otherwise eligible, so each one is an offer a cap kept out)."""

    __slots__ = ("rejected", "view")

    def __init__(self, view: CappingView) -> None:
        self.view = view
        self.rejected = 0

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        index = self.view.capped(offer, placement_id)
        if index is not None:
            self.rejected += 1
        return index
