"""Total ("in total", `scope: global`) capping across a batch, honoured exactly.

The choice (README "Batch", "Capping in batch"): workers decide freely, and one coordinator
charges each total cap **in input order**, profile by profile. A profile proposed an offer
whose cap has run out is decided again by the coordinator with that offer capped, so the result
is exactly what deciding the audience one profile after another would give: a cap of 1,000
yields exactly 1,000 proposals, and the same ones whatever the worker count or executor.

Why not reserve through shared counters from every worker: the winners would depend on which
worker got there first, and runs would differ row for row. Why not allocate by score: that
needs every proposal before any row is written (memory grows with the audience, and the output
is rewritten). Workers get the set of exhausted caps with each batch, so after a cap runs out
they stop proposing its offer and re-decisions stay few.

Budgets start from the cap's limit minus what the counter store (when one is configured) says
was used in the current period; the coordinator records the job's counts there when the job
commits. Per-profile caps: `profile_caps.py` (counts read per input batch by the coordinator).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from nextoffer.capping.rules import EventKind, compile_rules
from nextoffer.engine import Catalog, Offer

UsedCount = Callable[[Offer, int, str | None], int]
"""Decisions already counted against a total cap: (offer, rule index, placement or None)."""


@dataclass(frozen=True, slots=True)
class TotalRule:
    offer_id: str
    index: int
    limit: int
    per_placement: bool


def total_rules(offer: Offer, now: datetime) -> tuple[TotalRule, ...]:
    """The offer's usable total caps on decision events that are in force at `now`, as the
    online gate compiles them (impressions and clicks are counted elsewhere; batch makes none)."""
    at = now.timestamp()
    return tuple(
        TotalRule(offer.id, rule.index, rule.limit, rule.per_placement)
        for rule in compile_rules(offer.capping)
        if not rule.per_profile and rule.event is EventKind.DECISION and rule.period.applies(at)
    )


def cap_key(rule: TotalRule, placement_id: str) -> str:
    """One counter: the offer's rule, per placement when the rule counts each placement."""
    base = f"{rule.offer_id}#{rule.index}"
    return f"{base}@{placement_id}" if rule.per_placement else base


class TotalCaps:
    """The total caps of a catalog at one instant, for workers (read) and the coordinator."""

    def __init__(self, catalog: Catalog, now: datetime) -> None:
        self.rules: dict[str, tuple[TotalRule, ...]] = {}
        for offer in catalog.offers.values():
            if offer.has_caps:
                found = total_rules(offer, now)
                if found:
                    self.rules[offer.id] = found

    def __bool__(self) -> bool:
        return bool(self.rules)

    def keys_for(self, offer_id: str, placement_id: str) -> list[str]:
        return [cap_key(r, placement_id) for r in self.rules.get(offer_id, ())]

    def view(self, exhausted: frozenset[str]) -> ExhaustedView:
        return ExhaustedView(self, exhausted)


class ExhaustedView:
    """The engine's `CappingView` over total caps that have run out."""

    __slots__ = ("_caps", "_exhausted")

    def __init__(self, caps: TotalCaps, exhausted: frozenset[str]) -> None:
        self._caps = caps
        self._exhausted = exhausted

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        for rule in self._caps.rules.get(offer.id, ()):
            if cap_key(rule, placement_id) in self._exhausted:
                return rule.index
        return None


class Budget:
    """What is left of each total cap; charged by the coordinator only, in input order."""

    def __init__(self, caps: TotalCaps, catalog: Catalog, used: UsedCount | None = None) -> None:
        self.left: dict[str, int] = {}
        self.charged: Counter[str] = Counter()
        self.exhausted: set[str] = set()
        self._caps = caps
        self._catalog = catalog
        self._used = used

    def prime(self) -> None:
        """Load every cap's budget up front, so caps already spent are known before any work."""
        for offer_id, rules in self._caps.rules.items():
            offer = self._catalog.offers[offer_id]
            for rule in rules:
                targets = tuple(offer.contents) if rule.per_placement else (None,)
                for placement_id in targets:
                    spent = self._used(offer, rule.index, placement_id) if self._used else 0
                    key = cap_key(rule, placement_id or "")
                    self.left[key] = max(rule.limit - spent, 0)
                    if self.left[key] == 0:
                        self.exhausted.add(key)

    def short(self, keys: Iterable[str]) -> list[str]:
        """The caps that cannot take these proposals of one profile (empty: they fit)."""
        need = Counter(keys)
        return [k for k, n in need.items() if self.left.get(k, 0) < n]

    def charge(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.left[key] -= 1
            self.charged[key] += 1
            if self.left[key] == 0:
                self.exhausted.add(key)
