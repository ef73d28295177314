"""Capping rules compiled from their documents (`capping.rules`): what each field means, and
which documents give no rule (then the rule never caps)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nextoffer.capping.rules import CappingRule, EventKind, compile_rule, compile_rules
from nextoffer.capping.windows import Period
from tests.capping.library import rule

NOW = datetime(2026, 6, 17, 9, tzinfo=UTC)


def compiled(doc: dict[str, Any], index: int = 0) -> CappingRule:
    out = compile_rule(index, doc)
    assert out is not None
    return out


def test_a_rule_with_only_a_limit_counts_decisions_in_total_forever() -> None:
    assert compiled({"limit": 3}, 4) == CappingRule(
        index=4,
        event=EventKind.DECISION,
        per_profile=False,
        per_placement=False,
        limit=3,
        period=Period(None, 1, None, None),
    )


def test_every_field_of_a_rule() -> None:
    doc = rule(
        2,
        event="click",
        per_profile=True,
        per_placement=True,
        unit="week",
        count=3,
        startDate="2026-06-01T00:00:00Z",
        endDate="2026-07-01T12:00:00Z",
    )
    assert compiled(doc) == CappingRule(
        index=0,
        event=EventKind.CLICK,
        per_profile=True,
        per_placement=True,
        limit=2,
        period=Period(
            "week",
            3,
            datetime(2026, 6, 1, tzinfo=UTC).timestamp(),
            datetime(2026, 7, 1, 12, tzinfo=UTC).timestamp(),
        ),
    )
    scoped = compiled({"limit": 1, "scope": "global", "entity": "offer"})
    assert (scoped.per_profile, scoped.per_placement) == (False, False)


@pytest.mark.parametrize(
    ("repeat", "unit", "count"),
    [
        ({"enabled": True, "unit": "day"}, "day", 1),
        ({"enabled": True}, "month", 1),  # the documented default unit
        ({"enabled": True, "unit": "day", "unitCount": 0}, "day", 1),  # (the library refuses 0)
        ({"enabled": True, "unit": "day", "unitCount": -2}, None, None),  # no rule
        ({"enabled": True, "unit": "week", "unitCount": "2"}, "week", 2),
        ({"enabled": True, "unit": "day", "unitCount": None}, "day", 1),
        ({"enabled": False, "unit": "day", "unitCount": 5}, None, 5),  # never resets
        ({"unit": "day"}, None, 1),
        (None, None, 1),
    ],
)
def test_repeat(repeat: dict | None, unit: str | None, count: int | None) -> None:
    doc: dict[str, Any] = {"limit": 1, "repeat": repeat}
    out = compile_rule(0, doc)
    if count is None:
        assert out is None
    else:
        assert out is not None and (out.period.unit, out.period.count) == (unit, count)


@pytest.mark.parametrize(
    "doc",
    [
        {"limit": 1, "enabled": False},
        {"limit": 0},
        {"limit": -1},
        {"limit": True},  # a boolean is not a limit
        {"limit": 1.5},
        {"limit": "3"},
        {},
        {"limit": 1, "event": "purchase"},
        {"limit": 1, "repeat": {"enabled": True, "unit": "year"}},
        {"limit": 1, "repeat": {"enabled": True, "unit": "day", "unitCount": "many"}},
        {"limit": 1, "repeat": {"enabled": True, "unit": "day", "unitCount": [2]}},
    ],
    ids=repr,
)
def test_documents_that_give_no_rule(doc: dict) -> None:
    assert compile_rule(0, doc) is None


def test_enabled_and_event_defaults() -> None:
    assert compiled({"limit": 1, "enabled": True}).event is EventKind.DECISION
    assert compiled({"limit": 1, "event": None}).event is EventKind.DECISION
    assert compiled({"limit": 1, "event": "impression"}).event is EventKind.IMPRESSION


def test_rules_keep_their_index_in_the_list() -> None:
    rules = compile_rules(
        [{"limit": 0}, {"limit": 2}, {"limit": 1, "enabled": False}, {"limit": 5}]
    )
    assert [(r.index, r.limit) for r in rules] == [(1, 2), (3, 5)]
    assert compile_rules([]) == ()


def test_a_custom_rule_matches_events_by_its_condition() -> None:
    checkout = compiled(rule(1, event="custom", condition='eventType = "commerce.checkout"'))
    assert checkout.matches({"eventType": "commerce.checkout"}, NOW)
    assert not checkout.matches({"eventType": "web.pageView"}, NOW)
    # the event is also `xEvent`, the only event there is
    as_x = compiled(
        rule(
            1,
            event="custom",
            condition='(select e from xEvent where e.eventType = "commerce.checkout").count() = 1',
        )
    )
    assert as_x.matches({"eventType": "commerce.checkout"}, NOW)
    assert not as_x.matches({"eventType": "web.pageView"}, NOW)
    # the condition sees the time the event is counted at
    recent = compiled(rule(1, event="custom", condition="timestamp occurs <= 1 days before now"))
    assert recent.matches({"timestamp": "2026-06-17T08:00:00Z"}, NOW)
    assert not recent.matches(
        {"timestamp": "2026-06-17T08:00:00Z"}, datetime(2026, 7, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "condition",
    [None, {"type": "PQL"}, {"value": 3}, {"value": "eventType = = 1"}],
    ids=["none", "no-value", "not-text", "not-pql"],
)
def test_a_custom_rule_without_a_usable_condition_never_matches(condition: Any) -> None:
    doc: dict[str, Any] = {"limit": 1, "event": "custom"}
    if condition is not None:
        doc["eventCondition"] = condition
    out = compiled(doc)
    assert out.condition is None
    assert not out.matches({"eventType": "commerce.checkout"}, NOW)
    assert not out.matches({}, NOW)


def test_only_custom_rules_have_a_condition() -> None:
    doc = rule(1, event="impression", condition='eventType = "x"')
    assert compiled(doc).condition is None
