"""Capping rules compiled from an offer's `frequencyCappingConstraints` (pure).

A rule counts one event kind (`decision` by default, `impression`, `click`, or `custom` events
matching a PQL `eventCondition`), per profile (`scope: profile`) or in total (`scope: global`),
across all the offer's placements (`entity: offer`) or for each placement (`entity: placement`),
over a window that resets with its `repeat` (see `windows.py`). The legacy `cappingConstraint`
(`globalCap`, `profileCap`) is mapped by the catalog to decision rules that never reset, after
the offer's own rules. A rule is known by its index in the offer's list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nextoffer.capping.windows import Period
from nextoffer.pql import Compiled, Env, PqlError, compile_cached
from nextoffer.timeutil import epoch_or_none


class EventKind(StrEnum):
    DECISION = "decision"
    IMPRESSION = "impression"
    CLICK = "click"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class CappingRule:
    index: int
    event: EventKind
    per_profile: bool
    """`scope: profile`: one counter per profile; else one counter in total."""
    per_placement: bool
    """`entity: placement`: one counter per placement; else one across all placements."""
    limit: int
    period: Period
    condition: Compiled | None = None
    """For `custom` events: the PQL the event must satisfy (None: the rule never matches)."""

    def matches(self, event: Mapping[str, Any], now: datetime) -> bool:
        """Whether an experience event counts toward this `custom` rule.

        The condition reads the event as its root (`commerce.checkouts.value exists`), and also
        as `xEvent`, the only event there is.
        """
        if self.condition is None:
            return False
        return self.condition.test(Env(event, now=now, events=(event,)))


def compile_rule(index: int, doc: Mapping[str, Any]) -> CappingRule | None:
    """One rule from its document; None when it is disabled or unusable (then it never caps)."""
    if doc.get("enabled") is False:
        return None
    limit = doc.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return None
    try:
        event = EventKind(doc.get("event") or "decision")
    except ValueError:
        return None
    repeat = doc.get("repeat") or {}
    unit = repeat.get("unit", "month") if repeat.get("enabled") else None
    try:
        period = Period(
            unit,
            int(repeat.get("unitCount") or 1),
            epoch_or_none(doc.get("startDate")),
            epoch_or_none(doc.get("endDate")),
        )
    except (TypeError, ValueError):
        return None
    condition = None
    if event is EventKind.CUSTOM:
        text = (doc.get("eventCondition") or {}).get("value")
        if isinstance(text, str):
            try:
                condition = compile_cached(text, "rule")
            except PqlError:
                condition = None
    return CappingRule(
        index=index,
        event=event,
        per_profile=doc.get("scope") == "profile",
        per_placement=doc.get("entity") == "placement",
        limit=limit,
        period=period,
        condition=condition,
    )


def compile_rules(docs: Sequence[Mapping[str, Any]]) -> tuple[CappingRule, ...]:
    """An offer's enabled, usable rules, each keeping its index in `docs`."""
    out = []
    for index, doc in enumerate(docs):
        rule = compile_rule(index, doc)
        if rule is not None:
            out.append(rule)
    return tuple(out)
