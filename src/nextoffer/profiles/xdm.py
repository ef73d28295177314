"""Reading the profile fragments every entry point receives: identity maps and memberships.

The Decisioning API (`xdm:identityMap`), the Edge (`identityMap` of each event) and batch input
files all carry the same XDM shapes; one reader each keeps "the primary identity" and "the
audiences a profile is in" meaning the same thing wherever a decision starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nextoffer.profiles.documents import check_identity_map


def identity_pairs(identity_map: Any, pointer: str) -> list[tuple[str, str]]:
    """(namespace, id) of every identity, those marked primary first; ids are `id` or `xdm:id`.

    The map is checked by the profile API's own rules (`check_identity_map`): a malformed map
    is a 400 naming each wrong identity under `pointer` (the map's own pointer).
    """
    if identity_map is None:
        return []
    check_identity_map(identity_map, pointer)
    primary, others = [], []
    for namespace, entries in identity_map.items():
        for entry in entries:
            value = entry.get("id", entry.get("xdm:id"))
            (primary if entry.get("primary") is True else others).append((str(namespace), value))
    return primary + others


def primary_identity(identity_map: Any) -> tuple[str, str] | None:
    """The identity marked primary, else the first one; entries that are not identities are
    skipped (for data files, where one odd entry must not lose the profile)."""
    if not isinstance(identity_map, Mapping):
        return None
    first = None
    for namespace, entries in identity_map.items():
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            value = entry.get("id", entry.get("xdm:id"))
            if not isinstance(value, str) or not value:
                continue
            if entry.get("primary") is True:
                return str(namespace), value
            if first is None:
                first = (str(namespace), value)
    return first


def flatten_segments(membership: Any) -> dict[str, str]:
    """`{"<namespace>": {"<audience>": {"status": ...}}}` -> audience -> status."""
    out: dict[str, str] = {}
    if isinstance(membership, Mapping):
        for audiences in membership.values():
            if isinstance(audiences, Mapping):
                for audience, entry in audiences.items():
                    if isinstance(entry, Mapping) and isinstance(entry.get("status"), str):
                        out[str(audience)] = entry["status"]
    return out
