"""How an offer's content appears in decisions: one projection, rendered in each API's words.

An offer's representation for a placement is projected once (`content_of`: its first
component's type, format, language, delivery URL, link URL and content); the Decisioning API
and batch output (`dc:format`, `xdm:deliveryURL`...) and the Edge (`format`, `deliveryURL`...)
only name its fields differently (`Vocabulary`), so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nextoffer.engine import Offer
from nextoffer.vocabulary import component_uri


@dataclass(frozen=True, slots=True)
class Content:
    """An offer's content for one placement: the first component of its representation."""

    type: str | None
    """The component type as the library holds it (`json`, `html`...); None when unsaid."""
    format: str
    language: tuple[str, ...]
    delivery_url: str | None
    link_url: str | None
    """Where a click goes; only with a delivery URL (content served by reference)."""
    content: Any
    """The inline content; None when there is none."""


NO_CONTENT = Content(None, "", (), None, None, None)
"""What an offer without a representation for the placement shows."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names an API gives the fields of `Content`; None: the API puts it elsewhere."""

    type: str | None
    format: str
    language: str
    delivery_url: str
    link_url: str
    content: str


DECISIONING = Vocabulary(
    type="@type",
    format="dc:format",
    language="dc:language",
    delivery_url="xdm:deliveryURL",
    link_url="xdm:content",  # by reference, the link is the content (inline content wins)
    content="xdm:content",
)
"""The Decisioning API's and the Batch Decisioning API's names."""

EDGE = Vocabulary(
    type=None,  # the Edge says it as the item's `schema`
    format="format",
    language="language",
    delivery_url="deliveryURL",
    link_url="linkURL",
    content="content",
)
"""The Edge Network's names (an item's `data`)."""


def content_of(offer: Offer, placement_id: str) -> Content | None:
    """The offer's content for the placement; None when it has no representation there."""
    representation = offer.contents.get(placement_id)
    if representation is None or not representation.components:
        return None
    component = representation.components[0]
    delivery_url = component.get("deliveryURL") or None
    return Content(
        type=component.get("type"),
        format=component.get("format", ""),
        language=tuple(component.get("language") or ()),
        delivery_url=delivery_url,
        link_url=(component.get("linkURL") or None) if delivery_url else None,
        content=component.get("content"),
    )


def render(content: Content, words: Vocabulary) -> dict[str, Any]:
    """The content's fields under the API's names, in the order the API writes them."""
    out: dict[str, Any] = {}
    if words.type is not None:
        out[words.type] = component_uri(content.type or "")
    out[words.format] = content.format
    if content.language:
        out[words.language] = list(content.language)
    if content.delivery_url:
        out[words.delivery_url] = content.delivery_url
        if content.link_url:
            out[words.link_url] = content.link_url
    if content.content is not None:
        out[words.content] = content.content
    return out


def content_fields(offer: Offer, placement_id: str) -> dict[str, Any]:
    """The Decisioning API's content fields of an option (empty without a representation)."""
    content = content_of(offer, placement_id)
    return render(content, DECISIONING) if content is not None else {}
