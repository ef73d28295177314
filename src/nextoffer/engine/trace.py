"""Explanations: for every candidate of a scope, the first reason it was dropped, or its rank.

Reasons are a small enum of stable codes (STYLE.md, practice 3); the API shows them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    SELECTED = "selected"
    OUTRANKED = "outranked"
    NOT_APPROVED = "not-approved"
    OUTSIDE_DATES = "outside-dates"
    NO_REPRESENTATION = "no-representation"
    CRITERION_INELIGIBLE = "criterion-ineligible"
    INELIGIBLE = "ineligible"
    CAPPED = "capped"
    DUPLICATE = "duplicate"
    RANKED_EARLIER = "ranked-earlier"
    NOT_REACHED = "not-reached"


@dataclass(slots=True)
class CandidateTrace:
    offer_id: str
    criterion: int
    """Index of the criterion (in the decision's `criteria`) the offer came through."""
    group: int
    """0 for the highest-priority criteria group of this placement, 1 for the next, ..."""
    reason: Reason
    detail: str = ""
    score: float | None = None
    rank: int | None = None
    rule: dict[str, Any] | None = None
    """For rule failures: the rule id, the sub-expression that failed, where, and its value."""
    model: dict[str, Any] | None = None
    """For offers a model ranked: its id, version, mode, the sampled value, the posterior."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offer": self.offer_id,
            "criterion": self.criterion,
            "group": self.group,
            "reason": str(self.reason),
        }
        if self.detail:
            out["detail"] = self.detail
        if self.score is not None:
            out["score"] = self.score
        if self.rank is not None:
            out["rank"] = self.rank
        if self.rule is not None:
            out["rule"] = self.rule
        if self.model is not None:
            out["model"] = self.model
        return out


@dataclass(slots=True)
class ScopeTrace:
    activity_id: str
    placement_id: str
    item_count: int
    outcome: str = "options"
    """`options`, `fallback` or `empty` (no offer, and a fallback without this placement)."""
    note: str = ""
    candidates: list[CandidateTrace] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "activity": self.activity_id,
            "placement": self.placement_id,
            "itemCount": self.item_count,
            "outcome": self.outcome,
        }
        if self.note:
            out["note"] = self.note
        out["candidates"] = [c.as_dict() for c in self.candidates]
        return out


def capping_explanation(
    doc: Mapping[str, Any], index: int, state: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """Why a capping rule caps, in words and fields: index, event, entity, scope, limit, window.

    `state` adds what the counters say (`count`, `windowStart`, `windowEnd`) when known.
    """
    event = doc.get("event") or "decision"
    entity = "profile" if doc.get("scope") == "profile" else "total"
    scope = "placement" if doc.get("entity") == "placement" else "all placements"
    repeat = doc.get("repeat") or {}
    if repeat.get("enabled"):
        n, unit = repeat.get("unitCount") or 1, repeat.get("unit", "month")
        window = f"every {n} {unit}{'s' if n != 1 else ''}"
    else:
        window = "never resets"
    rule: dict[str, Any] = {
        "cappingRule": index,
        "event": event,
        "entity": entity,
        "scope": scope,
        "limit": doc.get("limit"),
        "window": window,
    }
    if doc.get("legacy"):
        rule["legacy"] = f"cappingConstraint.{doc['legacy']}"
    rule.update(state or {})
    who = "per profile" if entity == "profile" else "in total"
    where = "per placement" if scope == "placement" else "across all placements"
    text = (
        f"capping rule {index} is exhausted: at most {rule['limit']} {event} events {who}, "
        f"{where}, {window}"
    )
    if "count" in rule:
        text += f"; {rule['count']} counted"
        if "windowStart" in rule:
            text += f" from {rule['windowStart']} until {rule['windowEnd']}"
    return text, rule
