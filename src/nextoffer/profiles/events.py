"""Experience events kept on a profile: normalised timestamps, newest first, a bounded window.

Timestamps are stored in one UTC spelling (`timeutil.format_utc`), so string order is time
order and pruning needs no parsing.

What a profile keeps is bounded four ways, all of them "the newest win": events older than the
window (`NEXTOFFER_PROFILE_EVENT_WINDOW_DAYS`) are dropped, so are events beyond the most a
profile keeps (`NEXTOFFER_PROFILE_MAX_EVENTS`) and beyond its byte budget
(`NEXTOFFER_PROFILE_EVENT_BUDGET_BYTES`, the sum of the events' sizes). One event larger than
`MAX_EVENT_BYTES` is refused outright (413 `event-too-large`), and so is an event dated more
than `CLOCK_SKEW` ahead of the server's clock (400 `future-timestamp`): a year-9999 event would
never age out and would sort before every real one.

Retention applies at each write to what the profile holds then (the new events, then the new
with the held ones): a late event, older than one dropped before, is kept when it fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from nextoffer.errors import FieldError, InvalidInput, TooLarge
from nextoffer.timeutil import format_utc

MAX_EVENT_BYTES = 64 * 1024
"""The largest event a profile keeps, as compact JSON (UTF-8): the Edge Network's own request
limit, so every event a Web SDK request can carry fits."""

DEFAULT_BUDGET_BYTES = 1024 * 1024
"""The default byte budget of one profile's events (`NEXTOFFER_PROFILE_EVENT_BUDGET_BYTES`)."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the server's clock an event's timestamp may be (clients' clocks drift)."""


def newest_first(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Sorted by timestamp, newest first; events of the same instant keep their given order."""
    return sorted(events, key=lambda e: e["timestamp"], reverse=True)


def cutoff(now: datetime, window_days: int) -> str:
    """The oldest timestamp still inside the window, in the stored spelling."""
    return format_utc(now - timedelta(days=window_days))


def latest(now: datetime) -> str:
    """The newest timestamp an event may have, in the stored spelling."""
    return format_utc(now + CLOCK_SKEW)


def encoded(event: Mapping[str, Any]) -> bytes:
    """The event as stored: compact JSON; its length is the event's size."""
    return orjson.dumps(event)


def within(
    events: Sequence[Mapping[str, Any]], oldest: str, max_events: int
) -> list[Mapping[str, Any]]:
    """The events (already newest first) no older than `oldest`, at most `max_events`."""
    kept = []
    for event in events:
        if len(kept) >= max_events or event["timestamp"] < oldest:
            break
        kept.append(event)
    return kept


def within_budget(
    events: Sequence[tuple[Mapping[str, Any], bytes]], oldest: str, max_events: int, budget: int
) -> list[tuple[Mapping[str, Any], bytes]]:
    """The newest of `events` (newest first, each with its encoding) that a profile keeps:
    inside the window, at most `max_events`, their sizes summing to at most `budget`."""
    kept = []
    total = 0
    for event, raw in events:
        total += len(raw)
        if len(kept) >= max_events or total > budget or event["timestamp"] < oldest:
            break
        kept.append((event, raw))
    return kept


def check_events(events: Sequence[Mapping[str, Any]], pointer: str, now: datetime) -> None:
    """Refuse events a profile must not keep, naming each by its index under `pointer`:
    larger than `MAX_EVENT_BYTES` (413 `event-too-large`), or dated later than `CLOCK_SKEW`
    after `now` (400 `future-timestamp`). Timestamps are already normalised."""
    too_large = []
    for i, event in enumerate(events):
        size = len(encoded(event))
        if size > MAX_EVENT_BYTES:
            too_large.append(too_large_error(size, f"{pointer}/{i}"))
    if too_large:
        raise TooLarge.many("an event is too large to keep", too_large, code="event-too-large")
    limit = latest(now)
    future = [
        future_error(str(e["timestamp"]), f"{pointer}/{i}/timestamp")
        for i, e in enumerate(events)
        if e["timestamp"] > limit
    ]
    if future:
        raise InvalidInput.many("an event is dated in the future", future, code="future-timestamp")


def too_large_error(size: int, pointer: str) -> FieldError:
    return FieldError(
        f"the event has {size} bytes as JSON; an event has at most {MAX_EVENT_BYTES}",
        pointer=pointer,
        code="event-too-large",
    )


def future_error(stamp: str, pointer: str) -> FieldError:
    minutes = int(CLOCK_SKEW.total_seconds() // 60)
    return FieldError(
        f"timestamp {stamp} is in the future (more than {minutes} minutes ahead of the "
        "server's clock); events are kept once they happened",
        pointer=pointer,
        code="future-timestamp",
    )
