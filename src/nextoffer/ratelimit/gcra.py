"""The generic cell rate algorithm (GCRA): one number per key, no clock, no I/O.

A `Rate` of `count` per `period` seconds admits a burst of up to `burst` (by default `count`) at
once, then one more every `period / count` seconds: a token bucket, kept as the single instant
its bucket would be full again, the theoretical arrival time (TAT). Over any span of `t`
seconds at most `burst + t * count / period` units are admitted, and a caller who waits the
answered `wait` is admitted. Every backend (memory here, Redis in `store/`) runs this same
arithmetic, so the property tests of `step` speak for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    period: float
    """Seconds."""
    burst: int | None = None
    """How many may pass at once; `count` when None."""

    def __post_init__(self) -> None:
        if self.count <= 0 or self.period <= 0 or (self.burst is not None and self.burst <= 0):
            raise ValueError(f"a rate needs a positive count, period and burst: {self}")

    @property
    def interval(self) -> float:
        """Seconds between two units at the sustained rate (the emission interval)."""
        return self.period / self.count

    @property
    def capacity(self) -> int:
        return self.count if self.burst is None else self.burst


@dataclass(frozen=True, slots=True)
class Check:
    """Take `cost` units from the bucket `key` of `rate`; `name` says which limit it is."""

    key: str
    rate: Rate
    cost: int
    name: str


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    wait: float = 0.0
    """Seconds until the refused checks would all pass (0 when allowed)."""
    limit: str | None = None
    """The name of the check that refused (the one with the longest wait)."""
    never: bool = False
    """The refused check costs more than its burst: waiting does not help."""


ALLOWED = Verdict(True)
EPSILON = 1e-9
"""Seconds of float rounding forgiven, so that callers spaced exactly one interval apart pass."""


def step(tat: float | None, now: float, rate: Rate, cost: int) -> tuple[float | None, float]:
    """One GCRA step: `(new_tat, 0.0)` when `cost` units pass at `now`, else `(tat, wait)`.

    `tat` is the stored theoretical arrival time (None: never seen, a full bucket). A cost
    above the rate's capacity never passes (its wait is the shortfall, for the message).
    """
    base = now if tat is None or tat < now else tat
    new_tat = base + cost * rate.interval
    wait = new_tat - rate.capacity * rate.interval - now
    if wait <= EPSILON:
        return new_tat, 0.0
    return tat, wait


def merged(checks: Sequence[Check]) -> list[Check]:
    """The checks that cost something, those of one key added up (one bucket, one step)."""
    out: dict[str, Check] = {}
    for check in checks:
        if check.cost <= 0:
            continue
        seen = out.get(check.key)
        out[check.key] = check if seen is None else replace(seen, cost=seen.cost + check.cost)
    return list(out.values())


def decide(
    tats: Mapping[str, float], checks: Sequence[Check], now: float
) -> tuple[dict[str, float], Verdict]:
    """All of `checks` at once, all or nothing: the new TATs to store when every check passes
    (and an allowed verdict), or nothing to store and the verdict of the longest wait."""
    updates: dict[str, float] = {}
    refused: Verdict | None = None
    for check in merged(checks):
        new_tat, wait = step(tats.get(check.key), now, check.rate, check.cost)
        if new_tat is None or wait > 0:
            if refused is None or wait > refused.wait:
                never = check.cost > check.rate.capacity
                refused = Verdict(False, wait, check.name, never)
        else:
            updates[check.key] = new_tat
    if refused is not None:
        return {}, refused
    return updates, ALLOWED
