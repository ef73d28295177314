"""The profile a decision is made for: identities, XDM attributes, audiences, recent events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    """A stored profile; it satisfies the engine's `Subject` protocol as it is.

    `segments` maps an audience id to its status (`realized`, `existing` or `exited`);
    `events` are XDM experience events, newest first, each with a `timestamp`, within the
    store's window (empty unless asked for: most decisions never read them).
    """

    profile_id: str
    identities: Mapping[str, tuple[str, ...]]
    attributes: Mapping[str, Any]
    segments: Mapping[str, str]
    events: Sequence[Mapping[str, Any]] = ()
    etag: int = 1
    created: str = ""
    modified: str = ""

    def identity_pairs(self) -> list[tuple[str, str]]:
        """Every `(namespace, id)` of the profile."""
        return [(ns, value) for ns, ids in self.identities.items() for value in ids]
