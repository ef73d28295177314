"""Profile documents as clients write and read them (XDM style), validated field by field.

In: `{"identityMap": {"email": [{"id": "a@b.c"}]}, "attributes": {...},
"segmentMembership": {"ups": {"<audience>": {"status": "realized"}}}` (or the plain
`"segments": {"<audience>": "realized"}`), `"events": [{"timestamp": ..., ...}]}`.
Identity namespaces are case-insensitive (stored lower-case); ids are exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nextoffer.errors import FieldError, InvalidInput
from nextoffer.profiles.events import newest_first
from nextoffer.profiles.model import Profile
from nextoffer.timeutil import DateTimeFormatError, normalize_rfc3339

STATUSES = ("realized", "existing", "exited")
MAX_IDENTITIES = 100
MAX_ID_LENGTH = 1024
MAX_AUDIENCE_LENGTH = 256
SEGMENT_NAMESPACE = "ups"

_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""Matched whole (`fullmatch`): a pattern ending in `$` would let a final newline in."""
_READ_ONLY = frozenset({"profileId", "etag", "created", "modified"})
_FIELDS = frozenset({"identityMap", "attributes", "segmentMembership", "segments", "events"})

Identity = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ProfileData:
    """A validated profile body: what a write stores (the store adds id, etag and dates)."""

    identities: dict[str, tuple[str, ...]]
    attributes: dict[str, Any]
    segments: dict[str, str]
    events: tuple[dict[str, Any], ...] = ()

    def identity_pairs(self) -> list[Identity]:
        return [(ns, value) for ns, ids in self.identities.items() for value in ids]


def namespace_key(namespace: str) -> str:
    return namespace.lower()


def is_namespace(namespace: str) -> bool:
    return bool(_NAMESPACE.fullmatch(namespace))


def parse_profile(
    raw: Any, *, pointer: str = "", extra_identities: Sequence[Identity] = ()
) -> ProfileData:
    """Validate a whole profile body (400 naming every wrong field by JSON pointer)."""
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        raise InvalidInput.at(
            "a profile is a JSON object with identityMap, attributes, segmentMembership "
            "(or segments) and events",
            pointer=pointer,
            code="invalid-profile",
        )
    for key in raw:
        if key not in _FIELDS and key not in _READ_ONLY:
            errors.append(
                FieldError(
                    "unknown member; a profile has identityMap, attributes, segmentMembership, "
                    "segments and events",
                    pointer=f"{pointer}/{_escape(key)}",
                )
            )
    identities = _identities(raw.get("identityMap"), f"{pointer}/identityMap", errors)
    for namespace, value in extra_identities:
        ids = identities.setdefault(namespace_key(namespace), [])
        if value not in ids:
            ids.append(value)
    if not identities and not errors:
        errors.append(
            FieldError("a profile needs at least one identity", pointer=f"{pointer}/identityMap")
        )
    if sum(len(ids) for ids in identities.values()) > MAX_IDENTITIES:
        errors.append(
            FieldError(
                f"a profile has at most {MAX_IDENTITIES} identities",
                pointer=f"{pointer}/identityMap",
            )
        )
    attributes = raw.get("attributes", {})
    if not isinstance(attributes, Mapping):
        errors.append(
            FieldError("attributes must be a JSON object", pointer=f"{pointer}/attributes")
        )
        attributes = {}
    for key in ("segmentMembership", "segments"):
        if key in raw and raw[key] is None:
            errors.append(
                FieldError(f"{key} is an object; leave it out for none", pointer=f"{pointer}/{key}")
            )
    segments = _membership(raw.get("segmentMembership"), f"{pointer}/segmentMembership", errors)
    segments.update(_plain_segments(raw.get("segments"), f"{pointer}/segments", errors))
    events = parse_events(raw.get("events", []), f"{pointer}/events", errors)
    if errors:
        raise InvalidInput.many("the profile is invalid", errors, code="invalid-profile")
    return ProfileData(
        {ns: tuple(ids) for ns, ids in identities.items()},
        dict(attributes),
        segments,
        tuple(events),
    )


def parse_events(
    raw: Any, pointer: str, errors: list[FieldError], *, default_timestamp: str | None = None
) -> list[dict[str, Any]]:
    """Experience events with normalised timestamps, newest first."""
    if not isinstance(raw, list):
        errors.append(FieldError("events must be a JSON array of events", pointer=pointer))
        return []
    out = []
    for i, event in enumerate(raw):
        where = f"{pointer}/{i}"
        if not isinstance(event, Mapping):
            errors.append(FieldError("an event is a JSON object", pointer=where))
            continue
        stamp = event.get("timestamp", default_timestamp)
        if not isinstance(stamp, str):
            errors.append(
                FieldError(
                    "an event needs a timestamp, an RFC 3339 date-time",
                    pointer=f"{where}/timestamp",
                )
            )
            continue
        try:
            normalized = normalize_rfc3339(stamp)
        except DateTimeFormatError as exc:
            errors.append(FieldError(str(exc), pointer=f"{where}/timestamp"))
            continue
        out.append({**event, "timestamp": normalized})
    return [dict(e) for e in newest_first(out)]


def _identities(raw: Any, pointer: str, errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        errors.append(
            FieldError(
                'identityMap is an object: {"<namespace>": [{"id": "..."}]}', pointer=pointer
            )
        )
        return out
    for namespace, entries in raw.items():
        where = f"{pointer}/{_escape(namespace)}"
        if not is_namespace(namespace):
            errors.append(
                FieldError(
                    "a namespace is 1 to 128 letters, digits, '_', '.' or '-'", pointer=where
                )
            )
            continue
        if not isinstance(entries, list) or not entries:
            errors.append(
                FieldError('a namespace holds a non-empty array of {"id": "..."}', pointer=where)
            )
            continue
        ids = out.setdefault(namespace_key(namespace), [])
        for i, entry in enumerate(entries):
            value = entry.get("id", entry.get("xdm:id")) if isinstance(entry, Mapping) else None
            if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
                errors.append(
                    FieldError(
                        f"an identity is an object with an id, a string of 1 to "
                        f"{MAX_ID_LENGTH} characters",
                        pointer=f"{where}/{i}",
                    )
                )
            elif value not in ids:
                ids.append(value)
    return {ns: ids for ns, ids in out.items() if ids}


def check_identity_map(raw: Any, pointer: str) -> None:
    """The one identity validation of every way in (profile API, Edge, Decisioning API): the
    rules `parse_profile` applies (namespace, id length, at most MAX_IDENTITIES), so that
    nothing the Edge accepts can make the tenant's own profile write fail, or overflow a
    column; a 400 naming every wrong identity."""
    errors: list[FieldError] = []
    identities = _identities(raw, pointer, errors)
    if sum(len(ids) for ids in identities.values()) > MAX_IDENTITIES:
        errors.append(
            FieldError(f"a profile has at most {MAX_IDENTITIES} identities", pointer=pointer)
        )
    if errors:
        detail = f"the identityMap is invalid: {errors[0].message}"
        raise InvalidInput.many(detail, errors, code="invalid-body")


def _status(value: Any, pointer: str, errors: list[FieldError]) -> str | None:
    if value in STATUSES:
        return str(value)
    errors.append(FieldError(f"status must be one of {', '.join(STATUSES)}", pointer=pointer))
    return None


def _audience_ok(audience: str, pointer: str, errors: list[FieldError]) -> bool:
    if 0 < len(audience) <= MAX_AUDIENCE_LENGTH:
        return True
    errors.append(
        FieldError(f"an audience id has 1 to {MAX_AUDIENCE_LENGTH} characters", pointer=pointer)
    )
    return False


def _membership(raw: Any, pointer: str, errors: list[FieldError]) -> dict[str, str]:
    out: dict[str, str] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        errors.append(
            FieldError(
                'segmentMembership is {"<namespace>": {"<audience>": {"status": "realized"}}}',
                pointer=pointer,
            )
        )
        return out
    for namespace, audiences in raw.items():
        where = f"{pointer}/{_escape(namespace)}"
        if not isinstance(audiences, Mapping):
            errors.append(FieldError("an audience namespace is an object", pointer=where))
            continue
        for audience, entry in audiences.items():
            at = f"{where}/{_escape(audience)}"
            if not _audience_ok(audience, at, errors):
                continue
            if not isinstance(entry, Mapping):
                errors.append(FieldError('a membership is {"status": "..."}', pointer=at))
                continue
            status = _status(entry.get("status"), f"{at}/status", errors)
            if status is not None:
                out[audience] = status
    return out


def _plain_segments(raw: Any, pointer: str, errors: list[FieldError]) -> dict[str, str]:
    out: dict[str, str] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        errors.append(FieldError('segments is {"<audience>": "realized"}', pointer=pointer))
        return out
    for audience, status in raw.items():
        at = f"{pointer}/{_escape(audience)}"
        if _audience_ok(audience, at, errors):
            value = _status(status, at, errors)
            if value is not None:
                out[audience] = value
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


# -- out ----------------------------------------------------------------------------------------


def body_of(profile: Profile | ProfileData) -> dict[str, Any]:
    """The writable part of a profile, in the canonical shape a merge patch applies to."""
    return {
        "identityMap": {
            ns: [{"id": value} for value in ids] for ns, ids in profile.identities.items()
        },
        "attributes": dict(profile.attributes),
        "segmentMembership": {
            SEGMENT_NAMESPACE: {a: {"status": s} for a, s in profile.segments.items()}
        },
        "events": [dict(e) for e in profile.events],
    }


def read_model(profile: Profile) -> dict[str, Any]:
    """What GET returns: the body plus the profile id, etag and dates."""
    return {
        "profileId": profile.profile_id,
        **body_of(profile),
        "etag": profile.etag,
        "created": profile.created,
        "modified": profile.modified,
    }


def canonical_patch(raw: Any) -> dict[str, Any]:
    """A merge patch rewritten onto the canonical shape: namespaces lower-cased, audiences of
    every namespace (and plain `segments`) under `segmentMembership.ups`."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.at(
            "a merge patch (application/merge-patch+json) is a JSON object",
            pointer="",
            code="invalid-patch",
        )
    out: dict[str, Any] = {k: v for k, v in raw.items() if k not in _READ_ONLY}
    identity_map = raw.get("identityMap")
    if isinstance(identity_map, Mapping):
        out["identityMap"] = {
            namespace_key(ns) if isinstance(ns, str) and is_namespace(ns) else ns: v
            for ns, v in identity_map.items()
        }
    audiences: dict[str, Any] | None = {}
    membership = raw.get("segmentMembership")
    if isinstance(membership, Mapping):
        for group in membership.values():
            if group is None:  # a namespace set to null: every membership goes
                out["segmentMembership"] = {SEGMENT_NAMESPACE: None}
                return out
            if isinstance(group, Mapping):
                audiences.update(group)  # type: ignore[union-attr]
            else:
                audiences = {"": group}  # invalid: parse_profile names it
                break
    elif "segmentMembership" in raw:
        audiences = membership  # type: ignore[assignment]  # null or invalid: checked later
    segments = out.pop("segments", None)
    if isinstance(segments, Mapping):
        if not isinstance(audiences, Mapping):
            audiences = {}
        for audience, status in segments.items():
            audiences[audience] = None if status is None else {"status": status}
    elif segments is not None:
        out["segments"] = segments  # invalid: parse_profile names it
    if "segmentMembership" in raw or isinstance(segments, Mapping):
        out["segmentMembership"] = (
            {SEGMENT_NAMESPACE: audiences} if isinstance(audiences, Mapping) else audiences
        )
    return out
