"""What the engine answers for one scope: the chosen offers, or the fallback."""

from __future__ import annotations

from dataclasses import dataclass

from nextoffer.engine.catalog import Decision, Offer, Placement
from nextoffer.engine.trace import ScopeTrace


@dataclass(frozen=True, slots=True)
class Choice:
    offer: Offer
    score: float | None
    """The formula's or model's score; None when ranked by priority."""


@dataclass(slots=True)
class Proposition:
    index: int
    decision: Decision
    placement: Placement
    item_count: int
    options: list[Choice]
    fallback: Offer | None
    """Set when no offer qualified and the fallback has a representation for the placement."""
    trace: ScopeTrace | None = None
