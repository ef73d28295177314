"""A catalog's capping rules, compiled once per catalog, and the counter keys they give.

Rules are compiled on first use of an offer and kept with their fixed key prefixes, so a
decision only formats the window, placement and subject part of each key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from nextoffer.capping.keys import ALL, counter_key, rule_prefix
from nextoffer.capping.rules import CappingRule, EventKind, compile_rules
from nextoffer.capping.store import Increment
from nextoffer.capping.windows import Window

if TYPE_CHECKING:
    from nextoffer.engine import Catalog, Offer, ScopeRequest

_NO_RULES: tuple[tuple[CappingRule, str], ...] = ()


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


class CatalogPlan:
    """The capping rules of one sandbox's catalog."""

    def __init__(self, sandbox: str, catalog: Catalog) -> None:
        self.sandbox = sandbox
        self.catalog = catalog
        self.any_caps = any(o.has_caps for o in catalog.offers.values())
        self._rules: dict[str, tuple[tuple[CappingRule, str], ...]] = {}
        self._members: dict[tuple[str, str], tuple[Offer, ...]] = {}
        self._custom: list[tuple[Offer, tuple[tuple[CappingRule, str], ...]]] | None = None

    def rules(self, offer: Offer) -> tuple[tuple[CappingRule, str], ...]:
        """The offer's usable rules, each with its key prefix."""
        found = self._rules.get(offer.id)
        if found is None:
            if not offer.has_caps:
                found = _NO_RULES
            else:
                found = tuple(
                    (rule, rule_prefix(self.sandbox, offer.id, rule.index))
                    for rule in compile_rules(offer.capping)
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

    def scope_keys(self, scopes: Sequence[ScopeRequest], moment: Moment) -> list[str]:
        """Every counter a request's scopes may need to read, once each."""
        keys: dict[str, None] = {}
        for scope in scopes:
            for offer in self.capped_members(scope.activity_id, scope.placement_id):
                for counter in moment.counters(self.rules(offer), scope.placement_id):
                    keys[counter.key] = None
        return list(keys)

    def custom_rules(self) -> list[tuple[Offer, tuple[tuple[CappingRule, str], ...]]]:
        """The offers with `custom` rules, with just those rules."""
        if self._custom is None:
            out = []
            for offer in self.catalog.offers.values():
                custom = tuple(r for r in self.rules(offer) if r[0].event is EventKind.CUSTOM)
                if custom:
                    out.append((offer, custom))
            self._custom = out
        return self._custom
