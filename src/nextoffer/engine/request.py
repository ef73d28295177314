"""A decision request as the engine sees it (no HTTP, no storage, no tenant)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from nextoffer.engine.protocols import CappingView, ModelScorer, Subject
from nextoffer.engine.ties import TieBreaker

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Nobody:
    """The subject of a decision for an identity no profile has: no attributes, no audiences."""

    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    segments: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    events: Sequence[Mapping[str, Any]] = ()


NOBODY = Nobody()


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    """One decision scope: a decision, one of its placements, and how many offers."""

    activity_id: str
    placement_id: str
    item_count: int | None = None
    """None: the placement's own `itemCount`."""


@dataclass(slots=True)
class DecisionRequest:
    scopes: Sequence[ScopeRequest]
    now: datetime
    subject: Subject = NOBODY
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Context data by its `@type`."""
    allow_duplicates: tuple[bool, bool] | None = None
    """(across activities, across placements); None lets the placements decide."""
    seed: int | None = None
    """Makes random tie-breaks reproducible; None draws a fresh one."""
    capping: CappingView | None = None
    scorer: ModelScorer | None = None
    explain: bool = False

    def tie_breaker(self) -> TieBreaker:
        return TieBreaker(self.seed)
