"""A decision request and its result, as the engine sees them (no HTTP, no storage)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from nextoffer.engine.catalog import Catalog, Decision, Offer, Placement
from nextoffer.engine.protocols import CappingView, ModelScorer, Subject
from nextoffer.engine.trace import ScopeTrace

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


class TieBreaker:
    """A random key per (scope, offer) that does not depend on evaluation order.

    Equal scores are ordered by these keys: a uniformly random order for each request, the
    same whichever engine (lazy or reference) evaluated which offers, and reproducible with a
    seed.
    """

    __slots__ = ("_salt",)

    def __init__(self, seed: int | None) -> None:
        salt = secrets.token_bytes(16) if seed is None else seed.to_bytes(16, "big", signed=True)
        self._salt = salt

    def key(self, scope_index: int, offer_id: str) -> int:
        digest = hashlib.blake2b(
            f"{scope_index}\0{offer_id}".encode(), digest_size=8, key=self._salt
        ).digest()
        return int.from_bytes(digest, "big")


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


@dataclass(frozen=True, slots=True)
class ScopeProblem:
    """Why a scope cannot be decided at all (the request is refused with 422)."""

    index: int
    field: str
    """`activity` or `placement`."""
    code: str
    message: str


def scope_problems(catalog: Catalog, scopes: Sequence[ScopeRequest]) -> list[ScopeProblem]:
    """Unknown decisions or placements, decisions that are not live, placements not used."""
    out = []
    for i, scope in enumerate(scopes):
        decision = catalog.decisions.get(scope.activity_id)
        if decision is None:
            out.append(
                ScopeProblem(
                    i, "activity", "unknown-decision", f"there is no decision {scope.activity_id}"
                )
            )
        elif decision.status != "live":
            out.append(
                ScopeProblem(
                    i,
                    "activity",
                    "decision-not-live",
                    f"decision {scope.activity_id} is {decision.status}; only live decisions "
                    "decide",
                )
            )
        if scope.placement_id not in catalog.placements:
            out.append(
                ScopeProblem(
                    i,
                    "placement",
                    "unknown-placement",
                    f"there is no placement {scope.placement_id}",
                )
            )
        elif decision is not None and not decision.groups(scope.placement_id):
            out.append(
                ScopeProblem(
                    i,
                    "placement",
                    "placement-not-in-decision",
                    f"decision {scope.activity_id} has no criteria for placement "
                    f"{scope.placement_id}",
                )
            )
    return out


class DuplicatePolicy:
    """May an offer proposed in an earlier scope be proposed again in this one? (DESIGN.md §3)"""

    __slots__ = ("_across_activities", "_across_placements", "_used")

    def __init__(self, request: DecisionRequest, catalog: Catalog) -> None:
        if request.allow_duplicates is not None:
            self._across_activities, self._across_placements = request.allow_duplicates
        else:
            # one placement that forbids duplicates makes the whole request forbid them
            allow = all(
                catalog.placements[s.placement_id].allow_duplicates
                for s in request.scopes
                if s.placement_id in catalog.placements
            )
            self._across_activities = self._across_placements = allow
        self._used: dict[str, list[tuple[int, str, str]]] = {}

    def blocked_by(self, offer_id: str, activity_id: str, placement_id: str) -> int | None:
        """The earlier scope whose proposal of the offer rules it out here, or None."""
        for index, activity, placement in self._used.get(offer_id, ()):
            same_activity_ok = activity == activity_id or self._across_activities
            same_placement_ok = placement == placement_id or self._across_placements
            if not (same_activity_ok and same_placement_ok):
                return index
        return None

    def record(self, index: int, scope: ScopeRequest, offers: Sequence[Offer]) -> None:
        for offer in offers:
            self._used.setdefault(offer.id, []).append(
                (index, scope.activity_id, scope.placement_id)
            )


def outside(start: float | None, end: float | None, now: float) -> bool:
    return (start is not None and now < start) or (end is not None and now > end)
