"""Dates, relative time words and the four forms of ``occurs``, all against an injected now.

NOW is Sunday 2026-03-15 12:30 UTC (see conftest).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nextoffer.pql import compile_rule

from .conftest import NOW, both, holds, make_env


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def at(**delta: float) -> str:
    return iso(NOW + timedelta(**delta))


def day(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> str:
    return iso(datetime(y, m, d, h, mi, tzinfo=UTC))


# (rule about `ts`, value of ts, satisfied?)
OCCURS: list[tuple[str, str | None, bool]] = [
    # comparison form, after
    ("ts occurs <= 24 hours after now", at(hours=24), True),
    ("ts occurs <= 24 hours after now", at(hours=24, seconds=1), False),
    ("ts occurs <= 24 hours after now", at(seconds=-1), False),
    ("ts occurs < 24 hours after now", at(hours=24), False),
    ("ts occurs > 2 days after now", at(days=2, seconds=1), True),
    ("ts occurs > 2 days after now", at(days=2), False),
    ("ts occurs >= 2 days after now", at(days=2), True),
    ("ts occurs < 3 days from now", at(days=1), True),  # `from` reads as `after`
    # comparison form, before
    ("ts occurs < 3 days before now", at(days=-2), True),
    ("ts occurs < 3 days before now", at(days=-3), False),
    ("ts occurs < 3 days before now", at(hours=1), False),
    ("ts occurs <= 3 days before now", at(days=-3), True),
    ("ts occurs > 3 days before now", at(days=-4), True),
    ("ts occurs > 3 days before now", at(days=-2), False),
    ("ts occurs >= 3 days before now", at(days=-3), True),
    ("ts occurs <= 6 months before now", day(2025, 9, 15, 12, 30), True),
    ("ts occurs <= 6 months before now", day(2025, 9, 15, 12, 29), False),
    # `=` is the one-unit window n units away; `!=` is its complement
    ("ts occurs = 3 days before today", day(2026, 3, 12, 23), True),
    ("ts occurs = 3 days before today", day(2026, 3, 13), False),
    ("ts occurs != 3 days before today", day(2026, 3, 13), True),
    ("ts occurs = 1 month after date(2026, 1, 31)", day(2026, 2, 28, 5), True),
    # calendar-aware months: Jan 31 + 1 month is Feb 28
    ("ts occurs <= 1 month after date(2026, 1, 31)", day(2026, 2, 28), True),
    ("ts occurs <= 1 month after date(2026, 1, 31)", day(2026, 3, 1), False),
    ("ts occurs <= 1 year before date(2024, 2, 29)", day(2023, 2, 28), True),
    # direction form
    ("ts occurs before today", day(2026, 3, 14, 23, 59), True),
    ("ts occurs before today", day(2026, 3, 15), False),
    ("ts occurs after today", day(2026, 3, 16), True),
    ("ts occurs after today", day(2026, 3, 15, 23, 59), False),
    ("ts occurs before now", at(seconds=-1), True),
    ("ts occurs after now", at(seconds=1), True),
    ("ts occurs after now", at(), False),
    ("ts occurs before date(2026, 1, 1)", day(2025, 12, 31, 23), True),
    ("ts occurs after date(2026, 1, 1)", day(2026, 1, 1, 23), False),  # after the whole day
    # on form
    ("ts occurs today", day(2026, 3, 15, 0, 1), True),
    ("ts occurs on today", day(2026, 3, 16), False),
    ("ts occurs yesterday", day(2026, 3, 14, 8), True),
    ("ts occurs on tomorrow", day(2026, 3, 16, 8), True),
    ("ts occurs on date(2026, 3, 1)", day(2026, 3, 1, 18), True),
    ("ts occurs on date(2026, 3, 1)", day(2026, 3, 2), False),
    ("ts occurs now", at(hours=-3), True),  # a point in time: its calendar day
    ("ts occurs this month", day(2026, 3, 1), True),
    ("ts occurs this month", day(2026, 4, 1), False),
    ("ts occurs last month", day(2026, 2, 28, 23), True),
    ("ts occurs last month", day(2026, 3, 1), False),
    ("ts occurs next month", day(2026, 4, 30), True),
    ("ts occurs this week", day(2026, 3, 15), True),  # weeks start on Sunday
    ("ts occurs this week", day(2026, 3, 14, 23), False),
    ("ts occurs last week", day(2026, 3, 8), True),
    ("ts occurs this year", day(2026, 12, 31, 23), True),
    ("ts occurs last year", day(2025, 6, 1), True),
    ("ts occurs last 7 days", at(days=-6, hours=-23), True),  # rolling window up to now
    ("ts occurs last 7 days", at(days=-7, seconds=-1), False),
    ("ts occurs last 7 days", at(seconds=1), False),
    ("ts occurs next 2 hours", at(hours=1), True),
    ("ts occurs this decade", day(2020, 1, 1), True),
    ("ts occurs last century", day(1950, 1, 1), True),
    ("ts occurs this millennium", day(2001, 1, 1), True),
    ("ts occurs last 90 minutes", at(minutes=-89), True),
    ("ts occurs last 500 milliseconds", at(milliseconds=-400), True),
    # between form: both ends included; a day-valued end covers its whole day
    ("ts occurs between date(2026, 3, 1) and date(2026, 3, 10)", day(2026, 3, 10, 23), True),
    ("ts occurs between date(2026, 3, 1) and date(2026, 3, 10)", day(2026, 3, 11), False),
    ("ts occurs between date(2026, 3, 1) and date(2026, 3, 10)", day(2026, 2, 28, 23), False),
    ("ts occurs between yesterday and today", day(2026, 3, 14), True),
    ("ts occurs between last month and now", day(2026, 2, 1), True),
    ('ts occurs between "2026-03-01T00:00:00Z" and now', at(), True),
    # offsets and date-only strings are instants
    ("ts occurs today", "2026-03-15T01:00:00+02:00", False),  # 2026-03-14 23:00 UTC
    ("ts occurs today", "2026-03-15", True),
    ("ts occurs today", "2026-03-15T10:00:00", True),  # no offset: UTC
    # missing or malformed timestamps never match
    ("ts occurs today", None, False),
    ("ts occurs before now", "not a date", False),
    ("ts occurs <= 3 days before now", "12345", False),
    ("ts occurs between date(2026, 3, 1) and now", None, False),
]


@pytest.mark.parametrize(
    ("rule", "ts", "expected"), OCCURS, ids=[f"{r} @ {t}" for r, t, _ in OCCURS]
)
def test_occurs(rule: str, ts: str | None, expected: bool) -> None:
    assert holds(rule, profile={"ts": ts}) is expected


def test_datetime_objects_work_like_strings() -> None:
    aware = datetime(2026, 3, 15, 9, 0, tzinfo=timezone(timedelta(hours=-5)))  # 14:00 UTC
    assert holds("ts occurs today", profile={"ts": aware})
    assert holds("ts occurs < 2 hours after now", profile={"ts": aware})
    assert holds("ts occurs today", profile={"ts": datetime(2026, 3, 15, 1)})  # naive: UTC


def test_time_comes_only_from_the_injected_clock() -> None:
    rule = compile_rule("ts occurs today")
    profile = {"ts": "2030-01-01T08:00:00Z"}
    assert not rule.test(make_env(profile))
    assert rule.test(make_env(profile, now=datetime(2030, 1, 1, 20, tzinfo=UTC)))
    naive_now = make_env(profile, now=datetime(2030, 1, 1, 20))  # naive clocks read as UTC
    assert rule.test(naive_now)


def test_current_date_functions() -> None:
    assert both("currentMonth()", kind="formula") == 3
    assert both("currentYear()", kind="formula") == 2026
    assert both("currentDayOfMonth()", kind="formula") == 15
    assert holds("birthMonth = currentMonth()", profile={"birthMonth": 3})


def test_date_parts() -> None:
    p = {"person": {"birthDate": "1990-06-15"}, "ts": "2026-01-02T23:30:00-02:00"}
    assert both("person.birthDate.getMonth()", kind="formula", profile=p) == 6
    assert both("person.birthDate.getYear()", kind="formula", profile=p) == 1990
    assert both("person.birthDate.getDayOfMonth()", kind="formula", profile=p) == 15
    assert both("ts.getDayOfMonth()", kind="formula", profile=p) == 3  # in UTC
    assert holds("person.birthDate.getYear() in [1989, 1990, 1991]", profile=p)
    assert both("missing.getMonth()", kind="formula") is None
    assert both("date(2024, 2, 29).getDayOfMonth()", kind="formula") == 29


def test_time_words_as_values() -> None:
    p = {"ts": at(hours=-1)}
    assert holds("ts < now", profile=p)
    assert holds("ts > today", profile=p)
    assert holds("ts > yesterday and ts < tomorrow", profile=p)
    assert both("today", kind="expression") == datetime(2026, 3, 15, tzinfo=UTC)
    assert both("now", kind="expression") == NOW


def test_events_by_time() -> None:
    events = [
        {"eventType": "commerce.purchases", "timestamp": at(days=-1)},
        {"eventType": "commerce.purchases", "timestamp": at(days=-10)},
        {"eventType": "web.pageViews", "timestamp": at(days=-2)},
    ]
    rule = (
        '(select e from xEvent where e.eventType = "commerce.purchases" '
        "and e.timestamp occurs last 7 days).count() >= 1"
    )
    assert holds(rule, events=events)
    assert not holds(rule, events=events[1:])
    assert holds("exists e from xEvent where e.timestamp occurs yesterday", events=events)
    assert holds("forall e from xEvent where e.timestamp occurs before today", events=events)


# `occurs` against a date-time literal with a time of day: the operand is that instant (only
# `date(y,m,d)` stands for a whole day), offsets honoured.
NOON_TO_SIX = 'ts occurs between "2026-03-10T12:00:00Z" and "2026-03-10T18:00:00Z"'
OCCURS_AT_A_TIME: list[tuple[str, str | None, bool]] = [
    ('ts occurs before "2026-03-10T12:00:00Z"', day(2026, 3, 10, 8), True),
    ('ts occurs before "2026-03-10T12:00:00Z"', "2026-03-10T11:59:59.999Z", True),
    ('ts occurs before "2026-03-10T12:00:00Z"', day(2026, 3, 10, 12), False),
    ('ts occurs before "2026-03-10T12:00:00Z"', day(2026, 3, 10, 13), False),
    ('ts occurs before "2026-03-10T12:00:00+02:00"', day(2026, 3, 10, 9, 59), True),
    ('ts occurs before "2026-03-10T12:00:00+02:00"', day(2026, 3, 10, 10, 1), False),
    ('ts occurs after "2026-03-10T12:00:00Z"', "2026-03-10T12:00:00.001Z", True),
    ('ts occurs after "2026-03-10T12:00:00Z"', day(2026, 3, 10, 13), True),
    ('ts occurs after "2026-03-10T12:00:00Z"', day(2026, 3, 10, 12), False),
    ('ts occurs after "2026-03-10T12:00:00Z"', day(2026, 3, 10, 11), False),
    ('ts occurs after "2026-03-10"', day(2026, 3, 10, 11), True),  # a date string: its midnight
    ('ts occurs on "2026-03-10T12:00:00Z"', day(2026, 3, 10), True),  # an instant: its UTC day
    ('ts occurs on "2026-03-10T12:00:00Z"', day(2026, 3, 10, 23, 59), True),
    ('ts occurs on "2026-03-10T12:00:00Z"', day(2026, 3, 11), False),
    (NOON_TO_SIX, day(2026, 3, 10, 12), True),
    (NOON_TO_SIX, day(2026, 3, 10, 18), True),
    (NOON_TO_SIX, day(2026, 3, 10, 11, 59), False),
    (NOON_TO_SIX, day(2026, 3, 10, 18, 1), False),
    ('ts occurs < 2 hours before "2026-03-10T12:00:00Z"', day(2026, 3, 10, 10, 30), True),
    ('ts occurs < 2 hours before "2026-03-10T12:00:00Z"', day(2026, 3, 10, 9, 59), False),
    ('ts occurs <= 2 hours after "2026-03-10T12:00:00Z"', day(2026, 3, 10, 14), True),
    ('ts occurs <= 2 hours after "2026-03-10T12:00:00Z"', day(2026, 3, 10, 11), False),
    ('ts occurs = 1 day after "2026-03-10T12:00:00Z"', day(2026, 3, 11, 13), True),
    ('ts occurs = 1 day after "2026-03-10T12:00:00Z"', day(2026, 3, 11, 11), False),
    ('ts occurs before "2026-03-10T12:00:00Z"', None, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "ts", "expected"),
    OCCURS_AT_A_TIME,
    ids=[f"{r} @ {t}" for r, t, _ in OCCURS_AT_A_TIME],
)
def test_occurs_at_a_time_of_day(rule: str, ts: str | None, expected: bool) -> None:
    assert holds(rule, profile={"ts": ts}) is expected
    as_object = datetime.fromisoformat(ts) if ts is not None else None
    assert holds(rule, profile={"ts": as_object}) is expected


def test_occurs_with_paths_as_operands() -> None:
    """An operand that is data (a path) is an instant, like a date-time literal."""
    profile = {"ts": day(2026, 3, 10, 8), "cut": "2026-03-10T12:00:00Z", "end": day(2026, 3, 10, 9)}
    assert holds("ts occurs before cut", profile=profile)
    assert not holds("ts occurs after cut", profile=profile)
    assert holds("ts occurs on cut", profile=profile)  # an instant: its UTC day
    assert holds("ts occurs between ts and end", profile=profile)
    assert not holds("end occurs between cut and cut", profile=profile)
    assert holds("ts occurs < 5 hours before cut", profile=profile)
    assert not holds("ts occurs < 3 hours before cut", profile=profile)
    assert not holds("ts occurs before missing", profile=profile)
