"""Explanations: for every candidate of a scope, the first reason it was dropped, or its rank.

Reasons are a small enum of stable codes (STYLE.md, practice 3); the API shows them as they are.
"""

from __future__ import annotations

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
