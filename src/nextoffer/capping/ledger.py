"""The capping ledger: what is known of a catalog's counters at one instant, for one subject.

A ledger holds, over `capping.keys` counter keys:
- counts: what a store said (a dry run's read, the gate's counters seen at their limit, a batch
  job's per-profile counts or the total caps' usage when it starts);
- marks: counters known to be exhausted whatever their count (a reservation refused them, or a
  batch's coordinator found a total cap spent);
- pending charges: decisions taken but not yet in the store (a batch job's total caps, added
  when the job is published).

It is the engine's one `CappingView`: an offer is capped by its first rule whose counter is
marked or at its limit. The online gate and batch decide the same way through it (`decide`):
run the engine, offer the picks' charges to a reservation (the store's, or the ledger's own
check), mark the counter that was refused and run again; after `MAX_ATTEMPTS`, every counter
counts as exhausted. Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from nextoffer.capping.plans import CatalogPlan, Counter, Moment
from nextoffer.capping.rules import EventKind
from nextoffer.capping.store import Increment, merge

if TYPE_CHECKING:
    from nextoffer.engine import Offer, Proposition, ScopeRequest
    from nextoffer.engine.protocols import CappingView

Run = Callable[["CappingView | None"], "list[Proposition]"]
"""The engine for one request, under a capping view."""
Reserve = Callable[[list[Increment]], "str | None"]
"""Takes a decision's charges all or nothing; the counter that had no room, or None."""

MAX_ATTEMPTS = 16
"""Reservations tried before a decision leaves out every capped offer (then none is counted)."""

_NONE: Mapping[str, int] = MappingProxyType({})
_NO_MARKS: frozenset[str] = frozenset()


class Ledger:
    """Counts, marks and pending charges of one plan's counters at one moment; a CappingView.

    `counts` and `marks` may be the caller's (the gate's counters known exhausted, a worker's
    spent total caps): the ledger never writes to them (a mark copies the marks first).
    `before` is a view asked first (batch: the total caps, before the per-profile ones).
    """

    __slots__ = ("before", "charged", "counts", "everything", "limits", "marks", "moment", "plan")

    def __init__(
        self,
        plan: CatalogPlan,
        moment: Moment,
        counts: Mapping[str, int] = _NONE,
        marks: Set[str] = _NO_MARKS,
        *,
        before: CappingView | None = None,
    ) -> None:
        self.plan = plan
        self.moment = moment
        self.counts = counts
        self.marks = marks
        self.before = before
        self.charged: Mapping[str, int] = _NONE
        """Pending charges, per key (in the order first charged)."""
        self.limits: Mapping[str, Counter] = _NONE
        """The counters `load` was given, by key (what a charge by key is held against)."""
        self.everything = False
        """The last resort: every counter that applies counts as exhausted."""

    # -- reading ----------------------------------------------------------------------------

    def count(self, key: str) -> int:
        """The counter's count: what is known, plus what is charged and not yet stored."""
        return self.counts.get(key, 0) + self.charged.get(key, 0)

    def counters(self, offer: Offer, placement_id: str | None) -> list[Counter]:
        return self.moment.counters(self.plan.rules(offer), placement_id)

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        """The index of the offer's first rule whose counter is marked or at its limit."""
        before = self.before
        if before is not None:
            index = before.capped(offer, placement_id)
            if index is not None:
                return index
        rules = self.plan.rules(offer)
        if not rules:
            return None
        if self.everything:
            counters = self.moment.counters(rules, placement_id)
            return counters[0].rule.index if counters else None
        marks, counts, charged = self.marks, self.counts, self.charged
        if not counts and not marks and not charged:
            return None
        for counter in self.moment.counters(rules, placement_id):
            key = counter.key
            if key in marks or counts.get(key, 0) + charged.get(key, 0) >= counter.rule.limit:
                return counter.rule.index
        return None

    def describe(self, offer: Offer, placement_id: str, index: int) -> dict[str, Any]:
        """The count of a rule's counter and its current window, for an explanation."""
        for counter in self.counters(offer, placement_id):
            if counter.rule.index == index:
                out: dict[str, Any] = {"count": self.count(counter.key)}
                window = counter.rule.period.window(self.moment.now)
                if window is not None and window.end is not None:
                    out["windowStart"] = _iso(window.start)
                    out["windowEnd"] = _iso(window.end)
                return out
        return {}

    def scope_keys(self, scopes: Sequence[ScopeRequest]) -> list[str]:
        """Every counter a request's scopes may need to read, once each."""
        keys: dict[str, None] = {}
        plan = self.plan
        for scope in scopes:
            for offer in plan.capped_members(scope.activity_id, scope.placement_id):
                for counter in self.counters(offer, scope.placement_id):
                    keys[counter.key] = None
        return list(keys)

    def every_counter(self) -> Iterator[tuple[Offer, str | None, Counter]]:
        """Every counter of the catalog's offers at this moment, with its offer and placement
        (None: an across-placements counter), once each."""
        for offer in self.plan.catalog.offers.values():
            rules = self.plan.rules(offer)
            if not rules:
                continue
            for counter in self.moment.counters(rules, None):
                yield offer, None, counter
            for placement_id in offer.contents:
                for counter in self.moment.counters(rules, placement_id):
                    if counter.rule.per_placement:
                        yield offer, placement_id, counter

    # -- deciding ---------------------------------------------------------------------------

    def reservation(self, propositions: Sequence[Proposition]) -> list[Increment]:
        """What the picks take: one per decision-event counter, and a check (by 0) of every
        other counter, which must be below its limit."""
        out: list[Increment] = []
        for prop in propositions:
            for choice in prop.options:
                rules = self.plan.rules(choice.offer)
                if rules:
                    for c in self.moment.counters(rules, prop.placement.id):
                        out.append(c.increment(1 if c.rule.event is EventKind.DECISION else 0))
        return out

    def short(self, increments: Sequence[Increment]) -> list[str]:
        """Every counter without room for these increments taken together, as a store's
        `reserve` judges (empty: they all fit)."""
        out = []
        for inc in merge(increments):
            room = inc.room
            if room is not None and self.count(inc.key) > room:
                out.append(inc.key)
        return out

    def refused(self, increments: list[Increment]) -> str | None:
        """A reservation against the ledger's own counts: the first counter without room."""
        short = self.short(increments)
        return short[0] if short else None

    def mark(self, key: str) -> None:
        marks = self.marks
        if type(marks) is not set:
            marks = self.marks = set(marks)
        marks.add(key)

    def decide(self, run: Run, reserve: Reserve) -> list[Proposition]:
        """`run(self)` until `reserve` takes the picks' charges; each refusal marks the counter
        refused (one more ruled out per attempt, so it ends). No counter passes its limit."""
        for _ in range(MAX_ATTEMPTS):
            propositions = run(self)
            increments = self.reservation(propositions)
            if not increments:
                return propositions
            over = reserve(increments)
            if over is None:
                return propositions
            self.mark(over)
        self.everything = True
        return run(self)

    # -- charging (batch) -------------------------------------------------------------------

    def load(self, counters: Iterable[Counter], counts: Iterable[int]) -> None:
        """Start from counts a store holds for these counters; those at their limit are marked."""
        known = dict(self.counts)
        limits = dict(self.limits)
        for counter, count in zip(counters, counts, strict=True):
            limits[counter.key] = counter
            if count:
                known[counter.key] = count
            if count >= counter.rule.limit:
                self.mark(counter.key)
        self.counts, self.limits = known, limits

    def by_key(self, keys: Iterable[str]) -> list[Increment]:
        """One decision charge per key against the loaded counters (a key never loaded has
        no room)."""
        limits = self.limits
        return [limits[k].increment(1) if k in limits else Increment(k, 1, 0, None) for k in keys]

    def charge(self, increments: Iterable[Increment]) -> None:
        """Take charges (checked with `short` first); a counter they fill is marked."""
        charged = self.charged
        if type(charged) is not dict:
            charged = self.charged = {}
        for inc in increments:
            charged[inc.key] = charged.get(inc.key, 0) + inc.by
            if inc.limit is not None and self.count(inc.key) >= inc.limit:
                self.mark(inc.key)

    def pending(self) -> list[Increment]:
        """The charges to add to a store (no limit: they were checked when charged)."""
        limits = self.limits
        return [
            Increment(key, by, None, limits[key].ttl if key in limits else None)
            for key, by in self.charged.items()
            if by
        ]


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
