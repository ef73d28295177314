"""Feedback: display, click and behavioural events, checked whole, then kept and counted.

A notification must name propositions this sandbox really made, and offers those propositions
really carried; anything else is refused before a single event is written, so a batch is taken
whole or not at all. Kept events go to the profile (rules over recent behaviour read them) and
move the impression, click and `custom` capping counters of the offers they concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nextoffer.capping.keys import capping_subject
from nextoffer.decisioning.capping_gate import CappingGate, Feedback
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.errors import FieldError, RuleViolation
from nextoffer.tenants import Tenant
from nextoffer.wire.events import ExperienceEvent


class KnownPropositions(Protocol):
    def get(self, tenant: Tenant, proposition_ids: Iterable[str]) -> Mapping[str, Any]: ...


class EventKeeper(Protocol):
    def append_events(
        self,
        tenant: Tenant,
        identities: Sequence[tuple[str, str]],
        events: Sequence[Mapping[str, Any]],
        *,
        create: bool = True,
    ) -> str: ...


@dataclass
class Ingested:
    events: int = 0
    kept: int = 0
    impressions: int = 0
    clicks: int = 0
    custom: int = 0
    profiles: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "kept": self.kept,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "custom": self.custom,
            "profiles": len(self.profiles),
        }


class FeedbackService:
    def __init__(
        self,
        propositions: KnownPropositions,
        profiles: EventKeeper,
        decisions: DecisionService,
        counter: CappingGate | None,
    ) -> None:
        self.propositions = propositions
        self.profiles = profiles
        self.decisions = decisions
        self.counter = counter

    def check(self, tenant: Tenant, events: Sequence[ExperienceEvent]) -> dict[str, Any]:
        """The decision events the notifications name; 422 naming every unknown one."""
        wanted = {s.proposition_id for e in events for s in e.shown}
        if not wanted:
            return {}
        found = dict(self.propositions.get(tenant, wanted))
        errors = []
        for event in events:
            for shown in event.shown:
                decided = found.get(shown.proposition_id)
                if decided is None:
                    errors.append(
                        FieldError(
                            f"no proposition {shown.proposition_id} was made in this sandbox",
                            pointer=f"{shown.pointer}/id",
                            code="unknown-proposition",
                        )
                    )
                    continue
                proposed = {offer_id for offer_id, _rank, _score in decided.offers}
                if decided.fallback_id:
                    proposed.add(decided.fallback_id)
                for j, offer_id in enumerate(shown.offer_ids):
                    if offer_id not in proposed:
                        errors.append(
                            FieldError(
                                f"offer {offer_id} is not an item of proposition "
                                f"{shown.proposition_id}",
                                pointer=f"{shown.pointer}/items/{j}/id",
                                code="offer-not-proposed",
                            )
                        )
        if errors:
            raise RuleViolation.many("some events refer to propositions never made", errors)
        return found

    def ingest(
        self, tenant: Tenant, events: Sequence[ExperienceEvent], dry_run: bool = False
    ) -> Ingested:
        """Check every event, then keep and count them; a dry run checks only."""
        decided = self.check(tenant, events)
        result = Ingested(events=len(events))
        if dry_run:
            return result
        now = self.decisions.clock()
        sandbox = self.decisions.library.find_sandbox(tenant)
        catalog = self.decisions.catalogs.get(sandbox.pk) if sandbox else None
        by_identities: dict[tuple[tuple[str, str], ...], list[ExperienceEvent]] = {}
        for event in events:
            if event.kept:
                by_identities.setdefault(self._identities(event, decided), []).append(event)
        for identities, group in by_identities.items():  # one write per profile, not per event
            profile_id = None
            if identities:
                xdms = [e.xdm for e in group]
                profile_id = self.profiles.append_events(tenant, list(identities), xdms)
                result.profiles.add(profile_id)
            result.kept += len(group)
            feedback = [f for e in group for f in self._feedback(e, decided)]
            result.impressions += sum(1 for f in feedback if f.kind == "impression")
            result.clicks += sum(1 for f in feedback if f.kind == "click")
            result.custom += sum(1 for e in group if e.kind == "custom")
            if self.counter is not None and sandbox and catalog and feedback:
                subject = capping_subject(profile_id, identities)
                self.counter.count_events(sandbox.sandbox_id, catalog, subject, feedback, now=now)
        return result

    @staticmethod
    def _identities(
        event: ExperienceEvent, decided: Mapping[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """The event's identities; a notification without any is for whoever was decided for."""
        if event.identities:
            return event.identities
        for shown in event.shown:
            identity = decided[shown.proposition_id].identity
            if identity:
                return (tuple(identity),)
        return ()

    @staticmethod
    def _feedback(event: ExperienceEvent, decided: Mapping[str, Any]) -> Iterable[Feedback]:
        if event.kind == "custom":
            yield Feedback("custom", None, None, event.xdm)
            return
        for shown in event.shown:
            placement = decided[shown.proposition_id].placement_id
            for offer_id in dict.fromkeys(shown.offer_ids):
                yield Feedback(event.kind, offer_id, placement, event.xdm)
