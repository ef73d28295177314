"""Edge requests as the Web SDK and the Edge Network Server API send them.

`events[]` (or the Server API's single `event`), each with its `xdm` experience event and the
decision scopes it asks for (`query.personalization.decisionScopes`, plus the Server API's
top-level `query` for the first event). Bodies are decoded straight into these structs.
"""

from __future__ import annotations

from typing import Any

import msgspec

from nextoffer.errors import InvalidInput
from nextoffer.wire.scopes import DecisionScope, ScopeError, decode_scope

MAX_SCOPES = 30


class _Loose(msgspec.Struct, forbid_unknown_fields=False):
    pass


class Personalization(_Loose):
    decision_scopes: list[str] = msgspec.field(name="decisionScopes", default_factory=list)


class EdgeQuery(_Loose):
    personalization: Personalization | None = None


class EdgeEvent(_Loose):
    xdm: dict[str, Any] = msgspec.field(default_factory=dict)
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    query: EdgeQuery | None = None


class EdgeRequest(_Loose):
    events: list[EdgeEvent] | None = None
    event: EdgeEvent | None = None
    """The Server API's single-event form."""
    query: EdgeQuery | None = None


def events_of(req: EdgeRequest) -> tuple[list[EdgeEvent], str]:
    """The request's events and where they are (`/events` or `/event`); 400 without any."""
    if req.events:
        return req.events, "/events"
    if req.event is None:
        raise InvalidInput.at(
            "an Edge request carries events[] (or event)", pointer="/events", code="invalid-body"
        )
    return [req.event], "/event"


def event_pointer(where: str, index: int) -> str:
    """Where event `index`'s `xdm` is in the request."""
    return f"{where}/{index}/xdm" if where == "/events" else "/event/xdm"


def scopes_of(req: EdgeRequest, event: EdgeEvent, index: int, where: str) -> list[DecisionScope]:
    """The decision scopes event `index` asks for; a malformed one is a 400 naming it."""
    tokens = (
        list(event.query.personalization.decision_scopes)
        if event.query and event.query.personalization
        else []
    )
    base = (
        f"{where}/{index}/query/personalization/decisionScopes"
        if where == "/events"
        else ("/query/personalization/decisionScopes")
    )
    if index == 0 and req.query and req.query.personalization:
        tokens += req.query.personalization.decision_scopes  # the Server API's top-level form
    scopes = []
    for j, token in enumerate(tokens):
        try:
            scope = decode_scope(token)
        except ScopeError as exc:
            raise InvalidInput.at(
                f"decision scope {token!r}: {exc}", pointer=f"{base}/{j}", code="bad-scope"
            ) from None
        if scope is not None:
            scopes.append(scope)
    if len(scopes) > MAX_SCOPES:
        raise InvalidInput.at(
            f"at most {MAX_SCOPES} decision scopes per event", pointer=base, code="too-many-scopes"
        )
    return scopes


def dry_run(event: EdgeEvent) -> bool:
    """Journey Optimizer's `data.__adobe.ajo.dryRun`: decide, but keep and count nothing."""
    adobe = event.data.get("__adobe") if isinstance(event.data, dict) else None
    ajo = adobe.get("ajo") if isinstance(adobe, dict) else None
    return isinstance(ajo, dict) and ajo.get("dryRun") is True
