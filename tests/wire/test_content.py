"""One content projection, rendered in the Decisioning API's and the Edge's words."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from nextoffer.engine import Offer, build_catalog
from nextoffer.wire.content import (
    DECISIONING,
    EDGE,
    NO_COMPONENT,
    component_of,
    content_fields,
    render,
)
from tests.engine.library import WEB, Library


def offer_with(*components: dict[str, Any]) -> Offer:
    lib = Library()
    lib.placement("p1")
    lib.placement("p2")
    lib.offer(
        "o1",
        representations=[{"channel": WEB, "placement": "p1", "components": list(components)}],
    )
    return build_catalog(lib.docs).offers["o1"]


INLINE = {"type": "json", "format": "application/json", "language": ["en-us"], "content": "{}"}
BY_REFERENCE = {
    "type": "imagelink",
    "format": "image/png",
    "deliveryURL": "https://cdn.example.com/a.png",
    "linkURL": "https://www.example.com/a",
}


def test_both_vocabularies_render_the_same_projection() -> None:
    component = component_of(offer_with(INLINE), "p1")
    assert component is not None
    assert render(component, DECISIONING) == {
        "@type": "https://ns.adobe.com/experience/offer-management/content-component-json",
        "dc:format": "application/json",
        "dc:language": ["en-us"],
        "xdm:content": "{}",
    }
    assert render(component, EDGE) == {
        "format": "application/json",
        "language": ["en-us"],
        "content": "{}",
    }


def test_content_by_reference_names_its_link_in_each_vocabulary() -> None:
    component = component_of(offer_with(BY_REFERENCE), "p1")
    assert component is not None
    decisioning = render(component, DECISIONING)
    assert list(decisioning) == ["@type", "dc:format", "xdm:deliveryURL", "xdm:content"]
    assert decisioning["xdm:content"] == BY_REFERENCE["linkURL"]  # the link is the content
    assert render(component, EDGE) == {
        "format": "image/png",
        "deliveryURL": BY_REFERENCE["deliveryURL"],
        "linkURL": BY_REFERENCE["linkURL"],
    }


def test_a_link_without_a_delivery_url_is_not_projected() -> None:
    component = component_of(
        offer_with({"type": "html", "format": "text/html", "linkURL": "x"}), "p1"
    )
    assert component is not None
    assert render(component, EDGE) == {"format": "text/html"}
    assert render(component, DECISIONING) == {
        "@type": "https://ns.adobe.com/experience/offer-management/content-component-html",
        "dc:format": "text/html",
    }


def test_inline_content_wins_over_the_link_in_the_decisioning_vocabulary() -> None:
    both = {**BY_REFERENCE, "content": "<b>hi</b>"}
    fields = content_fields(offer_with(both), "p1")
    assert list(fields) == ["@type", "dc:format", "xdm:deliveryURL", "xdm:content"]
    assert fields["xdm:content"] == "<b>hi</b>"


def test_only_the_first_component_counts() -> None:
    fields = content_fields(offer_with(INLINE, BY_REFERENCE), "p1")
    assert fields["dc:format"] == "application/json" and "xdm:deliveryURL" not in fields


@pytest.mark.parametrize("placement", ["p2", "unknown"])
def test_no_representation_for_the_placement(placement: str) -> None:
    offer = offer_with(INLINE)
    assert component_of(offer, placement) is None
    assert content_fields(offer, placement) == {}
    assert render(NO_COMPONENT, EDGE) == {"format": ""}  # the Edge always says a format


def test_the_rendering_is_byte_stable() -> None:
    """Batch output stores these bytes: key order is part of the format."""
    fields = content_fields(offer_with(INLINE), "p1")
    assert orjson.dumps(fields) == (
        b'{"@type":"https://ns.adobe.com/experience/offer-management/content-component-json",'
        b'"dc:format":"application/json","dc:language":["en-us"],"xdm:content":"{}"}'
    )
