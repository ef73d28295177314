"""Rate limits of anonymous Edge calls, per datastream (issue 15: "Unbounded anonymous writes").

Three limits, each a GCRA bucket (`ratelimit.gcra`) whose burst is its count:

- `requestsPerSecond`: requests naming the datastream, taken before the body is read;
- `newProfilesPerMinute`: profiles the request's events would create (identities nobody owns);
- `eventsPerProfilePerMinute`: events per identity (every identity an event names).

The last two are taken together, all or nothing, before anything is decided or written, so a
refused request writes nothing. The global defaults come from the settings
(`NEXTOFFER_EDGE_*`); a datastream's `limits` object overrides them one by one, 0 meaning no
limit. Callers with API credentials are not limited here (the route decides who is anonymous).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from nextoffer.config import Settings
from nextoffer.errors import FieldError, RateLimited, RuleViolation
from nextoffer.profiles.merge import identity_keys
from nextoffer.profiles.xdm import identity_pairs
from nextoffer.ratelimit import Check, Limiter, Rate, merged
from nextoffer.records.datastreams import Datastream
from nextoffer.tenants import Tenant
from nextoffer.wire.edge import EdgeRequest, dry_run, event_pointer, events_of

REQUESTS = "requestsPerSecond"
NEW_PROFILES = "newProfilesPerMinute"
EVENTS = "eventsPerProfilePerMinute"
PERIODS = {REQUESTS: 1.0, NEW_PROFILES: 60.0, EVENTS: 60.0}
"""Each limit's period in seconds (the name says it)."""
MAX_LIMIT = 1_000_000_000


def limits_errors(value: Any, pointer: str = "/limits") -> list[FieldError]:
    """What is wrong with a datastream's `limits` object (an empty list when nothing is)."""
    if not isinstance(value, dict):
        names = ", ".join(PERIODS)
        return [FieldError(f"limits is an object of {names}", pointer)]
    errors = []
    known = ", ".join(PERIODS)
    for name, limit in value.items():
        if name not in PERIODS:
            errors.append(FieldError(f"unknown limit; the limits are {known}", f"{pointer}/{name}"))
        elif isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
            errors.append(
                FieldError(
                    f"{name} is an integer from 0 (no limit) to {MAX_LIMIT}", f"{pointer}/{name}"
                )
            )
    return errors


def default_limits(settings: Settings) -> dict[str, int]:
    return {
        REQUESTS: settings.edge_requests_per_second,
        NEW_PROFILES: settings.edge_new_profiles_per_minute,
        EVENTS: settings.edge_events_per_profile_per_minute,
    }


class ProfileOwners(Protocol):
    def resolve_profile_id(
        self, tenant: Tenant, identities: Sequence[tuple[str, str]]
    ) -> str | None: ...


class EdgeQuotas:
    def __init__(
        self,
        limiter: Limiter,
        defaults: Mapping[str, int],
        profiles: ProfileOwners | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = limiter
        self.defaults = dict(defaults)
        self.profiles = profiles
        self.clock = clock
        """Seconds since the epoch: with Redis, every node's buckets are on the same time line."""

    def rate(self, datastream: Datastream, name: str) -> Rate | None:
        """The datastream's rate for limit `name`, or None when it has no such limit."""
        own = datastream.doc.get("limits") or {}
        count = own.get(name, self.defaults.get(name, 0))
        return Rate(count, PERIODS[name]) if count else None

    def admit_request(self, datastream: Datastream) -> None:
        """Take one request from the datastream's bucket; 429 when it is empty."""
        rate = self.rate(datastream, REQUESTS)
        if rate is not None:
            self._admit(datastream, [Check(_key(datastream, "r"), rate, 1, REQUESTS)])

    def admit_events(self, datastream: Datastream, request: EdgeRequest) -> None:
        """Take the request's new profiles and its events per identity, all or nothing: 429
        (422 when the request alone carries more than a limit allows at once)."""
        checks: list[Check] = []
        events_rate = self.rate(datastream, EVENTS)
        profiles_rate = self.rate(datastream, NEW_PROFILES)
        if events_rate is None and profiles_rate is None:
            return
        events, where = events_of(request)
        groups: list[tuple[tuple[str, str], ...]] = []
        for index, event in enumerate(events):
            pointer = f"{event_pointer(where, index)}/identityMap"
            keys = tuple(identity_keys(identity_pairs(event.xdm.get("identityMap"), pointer)))
            if events_rate is not None:
                checks += [Check(_key(datastream, "e", k), events_rate, 1, EVENTS) for k in keys]
            if keys and not dry_run(event):
                groups.append(keys)
        if profiles_rate is not None and groups:
            created = self._new_profiles(Tenant(datastream.org, datastream.sandbox), groups)
            checks.append(Check(_key(datastream, "p"), profiles_rate, created, NEW_PROFILES))
        self._admit(datastream, checks)

    def _new_profiles(self, tenant: Tenant, groups: list[tuple[tuple[str, str], ...]]) -> int:
        """How many profiles these events would create: groups of identities nobody owns yet
        (a group sharing an identity with an earlier new one joins that one's profile)."""
        if self.profiles is None:
            return 0
        created = 0
        new_keys: set[tuple[str, str]] = set()
        for keys in dict.fromkeys(groups):
            if new_keys.intersection(keys):
                new_keys.update(keys)
            elif self.profiles.resolve_profile_id(tenant, keys) is None:
                created += 1
                new_keys.update(keys)
        return created

    def _admit(self, datastream: Datastream, checks: list[Check]) -> None:
        checks = merged(checks)
        for check in checks:
            if check.cost > check.rate.capacity:
                raise RuleViolation.at(
                    f"this request alone carries {check.cost} for {check.name}, more than the "
                    f"{check.rate.capacity} datastream {datastream.id} allows at once",
                    parameter="configId",
                    code="over-limit",
                    limit=check.name,
                )
        verdict = self.limiter.admit(checks, self.clock())
        if verdict.allowed:
            return
        retry_after = max(1, math.ceil(verdict.wait))
        raise RateLimited.at(
            f"datastream {datastream.id} is over its {verdict.limit} limit; retry in "
            f"{retry_after} s",
            parameter="configId",
            limit=verdict.limit,
            retryAfter=retry_after,
        )


def _key(datastream: Datastream, kind: str, identity: tuple[str, str] | None = None) -> str:
    """`{datastream}:kind[:digest]`: the hash tag keeps one request's keys in one Redis Cluster
    slot; identities (up to kilobytes) are hashed to a fixed size."""
    key = f"{{{datastream.id}}}:{kind}"
    if identity is not None:
        digest = hashlib.blake2b(f"{identity[0]}\0{identity[1]}".encode(), digest_size=12)
        key += ":" + digest.hexdigest()
    return key
