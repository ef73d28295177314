"""A catalog's capping rules, compiled once per catalog, and the counter keys they give.

Rules are compiled on first use of an offer and kept with their fixed key prefixes, so a
decision only formats the window, placement and subject part of each key. Which counters a
feedback event moves is worked out here too (pure: the gate only stores what it gives).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from nextoffer.capping.keys import ALL, counter_key, rule_prefix
from nextoffer.capping.rules import CappingRule, EventKind, compile_rules
from nextoffer.capping.store import Increment
from nextoffer.capping.windows import Window

if TYPE_CHECKING:
    from nextoffer.engine import Catalog, Offer

Rules = tuple[tuple[CappingRule, str], ...]
"""An offer's rules, each with its key prefix."""

_NO_RULES: Rules = ()


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


class Counter(NamedTuple):
    """One counter a rule of an offer moves or checks for one decision or event."""

    rule: CappingRule
    key: str
    ttl: int | None
    """Seconds until the counter's window ends (its key's last use); None: never."""

    def increment(self, by: int) -> Increment:
        return Increment(self.key, by, self.rule.limit, self.ttl)


class Moment:
    """Counter keys at one instant for one subject, with each rule's window worked out once."""

    __slots__ = ("_windows", "now", "subject")

    def __init__(self, now: float, subject: str | None) -> None:
        self.now = now
        self.subject = subject
        self._windows: dict[int, Window | None] = {}

    def counters(
        self, rules: Sequence[tuple[CappingRule, str]], placement_id: str | None
    ) -> list[Counter]:
        """The counters of these rules that apply now, for a placement (None: unknown, then
        per-placement rules are left out)."""
        out = []
        for rule, prefix in rules:
            if rule.per_profile and self.subject is None:
                continue
            if rule.per_placement and placement_id is None:
                continue
            window = self._windows.get(id(rule), False)
            if window is False:
                window = self._windows[id(rule)] = rule.period.window(self.now)
            if window is None:
                continue
            key = counter_key(
                prefix,
                window.start,
                placement_id if rule.per_placement else ALL,  # type: ignore[arg-type]
                self.subject if rule.per_profile else ALL,  # type: ignore[arg-type]
            )
            ttl = None if window.end is None else window.end - int(self.now)
            out.append(Counter(rule, key, ttl))
        return out

    def spread(self, rules: Rules, placements: Sequence[str]) -> list[Counter]:
        """Counters of rules on any of several placements: an across-placements counter once,
        a per-placement counter per placement (no placement: across-placements ones only)."""
        out: dict[str, Counter] = {}
        for placement in placements or (None,):
            for counter in self.counters(rules, placement):
                out.setdefault(counter.key, counter)
        return list(out.values())


class CatalogPlan:
    """The capping rules of one sandbox's catalog (all of them, or those `keep` selects: batch
    charges its total caps and per-profile caps apart)."""

    def __init__(
        self, sandbox: str, catalog: Catalog, keep: Callable[[CappingRule], bool] | None = None
    ) -> None:
        self.sandbox = sandbox
        self.catalog = catalog
        self.any_caps = any(o.has_caps for o in catalog.offers.values())
        self._keep = keep
        self._rules: dict[str, Rules] = {}
        self._members: dict[tuple[str, str], tuple[Offer, ...]] = {}
        self._custom: list[tuple[Offer, Rules]] | None = None

    def rules(self, offer: Offer) -> Rules:
        """The offer's usable rules (that the plan keeps), each with its key prefix."""
        found = self._rules.get(offer.id)
        if found is None:
            if not offer.has_caps:
                found = _NO_RULES
            else:
                keep = self._keep
                found = tuple(
                    (rule, rule_prefix(self.sandbox, offer.id, rule.index))
                    for rule in compile_rules(offer.capping)
                    if keep is None or keep(rule)
                )
            self._rules[offer.id] = found
        return found

    def capped_members(self, activity_id: str, placement_id: str) -> tuple[Offer, ...]:
        """Every offer with rules that a scope may examine (explanations walk all members)."""
        found = self._members.get((activity_id, placement_id))
        if found is None:
            seen: dict[str, Offer] = {}
            decision = self.catalog.decisions.get(activity_id)
            for criterion in decision.criteria if decision else ():
                if criterion.applies_to(placement_id):
                    for offer in criterion.members:
                        if offer.has_caps:
                            seen.setdefault(offer.id, offer)
            found = self._members[(activity_id, placement_id)] = tuple(seen.values())
        return found

    def custom_rules(self) -> list[tuple[Offer, Rules]]:
        """The offers with `custom` rules, with just those rules."""
        if self._custom is None:
            out = []
            for offer in self.catalog.offers.values():
                custom = tuple(r for r in self.rules(offer) if r[0].event is EventKind.CUSTOM)
                if custom:
                    out.append((offer, custom))
            self._custom = out
        return self._custom

    def feedback_counters(
        self, moment: Moment, events: Sequence[Feedback], when: datetime
    ) -> list[Counter]:
        """The counters impressions, clicks and custom events move (one per rule and event).

        Unknown offers and decision events move nothing (decisions are counted when made)."""
        out: list[Counter] = []
        for fb in events:
            kind = fb.kind
            if kind == EventKind.CUSTOM:
                targets = self.custom_rules()
                if fb.offer_id is not None:
                    targets = [t for t in targets if t[0].id == fb.offer_id]
                event = fb.event or {}
                for offer, rules in targets:
                    matching = tuple(r for r in rules if r[0].matches(event, when))
                    places = (fb.placement_id,) if fb.placement_id else tuple(offer.contents)
                    out += moment.spread(matching, places)
            elif kind in (EventKind.IMPRESSION, EventKind.CLICK):
                offer = self.catalog.offers.get(fb.offer_id or "")
                if offer is None:
                    continue
                rules = tuple(r for r in self.rules(offer) if r[0].event == kind)
                out += moment.counters(rules, fb.placement_id)
        return out
