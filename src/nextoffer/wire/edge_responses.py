"""Edge responses: `personalization:decisions` handles, their propositions and items, and the
per-event warnings the Edge Network answers with instead of failing the whole request."""

from __future__ import annotations

from typing import Any

from nextoffer.engine import Offer, Placement, Proposition
from nextoffer.vocabulary import component_uri
from nextoffer.wire.content import EDGE, NO_COMPONENT, component_of, render


def item(offer: Offer, placement: Placement) -> dict[str, Any]:
    """One offer of a proposition, its metadata as the placement's `returnMetaData` asks."""
    flags = placement.doc.get("returnMetaData") or {}
    component = component_of(offer, placement.id) or NO_COMPONENT
    data: dict[str, Any] = {"id": offer.id, **render(component, EDGE)}
    if flags.get("offerAttributes", True) and offer.characteristics:
        data["characteristics"] = dict(offer.characteristics)
    out: dict[str, Any] = {"id": offer.id, "etag": str(offer.etag)}
    if flags.get("offerName", True):
        out["name"] = offer.name
    if flags.get("offerPriority", True) and offer.kind == "personalized-offer":
        out["priority"] = offer.priority
    out["schema"] = component_uri(component.get("type", placement.component_type))
    out["data"] = data
    return out


def proposition(prop: Proposition, scope_id: str, token: str) -> dict[str, Any]:
    """One decided scope; `token` is the scope string as sent, echoed back."""
    placement = prop.placement
    flags = placement.doc.get("returnMetaData") or {}
    activity: dict[str, Any] = {"id": prop.decision.id, "etag": str(prop.decision.etag)}
    if flags.get("decisionName", True):
        activity["name"] = prop.decision.name
    place: dict[str, Any] = {"id": placement.id, "etag": str(placement.etag)}
    if flags.get("placementName", True):
        place["name"] = placement.name
    if flags.get("channelType", True):
        place["channel"] = placement.channel
    if flags.get("contentType", True):
        place["componentType"] = component_uri(placement.component_type)
    offers = [c.offer for c in prop.options] or ([prop.fallback] if prop.fallback else [])
    return {
        "id": scope_id,
        "scope": token,
        "activity": activity,
        "placement": place,
        "items": [item(o, placement) for o in offers],
    }


def handle(payload: list[dict[str, Any]], index: int) -> dict[str, Any]:
    """The propositions decided for event `index`."""
    return {"payload": payload, "type": "personalization:decisions", "eventIndex": index}


def warning(status: int, code: str, title: str, detail: str, index: int) -> dict[str, Any]:
    """A problem with event `index` that did not stop the others."""
    return {
        "type": f"https://nextoffer.dev/problems/{code}",
        "status": status,
        "title": title,
        "detail": detail,
        "report": {"eventIndex": index},
    }


def interact_response(
    request_id: str, handles: list[dict[str, Any]], warnings: list[dict[str, Any]]
) -> dict[str, Any]:
    body: dict[str, Any] = {"requestId": request_id, "handle": handles}
    if warnings:
        body["warnings"] = warnings
    return body
