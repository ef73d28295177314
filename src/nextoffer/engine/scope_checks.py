"""Why a scope cannot be decided at all: the one check every API makes before deciding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nextoffer.engine.catalog import Catalog
from nextoffer.engine.request import ScopeRequest


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
