"""The protocol-neutral decision call and its result: what every wire format translates to.

They live in the core so that wire formats (and the adapters using them) build calls without
importing the decision service, and the service takes them without knowing any wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nextoffer.engine import Catalog, Proposition, ScopeRequest, Subject
from nextoffer.tenants import Tenant


@dataclass(slots=True)
class DecideCall:
    """What a client asks, whatever API it came through."""

    tenant: Tenant
    scopes: list[ScopeRequest]
    identities: list[tuple[str, str]] = field(default_factory=list)
    """(namespace, id), the primary identity first."""
    inline: Subject | None = None
    """A profile passed in the request; no lookup is made when it is given."""
    context: dict[str, Any] = field(default_factory=dict)
    current_event: Mapping[str, Any] | None = None
    """The experience event the request carries (Edge): rules see it first in `xEvent`."""
    allow_duplicates: tuple[bool, bool] | None = None
    dry_run: bool = False
    explain: bool = False
    seed: int | None = None
    request_id: str | None = None
    at: datetime | None = None
    """Decide as at this instant instead of now (simulations: dry runs and explanations)."""


@dataclass(slots=True)
class DecideResult:
    proposition_id: str
    created: datetime
    propositions: list[Proposition]
    scope_ids: list[str]
    """One proposition (decision event) id per scope."""
    catalog: Catalog
    profile_id: str | None
    recorded: bool


PointerFor = Callable[[int, str], str]
"""Where scope `index`'s `activity` or `placement` is in a request (for 422s naming it)."""


def proposition_request_pointer(index: int, field_name: str) -> str:
    """The pointer into `xdm:propositionRequests`, the scope list of the Decisioning API (1.0)
    and of the Batch Decisioning API."""
    name = "xdm:activityId" if field_name == "activity" else "xdm:placementId"
    return f"/xdm:propositionRequests/{index}/{name}"
