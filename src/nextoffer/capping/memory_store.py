"""Counters in this process's memory: exact, but neither shared nor durable (tests, one node)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from nextoffer.capping.store import Increment, Reservation, lifetime


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._counts: dict[str, tuple[int, int | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _get(self, key: str, now: float) -> int:
        found = self._counts.get(key)
        if found is None:
            return 0
        count, expires = found
        if expires is not None and expires <= now:
            del self._counts[key]
            return 0
        return count

    def read(self, keys: Sequence[str]) -> list[int]:
        now = self._clock()
        with self._lock:
            return [self._get(k, now) for k in keys]

    def reserve(self, increments: Sequence[Increment]) -> Reservation:
        now = self._clock()
        with self._lock:
            counts = [self._get(inc.key, now) for inc in increments]
            pending: dict[str, int] = {}
            for inc, count in zip(increments, counts, strict=True):
                seen = count + pending.get(inc.key, 0)
                room = inc.room
                if room is not None and seen > room:
                    return Reservation(inc.key, tuple(counts))
                pending[inc.key] = pending.get(inc.key, 0) + inc.by
            self._apply(increments, now)
            return Reservation(None, tuple(self._get(i.key, now) for i in increments))

    def add(self, increments: Sequence[Increment]) -> None:
        now = self._clock()
        with self._lock:
            for inc in increments:
                self._get(inc.key, now)  # drop an expired counter first
            self._apply(increments, now)

    def _apply(self, increments: Sequence[Increment], now: float) -> None:
        for inc in increments:
            if inc.by == 0:
                continue  # a check
            count, expires = self._counts.get(inc.key, (0, None))
            keep = lifetime(inc.ttl)
            self._counts[inc.key] = (count + inc.by, expires if keep is None else int(now) + keep)

    def close(self) -> None:
        self._counts.clear()
