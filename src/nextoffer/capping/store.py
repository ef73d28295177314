"""The counter store protocol every backend implements (memory, SQL, Redis).

Three operations, each one round trip:
- `read(keys)`: the current counts (0 for a counter never written).
- `reserve(increments)`: all or nothing — every increment is applied only if, at that instant,
  each of its counters has room: `count + max(by, 1) <= limit`. An increment by 0 is a check
  (the counter must be below its limit) that writes nothing. This is what keeps concurrent
  decisions from pushing a counter past its limit.
- `add(increments)`: unconditional increments (impressions, clicks, custom events).

Counters expire once their window and a grace period are over. Expiry travels as a time to
live (seconds from now), so an injected clock and the store's own clock never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

EXPIRY_GRACE = 86_400
"""Seconds a counter outlives its window (nodes' clocks may differ a little)."""


class Increment(NamedTuple):
    """One counter to move (a tuple: several are built for every capped decision)."""

    key: str
    by: int = 1
    limit: int | None = None
    """For `reserve`: the counter's limit (None: no limit)."""
    ttl: int | None = None
    """Seconds from now until the counter's window ends (then it may go); None: never."""

    @property
    def room(self) -> int | None:
        """The highest count that still leaves room for this increment (None: unlimited)."""
        return None if self.limit is None else self.limit - max(self.by, 1)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The outcome of `reserve`."""

    over: str | None
    """The first key without room (then nothing was written), or None: every count was taken."""
    counts: tuple[int, ...]
    """Per increment, in order: the count after the call (on success), or the count that was
    seen (on failure; at least the `over` key's is exact)."""

    @property
    def ok(self) -> bool:
        return self.over is None


class CounterStore(Protocol):
    def read(self, keys: Sequence[str]) -> list[int]: ...

    def reserve(self, increments: Sequence[Increment]) -> Reservation: ...

    def add(self, increments: Sequence[Increment]) -> None: ...

    def close(self) -> None: ...


def lifetime(ttl: int | None) -> int | None:
    """How long a counter whose window ends in `ttl` seconds is kept (grace included)."""
    return None if ttl is None else max(ttl, 0) + EXPIRY_GRACE


def merge(increments: Sequence[Increment]) -> list[Increment]:
    """One increment per key, in first-seen order (a statement or script touches a key once)."""
    by_key: dict[str, Increment] = {}
    for inc in increments:
        seen = by_key.get(inc.key)
        if seen is None:
            by_key[inc.key] = inc
            continue
        limits = [x for x in (seen.limit, inc.limit) if x is not None]
        by_key[inc.key] = Increment(
            inc.key,
            seen.by + inc.by,
            min(limits) if limits else None,
            max(seen.ttl or 0, inc.ttl or 0) or None,
        )
    return list(by_key.values())


def settled_locally(increments: Sequence[Increment]) -> Reservation | None:
    """The answer to a reservation that needs no store: nothing to reserve, or an increment
    that can never fit (by more than its limit); None when the store must decide."""
    if not increments:
        return Reservation(None, ())
    for inc in increments:
        room = inc.room
        if room is not None and room < 0:
            return Reservation(inc.key, tuple(0 for _ in increments))
    return None
