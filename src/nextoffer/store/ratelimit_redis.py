"""Rate-limit buckets in Redis, shared by every node: the GCRA of `ratelimit.gcra` as one Lua
script, so the checks of a request pass or fail together with nothing interleaved.

Each key holds its theoretical arrival time and expires (PX) when its bucket is full again, so
Redis keeps only the buckets active in the last period. Nodes pass their own clock (`now`):
keep them in sync (NTP); a skew of a few milliseconds shifts a bucket by as much. Keys carry the
configured prefix; callers put the datastream in a hash tag (`{...}`) so one request's keys
share a Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from nextoffer.ratelimit.gcra import EPSILON, Check, Verdict, merged

_ADMIT = """
local now = tonumber(ARGV[1])
local eps = tonumber(ARGV[2])
local tats = {}
local worst, worst_wait = 0, 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i])
  local capacity = tonumber(ARGV[3 * i + 1])
  local cost = tonumber(ARGV[3 * i + 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local wait = new_tat - capacity * interval - now
  if wait > eps then
    if wait > worst_wait then worst, worst_wait = i, wait end
  end
  tats[i] = new_tat
end
if worst > 0 then
  return {worst, string.format('%.17g', worst_wait)}
end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) * 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[i], string.format('%.17g', tats[i]), 'PX', ttl)
end
return {0, '0'}
"""


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "nextoffer:limits:") -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5, client_name="nextoffer-limits")
        self._admit = self.client.register_script(_ADMIT)

    def admit(self, checks: Sequence[Check], now: float) -> Verdict:
        rows = merged(checks)
        if not rows:
            return Verdict(True)
        keys = [self.prefix + c.key for c in rows]
        args: list[Any] = [repr(now), repr(EPSILON)]
        for c in rows:
            args += (repr(c.rate.interval), c.rate.capacity, c.cost)
        index, wait = self._admit(keys=keys, args=args)
        if not index:
            return Verdict(True)
        refused = rows[int(index) - 1]
        return Verdict(False, float(wait), refused.name, refused.cost > refused.rate.capacity)

    def close(self) -> None:
        self.client.close()
