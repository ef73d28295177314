"""Adobe's enumerations and their equivalent spellings, shared by the library and the engine."""

from __future__ import annotations

XCORE_COMPONENT = "https://ns.adobe.com/experience/offer-management/content-component-"
MEMBER_STATUSES = frozenset({"realized", "existing"})
"""Audience statuses that count as membership (`exited` does not)."""

_ADOBE_CHANNEL_PREFIXES = (
    "https://ns.adobe.com/xdm/channel-types/",
    "https://ns.adobe.com/xdm/channels/",
)


def content_kind(component_type: str) -> str:
    """Canonical content kind (`html`, `text`, `imagelink`, `json`) of any accepted spelling."""
    kind = component_type.removeprefix(XCORE_COMPONENT)
    return "text" if kind == "component-text" else kind


def component_uri(component_type: str) -> str:
    """The `@type` / `schema` URI Adobe's runtime APIs give a component type."""
    return XCORE_COMPONENT + content_kind(component_type)


def filter_kind(filter_type: str) -> str:
    """Canonical collection filter (`offers`, `any-tags`, `all-tags`) of either spelling."""
    return {"anyTags": "any-tags", "allTags": "all-tags"}.get(filter_type, filter_type)


def channel_name(uri: str) -> str:
    """`web` for both `.../xdm/channel-types/web` and the older `.../xdm/channels/web`."""
    for prefix in _ADOBE_CHANNEL_PREFIXES:
        if uri.startswith(prefix):
            return uri[len(prefix) :]
    return uri
