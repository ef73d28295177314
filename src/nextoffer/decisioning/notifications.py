"""Notifications count once: a display or a click of one (proposition, offer) moves counters
the first time only, however often it is replayed.

A proposition was decided for one subject, so (kind, proposition id, offer id) names one
notification of one profile. The mark that it was seen lives where the counters live (the
counter store: SQL, Redis or memory), so every node sees it: a reservation with a limit of 1
succeeds exactly once, atomically, across nodes. Marks expire after `HORIZON_DAYS`; a
notification of a proposition decided longer ago than that is not counted at all (its mark may
be gone, so counting it could count it twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from nextoffer.capping.store import CounterStore, Increment

HORIZON_DAYS = 90
_HORIZON = timedelta(days=HORIZON_DAYS)

Notification = tuple[str, str, str, datetime]
"""(kind, proposition id, offer id, when the proposition was decided)."""


class NotificationLedger:
    def __init__(self, store: CounterStore) -> None:
        self.store = store

    def first_time(
        self, sandbox: str, notifications: Sequence[Notification], now: datetime
    ) -> list[bool]:
        """Per notification, whether it counts: never seen before, and recent enough. Marks
        it seen (one reservation per new notification; one read for all of them first)."""
        keys = [self._key(sandbox, kind, pid, offer) for kind, pid, offer, _ in notifications]
        seen = self.store.read(keys) if keys else []
        out = []
        for key, count, (_, _, _, decided) in zip(keys, seen, notifications, strict=True):
            if count > 0 or decided < now - _HORIZON:
                out.append(False)
                continue
            ttl = int((decided + _HORIZON - now).total_seconds()) + 1
            out.append(self.store.reserve([Increment(key, 1, 1, ttl)]).ok)
        return out

    @staticmethod
    def _key(sandbox: str, kind: str, proposition_id: str, offer_id: str) -> str:
        """Beside the sandbox's counters (same hash tag); ids hold no `|`, the offer comes last."""
        return f"{{{sandbox}}}|seen|{kind}|{proposition_id}|{offer_id}"
