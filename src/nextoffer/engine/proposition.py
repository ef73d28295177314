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
    propensity: float | None = None
    """The probability the policy had of proposing this offer in this slot given the
    candidates (1.0 when deterministic); None when not computed (explanations)."""
    model: tuple[str, int | None] | None = None
    """(ranking strategy id, model version or None when untrained) when a model ranked it."""


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
