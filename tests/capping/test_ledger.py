"""The capping ledger on its own: the one view the engine reads, its decide loop and charging."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.capping.ledger import MAX_ATTEMPTS, Ledger
from nextoffer.capping.plans import CatalogPlan, Moment
from nextoffer.capping.store import Increment
from nextoffer.engine import Catalog, DecisionRequest, ScopeRequest, build_catalog, decide
from tests.capping.library import CAPPED, DECISION, OTHER, P1, P2, documents, rule

NOW = datetime(2026, 6, 17, 9, tzinfo=UTC).timestamp()
SUBJECT = "id:Email:ada@example.com"


def ledger_for(rules: list[dict], **kwargs) -> tuple[Ledger, Catalog]:  # type: ignore[no-untyped-def]
    catalog = build_catalog(documents(rules))
    return Ledger(CatalogPlan("sbx", catalog), Moment(NOW, SUBJECT), **kwargs), catalog


def choose(ledger: Ledger, catalog: Catalog, placement: str = P1) -> str:
    request = DecisionRequest([ScopeRequest(DECISION, placement)], now=datetime.now(UTC))
    request.capping = ledger
    [prop] = decide(catalog, request)
    return prop.options[0].offer.id if prop.options else prop.fallback.id  # type: ignore[union-attr]


rule_docs = st.lists(
    st.builds(
        lambda limit, per_profile, per_placement: rule(
            limit, per_profile=per_profile, per_placement=per_placement
        ),
        st.integers(1, 3),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@given(rules=rule_docs, data=st.data())
@settings(max_examples=200, deadline=None)
def test_the_view_caps_exactly_the_offers_with_a_counter_at_its_limit_or_marked(
    rules: list[dict], data: st.DataObject
) -> None:
    empty, catalog = ledger_for(rules)
    offer = catalog.offers[CAPPED]
    placement = data.draw(st.sampled_from([P1, P2]))
    counters = empty.counters(offer, placement)
    keys = [c.key for c in counters]
    counts = {k: data.draw(st.integers(0, 4)) for k in keys}
    marks = frozenset(data.draw(st.lists(st.sampled_from(keys))))
    ledger, _ = ledger_for(rules, counts=counts, marks=marks)
    expected = next(
        (c.rule.index for c in counters if c.key in marks or counts[c.key] >= c.rule.limit), None
    )
    assert ledger.capped(offer, placement) == expected
    assert ledger.capped(catalog.offers[OTHER], placement) is None  # no rules, never capped


@given(
    limits=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    used=st.lists(st.integers(0, 6), min_size=3, max_size=3),
    attempts=st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=4), max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_charging_never_lets_a_counter_pass_its_limit(
    limits: list[int], used: list[int], attempts: list[list[int]]
) -> None:
    """A batch's total caps: loaded from a store, charged profile by profile when they fit."""
    rules = [rule(limit) for limit in limits]
    ledger, catalog = ledger_for(rules)
    counters = ledger.counters(catalog.offers[CAPPED], P1)
    ledger.load(counters, used[: len(counters)])
    keys = [c.key for c in counters]
    charged: dict[str, int] = {}
    for picks in attempts:
        charges = ledger.by_key(keys[i % len(keys)] for i in picks)
        short = ledger.short(charges)
        if not short:
            ledger.charge(charges)
            for inc in charges:
                charged[inc.key] = charged.get(inc.key, 0) + 1
        else:  # every key left short would pass its limit
            for key in short:
                need = sum(1 for inc in charges if inc.key == key)
                limit = next(c.rule.limit for c in counters if c.key == key)
                assert ledger.count(key) + need > limit
    for counter, start in zip(counters, used, strict=False):
        limit = counter.rule.limit
        assert ledger.count(counter.key) == start + charged.get(counter.key, 0)
        assert charged.get(counter.key, 0) <= max(limit - start, 0)
        assert (counter.key in ledger.marks) == (ledger.count(counter.key) >= limit)
    assert {i.key: i.by for i in ledger.pending()} == {k: n for k, n in charged.items() if n}


def test_a_key_never_loaded_has_no_room() -> None:
    ledger, _ = ledger_for([rule(5)])
    assert ledger.short(ledger.by_key(["{sbx}|unknown|0|0|*|*"])) == ["{sbx}|unknown|0|0|*|*"]


def test_pending_charges_count_and_keep_their_window() -> None:
    ledger, catalog = ledger_for([rule(2, unit="day")])
    [counter] = ledger.counters(catalog.offers[CAPPED], P1)
    ledger.load([counter], [1])
    assert choose(ledger, catalog) == CAPPED
    ledger.charge(ledger.by_key([counter.key]))
    assert ledger.count(counter.key) == 2 and counter.key in ledger.marks
    assert choose(ledger, catalog) == OTHER
    assert ledger.pending() == [Increment(counter.key, 1, None, counter.ttl)]
    assert counter.ttl is not None and 0 < counter.ttl <= 86_400


def test_the_callers_counts_and_marks_are_never_written() -> None:
    counts: dict[str, int] = {}
    marks = frozenset({"elsewhere"})
    ledger, catalog = ledger_for([rule(1)], counts=counts, marks=marks)
    [counter] = ledger.counters(catalog.offers[CAPPED], P1)
    ledger.mark(counter.key)
    ledger.charge([counter.increment(1)])
    assert counts == {} and marks == {"elsewhere"}
    assert ledger.marks == {"elsewhere", counter.key}


def test_decide_marks_what_a_reservation_refuses_and_decides_again() -> None:
    ledger, catalog = ledger_for([rule(1, per_profile=True)])
    refused: list[list[Increment]] = []

    def reserve(increments: list[Increment]) -> str | None:
        refused.append(increments)
        return increments[0].key if len(refused) == 1 else None

    def run(view):  # type: ignore[no-untyped-def]
        request = DecisionRequest([ScopeRequest(DECISION, P1)], now=datetime.now(UTC))
        request.capping = view
        return decide(catalog, request)

    [prop] = ledger.decide(run, reserve)
    assert prop.options[0].offer.id == OTHER  # the refused counter is marked: the other offer
    assert len(refused) == 1  # the other offer has no rule: nothing to reserve


def test_after_every_attempt_is_refused_every_capped_offer_sits_out() -> None:
    ledger, catalog = ledger_for([rule(5)])
    calls: list[int] = []

    def run(view):  # type: ignore[no-untyped-def]
        calls.append(1)
        request = DecisionRequest([ScopeRequest(DECISION, P1)], now=datetime.now(UTC))
        request.capping = view
        return decide(catalog, request)

    def reserve(increments: list[Increment]) -> str | None:
        return "not-the-counter"  # a refusal that marks nothing useful

    [prop] = ledger.decide(run, reserve)
    assert prop.options[0].offer.id == OTHER
    assert len(calls) == MAX_ATTEMPTS + 1
    assert ledger.everything


def test_refused_checks_the_picks_taken_together_against_the_counts() -> None:
    ledger, catalog = ledger_for([rule(2, per_profile=True), rule(1, event="impression")])
    offer = catalog.offers[CAPPED]
    decision, impression = ledger.counters(offer, P1)
    ledger.counts = {decision.key: 1}
    twice = [decision.increment(1), decision.increment(1)]
    assert ledger.refused(twice) == decision.key  # 1 + 2 > 2
    assert ledger.refused(twice[:1]) is None
    ledger.counts = {impression.key: 1}
    assert ledger.refused([impression.increment(0)]) == impression.key  # a check: at its limit


def test_a_view_asked_first_caps_before_the_ledger_own_rules() -> None:
    total, catalog = ledger_for([rule(1)])
    [spent] = total.counters(catalog.offers[CAPPED], P1)
    total.mark(spent.key)
    ledger, _ = ledger_for([rule(9, per_profile=True)], before=total)
    assert ledger.capped(catalog.offers[CAPPED], P1) == 0
    ledger.everything = True
    total.marks = frozenset()
    assert ledger.capped(catalog.offers[CAPPED], P1) == 0
    assert ledger.capped(catalog.offers[OTHER], P1) is None


def test_every_counter_names_its_offer_and_placement_once() -> None:
    ledger, _ = ledger_for([rule(1), rule(2, per_placement=True)])
    found = [(o.id, p, c.rule.index) for o, p, c in ledger.every_counter()]
    assert found == [(CAPPED, None, 0), (CAPPED, P1, 1), (CAPPED, P2, 1)]


def test_scope_keys_and_describe() -> None:
    ledger, catalog = ledger_for([rule(3, unit="day")])
    [key] = ledger.scope_keys([ScopeRequest(DECISION, P1), ScopeRequest(DECISION, P2)])
    ledger.counts = {key: 3}
    assert choose(ledger, catalog) == OTHER
    assert ledger.describe(catalog.offers[CAPPED], P1, 0) == {
        "count": 3,
        "windowStart": "2026-06-17T00:00:00Z",
        "windowEnd": "2026-06-18T00:00:00Z",
    }
    assert ledger.describe(catalog.offers[CAPPED], P1, 7) == {}


def test_the_last_resort_caps_by_the_first_rule_in_force_and_never_a_rule_not_in_force() -> None:
    """After every reservation is refused, every counter that applies counts as exhausted:
    an offer is capped by its first rule in force; an offer whose rules exist but none is in
    force now (dates ahead, nobody to count for) is not capped, and nothing raises."""
    docs = documents([rule(1, startDate="2027-01-01T00:00:00Z"), rule(5), rule(2)])
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [
        rule(1, endDate="2026-01-01T00:00:00Z"),
        rule(1, per_profile=True),
    ]
    catalog = build_catalog(docs)
    ledger = Ledger(CatalogPlan("sbx", catalog), Moment(NOW, None))
    calls: list[int] = []

    def run(view):  # type: ignore[no-untyped-def]
        calls.append(1)
        request = DecisionRequest([ScopeRequest(DECISION, P1)], now=datetime.now(UTC))
        request.capping = view
        return decide(catalog, request)

    [prop] = ledger.decide(run, lambda increments: "refused")
    assert ledger.everything and len(calls) == MAX_ATTEMPTS + 1
    assert prop.options[0].offer.id == OTHER
    assert ledger.capped(catalog.offers[CAPPED], P1) == 1
    assert ledger.capped(catalog.offers[OTHER], P1) is None
    assert ledger.capped(catalog.offers[OTHER], P2) is None


def test_describe_a_rule_that_never_resets_or_is_not_in_force() -> None:
    ledger, catalog = ledger_for(
        [
            rule(3),
            rule(1, per_profile=True, unit="month"),
            rule(1, startDate="2027-01-01T00:00:00Z"),
        ]
    )
    offer = catalog.offers[CAPPED]
    [forever, monthly] = ledger.counters(offer, P1)
    ledger.counts = {forever.key: 2}
    ledger.charge([monthly.increment(1)])
    assert ledger.describe(offer, P1, 0) == {"count": 2}  # no window: it never ends
    assert ledger.describe(offer, P1, 1) == {
        "count": 1,
        "windowStart": "2026-06-01T00:00:00Z",
        "windowEnd": "2026-07-01T00:00:00Z",
    }
    assert ledger.describe(offer, P1, 2) == {}  # not in force now


def test_every_counter_goes_past_offers_without_rules() -> None:
    docs = documents([])  # the first offer has no rules
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [rule(1)]
    catalog = build_catalog(docs)
    assert list(catalog.offers)[:2] == [CAPPED, OTHER]
    ledger = Ledger(CatalogPlan("sbx", catalog), Moment(NOW, SUBJECT))
    assert [(o.id, p, c.rule.index) for o, p, c in ledger.every_counter()] == [(OTHER, None, 0)]


def test_describe_a_per_placement_rule_reads_the_placement_counter() -> None:
    ledger, catalog = ledger_for([rule(2, per_placement=True, unit="day")])
    offer = catalog.offers[CAPPED]
    [on_p1] = ledger.counters(offer, P1)
    [on_p2] = ledger.counters(offer, P2)
    ledger.counts = {on_p1.key: 1, on_p2.key: 2}
    assert ledger.describe(offer, P2, 0)["count"] == 2
    assert ledger.describe(offer, P1, 0)["count"] == 1


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata"])
def test_described_windows_are_in_utc_whatever_the_local_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        ledger, catalog = ledger_for([rule(3, unit="day")])
        assert ledger.describe(catalog.offers[CAPPED], P1, 0) == {
            "count": 0,
            "windowStart": "2026-06-17T00:00:00Z",
            "windowEnd": "2026-06-18T00:00:00Z",
        }
    finally:
        monkeypatch.undo()
        time.tzset()
