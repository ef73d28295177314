"""How an offer's content appears in decisions: shared by the Decisioning API and batch output.

It lives below `api/` so that batch jobs write the same content fields the online response
carries, without batch importing the HTTP layer (DESIGN.md §1).
"""

from __future__ import annotations

from typing import Any

from nextoffer.engine import Offer
from nextoffer.vocabulary import component_uri


def content_fields(offer: Offer, placement_id: str) -> dict[str, Any]:
    """`@type`, format, language and content (or delivery URL) of the offer's representation."""
    content = offer.contents.get(placement_id)
    if content is None or not content.components:
        return {}
    component = content.components[0]
    out: dict[str, Any] = {
        "@type": component_uri(component.get("type", "")),
        "dc:format": component["format"],
    }
    if component.get("language"):
        out["dc:language"] = list(component["language"])
    if component.get("deliveryURL"):
        out["xdm:deliveryURL"] = component["deliveryURL"]
        if component.get("linkURL"):
            out["xdm:content"] = component["linkURL"]
    if component.get("content") is not None:
        out["xdm:content"] = component["content"]
    return out
