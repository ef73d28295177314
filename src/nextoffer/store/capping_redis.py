"""Counters in Redis, shared by every node: one Lua script per reservation, atomic.

The reservation script reads every counter a decision touches, checks that each has room,
and only then increments them all, giving a counter it creates its expiry (window end + grace).
Redis runs a script without interleaving anything else, so concurrent decisions on any number
of nodes never push a counter past its limit. Reads are one `MGET`; unconditional adds one
script too. Keys carry the configured prefix; the sandbox is their hash tag (Redis Cluster safe).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import redis

from nextoffer.capping.store import Increment, Reservation, lifetime, merge, settled_locally

_RESERVE = """
local n = #KEYS
local counts = redis.call('MGET', unpack(KEYS))
for i = 1, n do
  counts[i] = tonumber(counts[i] or '0')
end
for i = 1, n do
  local room = tonumber(ARGV[3 * i - 1])
  if room >= 0 and counts[i] > room then
    return {i, counts}
  end
end
for i = 1, n do
  local by = tonumber(ARGV[3 * i - 2])
  if by > 0 then
    counts[i] = redis.call('INCRBY', KEYS[i], by)
    local ttl = tonumber(ARGV[3 * i])
    if ttl > 0 and counts[i] == by then
      redis.call('EXPIRE', KEYS[i], ttl)
    end
  end
end
return {0, counts}
"""

_ADD = """
for i = 1, #KEYS do
  local by = tonumber(ARGV[2 * i - 1])
  local ttl = tonumber(ARGV[2 * i])
  if redis.call('INCRBY', KEYS[i], by) == by and ttl > 0 then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return #KEYS
"""


class RedisStore:
    """Each thread talks to Redis over a connection of its own: a pooled command costs about
    half a round trip more in client bookkeeping, on every capped decision."""

    def __init__(
        self, url: str, prefix: str = "nextoffer:capping:", client_name: str = "nextoffer-capping"
    ) -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=2, client_name=client_name
        )
        self._reserve = self.client.register_script(_RESERVE)
        self._add = self.client.register_script(_ADD)
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def _command(self, *args: Any) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.client.connection_pool.make_connection()
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        try:
            conn.send_command(*args)
            return conn.read_response()
        except redis.ConnectionError:
            # a dropped connection (Redis restarted, idle timeout): reconnect once; a script
            # that ran twice still never passes a limit
            conn.disconnect()
            conn.send_command(*args)
            return conn.read_response()

    def _run(self, script: Any, keys: list[str], args: list[int]) -> Any:
        """EVALSHA straight away (the script is loaded once, again after a Redis restart)."""
        try:
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            script.sha = self.client.script_load(script.script)
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)

    def read(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = self._command("MGET", *[self.prefix + k for k in keys])
        return [int(v) if v is not None else 0 for v in values]

    def reserve(self, increments: Sequence[Increment]) -> Reservation:
        if (settled := settled_locally(increments)) is not None:
            return settled
        rows = merge(increments)
        keys = [self.prefix + r.key for r in rows]
        args: list[int] = []
        for r in rows:
            args += (r.by, -1 if r.room is None else r.room, lifetime(r.ttl) or 0)
        failed, counts = self._run(self._reserve, keys, args)
        found = {r.key: int(c) for r, c in zip(rows, counts, strict=True)}
        over = rows[failed - 1].key if failed else None
        return Reservation(over, tuple(found[i.key] for i in increments))

    def add(self, increments: Sequence[Increment]) -> None:
        if not increments:
            return
        keys, args = [], []
        for inc in increments:
            if inc.by:
                keys.append(self.prefix + inc.key)
                args += (inc.by, lifetime(inc.ttl) or 0)
        if keys:
            self._run(self._add, keys, args)

    def ping(self) -> None:
        """Raise unless Redis answers (readiness and `serve`'s start check)."""
        self.client.ping()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.disconnect()
        self.client.close()
