"""One behavioural suite for every counter store: memory, SQL (SQLite, PostgreSQL), Redis."""

from __future__ import annotations

import sqlite3
import threading
import time

import redis

from nextoffer.capping.memory_store import MemoryStore
from nextoffer.capping.store import EXPIRY_GRACE, CounterStore, Increment
from nextoffer.store.capping_redis import RedisStore
from nextoffer.store.capping_sql import SqlStore
from nextoffer.store.database import Database
from tests.capping.conftest import drop_redis_keys, redis_url, unique_prefix


def test_unwritten_counters_read_zero(store: CounterStore) -> None:
    assert store.read(["{s}|a", "{s}|b"]) == [0, 0]
    assert store.read([]) == []


def test_one_read_takes_more_keys_than_a_statement_can_bind(store: CounterStore) -> None:
    """A batch job reads a whole batch of profiles' counters at once; SQLite binds at most
    SQLITE_LIMIT_VARIABLE_NUMBER values per statement (32,766 by default), so reads chunk."""
    if isinstance(store, SqlStore) and not store.postgres:
        store._sqlite().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 1000)
    keys = [f"{{s}}|many|{i}" for i in range(5_000)]
    store.add([Increment(keys[0], 2), Increment(keys[-1], 3)])
    counts = store.read(keys)
    assert len(counts) == 5_000
    assert (counts[0], counts[-1], sum(counts)) == (2, 3, 5)


def test_reserve_takes_every_count_when_all_have_room(store: CounterStore) -> None:
    outcome = store.reserve([Increment("{s}|a", 1, 2), Increment("{s}|b", 2, 5)])
    assert outcome.ok and outcome.over is None
    assert outcome.counts == (1, 2)
    assert store.read(["{s}|a", "{s}|b"]) == [1, 2]


def test_reserve_is_all_or_nothing(store: CounterStore) -> None:
    assert store.reserve([Increment("{s}|full", 1, 1)]).ok
    outcome = store.reserve([Increment("{s}|a", 1, 5), Increment("{s}|full", 1, 1)])
    assert not outcome.ok
    assert outcome.over == "{s}|full"
    assert outcome.counts[1] == 1  # the count that was seen
    assert store.read(["{s}|a", "{s}|full"]) == [0, 1]  # nothing was written


def test_a_counter_never_passes_its_limit(store: CounterStore) -> None:
    results = [store.reserve([Increment("{s}|k", 1, 3)]).ok for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert store.read(["{s}|k"]) == [3]


def test_an_increment_larger_than_the_room_left_is_refused(store: CounterStore) -> None:
    assert store.reserve([Increment("{s}|k", 2, 3)]).ok
    assert store.reserve([Increment("{s}|k", 2, 3)]).over == "{s}|k"
    assert store.reserve([Increment("{s}|k", 1, 3)]).ok
    assert store.reserve([Increment("{s}|never", 4, 3)]).over == "{s}|never"
    assert store.read(["{s}|k", "{s}|never"]) == [3, 0]


def test_the_same_key_twice_counts_twice(store: CounterStore) -> None:
    outcome = store.reserve([Increment("{s}|k", 1, 2), Increment("{s}|k", 1, 2)])
    assert outcome.ok and outcome.counts == (2, 2)
    assert not store.reserve([Increment("{s}|k", 1, 2)]).ok


def test_a_check_writes_nothing_and_refuses_at_the_limit(store: CounterStore) -> None:
    store.add([Increment("{s}|shown", 2)])
    assert store.reserve([Increment("{s}|shown", 0, 3), Increment("{s}|d", 1, 9)]).ok
    assert store.read(["{s}|shown", "{s}|d"]) == [2, 1]
    store.add([Increment("{s}|shown", 1)])
    outcome = store.reserve([Increment("{s}|shown", 0, 3), Increment("{s}|d", 1, 9)])
    assert outcome.over == "{s}|shown"
    assert store.read(["{s}|shown", "{s}|d"]) == [3, 1]


def test_unlimited_increments_always_fit(store: CounterStore) -> None:
    for _ in range(3):
        assert store.reserve([Increment("{s}|free", 5)]).ok
    assert store.read(["{s}|free"]) == [15]


def test_add_is_unconditional(store: CounterStore) -> None:
    store.add([Increment("{s}|a", 1, limit=1), Increment("{s}|a", 1, limit=1)])
    store.add([Increment("{s}|b", 3)])
    store.add([])
    assert store.read(["{s}|a", "{s}|b"]) == [2, 3]


def test_counters_with_a_lifetime_count_like_others(store: CounterStore) -> None:
    assert store.reserve([Increment("{s}|w", 1, 2, ttl=3600)]).ok
    store.add([Increment("{s}|w", 1, ttl=3600)])
    assert store.read(["{s}|w"]) == [2]
    assert not store.reserve([Increment("{s}|w", 1, 2, ttl=3600)]).ok


def test_concurrent_reservations_stop_exactly_at_the_limit(store: CounterStore) -> None:
    taken: list[bool] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            # two counters per reservation, in either order: no deadlock, no overshoot
            ok = store.reserve([Increment("{s}|x", 1, 25), Increment("{s}|y", 1, 1000)]).ok
            with lock:
                taken.append(ok)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert taken.count(True) == 25
    assert store.read(["{s}|x", "{s}|y"]) == [25, 25]


def test_memory_counters_go_when_their_window_and_grace_are_over() -> None:
    now = [1_000_000.0]
    store = MemoryStore(clock=lambda: now[0])
    store.add([Increment("{s}|w", 2, ttl=60), Increment("{s}|forever", 1)])
    now[0] += 60 + EXPIRY_GRACE - 1
    assert store.read(["{s}|w", "{s}|forever"]) == [2, 1]
    now[0] += 1
    assert store.read(["{s}|w", "{s}|forever"]) == [0, 1]


def test_redis_counters_expire_with_their_window() -> None:
    url, prefix = redis_url(), unique_prefix()
    store = RedisStore(url, prefix)
    try:
        store.reserve([Increment("{s}|w", 1, 5, ttl=600), Increment("{s}|forever", 1, 5)])
        client = redis.Redis.from_url(url)
        assert 600 + EXPIRY_GRACE - 5 <= client.ttl(prefix + "{s}|w") <= 600 + EXPIRY_GRACE
        assert client.ttl(prefix + "{s}|forever") == -1  # no expiry
        client.close()
    finally:
        store.close()
        drop_redis_keys(url, prefix)


def test_sql_counters_are_purged_after_their_window(sqlite_db: Database) -> None:
    store = SqlStore(sqlite_db)
    store.add([Increment("{s}|w", 1, ttl=60), Increment("{s}|forever", 1)])
    assert store.purge(time.time() + 60 + EXPIRY_GRACE - 5) == 0
    assert store.purge(time.time() + 60 + EXPIRY_GRACE + 5) == 1
    assert store.read(["{s}|w", "{s}|forever"]) == [0, 1]


def test_the_redis_store_reconnects_when_its_connection_drops() -> None:
    url, prefix = redis_url(), unique_prefix()
    name = "nextoffer-test-" + prefix.split(":")[1]
    store = RedisStore(url, prefix, client_name=name)
    admin = redis.Redis.from_url(url)
    try:
        assert store.reserve([Increment("{s}|k", 1, 5)]).ok
        [mine] = [c for c in admin.client_list() if c.get("name") == name]
        admin.client_kill_filter(_id=mine["id"])
        assert store.reserve([Increment("{s}|k", 1, 5)]).ok
        assert store.read(["{s}|k"]) == [2]
    finally:
        store.close()
        admin.close()
        drop_redis_keys(url, prefix)
