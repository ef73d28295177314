"""What would this profile get: explained dry runs of decisions for one profile, at any time.

A simulation is a decision like any other (`DecisionService.decide`, same engine, same caps
read from the same counters) made as a dry run with its explanation: nothing is recorded and
no counter moves. It adds the choice of scopes -- every placement of every live decision, or
of the decisions named (drafts too, so a decision can be tried before it goes live) -- and
decides each scope on its own (duplicates allowed across them), since the question is what
each decision would propose, not what one page showing them all would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.engine import Catalog, Proposition, ScopeRequest, Subject
from nextoffer.errors import FieldError, RuleViolation
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import DecideCall, proposition_request_pointer

MAX_SIMULATED_SCOPES = 200
"""Scopes one simulation decides at most; past it the answer says `truncated`."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """Who, when, with what context, and which decisions (None: every live one)."""

    tenant: Tenant
    identity: tuple[str, str] | None = None
    """(namespace, id) of a stored profile; with `inline` too it names the capping subject."""
    inline: Subject | None = None
    """A profile given whole; no profile is looked up."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Context data by its `@type`."""
    at: datetime | None = None
    decisions: Sequence[str] | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Simulated:
    propositions: list[Proposition]
    """One per scope, each with its explanation."""
    at: datetime
    profile_id: str | None
    """The stored profile the identity found (None: unknown identity, inline or anonymous)."""
    catalog: Catalog | None
    """What was decided with (its offers' names explain the candidates)."""
    truncated: bool
    """More scopes than `MAX_SIMULATED_SCOPES` were asked for; the first ones were decided."""


def scopes_of(catalog: Catalog, decision_ids: Sequence[str] | None) -> list[ScopeRequest]:
    """Every placement with criteria of each decision, in the order the decisions are named
    (or every live decision by name); an unknown decision is one 422 naming each."""
    if decision_ids is None:
        decisions = sorted(
            (d for d in catalog.decisions.values() if d.status == "live"),
            key=lambda d: (d.name.casefold(), d.id),
        )
    else:
        unknown = [
            FieldError(
                f"there is no decision {d}", pointer=f"/decisions/{i}", code="unknown-decision"
            )
            for i, d in enumerate(decision_ids)
            if d not in catalog.decisions
        ]
        if unknown:
            raise RuleViolation.many("some decisions cannot be simulated", unknown)
        decisions = [catalog.decisions[d] for d in dict.fromkeys(decision_ids)]
    return [
        ScopeRequest(decision.id, placement_id)
        for decision in decisions
        for placement_id in decision.placement_ids
        if placement_id in catalog.placements and decision.groups(placement_id)
    ]


class Simulator:
    """Simulations over the decision service of the process."""

    def __init__(self, decisions: DecisionService) -> None:
        self.decisions = decisions

    def simulate(self, sim: Simulation) -> Simulated:
        svc = self.decisions
        sandbox = svc.library.find_sandbox(sim.tenant)
        catalog = svc.catalogs.get(sandbox.pk) if sandbox else None
        at = sim.at if sim.at is not None else svc.clock()
        if sandbox is None or catalog is None:
            scopes_of(Catalog(0, {}, {}, {}, {}), sim.decisions)  # names any unknown decision
            return Simulated([], at, None, catalog, False)
        scopes = scopes_of(catalog, sim.decisions)
        truncated = len(scopes) > MAX_SIMULATED_SCOPES
        call = DecideCall(
            tenant=sim.tenant,
            scopes=scopes[:MAX_SIMULATED_SCOPES],
            identities=[sim.identity] if sim.identity else [],
            inline=sim.inline,
            context=dict(sim.context),
            allow_duplicates=(True, True),
            dry_run=True,
            explain=True,
            seed=sim.seed,
            at=at,
        )
        result = svc.decide(call, proposition_request_pointer, screened=(sandbox, catalog))
        return Simulated(result.propositions, at, result.profile_id, catalog, truncated)


__all__ = ["MAX_SIMULATED_SCOPES", "Simulated", "Simulation", "Simulator", "scopes_of"]
