"""Windows reset at 00:00 UTC every N days, weeks (from Sunday) or months, inside rule dates."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextoffer.capping.windows import FOREVER_START, Period, Window


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()[:19]


@pytest.mark.parametrize(
    ("unit", "before", "after", "start_before", "start_after"),
    [
        ("day", "2026-06-15T23:59:59.999", "2026-06-16T00:00:00", "2026-06-15", "2026-06-16"),
        # Saturday -> Sunday: weeks start on Sunday
        ("week", "2026-06-20T23:59:59.999", "2026-06-21T00:00:00", "2026-06-14", "2026-06-21"),
        ("month", "2026-06-30T23:59:59.999", "2026-07-01T00:00:00", "2026-06-01", "2026-07-01"),
        ("month", "2026-12-31T23:59:59.999", "2027-01-01T00:00:00", "2026-12-01", "2027-01-01"),
        # leap day: February 2028 has 29 days
        ("day", "2028-02-28T23:59:59.999", "2028-02-29T00:00:00", "2028-02-28", "2028-02-29"),
        ("day", "2028-02-29T23:59:59.999", "2028-03-01T00:00:00", "2028-02-29", "2028-03-01"),
        ("month", "2028-02-29T23:59:59.999", "2028-03-01T00:00:00", "2028-02-01", "2028-03-01"),
    ],
)
def test_the_last_millisecond_and_the_first_belong_to_different_windows(
    unit: str, before: str, after: str, start_before: str, start_after: str
) -> None:
    period = Period(unit)
    first, second = period.window(t(before)), period.window(t(after))
    assert first is not None and second is not None
    assert iso(first.start) == start_before + "T00:00:00"
    assert iso(second.start) == start_after + "T00:00:00"
    assert first.end == second.start


def test_a_week_runs_from_sunday_to_sunday() -> None:
    window = Period("week").window(t("2026-06-17T12:00:00"))  # a Wednesday
    assert window is not None
    assert datetime.fromtimestamp(window.start, UTC).strftime("%A %H:%M") == "Sunday 00:00"
    assert (window.end or 0) - window.start == 7 * 86400


def test_months_have_their_own_lengths() -> None:
    feb = Period("month").window(t("2027-02-10T00:00:00"))
    leap_feb = Period("month").window(t("2028-02-10T00:00:00"))
    assert feb is not None and leap_feb is not None
    assert ((feb.end or 0) - feb.start) // 86400 == 28
    assert ((leap_feb.end or 0) - leap_feb.start) // 86400 == 29


def test_n_units_are_counted_from_the_rule_start() -> None:
    # every 3 days from a start on 2026-06-10 at 15:00: windows start on the 10th, 13th, 16th
    period = Period("day", 3, start=t("2026-06-10T15:00:00"))
    assert iso(period.window(t("2026-06-12T23:59:59.999")).start) == "2026-06-10T00:00:00"
    assert iso(period.window(t("2026-06-13T00:00:00")).start) == "2026-06-13T00:00:00"
    assert iso(period.window(t("2026-06-16T08:00:00")).end) == "2026-06-19T00:00:00"
    # every 2 months from April: April-May, June-July
    months = Period("month", 2, start=t("2026-04-20T00:00:00"))
    assert iso(months.window(t("2026-05-31T23:59:59.999")).start) == "2026-04-01T00:00:00"
    assert iso(months.window(t("2026-06-01T00:00:00")).start) == "2026-06-01T00:00:00"
    # every 2 weeks from a Wednesday: windows from the Sunday before it
    weeks = Period("week", 2, start=t("2026-06-17T09:00:00"))
    assert iso(weeks.window(t("2026-06-27T23:59:59.999")).start) == "2026-06-14T00:00:00"
    assert iso(weeks.window(t("2026-06-28T00:00:00")).start) == "2026-06-28T00:00:00"


def test_a_rule_does_not_apply_outside_its_dates() -> None:
    period = Period("day", start=t("2026-06-10T12:00:00"), end=t("2026-06-20T00:00:00"))
    assert period.window(t("2026-06-10T11:59:59.999")) is None
    assert period.window(t("2026-06-10T12:00:00")) is not None
    assert period.window(t("2026-06-20T00:00:00.001")) is None
    last = period.window(t("2026-06-19T18:00:00"))
    assert last is not None and iso(last.start) == "2026-06-19T00:00:00"


def test_a_rule_without_repeat_counts_in_one_window_forever() -> None:
    period = Period(None)
    assert period.window(t("1999-01-01T00:00:00")) == Window(FOREVER_START, None)
    assert period.window(t("2099-01-01T00:00:00")) == Window(FOREVER_START, None)


def test_bad_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="unit must be"):
        Period("year")
    with pytest.raises(ValueError, match="unitCount"):
        Period("day", 0)


instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    now=instants,
    unit=st.sampled_from(["day", "week", "month"]),
    count=st.integers(1, 24),
    start=st.none() | instants,
)
def test_windows_hold_their_instant_start_at_midnight_and_tile(
    now: datetime, unit: str, count: int, start: datetime | None
) -> None:
    period = Period(unit, count, start=start.timestamp() if start else None)
    window = period.window(now.timestamp())
    if start is not None and now < start:
        assert window is None
        return
    assert window is not None and window.end is not None
    assert window.start <= now.timestamp() < window.end
    first = datetime.fromtimestamp(window.start, UTC)
    assert (first.hour, first.minute, first.second) == (0, 0, 0)
    if unit == "week":
        assert first.weekday() == 6  # Sunday
    if unit == "month":
        assert first.day == 1
    # the next window starts where this one ends
    following = period.window(window.end)
    assert following is not None and following.start == window.end
    # and the instant just before the end is still in this one
    assert period.window(window.end - 0.001) == window
    if unit == "day":
        assert window.end - window.start == count * 86400
    if unit == "week":
        assert window.end - window.start == count * 7 * 86400


@given(now=instants)
def test_midnight_is_the_only_boundary_of_daily_windows(now: datetime) -> None:
    window = Period("day").window(now.timestamp())
    assert window is not None
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert window.start == int(midnight.timestamp())
    assert window.end == int((midnight + timedelta(days=1)).timestamp())


@pytest.mark.parametrize(
    ("unit", "count", "now", "start", "end"),
    [
        # without a start date, windows are laid from the epoch: every other day from
        # 1970-01-01, every other week from Sunday 1970-01-04, quarters and years of the calendar
        ("day", 2, "2026-06-17T09:00:00", "2026-06-16", "2026-06-18"),
        ("day", 2, "2026-06-18T00:00:00", "2026-06-18", "2026-06-20"),
        ("week", 2, "2026-06-17T09:00:00", "2026-06-07", "2026-06-21"),
        ("week", 2, "2026-06-21T00:00:00", "2026-06-21", "2026-07-05"),
        ("month", 3, "2026-06-30T23:59:59", "2026-04-01", "2026-07-01"),
        ("month", 3, "2026-07-01T00:00:00", "2026-07-01", "2026-10-01"),
        ("month", 12, "2026-12-31T23:59:59", "2026-01-01", "2027-01-01"),
        ("month", 5, "2026-06-17T09:00:00", "2026-04-01", "2026-09-01"),  # 675 months on
        ("month", 1, "1970-01-01T00:00:00", "1970-01-01", "1970-02-01"),
        ("week", 1, "1970-01-04T00:00:00", "1970-01-04", "1970-01-11"),
        ("week", 1, "1970-01-03T23:59:59", "1969-12-28", "1970-01-04"),
    ],
)
def test_repeats_without_a_start_date_are_laid_from_the_epoch(
    unit: str, count: int, now: str, start: str, end: str
) -> None:
    window = Period(unit, count).window(t(now))
    assert window is not None
    assert (iso(window.start), iso(window.end)) == (start + "T00:00:00", end + "T00:00:00")


@pytest.mark.parametrize(
    ("unit", "count", "rule_start", "now", "start", "end"),
    [
        # the anchor is the start of the unit holding the rule's start date
        ("day", 1, "2026-06-10T23:59:59", "2026-06-10T23:59:59", "2026-06-10", "2026-06-11"),
        ("day", 2, "2026-06-11T00:00:00", "2026-06-12T23:00:00", "2026-06-11", "2026-06-13"),
        # a start on a Sunday at 00:00 anchors on that Sunday, on a Saturday the one before
        ("week", 2, "2026-06-21T00:00:00", "2026-07-04T23:59:59", "2026-06-21", "2026-07-05"),
        ("week", 2, "2026-06-20T23:59:59", "2026-06-20T23:59:59", "2026-06-14", "2026-06-28"),
        # months from the month of the start date, across a year end
        ("month", 5, "2026-10-31T23:59:59", "2027-02-28T23:59:59", "2026-10-01", "2027-03-01"),
        ("month", 5, "2026-10-01T00:00:00", "2027-03-01T00:00:00", "2027-03-01", "2027-08-01"),
    ],
)
def test_repeats_are_laid_from_the_unit_holding_the_start_date(
    unit: str, count: int, rule_start: str, now: str, start: str, end: str
) -> None:
    window = Period(unit, count, start=t(rule_start)).window(t(now))
    assert window is not None
    assert (iso(window.start), iso(window.end)) == (start + "T00:00:00", end + "T00:00:00")


def test_a_rule_is_in_force_from_its_start_to_its_end_instant_included() -> None:
    start, end = t("2026-06-10T12:00:00"), t("2026-06-20T00:00:00")
    for unit in (None, "day", "week", "month"):
        period = Period(unit, start=start, end=end)
        assert period.applies(start) and period.applies(end)
        assert not period.applies(start - 0.001) and not period.applies(end + 0.001)
        assert period.window(end) is not None and period.window(start) is not None
        assert period.window(end + 0.001) is None
    assert Period("day", end=end).applies(t("1971-01-01T00:00:00"))
    assert Period("day", start=start).applies(t("2099-01-01T00:00:00"))


def test_an_instant_a_fraction_before_the_first_of_a_month_is_in_the_month_before() -> None:
    first = t("2026-07-01T00:00:00")
    just_before = math.nextafter(first, 0)  # as a datetime, it rounds to 00:00:00.000000
    assert just_before < first
    window = Period("month").window(just_before)
    assert window is not None and iso(window.start) == "2026-06-01T00:00:00"
    assert window.end == first


def test_bad_periods_are_refused_with_what_is_wrong() -> None:
    with pytest.raises(ValueError) as unit:
        Period("year")
    assert str(unit.value) == "unit must be one of ('day', 'week', 'month'), not 'year'"
    with pytest.raises(ValueError) as count:
        Period("week", -1)
    assert str(count.value) == "unitCount must be at least 1"
    assert Period("week", 1).count == 1


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Kiritimati", "Asia/Kolkata"])
def test_windows_are_in_utc_whatever_the_local_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        for unit, now, start, end in [
            ("month", "2026-06-30T23:30:00", "2026-06-01", "2026-07-01"),
            ("month", "2026-07-01T00:30:00", "2026-07-01", "2026-08-01"),
            ("week", "2026-06-20T23:30:00", "2026-06-14", "2026-06-21"),
            ("day", "2026-06-17T00:30:00", "2026-06-17", "2026-06-18"),
        ]:
            window = Period(unit).window(t(now))
            assert window is not None
            assert (iso(window.start), iso(window.end)) == (
                start + "T00:00:00",
                end + "T00:00:00",
            )
        months = Period("month", 2, start=t("2026-05-01T00:30:00")).window(t("2026-06-30T23:30:00"))
        assert months is not None and iso(months.start) == "2026-05-01T00:00:00"
    finally:
        monkeypatch.undo()
        time.tzset()
