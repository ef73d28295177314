"""Decision events as services and stores exchange them: what was proposed, to whom, when.

Plain records with no I/O: the store writes and reads them, the decision service makes them,
the API pages through them with the cursor defined here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from nextoffer.errors import InvalidInput
from nextoffer.timeutil import format_utc, parse_rfc3339

OfferChoice = tuple[str, int, float | None] | tuple[str, int, float | None, float | None, Any]
"""(offer id, rank from 1, score), then optionally the propensity and the serving model as
`[strategy id, version]` (events logged before propensities existed have three items)."""


def offer_dict(choice: OfferChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"id": choice[0], "rank": choice[1], "score": choice[2]}
    if len(choice) > 3:
        out["propensity"] = choice[3]
        model = choice[4]
        out["model"] = {"id": model[0], "version": model[1]} if model else None
    return out


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One decided scope: what was proposed, to whom, when."""

    proposition_id: str
    timestamp: datetime
    profile_id: str | None
    identity: tuple[str, str] | None
    """The request's primary identity (namespace, id)."""
    activity_id: str
    placement_id: str
    offers: list[OfferChoice]
    """(offer id, rank from 1, score or None, propensity, model), best first; empty when the
    fallback was used."""
    fallback_id: str | None
    request_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "propositionId": self.proposition_id,
            "timestamp": format_utc(self.timestamp),
            "profileId": self.profile_id,
            "identity": (
                {"namespace": self.identity[0], "id": self.identity[1]} if self.identity else None
            ),
            "activityId": self.activity_id,
            "placementId": self.placement_id,
            "offers": [offer_dict(o) for o in self.offers],
            "fallbackId": self.fallback_id,
            "requestId": self.request_id,
        }

    def offer_ids(self) -> list[str]:
        ids = [o[0] for o in self.offers]
        return [*ids, self.fallback_id] if self.fallback_id else ids


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What `query` keeps; every given field must match. `since` is inclusive, `until` not."""

    profile_id: str | None = None
    identity: tuple[str, str] | None = None
    activity_id: str | None = None
    placement_id: str | None = None
    offer_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    items: list[DecisionEvent]
    next_cursor: str | None


def encode_cursor(event: DecisionEvent) -> str:
    raw = orjson.dumps([format_utc(event.timestamp), event.proposition_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, parameter: str = "start") -> tuple[str, str]:
    try:
        stamp, pid = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(stamp, str) or not isinstance(pid, str):
            raise ValueError
        return format_utc(parse_rfc3339(stamp)), pid
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput.at(
            f"{parameter} is not a paging cursor of this API; follow _links.next.href",
            parameter=parameter,
            code="bad-cursor",
        ) from None
