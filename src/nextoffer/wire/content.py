"""How an offer's content appears in decisions: one projection, rendered in each API's words.

An offer's representation for a placement is projected once (`component_of` picks the
component, `render` its type, format, language, delivery URL, link URL and content); the
Decisioning API and batch output (`dc:format`, `xdm:deliveryURL`...) and the Edge (`format`,
`deliveryURL`...) only name the fields differently (`Vocabulary`), so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nextoffer.engine import Offer
from nextoffer.vocabulary import component_uri

Component = Mapping[str, Any]
"""One component of a representation, as the library holds it (`type`, `format`, `language`,
`deliveryURL`, `linkURL`, `content`)."""

NO_COMPONENT: Component = {}
"""What an offer without a representation for the placement shows."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names an API gives the projected fields; None: the API puts it elsewhere."""

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


def component_of(offer: Offer, placement_id: str) -> Component | None:
    """The component that shows the offer in the placement (its representation's first);
    None when it has no representation there."""
    representation = offer.contents.get(placement_id)
    if representation is None or not representation.components:
        return None
    return representation.components[0]


def render(component: Component, words: Vocabulary) -> dict[str, Any]:
    """The projection: the component's type, format, language, delivery URL, link URL (only
    with a delivery URL: content by reference) and inline content, under the API's names, in
    the order the API writes them.

    It reads the component directly rather than through an intermediate record: it runs for
    every option of every decision, and a record per option would double its cost.
    """
    out: dict[str, Any] = {}
    if words.type is not None:
        out[words.type] = component_uri(component.get("type", ""))
    out[words.format] = component.get("format", "")
    if component.get("language"):
        out[words.language] = list(component["language"])
    if component.get("deliveryURL"):
        out[words.delivery_url] = component["deliveryURL"]
        if component.get("linkURL"):
            out[words.link_url] = component["linkURL"]
    if component.get("content") is not None:
        out[words.content] = component["content"]
    return out


def content_fields(offer: Offer, placement_id: str) -> dict[str, Any]:
    """The Decisioning API's content fields of an option (empty without a representation)."""
    component = component_of(offer, placement_id)
    return render(component, DECISIONING) if component is not None else {}
