"""The GCRA arithmetic, by its invariants: a fake clock is a parameter (`now`), nothing runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextoffer.ratelimit import Check, MemoryLimiter, Rate, decide, step

rates = st.builds(
    Rate,
    count=st.integers(1, 20),
    period=st.sampled_from([0.5, 1.0, 60.0]),
    burst=st.one_of(st.none(), st.integers(1, 10)),
)
arrivals = st.lists(st.tuples(st.integers(0, 5_000), st.integers(1, 3)), max_size=60)
"""(milliseconds since the previous arrival, cost)."""


def run(rate: Rate, sequence: list[tuple[int, int]]) -> list[tuple[float, int]]:
    """Feed the arrivals to one bucket; the admitted ones as (time, cost)."""
    limiter, now, admitted = MemoryLimiter(), 0.0, []
    for gap_ms, cost in sequence:
        now += gap_ms / 1000
        if limiter.admit([Check("k", rate, cost, "limit")], now).allowed:
            admitted.append((now, cost))
    return admitted


@given(rates, arrivals)
def test_no_window_admits_more_than_the_burst_plus_the_rate(rate: Rate, seq) -> None:
    admitted = run(rate, seq)
    for i, (start, _) in enumerate(admitted):
        total = 0
        for end, cost in admitted[i:]:
            total += cost
            assert total <= rate.capacity + (end - start) / rate.interval + 1e-6


@given(rates, st.lists(st.integers(1, 3), max_size=40), st.integers(0, 2_000))
def test_callers_spaced_out_at_the_rate_are_all_admitted(rate: Rate, costs, slack_ms) -> None:
    limiter, now = MemoryLimiter(), 1_000.0
    for cost in costs:
        cost = min(cost, rate.capacity)
        assert limiter.admit([Check("k", rate, cost, "limit")], now).allowed
        now += cost * rate.interval + slack_ms / 1000


@given(rates, arrivals)
def test_a_refused_caller_who_waits_the_answered_time_is_admitted(rate: Rate, seq) -> None:
    limiter, now = MemoryLimiter(), 0.0
    for gap_ms, cost in seq:
        now += gap_ms / 1000
        cost = min(cost, rate.capacity)
        verdict = limiter.admit([Check("k", rate, cost, "limit")], now)
        if not verdict.allowed:
            assert verdict.wait > 0 and verdict.limit == "limit"
            assert limiter.admit([Check("k", rate, cost, "limit")], now + verdict.wait).allowed
            now += verdict.wait


def test_a_burst_passes_then_one_per_interval() -> None:
    rate = Rate(3, 60.0)  # a burst of 3, then one every 20 s
    limiter = MemoryLimiter()
    admit = lambda now: limiter.admit([Check("k", rate, 1, "x")], now)  # noqa: E731
    assert [admit(100.0).allowed for _ in range(3)] == [True, True, True]
    refused = admit(100.0)
    assert not refused.allowed and refused.wait == pytest.approx(20.0)
    assert not admit(119.0).allowed
    assert admit(120.0).allowed and not admit(120.0).allowed


def test_checks_are_taken_all_or_nothing() -> None:
    wide, narrow = Rate(10, 1.0), Rate(1, 60.0)
    tats = {"narrow": 30.0}  # empty until t=30 (+ one interval)
    updates, verdict = decide(
        tats, [Check("wide", wide, 1, "w"), Check("narrow", narrow, 1, "n")], 0.0
    )
    assert updates == {} and not verdict.allowed and verdict.limit == "n"
    assert verdict.wait == pytest.approx(30.0)
    updates, verdict = decide(tats, [Check("wide", wide, 1, "w")], 0.0)
    assert verdict.allowed and updates == {"wide": pytest.approx(0.1)}


def test_checks_of_one_key_add_up_and_free_checks_are_left_out() -> None:
    rate = Rate(2, 1.0)
    checks = [Check("k", rate, 1, "a"), Check("k", rate, 2, "a"), Check("z", rate, 0, "a")]
    updates, verdict = decide({}, checks, 0.0)
    assert not verdict.allowed and verdict.never  # 3 at once: more than the burst of 2
    updates, verdict = decide({}, checks[:1] + checks[2:], 0.0)
    assert verdict.allowed and set(updates) == {"k"}


def test_a_cost_above_the_burst_never_passes() -> None:
    tat, wait = step(None, 0.0, Rate(5, 1.0), 6)
    assert tat is None and wait == pytest.approx(0.2)
    assert step(None, 1e9, Rate(5, 1.0), 6)[1] > 0


@pytest.mark.parametrize("bad", [(0, 1.0, None), (1, 0.0, None), (1, 1.0, 0)])
def test_a_rate_is_positive(bad) -> None:
    with pytest.raises(ValueError, match="positive"):
        Rate(*bad)


def test_the_memory_limiter_forgets_full_buckets() -> None:
    limiter = MemoryLimiter(sweep_above=10)
    rate = Rate(1, 1.0)
    for i in range(10):
        assert limiter.admit([Check(f"k{i}", rate, 1, "x")], 0.0).allowed
    assert len(limiter) == 10  # not above the threshold: no sweep
    assert limiter.admit([Check("late", rate, 1, "x")], 5.0).allowed
    assert len(limiter) == 1  # swept: only the bucket still filling at t=5


def test_a_sweep_that_frees_little_waits_for_twice_as_many_keys() -> None:
    limiter = MemoryLimiter(sweep_above=4)
    slow = Rate(1, 3600.0)  # buckets that stay active all along
    for i in range(5):
        limiter.admit([Check(f"k{i}", slow, 1, "x")], 0.0)
    assert len(limiter) == 5  # swept at 5 keys, none freed: next sweep above 10
    for i in range(5, 10):
        limiter.admit([Check(f"k{i}", slow, 1, "x")], 7200.0)
    assert len(limiter) == 10  # not swept yet, though k0..k4 are full again
    limiter.admit([Check("k10", slow, 1, "x")], 7200.0)
    assert len(limiter) == 6  # swept: k5..k10
