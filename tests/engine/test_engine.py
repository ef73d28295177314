"""Decision semantics, case by case: constraints, dates, status, representations, fallbacks,
duplicates, item counts, ties, formulas and models. Each case also runs through the reference
engine (explain mode), which must agree."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from nextoffer.engine import (
    DecisionRequest,
    Reason,
    ScopeRequest,
    build_catalog,
    decide,
    scope_problems,
)
from nextoffer.engine.request import Nobody
from tests.engine.conftest import NOW
from tests.engine.library import Library, criterion

ISO_NOW = "2026-06-15T12:00:00.000+00:00"


def run(lib: Library, scopes: list[tuple[str, str, int | None]] | None = None, **kw: Any):
    """Decide with both engines; they must agree. Returns the fast engine's propositions."""
    catalog = build_catalog(lib.docs)
    requests = [ScopeRequest(a, p, n) for a, p, n in (scopes or [("d", "p1", None)])]
    assert scope_problems(catalog, requests) == []
    kw.setdefault("seed", 7)
    fast = decide(catalog, DecisionRequest(requests, now=NOW, **kw))
    slow = decide(catalog, DecisionRequest(requests, now=NOW, explain=True, **kw))
    assert [ids(p) for p in fast] == [ids(p) for p in slow]
    return fast, slow


def ids(prop) -> list[str]:
    if prop.options:
        return [c.offer.id for c in prop.options]
    return [f"fallback:{prop.fallback.id}"] if prop.fallback else []


def reason_of(prop, offer_id: str) -> Reason:
    return next(c.reason for c in prop.trace.candidates if c.offer_id == offer_id)


def base(item_count: int = 1) -> Library:
    lib = Library()
    lib.placement("p1", item_count=item_count)
    lib.fallback()
    return lib


def test_priority_wins_and_the_fallback_only_comes_when_nothing_is_left() -> None:
    lib = base(item_count=3)
    lib.offer("low", 1)
    lib.offer("high", 9)
    lib.collection("c", ["low", "high"])
    lib.decision("d", [criterion("c")])
    fast, _ = run(lib)
    assert ids(fast[0]) == ["high", "low"]  # two of three: never padded with the fallback
    assert fast[0].fallback is None


@pytest.mark.parametrize(
    ("status", "reason"), [("draft", Reason.NOT_APPROVED), ("archived", Reason.NOT_APPROVED)]
)
def test_only_approved_offers_are_candidates(status: str, reason: Reason) -> None:
    lib = base()
    lib.offer("o", 5, status=status)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")])
    fast, slow = run(lib)
    assert ids(fast[0]) == ["fallback:fb"]
    assert reason_of(slow[0], "o") is reason
    assert slow[0].trace.outcome == "fallback"


@pytest.mark.parametrize(
    ("start", "end", "eligible"),
    [
        (ISO_NOW, None, True),  # starts exactly now
        (None, ISO_NOW, True),  # ends exactly now
        ("2026-06-15T12:00:00.001+00:00", None, False),
        (None, "2026-06-15T11:59:59.999+00:00", False),
        ("2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z", True),
    ],
)
def test_offer_dates_are_inclusive(start: str | None, end: str | None, eligible: bool) -> None:
    lib = base()
    lib.offer("o", 5, start=start, end=end)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")])
    fast, slow = run(lib)
    assert ids(fast[0]) == (["o"] if eligible else ["fallback:fb"])
    if not eligible:
        assert reason_of(slow[0], "o") is Reason.OUTSIDE_DATES


def test_a_decision_outside_its_dates_gives_its_fallback() -> None:
    lib = base()
    lib.offer("o", 5)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")], end="2026-01-01T00:00:00Z")
    fast, slow = run(lib)
    assert ids(fast[0]) == ["fallback:fb"]
    assert "outside its start and end dates" in slow[0].trace.note


def test_an_offer_without_a_representation_for_the_placement_is_not_a_candidate() -> None:
    lib = base()
    lib.placement("p2")
    lib.offer("elsewhere", 9, ("p2",))
    lib.offer("here", 1, ("p1",))
    lib.collection("c", ["elsewhere", "here"])
    lib.decision("d", [criterion("c", placements=None)])
    fast, slow = run(lib)
    assert ids(fast[0]) == ["here"]
    assert reason_of(slow[0], "elsewhere") is Reason.NO_REPRESENTATION


def test_a_fallback_without_the_placement_gives_an_empty_proposition() -> None:
    lib = Library()
    lib.placement("p1")
    lib.placement("p2")
    lib.fallback(placements=("p2",))
    lib.collection("c", [])
    lib.decision("d", [criterion("c")])
    fast, slow = run(lib)
    assert fast[0].options == [] and fast[0].fallback is None
    assert slow[0].trace.outcome == "empty" and "no representation" in slow[0].trace.note


def test_eligibility_rules_on_offers_and_criteria() -> None:
    lib = base(item_count=2)
    lib.rule("gold", 'loyalty.tier = "gold"')
    lib.rule("adult", "person.age >= 18")
    lib.offer("gold-only", 9, rule="gold")
    lib.offer("anyone", 1)
    lib.collection("c", ["gold-only", "anyone"])
    lib.collection("adults", ["anyone"])
    lib.decision("d", [criterion("c", priority=2), criterion("adults", priority=1, rule="adult")])
    gold = Nobody(attributes={"loyalty": {"tier": "gold"}, "person": {"age": 30}})
    silver = Nobody(attributes={"loyalty": {"tier": "silver"}})
    assert ids(run(lib, subject=gold)[0][0]) == ["gold-only", "anyone"]
    fast, slow = run(lib, subject=silver)
    assert ids(fast[0]) == ["anyone"]
    trace = next(c for c in slow[0].trace.candidates if c.offer_id == "gold-only")
    assert trace.reason is Reason.INELIGIBLE
    assert trace.rule["id"] == "gold" and trace.rule["failed"] == 'loyalty.tier = "gold"'


def test_a_false_criterion_rule_drops_its_whole_collection() -> None:
    lib = base()
    lib.rule("adult", "person.age >= 18")
    lib.offer("o", 5)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c", rule="adult")])
    fast, slow = run(lib, subject=Nobody(attributes={"person": {"age": 12}}))
    assert ids(fast[0]) == ["fallback:fb"]
    assert reason_of(slow[0], "o") is Reason.CRITERION_INELIGIBLE
    assert "person.age >= 18" in next(c.detail for c in slow[0].trace.candidates)


@pytest.mark.parametrize(
    ("memberships", "any_of", "all_of"),
    [
        ({"a": "realized"}, True, False),
        ({"a": "existing", "b": "realized"}, True, True),
        ({"a": "exited", "b": "exited"}, False, False),
        ({}, False, False),
    ],
)
def test_audience_constraints(memberships: dict, any_of: bool, all_of: bool) -> None:
    lib = base(item_count=2)
    lib.offer("any", 2, segments=("a", "b"))
    lib.offer("all", 1, segments=("a", "b"), all_segments=True)
    lib.collection("c", ["any", "all"])
    lib.decision("d", [criterion("c")])
    fast, slow = run(lib, subject=Nobody(segments=memberships))
    expected = [o for o, ok in (("any", any_of), ("all", all_of)) if ok] or ["fallback:fb"]
    assert ids(fast[0]) == expected
    if not all_of:
        assert reason_of(slow[0], "all") is Reason.INELIGIBLE


def test_each_distinct_rule_is_evaluated_once_per_request() -> None:
    from nextoffer.engine.evaluation import Evaluation

    lib = base(item_count=5)
    lib.rule("r", "person.age >= 18")
    for n in range(5):
        lib.offer(f"o{n}", n, rule="r")
    lib.collection("c", [f"o{n}" for n in range(5)])
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    evaluated: list[str] = []
    original = Evaluation.satisfied

    def counting(self, constraint):
        if constraint.rule_id and constraint.rule_id not in self._rules:
            evaluated.append(constraint.rule_id)
        return original(self, constraint)

    Evaluation.satisfied = counting  # type: ignore[method-assign]
    try:
        request = DecisionRequest(
            [ScopeRequest("d", "p1")], now=NOW, subject=Nobody(attributes={"person": {"age": 40}})
        )
        assert len(decide(catalog, request)[0].options) == 5
    finally:
        Evaluation.satisfied = original  # type: ignore[method-assign]
    assert evaluated == ["r"]


def test_formula_scores_are_reported_and_rank_the_offers() -> None:
    lib = base(item_count=3)
    lib.formula(
        "by-city",
        "if(offer.characteristics.city = homeAddress.city, "
        "offer.rank.priority * 2, offer.rank.priority)",
    )
    lib.offer("paris", 10, characteristics={"city": "Paris"})
    lib.offer("rome", 15, characteristics={"city": "Rome"})
    lib.collection("c", ["paris", "rome"])
    lib.decision("d", [criterion("c", formula="by-city")])
    fast, _ = run(lib, subject=Nobody(attributes={"homeAddress": {"city": "Paris"}}))
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("paris", 20.0), ("rome", 15.0)]


def test_a_formula_that_gives_no_number_ranks_last() -> None:
    lib = base(item_count=2)
    lib.offer("weighted", 1, characteristics={"weight": "x"})
    lib.offer("plain", 2)
    lib.formula("g", "if(offer.rank.priority = 2, 5, null)")
    lib.collection("c", ["weighted", "plain"])
    lib.decision("d", [criterion("c", formula="g")])
    fast, slow = run(lib)
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("plain", 5.0), ("weighted", None)]
    assert "no number" in next(
        c.detail for c in slow[0].trace.candidates if c.offer_id == "weighted"
    )


def test_formulas_read_context_data_through_their_aliases() -> None:
    lib = base(item_count=2)
    lib.formula(
        "weather",
        "if(offer.characteristics.weather = boosted.weather, "
        "offer.rank.priority + 100, offer.rank.priority)",
        defined_on={
            "boosted": {"schema": {"altId": "_xdm.context.additionalParameters", "version": "1"}}
        },
    )
    lib.offer("sun", 1, characteristics={"weather": "hot"})
    lib.offer("rain", 50, characteristics={"weather": "cold"})
    lib.collection("c", ["sun", "rain"])
    lib.decision("d", [criterion("c", formula="weather")])
    context = {"_xdm.context.additionalParameters;version=1": {"xdm:weather": "hot"}}
    fast, _ = run(lib, context=context)
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("sun", 101.0), ("rain", 50.0)]


def test_models_without_a_scorer_serve_at_random_reproducibly() -> None:
    lib = base()
    for n in range(4):
        lib.offer(f"o{n}", n)
    lib.collection("c", [f"o{n}" for n in range(4)])
    lib.decision("d", [criterion("c", model="auto-1")])
    catalog = build_catalog(lib.docs)
    picks = Counter(
        decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, seed=s))[0]
        .options[0]
        .offer.id
        for s in range(400)
    )
    assert set(picks) == {"o0", "o1", "o2", "o3"} and min(picks.values()) > 60
    one = decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, seed=3))
    again = decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, seed=3))
    assert ids(one[0]) == ids(again[0])


def test_equal_priorities_are_broken_uniformly_at_random() -> None:
    lib = base()
    for n in range(3):
        lib.offer(f"tie{n}", 5)
    lib.offer("lower", 4)
    lib.collection("c", ["tie0", "tie1", "tie2", "lower"])
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    picks = Counter(
        decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW))[0].options[0].offer.id
        for _ in range(600)
    )
    assert set(picks) == {"tie0", "tie1", "tie2"}
    assert all(150 < n < 250 for n in picks.values()), picks


@pytest.mark.parametrize(
    ("flags", "placement_allows", "second"),
    [
        (None, (False, False), ["o2"]),
        (None, (True, False), ["o2"]),  # one placement forbids: the whole request forbids
        (None, (True, True), ["o1"]),
        ((True, True), (False, False), ["o1"]),  # the request wins over the placements
        ((False, True), (True, True), ["o1"]),  # same decision, so only placements matter
        ((True, False), (True, True), ["o2"]),
    ],
)
def test_duplicates_across_placements(flags, placement_allows, second) -> None:
    lib = Library()
    lib.placement("p1", allow_duplicates=placement_allows[0])
    lib.placement("p2", allow_duplicates=placement_allows[1])
    lib.fallback(placements=("p1", "p2"))
    lib.offer("o1", 9, ("p1", "p2"))
    lib.offer("o2", 1, ("p1", "p2"))
    lib.collection("c", ["o1", "o2"])
    lib.decision("d", [criterion("c", ("p1", "p2"))])
    fast, slow = run(lib, [("d", "p1", None), ("d", "p2", None)], allow_duplicates=flags)
    assert ids(fast[0]) == ["o1"] and ids(fast[1]) == second
    if second == ["o2"]:
        assert reason_of(slow[1], "o1") is Reason.DUPLICATE


@pytest.mark.parametrize(
    ("flags", "second"),
    [
        ((False, False), ["o2"]),
        ((True, False), ["o1"]),
        ((False, True), ["o2"]),
        ((True, True), ["o1"]),
    ],
)
def test_duplicates_across_activities(flags, second) -> None:
    lib = base()
    lib.offer("o1", 9)
    lib.offer("o2", 1)
    lib.collection("c", ["o1", "o2"])
    lib.decision("d1", [criterion("c")])
    lib.decision("d2", [criterion("c")])
    fast, _ = run(lib, [("d1", "p1", None), ("d2", "p1", None)], allow_duplicates=flags)
    assert ids(fast[1]) == second


def test_item_count_comes_from_the_scope_then_the_placement() -> None:
    lib = base(item_count=2)
    for n in range(5):
        lib.offer(f"o{n}", n)
    lib.collection("c", [f"o{n}" for n in range(5)])
    lib.decision("d", [criterion("c")])
    fast, _ = run(lib, [("d", "p1", None)])
    assert ids(fast[0]) == ["o4", "o3"]
    fast, _ = run(lib, [("d", "p1", 4)])
    assert ids(fast[0]) == ["o4", "o3", "o2", "o1"]


def test_collections_by_any_and_all_tags() -> None:
    lib = base(item_count=5)
    lib.offer("ab", 3, tags=("a", "b"))
    lib.offer("a", 2, tags=("a",))
    lib.offer("c", 1, tags=("c",))
    lib.collection("any", ["a", "c"], "any-tags")
    lib.collection("all", ["a", "b"], "all-tags")
    lib.decision("d", [criterion("any")])
    lib.decision("e", [criterion("all")])
    fast, _ = run(lib, [("d", "p1", None), ("e", "p1", None)], allow_duplicates=(True, True))
    assert ids(fast[0]) == ["ab", "a", "c"] and ids(fast[1]) == ["ab"]


def test_scope_problems_name_the_scope_and_field() -> None:
    lib = base()
    lib.placement("p2")
    lib.collection("c", [])
    lib.decision("d", [criterion("c")])
    lib.decision("draft", [criterion("c")], status="draft")
    catalog = build_catalog(lib.docs)
    problems = scope_problems(
        catalog,
        [
            ScopeRequest("nope", "p1"),
            ScopeRequest("d", "nope"),
            ScopeRequest("draft", "p1"),
            ScopeRequest("d", "p2"),
        ],
    )
    assert [(p.index, p.field, p.code, p.message) for p in problems] == [
        (0, "activity", "unknown-decision", "there is no decision nope"),
        (1, "placement", "unknown-placement", "there is no placement nope"),
        (2, "activity", "decision-not-live", "decision draft is draft; only live decisions decide"),
        (
            3,
            "placement",
            "placement-not-in-decision",
            "decision d has no criteria for placement p2",
        ),
    ]


def test_a_scope_can_have_two_problems_and_good_scopes_have_none() -> None:
    lib = base()
    lib.collection("c", [])
    lib.decision("d", [criterion("c")])
    lib.decision("draft", [criterion("c")], status="draft")
    catalog = build_catalog(lib.docs)
    problems = scope_problems(
        catalog, [ScopeRequest("d", "p1"), ScopeRequest("draft", "nope"), ScopeRequest("x", "y")]
    )
    assert [(p.index, p.field, p.code) for p in problems] == [
        (1, "activity", "decision-not-live"),
        (1, "placement", "unknown-placement"),
        (2, "activity", "unknown-decision"),
        (2, "placement", "unknown-placement"),
    ]
    assert scope_problems(catalog, [ScopeRequest("d", "p1")]) == []


def test_rules_that_do_not_compile_are_reported_and_never_satisfied() -> None:
    lib = base()
    lib.rule("broken", "person.age >=")
    lib.offer("o", 5, rule="broken")
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    assert catalog.problems and "broken" in catalog.problems[0]
    fast, slow = run(lib)
    assert ids(fast[0]) == ["fallback:fb"]
    assert "does not compile" in next(c.detail for c in slow[0].trace.candidates)


def test_time_moves_with_the_injected_clock() -> None:
    lib = base()
    lib.offer("o", 5, end="2026-06-15T13:00:00Z")
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    scope = [ScopeRequest("d", "p1")]
    assert decide(catalog, DecisionRequest(scope, now=NOW))[0].options
    later = NOW + timedelta(hours=2)
    assert not decide(catalog, DecisionRequest(scope, now=later))[0].options


def test_an_offer_in_two_static_criteria_of_one_group_is_ranked_once() -> None:
    # the walk over both criteria meets "both" twice; the second meeting must be skipped, not
    # end the walk: the scope still gets every distinct offer it has room for
    lib = base(item_count=4)
    lib.offer("both", 9)
    lib.offer("first", 5)
    lib.offer("second", 3)
    lib.offer("third", 1)
    lib.collection("c1", ["both", "first", "third"])
    lib.collection("c2", ["both", "second"])
    lib.decision("d", [criterion("c1"), criterion("c2")])
    fast, slow = run(lib)
    for prop in (fast, slow):
        assert ids(prop[0]) == ["both", "first", "second", "third"]
        assert [c.score for c in prop[0].options] == [None] * 4


def test_an_offer_in_two_static_criteria_does_not_take_two_places() -> None:
    lib = base(item_count=2)
    lib.offer("both", 9)
    lib.offer("other", 1)
    lib.collection("c1", ["both"])
    lib.collection("c2", ["both", "other"])
    lib.decision("d", [criterion("c1"), criterion("c2")])
    fast, slow = run(lib)
    assert ids(fast[0]) == ids(slow[0]) == ["both", "other"]


def test_offers_without_a_score_rank_after_negative_scores() -> None:
    lib = base(item_count=3)
    lib.formula("neg", "if(offer.rank.priority = 2, null, 0 - offer.rank.priority)")
    lib.offer("minus-one", 1)
    lib.offer("none", 2)
    lib.offer("minus-three", 3)
    lib.collection("c", ["minus-one", "none", "minus-three"])
    lib.decision("d", [criterion("c", formula="neg")])
    fast, slow = run(lib)
    expected = [("minus-one", -1.0), ("minus-three", -3.0), ("none", None)]
    assert [(c.offer.id, c.score) for c in fast[0].options] == expected
    assert [(c.offer.id, c.score) for c in slow[0].options] == expected


def test_a_negative_score_beats_no_score_for_the_last_place() -> None:
    lib = base(item_count=1)
    lib.formula("neg", "if(offer.rank.priority = 2, null, 0 - offer.rank.priority)")
    lib.offer("none", 2)
    lib.offer("minus-five", 5)
    lib.collection("c", ["none", "minus-five"])
    lib.decision("d", [criterion("c", formula="neg")])
    fast, slow = run(lib)
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("minus-five", -5.0)]
    assert [(c.offer.id, c.score) for c in slow[0].options] == [("minus-five", -5.0)]


@pytest.mark.parametrize("null_first", [True, False])
def test_an_offer_met_by_two_scored_criteria_keeps_its_real_score(null_first: bool) -> None:
    lib = base(item_count=2)
    lib.formula("blank", "if(offer.rank.priority > 100, 1, null)")
    lib.formula("real", "offer.rank.priority * 10")
    lib.offer("both", 1)
    lib.offer("other", 2)
    lib.collection("both", ["both"])
    lib.collection("other", ["other"])
    blank, real = criterion("both", formula="blank"), criterion("both", formula="real")
    lib.decision("d", [blank, real] if null_first else [real, blank])
    lib.decision("e", [criterion("other", formula="blank")])
    fast, slow = run(lib)
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("both", 10.0)]
    assert [(c.offer.id, c.score) for c in slow[0].options] == [("both", 10.0)]


@pytest.mark.parametrize("first", ["low", "high"])
def test_an_offer_met_by_two_scored_criteria_keeps_its_higher_score(first: str) -> None:
    lib = base(item_count=2)
    lib.formula("low", "offer.rank.priority")
    lib.formula("high", "offer.rank.priority * 10")
    lib.offer("both", 2)
    lib.offer("middle", 5)
    lib.collection("both", ["both"])
    lib.collection("middle", ["middle"])
    crits = {"low": criterion("both", formula="low"), "high": criterion("both", formula="high")}
    other = criterion("middle", formula="low")
    lib.decision("d", [crits[first], crits["low" if first == "high" else "high"], other])
    fast, slow = run(lib)
    expected = [("both", 20.0), ("middle", 5.0)]
    assert [(c.offer.id, c.score) for c in fast[0].options] == expected
    assert [(c.offer.id, c.score) for c in slow[0].options] == expected


@pytest.mark.parametrize(
    ("start", "end", "decides"),
    [
        ("2026-06-15T12:00:00.001+00:00", None, False),  # starts a millisecond from now
        ("2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z", False),
        (None, "2026-06-15T11:59:59.999+00:00", False),
        (ISO_NOW, None, True),  # starts exactly now
        (None, ISO_NOW, True),  # ends exactly now
        ("2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z", True),
    ],
)
def test_a_decision_decides_only_within_its_own_dates(
    start: str | None, end: str | None, decides: bool
) -> None:
    lib = base()
    lib.offer("o", 5)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")], start=start, end=end)
    fast, slow = run(lib)
    assert ids(fast[0]) == (["o"] if decides else ["fallback:fb"])
    if decides:
        assert slow[0].trace.outcome != "fallback"
    else:
        assert slow[0].trace.outcome == "fallback"
        assert "outside its start and end dates" in slow[0].trace.note


def test_a_decision_not_started_without_a_fallback_proposes_nothing() -> None:
    lib = base()
    lib.offer("o", 5)
    lib.collection("c", ["o"])
    lib.decision("d", [criterion("c")], fallback=None, start="2027-01-01T00:00:00Z")
    fast, slow = run(lib)
    for prop in (fast[0], slow[0]):
        assert prop.options == [] and prop.fallback is None
    assert slow[0].trace.outcome == "empty"
    assert "outside its start and end dates" in slow[0].trace.note


def test_each_proposition_names_its_own_scope() -> None:
    lib = Library()
    lib.placement("p1", item_count=2)
    lib.placement("p2", item_count=3)
    lib.fallback(placements=("p1", "p2"))
    lib.offer("o", 5, ("p1", "p2"))
    lib.collection("c", ["o"])
    lib.collection("empty", [])
    lib.decision("d", [criterion("c", ("p1", "p2"))])
    lib.decision("e", [criterion("empty", ("p1", "p2"))])
    scopes = [("d", "p1", None), ("e", "p2", 4), ("d", "p2", 1), ("e", "p1", None)]
    fast, slow = run(lib, scopes, allow_duplicates=(True, True))
    for props in (fast, slow):
        assert [(p.index, p.decision.id, p.placement.id, p.item_count) for p in props] == [
            (0, "d", "p1", 2),
            (1, "e", "p2", 4),
            (2, "d", "p2", 1),
            (3, "e", "p1", 2),
        ]
        assert [ids(p) for p in props] == [["o"], ["fallback:fb"], ["o"], ["fallback:fb"]]
        assert [p.fallback and p.fallback.id for p in props] == [None, "fb", None, "fb"]
    assert all(p.trace is None for p in fast)
    assert [p.trace.activity_id for p in slow] == ["d", "e", "d", "e"]
    assert [p.trace.placement_id for p in slow] == ["p1", "p2", "p2", "p1"]
    assert [p.trace.item_count for p in slow] == [2, 4, 1, 2]


class Asked:
    """A capping view that caps nothing and records which offers it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def capped(self, offer, placement_id: str) -> int | None:
        self.asked.append(offer.id)
        return None


@pytest.mark.parametrize(
    ("priorities", "item_count", "checked"),
    [
        ({"top": 9, "next": 5, "low": 1}, 1, ["top"]),
        ({"top": 9, "next": 5, "low": 1}, 2, ["next", "top"]),
        ({"top": 9, "tie": 9, "low": 1}, 1, ["tie", "top"]),  # a tie at the boundary: both
        ({"top": 9, "next": 5, "tie": 5, "low": 1}, 2, ["next", "tie", "top"]),
    ],
)
def test_the_fast_engine_stops_once_the_top_offers_are_certain(
    priorities: dict[str, int], item_count: int, checked: list[str]
) -> None:
    # DESIGN.md §4: candidates are checked in priority order and the walk stops as soon as the
    # scope's top itemCount are certain; offers below are never checked against capping
    lib = base(item_count=item_count)
    caps = [{"limit": 5}]
    for oid, priority in priorities.items():
        lib.offer(oid, priority, frequencyCappingConstraints=caps)
    lib.collection("c", list(priorities))
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    view = Asked()
    request = DecisionRequest([ScopeRequest("d", "p1")], now=NOW, capping=view, seed=1)
    props = decide(catalog, request)
    assert sorted(view.asked) == checked
    assert len(props[0].options) == item_count


def test_a_later_group_is_not_checked_once_the_scope_is_full() -> None:
    lib = base(item_count=1)
    caps = [{"limit": 5}]
    lib.offer("first", 1, frequencyCappingConstraints=caps)
    lib.offer("later", 9, frequencyCappingConstraints=caps)
    lib.collection("c1", ["first"])
    lib.collection("c2", ["later"])
    lib.decision("d", [criterion("c1", priority=2), criterion("c2", priority=1)])
    catalog = build_catalog(lib.docs)
    view = Asked()
    props = decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, capping=view))
    assert ids(props[0]) == ["first"] and view.asked == ["first"]


@pytest.mark.parametrize("seed", [-(2**100), -1, 0, 2**100])
def test_any_integer_seed_makes_ties_reproducible(seed: int) -> None:
    lib = base(item_count=3)
    for n in range(6):
        lib.offer(f"tie{n}", 5)
    lib.collection("c", [f"tie{n}" for n in range(6)])
    lib.decision("d", [criterion("c")])
    catalog = build_catalog(lib.docs)
    scope = [ScopeRequest("d", "p1")]
    first = decide(catalog, DecisionRequest(scope, now=NOW, seed=seed))
    again = decide(catalog, DecisionRequest(scope, now=NOW, seed=seed))
    assert ids(first[0]) == ids(again[0]) and len(ids(first[0])) == 3


def test_random_model_scores_lie_between_zero_and_one() -> None:
    lib = base(item_count=20)
    for n in range(20):
        lib.offer(f"o{n}", n)
    lib.collection("c", [f"o{n}" for n in range(20)])
    lib.decision("d", [criterion("c", model="auto-1")])
    catalog = build_catalog(lib.docs)
    scores = [
        c.score
        for seed in range(20)
        for c in decide(catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, seed=seed))[
            0
        ].options
    ]
    assert len(scores) == 400 and all(0.0 <= s < 1.0 for s in scores)
    assert scores == sorted(scores[:20], reverse=True) + scores[20:]  # ranked by that score


def test_explain_mode_decides_every_scope_exactly_as_the_fast_engine() -> None:
    # ties are broken per scope (by the scope's index) with the same keys in both engines
    lib = base(item_count=4)
    lib.formula("flat", "1")
    for n in range(6):
        lib.offer(f"o{n}", 5)
    lib.collection("c", [f"o{n}" for n in range(6)])
    lib.decision("static", [criterion("c")])
    lib.decision("formula", [criterion("c", formula="flat")])
    lib.decision("model", [criterion("c", model="auto-1")])
    scopes = [(d, "p1", None) for d in ("static", "formula", "model") * 2]
    catalog = build_catalog(lib.docs)
    requests = [ScopeRequest(a, p, n) for a, p, n in scopes]
    orders = set()
    for seed in range(15):
        common = dict(seed=seed, allow_duplicates=(True, True))
        fast = decide(catalog, DecisionRequest(requests, now=NOW, **common))
        slow = decide(catalog, DecisionRequest(requests, now=NOW, explain=True, **common))
        for f, s in zip(fast, slow, strict=True):
            assert [(c.offer.id, c.score) for c in f.options] == [
                (c.offer.id, c.score) for c in s.options
            ]
            orders.add(tuple(ids(f)))
    assert len(orders) > 40  # each scope and request draws its own order


@pytest.mark.parametrize(
    ("order", "score"), [(("static", "formula"), None), (("formula", "static"), 5.0)]
)
def test_an_equal_score_keeps_the_first_criterions(order: tuple[str, str], score) -> None:
    # within a group an offer keeps its higher score; on a tie the first criterion's stands
    # (a priority is reported as no score)
    lib = base(item_count=2)
    lib.formula("same", "offer.rank.priority")
    lib.offer("o", 5)
    lib.collection("c", ["o"])
    crits = {"static": criterion("c"), "formula": criterion("c", formula="same")}
    lib.decision("d", [crits[k] for k in order])
    fast, slow = run(lib)
    assert [(c.offer.id, c.score) for c in fast[0].options] == [("o", score)]
    assert [(c.offer.id, c.score) for c in slow[0].options] == [("o", score)]


def test_a_higher_priority_through_a_static_criterion_reports_no_score() -> None:
    lib = base(item_count=2)
    lib.formula("low", "offer.rank.priority - 10")
    lib.offer("o", 5)
    lib.offer("f", 1)
    lib.collection("c", ["o"])
    lib.collection("both", ["o", "f"])
    lib.decision("d", [criterion("c"), criterion("both", formula="low")])
    fast, slow = run(lib)
    expected = [("o", None), ("f", -9.0)]
    assert [(c.offer.id, c.score) for c in fast[0].options] == expected
    assert [(c.offer.id, c.score) for c in slow[0].options] == expected


class ByPlacement:
    """Caps the offers named for a placement; records every (offer, placement) asked."""

    def __init__(self, capped: dict[str, set[str]]) -> None:
        self.capped_in = capped
        self.asked: list[tuple[str, str]] = []

    def capped(self, offer, placement_id: str) -> int | None:
        self.asked.append((offer.id, placement_id))
        return 0 if offer.id in self.capped_in.get(placement_id, set()) else None


@pytest.mark.parametrize("ranking", ["static", "formula"])
def test_capping_is_asked_once_per_candidate_for_the_scopes_placement(ranking: str) -> None:
    lib = Library()
    lib.placement("p1", item_count=2)
    lib.placement("p2", item_count=2)
    lib.fallback(placements=("p1", "p2"))
    lib.formula("f", "offer.rank.priority")
    caps = [{"limit": 1}]
    lib.offer("o", 5, ("p1", "p2"), frequencyCappingConstraints=caps)
    lib.offer("other", 1, ("p1", "p2"), frequencyCappingConstraints=caps)
    lib.collection("c1", ["o"])
    lib.collection("c2", ["o", "other"])
    formula = "f" if ranking == "formula" else None
    lib.decision(
        "d",
        [criterion("c1", ("p1", "p2"), formula=formula), criterion("c2", ("p1", "p2"))],
    )
    catalog = build_catalog(lib.docs)
    view = ByPlacement({"p1": {"o"}})
    scopes = [ScopeRequest("d", "p1"), ScopeRequest("d", "p2")]
    request = DecisionRequest(scopes, now=NOW, capping=view, allow_duplicates=(True, True))
    props = decide(catalog, request)
    assert [ids(p) for p in props] == [["other"], ["o", "other"]]
    assert sorted(view.asked) == [("o", "p1"), ("o", "p2"), ("other", "p1"), ("other", "p2")]


def test_a_score_of_zero_ranks_below_a_positive_score() -> None:
    lib = base(item_count=3)
    lib.offer("zero", 1)
    lib.offer("half", 2)
    lib.offer("minus", 3)
    lib.formula("signed", "if(offer.rank.priority = 3, -1, if(offer.rank.priority = 1, 0, 0.5))")
    lib.collection("c", ["zero", "half", "minus"])
    lib.decision("d", [criterion("c", formula="signed")])
    fast, slow = run(lib)
    expected = [("half", 0.5), ("zero", 0.0), ("minus", -1.0)]
    assert [(c.offer.id, c.score) for c in fast[0].options] == expected
    assert [(c.offer.id, c.score) for c in slow[0].options] == expected


def test_propensities_of_priority_ties_and_deterministic_ranks() -> None:
    lib = base()
    for n in range(3):
        lib.offer(f"tie{n}", 5)
    lib.offer("top", 9)
    lib.collection("c", ["tie0", "tie1", "tie2", "top"])
    lib.placement("p2", item_count=2)
    lib.decision("d", [criterion("c", placements=("p1", "p2"))])
    catalog = build_catalog(lib.docs)
    prop = decide(catalog, DecisionRequest([ScopeRequest("d", "p1", 2)], now=NOW, seed=1))[0]
    assert [c.propensity for c in prop.options] == [1.0, pytest.approx(1 / 3)]
