"""Experience events kept on a profile: normalised timestamps, newest first, a bounded window.

Timestamps are stored in one UTC spelling (`timeutil.format_utc`), so string order is time
order and pruning needs no parsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from nextoffer.timeutil import format_utc


def newest_first(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Sorted by timestamp, newest first; events of the same instant keep their given order."""
    return sorted(events, key=lambda e: e["timestamp"], reverse=True)


def cutoff(now: datetime, window_days: int) -> str:
    """The oldest timestamp still inside the window, in the stored spelling."""
    return format_utc(now - timedelta(days=window_days))


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
