"""Experience events as the Web SDK, the Edge Server API and `/v1/events` send them.

One parser for every entry point, so an event means the same thing whichever way it came:
`decisioning.propositionDisplay` is an impression and `decisioning.propositionInteract` a click
of every item of every proposition it names (`_experience.decisioning.propositions[]`, or the
`xdm:`-prefixed form of Journey Optimizer's feedback datasets); any other event type is a
behavioural event, kept on the profile and matched against `custom` capping rules. An event
without a type, or a `decisioning.propositionFetch` (the Web SDK's "decide for me" event), only
asks for decisions and is not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from nextoffer.errors import InvalidInput, TooLarge
from nextoffer.profiles.events import (
    CLOCK_SKEW,
    MAX_EVENT_BYTES,
    encoded,
    future_error,
    too_large_error,
)
from nextoffer.profiles.xdm import identity_pairs
from nextoffer.timeutil import DateTimeFormatError, format_utc, parse_rfc3339

DISPLAY = "decisioning.propositionDisplay"
INTERACT = "decisioning.propositionInteract"
FETCH = "decisioning.propositionFetch"
_PROPOSITIONS_IRI = "https://ns.adobe.com/experience/decisioning/propositions"

Kind = Literal["impression", "click", "custom", "fetch"]


@dataclass(frozen=True, slots=True)
class Shown:
    """One proposition a notification refers to, and the offers (items) of it that it concerns."""

    proposition_id: str
    offer_ids: tuple[str, ...]
    pointer: str
    """Where the proposition is in the request, for errors."""


@dataclass(frozen=True, slots=True)
class ExperienceEvent:
    kind: Kind
    xdm: Mapping[str, Any]
    """The event as kept on the profile: `eventType` and a normalised `timestamp` included."""
    timestamp: datetime
    identities: tuple[tuple[str, str], ...]
    """(namespace, id), the primary identity first."""
    shown: tuple[Shown, ...]
    pointer: str

    @property
    def kept(self) -> bool:
        """Whether the event belongs in the profile's recent experience events."""
        return self.kind != "fetch"


def parse_event(xdm: Any, pointer: str, now: datetime) -> ExperienceEvent:
    """Validate one event's `xdm` and say what it is; a malformed event is a 400 at `pointer`,
    one dated more than `CLOCK_SKEW` after `now` a 400 `future-timestamp` at its `timestamp`,
    and a kept one larger than `MAX_EVENT_BYTES` a 413 `event-too-large`."""
    if not isinstance(xdm, dict):
        raise InvalidInput.at("an event's xdm must be an object", pointer=pointer, code="bad-event")
    event_type = xdm.get("eventType", xdm.get("xdm:eventType"))
    if event_type is not None and (not isinstance(event_type, str) or not event_type):
        raise InvalidInput.at(
            "eventType must be a non-empty string", pointer=f"{pointer}/eventType", code="bad-event"
        )
    timestamp = _timestamp(xdm, pointer, now)
    identities = tuple(identity_pairs(xdm.get("identityMap"), f"{pointer}/identityMap"))
    kind = _kind(event_type, xdm)
    shown = _shown(xdm, pointer) if kind in ("impression", "click") else ()
    if kind in ("impression", "click") and not shown:
        raise InvalidInput.at(
            f"a {event_type} event names the propositions it concerns in "
            "_experience.decisioning.propositions",
            pointer=f"{pointer}/_experience/decisioning/propositions",
            code="bad-event",
        )
    kept = {**xdm, "timestamp": format_utc(timestamp)}
    if event_type is not None:
        kept["eventType"] = event_type
    if kind != "fetch":  # a fetch only asks for decisions: its time and body are not kept
        field = "xdm:timestamp" if "xdm:timestamp" in xdm and "timestamp" not in xdm else None
        _keepable(kept, timestamp, f"{pointer}/{field or 'timestamp'}", now)
    return ExperienceEvent(kind, kept, timestamp, identities, shown, pointer)


def _keepable(kept: Mapping[str, Any], timestamp: datetime, at: str, now: datetime) -> None:
    """An event the profile keeps happened already (give or take `CLOCK_SKEW`: a year-9999
    event would never age out) and fits in `MAX_EVENT_BYTES`; `at` points at its timestamp."""
    if timestamp > now + CLOCK_SKEW:
        error = future_error(format_utc(timestamp), at)
        raise InvalidInput(error.message, code="future-timestamp", errors=(error,))
    if len(raw := encoded(kept)) > MAX_EVENT_BYTES:
        error = too_large_error(len(raw), at.rsplit("/", 1)[0])
        raise TooLarge(error.message, code="event-too-large", errors=(error,))


def _kind(event_type: str | None, xdm: Mapping[str, Any]) -> Kind:
    if event_type == DISPLAY:
        return "impression"
    if event_type == INTERACT:
        return "click"
    if event_type is None or event_type == FETCH:
        flags = ((xdm.get("_experience") or {}).get("decisioning") or {}).get(
            "propositionEventType"
        )
        if isinstance(flags, dict):  # some SDKs say it only with propositionEventType
            if flags.get("display") == 1:
                return "impression"
            if flags.get("interact") == 1:
                return "click"
        return "fetch"
    return "custom"


def _timestamp(xdm: Mapping[str, Any], pointer: str, now: datetime) -> datetime:
    raw = xdm.get("timestamp", xdm.get("xdm:timestamp"))
    if raw is None:
        return now
    if not isinstance(raw, str):
        raise InvalidInput.at(
            "timestamp must be an RFC 3339 date-time string",
            pointer=f"{pointer}/timestamp",
            code="bad-event",
        )
    try:
        stamp = parse_rfc3339(raw)
    except DateTimeFormatError as exc:
        raise InvalidInput.at(str(exc), pointer=f"{pointer}/timestamp", code="bad-event") from None
    return stamp


def _shown(xdm: Mapping[str, Any], pointer: str) -> tuple[Shown, ...]:
    experience = xdm.get("_experience")
    if isinstance(experience, dict) and isinstance(experience.get("decisioning"), dict):
        raw = experience["decisioning"].get("propositions")
        where = f"{pointer}/_experience/decisioning/propositions"
        prefix = ""
    else:
        raw = xdm.get(_PROPOSITIONS_IRI)
        where = f"{pointer}/{_PROPOSITIONS_IRI.replace('/', '~1')}"
        prefix = "xdm:"
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput.at("propositions must be a list", pointer=where, code="bad-event")
    out = []
    for i, prop in enumerate(raw):
        here = f"{where}/{i}"
        pid = prop.get(f"{prefix}id") if isinstance(prop, dict) else None
        if not isinstance(pid, str) or not pid:
            raise InvalidInput.at(
                "a proposition needs its id (the id of the decided proposition)",
                pointer=f"{here}/id",
                code="bad-event",
            )
        items = prop.get(f"{prefix}items", [])
        if not isinstance(items, list):
            raise InvalidInput.at("items must be a list", pointer=f"{here}/items", code="bad-event")
        offers = []
        for j, entry in enumerate(items):
            offer_id = entry.get(f"{prefix}id") if isinstance(entry, dict) else None
            if not isinstance(offer_id, str) or not offer_id:
                raise InvalidInput.at(
                    "an item needs the id of the offer shown",
                    pointer=f"{here}/items/{j}/id",
                    code="bad-event",
                )
            offers.append(offer_id)
        out.append(Shown(pid, tuple(offers), here))
    return tuple(out)


def shown_in(xdm: Mapping[str, Any]) -> tuple[Shown, ...]:
    """The propositions a kept event names (training reads them); () when malformed."""
    try:
        return _shown(xdm, "")
    except InvalidInput:
        return ()
