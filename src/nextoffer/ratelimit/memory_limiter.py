"""The limiter port, and its in-process implementation (one node's memory).

With several nodes and no Redis, each node limits on its own: a datastream may then reach
`nodes x limit`. `store/ratelimit_redis.py` shares the same buckets between nodes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from nextoffer.ratelimit.gcra import Check, Verdict, decide


class Limiter(Protocol):
    def admit(self, checks: Sequence[Check], now: float) -> Verdict:
        """Take every check's cost if all pass (atomically), else take nothing."""
        ...


class MemoryLimiter:
    """Buckets in a dict under a lock; a bucket that is full again is worth nothing and is
    dropped by a sweep once the dict passes `sweep_above` keys, so memory follows the keys
    active in the last period, not every key ever seen. When most keys are still active, the
    next sweep waits for twice as many (a sweep costs one pass, amortised over the admits)."""

    def __init__(self, sweep_above: int = 100_000) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self.sweep_above = sweep_above
        self._next_sweep = sweep_above

    def admit(self, checks: Sequence[Check], now: float) -> Verdict:
        with self._lock:
            updates, verdict = decide(self._tats, checks, now)
            self._tats.update(updates)
            if len(self._tats) > self._next_sweep:
                self._tats = {k: t for k, t in self._tats.items() if t > now}
                self._next_sweep = max(self.sweep_above, 2 * len(self._tats))
        return verdict

    def __len__(self) -> int:
        return len(self._tats)
