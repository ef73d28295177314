"""Server-assigned identifiers.

Library objects get `dps:<kind>:<16 lowercase hex>` as Adobe's DPS writes them. Propositions get
time-ordered UUIDs (version 7): still the UUIDs Adobe's clients expect, and each new one sorts
after the last, so the decision-event tables grow at their ends instead of at random pages (half
the write cost per event on SQLite, measured in benchmarks/README.md).
"""

from __future__ import annotations

import os
import secrets
import threading
import time


def new_id(kind: str) -> str:
    return f"dps:{kind}:{secrets.token_hex(8)}"


class TimeOrderedIds:
    """UUIDs version 7 (RFC 9562): Unix milliseconds, a 12-bit sequence, 62 random bits.

    The sequence (RFC 9562 §6.2, method 1) makes the ids of one generator strictly increasing,
    also within one millisecond and when the clock steps back; as lower-case hex strings of one
    length they sort the same way.
    """

    SEQUENCE_MAX = 0xFFF

    def __init__(self) -> None:
        self._last = (0, 0)  # the last id's milliseconds and its sequence within them
        self._lock = threading.Lock()

    def next(self) -> str:
        return self.at(time.time_ns() // 1_000_000)

    def at(self, millis: int) -> str:
        """The next id for a clock reading of `millis`."""
        with self._lock:
            last, sequence = self._last
            if millis > last:
                sequence = 0
            else:
                millis, sequence = last, sequence + 1
                if sequence > self.SEQUENCE_MAX:
                    millis, sequence = last + 1, 0
            self._last = (millis, sequence)
        rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (millis << 80) | (0x7 << 76) | (sequence << 64) | (0b10 << 62) | rand
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


time_ordered_uuid = TimeOrderedIds().next
"""A new proposition id of this process."""
