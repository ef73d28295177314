"""One behavioural suite for every limiter: in memory and in Redis (a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextoffer.ratelimit import Check, Limiter, MemoryLimiter, Rate
from nextoffer.store.ratelimit_redis import RedisLimiter
from tests.capping.conftest import drop_redis_keys, redis_url, unique_prefix


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    url, prefix = redis_url(), unique_prefix()
    made = RedisLimiter(url, prefix)
    yield made
    made.close()
    drop_redis_keys(url, prefix)


def test_a_burst_passes_then_the_wait_is_told(limiter: Limiter) -> None:
    rate = Rate(2, 60.0)
    now = 1_765_000_000.0  # real epoch seconds: Redis holds them as doubles
    assert limiter.admit([Check("{ds}:p", rate, 2, "newProfilesPerMinute")], now).allowed
    refused = limiter.admit([Check("{ds}:p", rate, 1, "newProfilesPerMinute")], now + 1)
    assert not refused.allowed and refused.limit == "newProfilesPerMinute"
    assert refused.wait == pytest.approx(29.0)
    assert limiter.admit([Check("{ds}:p", rate, 1, "newProfilesPerMinute")], now + 30).allowed


def test_a_refused_request_takes_nothing(limiter: Limiter) -> None:
    wide, narrow = Rate(100, 1.0), Rate(1, 60.0)
    now = 1_765_000_000.0
    assert limiter.admit([Check("{ds}:n", narrow, 1, "narrow")], now).allowed
    for _ in range(5):
        refused = limiter.admit(
            [Check("{ds}:w", wide, 60, "wide"), Check("{ds}:n", narrow, 1, "narrow")], now
        )
        assert not refused.allowed and refused.limit == "narrow"
    # the wide bucket was never taken from: 100 still pass at once
    assert limiter.admit([Check("{ds}:w", wide, 100, "wide")], now).allowed


def test_a_cost_above_the_burst_is_refused_as_never(limiter: Limiter) -> None:
    verdict = limiter.admit([Check("{ds}:e", Rate(3, 60.0), 4, "events")], 1_765_000_000.0)
    assert not verdict.allowed and verdict.never


def test_redis_keys_expire_when_their_bucket_is_full_again() -> None:
    url, prefix = redis_url(), unique_prefix()
    limiter = RedisLimiter(url, prefix)
    try:
        assert limiter.admit([Check("{ds}:r", Rate(10, 1.0), 3, "r")], 1_765_000_000.0).allowed
        ttl = redis.Redis.from_url(url).pttl(prefix + "{ds}:r")
        assert 0 < ttl <= 300  # full again 0.3 s later
    finally:
        limiter.close()
        drop_redis_keys(url, prefix)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(1, 5),
    st.lists(st.tuples(st.integers(0, 3_000), st.integers(1, 3), st.booleans()), max_size=25),
)
def test_redis_answers_as_memory_does(count: int, seq: list[tuple[int, int, bool]]) -> None:
    """The same arrivals, the same verdicts: both run the GCRA of `ratelimit.gcra`."""
    url, prefix = redis_url(), unique_prefix()
    shared, local = RedisLimiter(url, prefix), MemoryLimiter()
    rates = {"a": Rate(count, 1.0), "b": Rate(count + 1, 2.0)}
    now = 1_765_000_000.0
    try:
        for gap_ms, cost, both in seq:
            now += gap_ms / 1000
            checks = [Check("{t}:a", rates["a"], cost, "a")]
            if both:
                checks.append(Check("{t}:b", rates["b"], cost, "b"))
            got, expected = shared.admit(checks, now), local.admit(checks, now)
            assert (got.allowed, got.limit, got.never) == (
                expected.allowed,
                expected.limit,
                expected.never,
            )
            assert got.wait == pytest.approx(expected.wait, abs=1e-6)
    finally:
        shared.close()
        drop_redis_keys(url, prefix)
