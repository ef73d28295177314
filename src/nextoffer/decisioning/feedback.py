"""Feedback: display, click and behavioural events, checked whole, then kept and counted.

A notification must name propositions this sandbox really made, and offers those propositions
really carried; anything else is refused before a single event is written, so a batch is taken
whole or not at all. Kept events go to the profile (rules over recent behaviour read them) and
move the impression, click and `custom` capping counters of the offers they concern.

A notification also names who saw it: when it carries identities, they must be (or lead to the
profile of) the subject the proposition was decided for, or the whole batch is a 422 — a
proposition id is no licence to move someone else's counters. And a notification counts once
(`decisioning.notifications`): replaying a display or a click, on any node, moves nothing and
keeps nothing.

Who sent the events decides what their identities may write (`Provenance`): the tenant's own
calls are trusted, as on the profile API; an anonymous Edge call's identities are claims the
profile store never attaches to an existing profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nextoffer.capping.keys import capping_subject
from nextoffer.decisioning.capping_gate import CappingGate, Feedback
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.decisioning.notifications import NotificationLedger
from nextoffer.errors import FieldError, RuleViolation
from nextoffer.tenants import Tenant
from nextoffer.wire.events import ExperienceEvent

Identity = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Provenance:
    """What an event's identities may write."""

    anonymous: bool = False
    """From an anonymous Edge call: its identities are claims (none attaches to an existing
    profile; a new profile holds them as claims the tenant's own writes take over)."""
    verified: tuple[Identity, ...] = ()
    """Identities a token signed by the site's backend proved: trusted, even when anonymous."""


TRUSTED = Provenance()


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
        anonymous: bool = False,
        verified: Sequence[tuple[str, str]] = (),
    ) -> str: ...

    def resolve_profile_id(
        self, tenant: Tenant, identities: Iterable[tuple[str, str]]
    ) -> str | None: ...


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
        self.ledger = NotificationLedger(counter.store) if counter is not None else None

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
                proposed = {choice[0] for choice in decided.offers}
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
        if not errors:
            for event in events:
                errors += self._decided_for(tenant, event, found)
        if errors:
            raise RuleViolation.many("some events refer to propositions never made", errors)
        return found

    def _decided_for(
        self, tenant: Tenant, event: ExperienceEvent, decided: Mapping[str, Any]
    ) -> list[FieldError]:
        """Errors for the propositions of `event` decided for someone its identities are not
        (none without identities: the notification is then for whoever was decided for)."""
        if not event.identities or not event.shown:
            return []
        mine = {(ns.lower(), value) for ns, value in event.identities}
        errors, profile_id, resolved = [], None, False
        for shown in event.shown:
            made = decided[shown.proposition_id]
            identity = made.identity
            if identity and (identity[0].lower(), identity[1]) in mine:
                continue
            if made.profile_id:
                if not resolved:
                    profile_id = self.profiles.resolve_profile_id(tenant, event.identities)
                    resolved = True
                if profile_id == made.profile_id:
                    continue
            errors.append(
                FieldError(
                    f"proposition {shown.proposition_id} was not decided for the identities "
                    "of this event",
                    pointer=f"{event.pointer}/identityMap",
                    code="not-decided-for",
                )
            )
        return errors

    def ingest(
        self,
        tenant: Tenant,
        events: Sequence[ExperienceEvent],
        dry_run: bool = False,
        provenance: Sequence[Provenance] | None = None,
    ) -> Ingested:
        """Check every event, then keep and count them; a dry run checks only.

        `provenance` says, per event, what its identities may write (all trusted when None).
        A notification whose every (proposition, offer) was counted before is neither kept
        nor counted again.
        """
        decided = self.check(tenant, events)
        result = Ingested(events=len(events))
        if dry_run:
            return result
        now = self.decisions.clock()
        sandbox = self.decisions.library.find_sandbox(tenant)
        catalog = self.decisions.catalogs.get(sandbox.pk) if sandbox else None
        fresh = self._first_time(sandbox.sandbox_id if sandbox else "", events, decided, now)
        groups: dict[tuple[tuple[Identity, ...], Provenance], list[int]] = {}
        for i, event in enumerate(events):
            if event.kept and (not event.shown or fresh[i]):
                origin = provenance[i] if provenance is not None else TRUSTED
                groups.setdefault((self._identities(event, decided), origin), []).append(i)
        for (identities, origin), indexes in groups.items():  # one write per profile
            group = [events[i] for i in indexes]
            profile_id = None
            if identities:
                xdms = [e.xdm for e in group]
                profile_id = self.profiles.append_events(
                    tenant,
                    list(identities),
                    xdms,
                    anonymous=origin.anonymous,
                    verified=origin.verified,
                )
                result.profiles.add(profile_id)
            result.kept += len(group)
            feedback = [f for i in indexes for f in self._feedback(events[i], decided, fresh[i])]
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

    def _first_time(
        self,
        sandbox: str,
        events: Sequence[ExperienceEvent],
        decided: Mapping[str, Any],
        now: Any,
    ) -> list[set[tuple[str, str]] | None]:
        """Per event, the (proposition, offer) pairs it notifies for the first time (None for
        an event that notifies nothing; every pair when there is no counter store)."""
        wanted: list[tuple[int, tuple[str, str]]] = []
        out: list[set[tuple[str, str]] | None] = []
        for i, event in enumerate(events):
            if not event.shown or not event.kept:
                out.append(None)
                continue
            out.append(set())
            for pair in _pairs(event):
                wanted.append((i, pair))
        if self.ledger is None:
            for i, pair in wanted:
                out[i].add(pair)  # type: ignore[union-attr]
            return out
        notifications = [
            (events[i].kind, pid, offer, decided[pid].timestamp) for i, (pid, offer) in wanted
        ]
        counted = self.ledger.first_time(sandbox, notifications, now)
        for (i, pair), first in zip(wanted, counted, strict=True):
            if first:
                out[i].add(pair)  # type: ignore[union-attr]
        return out

    @staticmethod
    def _feedback(
        event: ExperienceEvent,
        decided: Mapping[str, Any],
        fresh: set[tuple[str, str]] | None,
    ) -> Iterable[Feedback]:
        if event.kind == "custom":
            yield Feedback("custom", None, None, event.xdm)
            return
        for proposition_id, offer_id in _pairs(event):
            if fresh is not None and (proposition_id, offer_id) in fresh:
                placement = decided[proposition_id].placement_id
                yield Feedback(event.kind, offer_id, placement, event.xdm)


def _pairs(event: ExperienceEvent) -> list[tuple[str, str]]:
    """The (proposition, offer) pairs a notification names, each once, in order."""
    return list(
        dict.fromkeys((s.proposition_id, offer) for s in event.shown for offer in s.offer_ids)
    )
