"""Profiles of a batch as engine subjects, and the per-profile seed that keeps runs reproducible.

A row of `schema.PROFILES` becomes a `BatchProfile`, which satisfies the engine's `Subject`
protocol exactly as a stored or inline profile does online.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from nextoffer.capping.keys import capping_subject
from nextoffer.profiles.xdm import flatten_segments, primary_identity
from nextoffer.vocabulary import MEMBER_STATUSES

_EMPTY: Mapping[str, Any] = MappingProxyType({})
KNOWN_STATUSES = ("realized", "existing", "exited")
"""Every audience status a profile can have; `exited` profiles were in the audience once."""


@dataclass(frozen=True, slots=True)
class BatchProfile:
    """One profile of the audience: what rules read, and who the decision is for."""

    profile_id: str | None
    identity: tuple[str, str] | None
    """(namespace, id) of the primary identity."""
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    segments: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    events: Sequence[Mapping[str, Any]] = ()


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def segments_of_row(segment_json: str | None, attributes: Mapping[str, Any]) -> dict[str, str]:
    """Audience -> status, from the row's own memberships column (as the profile store keeps
    them, beside the attributes), else from the attributes' `segmentMembership`."""
    membership = _loads(segment_json)
    if membership is None:
        membership = attributes.get("segmentMembership")
    return flatten_segments(membership)


def profile_of_row(
    profile_id: str | None,
    identity_json: str | None,
    attributes_json: str | None,
    segment_json: str | None,
    events_json: str | None,
) -> BatchProfile:
    """A row of `schema.PROFILES` as a subject (raises ValueError on JSON that is not)."""
    attributes = _loads(attributes_json) or {}
    if not isinstance(attributes, dict):
        raise ValueError("attributes must be a JSON object")
    segments = segments_of_row(segment_json, attributes)
    identity = primary_identity(_loads(identity_json))
    if profile_id is None and identity is not None:
        profile_id = f"{identity[0]}:{identity[1]}"
    events = _loads(events_json) or ()
    if not isinstance(events, list | tuple):
        raise ValueError("events must be a JSON array")
    return BatchProfile(profile_id, identity, attributes, segments, tuple(events))


def is_member(segments: Mapping[str, str], audience: str) -> bool:
    return segments.get(audience) in MEMBER_STATUSES


def profile_seed(seed: int, profile_id: str | None) -> int:
    """The tie-break seed of one profile: the job's seed mixed with the profile's id.

    Each profile gets its own random tie order (one seed for all would give every profile the
    same winner among equals), and it depends on nothing but the job seed and the profile, so
    results are the same whatever the worker count or executor. An online decision with
    `nextoffer:seed` = this value decides exactly as the batch did.
    """
    key = (seed & (2**128 - 1)).to_bytes(16, "big")
    digest = hashlib.blake2b((profile_id or "").encode(), digest_size=8, key=key).digest()
    return int.from_bytes(digest, "big") >> 1


def subject_of(
    profile_id: str | None, identity: tuple[str, str] | None, stored: bool
) -> str | None:
    """Whose per-profile counters a batch decision reads and moves, as online (`capping.keys`):
    the stored profile when profiles come from the profile store, else the primary identity."""
    return capping_subject(profile_id if stored else None, [identity] if identity else [])
