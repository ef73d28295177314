"""Counting windows: when a capping rule's counter starts afresh (pure, epoch seconds in UTC).

Windows reset at 00:00 UTC every N days, every N weeks (weeks start on Sunday) or every N
months (on the 1st). They are laid end to end from an anchor: the start of the unit holding the
rule's `startDate`, or, without one, the first such unit on or after 1970-01-01 — so a rule with
`unitCount` 1 resets at every midnight, Sunday or 1st whatever its start date. A rule without
`repeat` counts in one window that never resets. Outside the rule's own start and end dates the
rule does not apply at all (no window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

DAY = 86_400
WEEK = 7 * DAY
_SUNDAY = 3 * DAY
"""1970-01-04, the first Sunday of the epoch, as an offset from 1970-01-01 (a Thursday)."""
UNITS = ("day", "week", "month")
FOREVER_START = 0
"""The window start of a rule that never resets (part of its counter keys)."""


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    """Epoch seconds of the first instant in the window (a 00:00 UTC)."""
    end: int | None
    """Epoch seconds of the first instant after it; None: it never ends."""


@dataclass(frozen=True, slots=True)
class Period:
    """How a rule's counters reset: every `count` `unit`s, from `anchor`, between its dates."""

    unit: str | None
    """`day`, `week` or `month`; None: the counter never resets."""
    count: int = 1
    start: float | None = None
    """The rule's `startDate` (epoch seconds); None: always started."""
    end: float | None = None
    """The rule's `endDate` (epoch seconds); None: never ends."""

    def __post_init__(self) -> None:
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, not {self.unit!r}")
        if self.count < 1:
            raise ValueError("unitCount must be at least 1")

    def applies(self, now: float) -> bool:
        """Whether the rule is in force at `now` (inside its own start and end dates)."""
        return (self.start is None or now >= self.start) and (self.end is None or now <= self.end)

    def window(self, now: float) -> Window | None:
        """The window holding `now`, or None when the rule is not in force then."""
        if not self.applies(now):
            return None
        if self.unit is None:
            return Window(FOREVER_START, None)
        if self.unit == "month":
            return self._month_window(now)
        size = DAY if self.unit == "day" else WEEK
        base = 0 if self.unit == "day" else _SUNDAY
        anchor = base if self.start is None else _floor(self.start, size, base)
        span = size * self.count
        start = anchor + math.floor((now - anchor) / span) * span
        return Window(start, start + span)

    def _month_window(self, now: float) -> Window:
        anchor = 1970 * 12 if self.start is None else _month_index(self.start)
        index = anchor + (_month_index(now) - anchor) // self.count * self.count
        return Window(_month_start(index), _month_start(index + self.count))


def _floor(t: float, size: int, base: int) -> int:
    return base + math.floor((t - base) / size) * size


def _month_index(t: float) -> int:
    moment = datetime.fromtimestamp(math.floor(t), UTC)
    return moment.year * 12 + moment.month - 1


def _month_start(index: int) -> int:
    year, month0 = divmod(index, 12)
    return int(datetime(year, month0 + 1, 1, tzinfo=UTC).timestamp())
