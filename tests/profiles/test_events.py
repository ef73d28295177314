"""Retention of a profile's events (window, count, byte budget) and the checks that refuse an
event outright (too large, dated in the future), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.errors import InvalidInput, TooLarge
from nextoffer.profiles.events import (
    CLOCK_SKEW,
    MAX_EVENT_BYTES,
    check_events,
    cutoff,
    encoded,
    latest,
    newest_first,
    within,
    within_budget,
)
from nextoffer.timeutil import format_utc

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def event(minutes_ago: float, **extra: object) -> dict:
    return {"timestamp": format_utc(NOW - timedelta(minutes=minutes_ago)), **extra}


def test_an_event_is_its_compact_json() -> None:
    assert encoded({"timestamp": "t", "x": [1, "é"]}) == '{"timestamp":"t","x":[1,"é"]}'.encode()


def test_the_byte_budget_keeps_the_newest_events_that_fit() -> None:
    events = [event(i, pad="x" * 100) for i in range(10)]  # newest first, 127 bytes each
    sized = [(e, encoded(e)) for e in events]
    size = len(sized[0][1])
    oldest = cutoff(NOW, 30)
    assert [e for e, _ in within_budget(sized, oldest, 100, 3 * size)] == events[:3]
    assert [e for e, _ in within_budget(sized, oldest, 100, 3 * size - 1)] == events[:2]
    assert within_budget(sized, oldest, 100, size - 1) == []
    assert [e for e, _ in within_budget(sized, oldest, 4, 100 * size)] == events[:4]
    assert len(within_budget(sized, format_utc(NOW - timedelta(minutes=5)), 100, 10**9)) == 6


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60 * 24 * 40), st.integers(0, 300)), max_size=30),
    st.integers(1, 20),
    st.integers(1, 4000),
)
def test_what_the_budget_keeps_is_a_newest_prefix_within_every_bound(
    ages: list[tuple[int, int]], max_events: int, budget: int
) -> None:
    events = newest_first([event(age, pad="x" * pad) for age, pad in ages])
    sized = [(e, encoded(e)) for e in events]
    oldest = cutoff(NOW, 30)
    kept = within_budget(sized, oldest, max_events, budget)
    assert kept == sized[: len(kept)]  # the newest, in order
    assert len(kept) <= max_events and sum(len(raw) for _, raw in kept) <= budget
    assert all(e["timestamp"] >= oldest for e, _ in kept)
    if len(kept) < len(sized):  # the next one would break a bound
        nxt, raw = sized[len(kept)]
        assert (
            len(kept) == max_events
            or sum(len(r) for _, r in kept) + len(raw) > budget
            or nxt["timestamp"] < oldest
        )
    # without a byte budget it is the window and the count, as before
    assert [e for e, _ in within_budget(sized, oldest, max_events, 10**9)] == within(
        events, oldest, max_events
    )


def test_an_event_dated_ahead_of_the_clock_is_refused_beyond_the_skew() -> None:
    ahead = NOW + CLOCK_SKEW
    check_events([{"timestamp": format_utc(ahead)}], "/events", NOW)  # exactly at the limit
    assert latest(NOW) == format_utc(ahead)
    late = format_utc(ahead + timedelta(milliseconds=1))
    with pytest.raises(InvalidInput) as info:
        check_events([event(0), {"timestamp": late}, event(1)], "/events", NOW)
    assert info.value.code == "future-timestamp"
    [error] = info.value.errors
    assert error.pointer == "/events/1/timestamp" and error.code == "future-timestamp"
    assert late in error.message and "in the future" in error.message


def test_an_event_over_the_byte_limit_is_refused_naming_it() -> None:
    base = len(encoded({"timestamp": format_utc(NOW), "pad": ""}))
    fits = {"timestamp": format_utc(NOW), "pad": "x" * (MAX_EVENT_BYTES - base)}
    over = {"timestamp": format_utc(NOW), "pad": "x" * (MAX_EVENT_BYTES - base + 1)}
    assert len(encoded(fits)) == MAX_EVENT_BYTES
    check_events([fits], "/events", NOW)
    with pytest.raises(TooLarge) as info:
        check_events([fits, over, {**over, "n": 1}], "/events", NOW)
    assert info.value.code == "event-too-large"
    assert [e.pointer for e in info.value.errors] == ["/events/1", "/events/2"]
    assert f"at most {MAX_EVENT_BYTES}" in info.value.errors[0].message
