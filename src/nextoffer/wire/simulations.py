"""`POST /v1/simulations`: the request body, and the answer built from explained propositions.

Each scope's proposition has the Decisioning API's v1.0 shape (`decisioning_responses`) with
content, names and the explanation; `names` maps every offer an explanation mentions to its
name, so a page can show the whole candidate table without asking for each offer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from nextoffer.engine import Catalog, Proposition
from nextoffer.errors import InvalidInput
from nextoffer.profiles.documents import MAX_ID_LENGTH, is_namespace
from nextoffer.profiles.xdm import flatten_segments
from nextoffer.timeutil import format_utc
from nextoffer.wire.decisioning import (
    ContextData,
    IncludeMetadata,
    InlineProfile,
    Instant,
    ResponseFormat,
    segments_of,
)
from nextoffer.wire.decisioning_responses import proposition_v1

MAX_DECISIONS = 100


class SimulationRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Whom to simulate (a stored profile's identity, or a profile given inline), with what
    context, when, and for which decisions (default: every live one)."""

    profile: str | None = None
    """`namespace:id` of a stored profile (an unknown one decides as an empty profile)."""
    attributes: dict[str, Any] | None = None
    """An inline profile's attributes; with them no profile is looked up."""
    segmentMembership: dict[str, Any] | None = None
    """An inline profile's audiences: `{namespace: {audience id: {"status": ...}}}`."""
    events: list[dict[str, Any]] | None = None
    """An inline profile's experience events, most recent first."""
    contextData: list[ContextData] = msgspec.field(default_factory=list)
    """As the Decisioning API's `xdm:contextData`: `[{"@type": ..., "xdm:data": {...}}]`."""
    at: Instant | None = None
    """Decide as at this instant (default: now)."""
    decisions: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_DECISIONS)] | None = (
        None
    )
    """Decision ids to simulate (drafts too); default every live decision."""
    seed: int | None = None
    """Makes random tie-breaks reproducible."""


def identity_of(text: str, pointer: str = "/profile") -> tuple[str, str]:
    """(namespace, id) of `namespace:id`; 400 naming `pointer` when it is not one."""
    namespace, sep, value = text.partition(":")
    if not sep or not is_namespace(namespace) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidInput.at(
            f"a profile is named namespace:id (a namespace of letters, digits, '_', '.' or '-', "
            f"then an id of 1 to {MAX_ID_LENGTH} characters), not {text[:80]!r}",
            pointer=pointer,
        )
    return namespace, value


def inline_of(req: SimulationRequest) -> InlineProfile | None:
    """The inline profile the request gives, if any (attributes, audiences or events)."""
    if req.attributes is None and req.segmentMembership is None and req.events is None:
        return None
    attributes = req.attributes or {}
    segments = segments_of(attributes)
    if req.segmentMembership is not None:
        segments.update(flatten_segments(req.segmentMembership))
    return InlineProfile(attributes, segments, tuple(req.events or ()))


FORMAT = ResponseFormat(
    include_content=True,
    include_metadata=IncludeMetadata(
        activity=["name"], option=["name", "priority"], placement=["name", "channel"]
    ),
)
"""Everything a person reading the simulation needs to see, whatever the placements say."""


def names_of(catalog: Catalog, propositions: list[Proposition]) -> dict[str, str]:
    """The name of every offer the propositions and their explanations mention."""
    out: dict[str, str] = {}
    offers: Mapping[str, Any] = catalog.offers
    for prop in propositions:
        if prop.fallback is not None:
            out[prop.fallback.id] = prop.fallback.name
        for trace in prop.trace.candidates if prop.trace else ():
            offer = offers.get(trace.offer_id)
            if offer is not None:
                out[offer.id] = offer.name
    return out


def simulation_response(
    propositions: list[Proposition],
    catalog: Catalog | None,
    *,
    at: Any,
    profile: str | None,
    profile_id: str | None,
    inline: bool,
    truncated: bool,
) -> dict[str, Any]:
    return {
        "at": format_utc(at),
        "profile": {
            "identity": profile,
            "profileId": profile_id,
            "found": profile_id is not None,
            "inline": inline,
        },
        "propositions": [proposition_v1(p, FORMAT) for p in propositions],
        "names": names_of(catalog, propositions) if catalog is not None else {},
        "truncated": truncated,
        "recorded": False,
    }


__all__ = [
    "MAX_DECISIONS",
    "SimulationRequest",
    "identity_of",
    "inline_of",
    "simulation_response",
]
