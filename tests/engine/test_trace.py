"""Explanations (`engine/trace.py`): the words and fields a capped candidate is explained with,
and the JSON shape of a scope's trace (`"nextoffer:explain": true`)."""

from __future__ import annotations

from nextoffer.engine.trace import CandidateTrace, Reason, ScopeTrace, capping_explanation


def test_a_rule_with_nothing_but_a_limit_is_a_total_decision_cap_that_never_resets() -> None:
    text, rule = capping_explanation({"limit": 2}, 0)
    assert text == (
        "capping rule 0 is exhausted: at most 2 decision events in total, "
        "across all placements, never resets"
    )
    assert rule == {
        "cappingRule": 0,
        "event": "decision",
        "entity": "total",
        "scope": "all placements",
        "limit": 2,
        "window": "never resets",
    }


def test_a_per_profile_per_placement_rule_that_repeats() -> None:
    doc = {
        "limit": 1,
        "event": "impression",
        "scope": "profile",
        "entity": "placement",
        "repeat": {"enabled": True, "unit": "week", "unitCount": 3},
    }
    text, rule = capping_explanation(doc, 2)
    assert text == (
        "capping rule 2 is exhausted: at most 1 impression events per profile, "
        "per placement, every 3 weeks"
    )
    assert (rule["entity"], rule["scope"], rule["window"]) == (
        "profile",
        "placement",
        "every 3 weeks",
    )


def test_one_unit_is_singular_and_the_unit_defaults_to_month() -> None:
    _, daily = capping_explanation({"limit": 1, "repeat": {"enabled": True, "unit": "day"}}, 0)
    assert daily["window"] == "every 1 day"
    _, monthly = capping_explanation({"limit": 1, "repeat": {"enabled": True, "unitCount": 2}}, 0)
    assert monthly["window"] == "every 2 months"
    _, off = capping_explanation({"limit": 1, "repeat": {"enabled": False, "unit": "day"}}, 0)
    assert off["window"] == "never resets"


def test_legacy_caps_name_the_field_they_came_from() -> None:
    _, rule = capping_explanation({"limit": 5, "legacy": "globalCap"}, 1)
    assert rule["legacy"] == "cappingConstraint.globalCap"
    _, plain = capping_explanation({"limit": 5}, 1)
    assert "legacy" not in plain


def test_the_counters_state_is_added_when_known() -> None:
    state = {"count": 4, "windowStart": "2026-06-01T00:00:00Z", "windowEnd": "2026-07-01T00:00:00Z"}
    text, rule = capping_explanation({"limit": 4}, 0, state)
    assert text.endswith(
        "never resets; 4 counted from 2026-06-01T00:00:00Z until 2026-07-01T00:00:00Z"
    )
    assert rule["count"] == 4 and rule["windowEnd"] == "2026-07-01T00:00:00Z"
    text, _ = capping_explanation({"limit": 4}, 0, {"count": 4})
    assert text.endswith("never resets; 4 counted")


def test_a_candidate_shows_only_the_fields_it_has() -> None:
    bare = CandidateTrace("o1", 0, 1, Reason.NOT_APPROVED)
    assert bare.as_dict() == {"offer": "o1", "criterion": 0, "group": 1, "reason": "not-approved"}
    full = CandidateTrace("o2", 2, 0, Reason.SELECTED, "why", 1.5, 1, {"id": "r"})
    assert full.as_dict() == {
        "offer": "o2",
        "criterion": 2,
        "group": 0,
        "reason": "selected",
        "detail": "why",
        "score": 1.5,
        "rank": 1,
        "rule": {"id": "r"},
    }
    # a score of 0 and an empty rule are still shown
    zero = CandidateTrace("o3", 0, 0, Reason.OUTRANKED, score=0.0, rank=0, rule={})
    assert zero.as_dict()["score"] == 0.0 and zero.as_dict()["rank"] == 0
    assert zero.as_dict()["rule"] == {}


def test_a_scope_trace_lists_its_candidates_and_a_note_when_there_is_one() -> None:
    scope = ScopeTrace("d", "p1", 2)
    assert scope.as_dict() == {
        "activity": "d",
        "placement": "p1",
        "itemCount": 2,
        "outcome": "options",
        "candidates": [],
    }
    scope.note = "no fallback"
    scope.outcome = "empty"
    scope.candidates = [CandidateTrace("o1", 0, 0, Reason.CAPPED)]
    assert scope.as_dict() == {
        "activity": "d",
        "placement": "p1",
        "itemCount": 2,
        "outcome": "empty",
        "note": "no fallback",
        "candidates": [{"offer": "o1", "criterion": 0, "group": 0, "reason": "capped"}],
    }
