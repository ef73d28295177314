"""Capping semantics through the gate and the engine, with an injected clock.

Every combination of event kind x placement scope x entity x repeat unit, at a window edge
(the last millisecond of a window against the first of the next), on every counter store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.capping.keys import capping_subject
from nextoffer.capping.memory_store import MemoryStore
from nextoffer.capping.store import CounterStore
from nextoffer.decisioning.capping_gate import CappingGate, Feedback
from nextoffer.engine import Catalog, DecisionRequest, ScopeRequest, build_catalog, decide
from tests.capping.library import CAPPED, DECISION, OTHER, P1, P2, documents, rule

ADA = capping_subject(None, [("Email", "ada@example.com")])
BOB = capping_subject("profile-bob", [("Email", "bob@example.com")])
MS = timedelta(milliseconds=1)

EDGES = {
    # the last millisecond of a window: the next instant opens a new one
    "day": datetime(2028, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),  # leap day -> March 1st
    "week": datetime(2026, 6, 20, 23, 59, 59, 999000, tzinfo=UTC),  # Saturday -> Sunday
    "month": datetime(2026, 4, 30, 23, 59, 59, 999000, tzinfo=UTC),  # month end
}
CHECKOUT = {"eventType": "commerce.checkout", "commerce": {"checkouts": {"value": 1}}}


def choose(
    gate: CappingGate,
    catalog: Catalog,
    placement: str,
    subject: str | None,
    now: datetime,
    *,
    count: bool = True,
    explain: bool = False,
) -> str:
    """The offer (or fallback) one decision proposes."""
    request = DecisionRequest([ScopeRequest(DECISION, placement)], now=now, explain=explain)

    def run(view):  # type: ignore[no-untyped-def]
        request.capping = view
        return decide(catalog, request)

    [prop] = gate.decide("sbx", catalog, request, run, subject=subject, count=count)
    return prop.options[0].offer.id if prop.options else prop.fallback.id  # type: ignore[union-attr]


def feed(gate: CappingGate, catalog: Catalog, kind: str, placement: str, subject, now) -> int:
    if kind == "custom":
        fb = Feedback("custom", None, placement, CHECKOUT)
    else:
        fb = Feedback(kind, CAPPED, placement)
    return gate.count_events("sbx", catalog, subject, [fb], now=now)


@pytest.mark.parametrize("unit", ["day", "week", "month"])
@pytest.mark.parametrize("per_profile", [True, False], ids=["profile", "total"])
@pytest.mark.parametrize("per_placement", [True, False], ids=["placement", "all-placements"])
@pytest.mark.parametrize("event", ["decision", "impression", "click", "custom"])
def test_capping_combination_at_a_window_edge(
    store: CounterStore, event: str, per_placement: bool, per_profile: bool, unit: str
) -> None:
    condition = "commerce.checkouts.value > 0" if event == "custom" else None
    catalog = build_catalog(
        documents(
            [
                rule(
                    2,
                    event=event,
                    per_profile=per_profile,
                    per_placement=per_placement,
                    unit=unit,
                    condition=condition,
                )
            ]
        )
    )
    gate = CappingGate(store)
    last = EDGES[unit]
    start = last - timedelta(hours=5)
    if event == "decision":
        assert choose(gate, catalog, P1, ADA, start) == CAPPED
        assert choose(gate, catalog, P1, ADA, start) == CAPPED
    else:
        # decisions never move impression, click or custom counters
        for _ in range(4):
            assert choose(gate, catalog, P1, ADA, start) == CAPPED
        assert feed(gate, catalog, event, P1, ADA, start) == 1
        assert feed(gate, catalog, event, P1, ADA, start) == 1
    # the counter of (Ada, P1) is at its limit until the window's last millisecond
    assert choose(gate, catalog, P1, ADA, last, count=False) == OTHER
    assert choose(gate, catalog, P1, ADA, last) == OTHER
    # another placement shares the counter only across placements
    expected = CAPPED if per_placement else OTHER
    assert choose(gate, catalog, P2, ADA, last, count=False) == expected
    # another profile shares it only in total
    expected = CAPPED if per_profile else OTHER
    assert choose(gate, catalog, P1, BOB, last, count=False) == expected
    # at 00:00 UTC a new window starts from zero
    assert choose(gate, catalog, P1, ADA, last + MS, count=False) == CAPPED
    assert choose(gate, catalog, P1, ADA, last + MS) == CAPPED


def test_rules_apply_inside_their_own_dates_only(store: CounterStore) -> None:
    catalog = build_catalog(
        documents(
            [rule(1, startDate="2026-06-10T00:00:00Z", endDate="2026-06-20T00:00:00Z", unit="day")]
        )
    )
    gate = CappingGate(store)
    before = datetime(2026, 6, 9, 12, tzinfo=UTC)
    inside = datetime(2026, 6, 15, 12, tzinfo=UTC)
    after = datetime(2026, 6, 20, 0, 0, 0, 1000, tzinfo=UTC)
    for _ in range(3):  # before the rule starts nothing is counted or capped
        assert choose(gate, catalog, P1, ADA, before) == CAPPED
    assert choose(gate, catalog, P1, ADA, inside) == CAPPED
    assert choose(gate, catalog, P1, ADA, inside) == OTHER
    assert choose(gate, catalog, P1, ADA, after) == CAPPED
    assert choose(gate, catalog, P1, ADA, after) == CAPPED


def test_the_first_exhausted_rule_is_the_one_reported(store: CounterStore) -> None:
    catalog = build_catalog(
        documents([rule(5, unit="week"), rule(1, per_profile=True, unit="day", event="click")])
    )
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    feed(gate, catalog, "click", P1, ADA, now)
    request = DecisionRequest([ScopeRequest(DECISION, P1)], now=now, explain=True)

    def run(view):  # type: ignore[no-untyped-def]
        request.capping = view
        return decide(catalog, request)

    [prop] = gate.decide("sbx", catalog, request, run, subject=ADA, count=False)
    assert prop.trace is not None
    [trace] = [c for c in prop.trace.candidates if c.offer_id == CAPPED]
    assert trace.reason == "capped"
    assert trace.rule == {
        "cappingRule": 1,
        "event": "click",
        "entity": "profile",
        "scope": "all placements",
        "limit": 1,
        "window": "every 1 day",
        "count": 1,
        "windowStart": "2026-06-17T00:00:00Z",
        "windowEnd": "2026-06-18T00:00:00Z",
    }
    assert trace.detail == (
        "capping rule 1 is exhausted: at most 1 click events per profile, across all "
        "placements, every 1 day; 1 counted from 2026-06-17T00:00:00Z until 2026-06-18T00:00:00Z"
    )


def test_legacy_caps_are_decision_rules_that_never_reset(store: CounterStore) -> None:
    catalog = build_catalog(documents([], legacy={"globalCap": 3, "profileCap": 1}))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    assert choose(gate, catalog, P1, ADA, now) == CAPPED
    assert choose(gate, catalog, P2, ADA, now + timedelta(days=400)) == OTHER  # profileCap 1
    assert choose(gate, catalog, P1, BOB, now) == CAPPED
    assert choose(gate, catalog, P1, "id:Email:cy", now) == CAPPED
    assert choose(gate, catalog, P1, "id:Email:di", now) == OTHER  # globalCap 3
    assert catalog.offers[CAPPED].capping[0]["legacy"] == "globalCap"


def test_a_profile_is_counted_across_its_identities() -> None:
    # the stored profile wins over whichever identity the call names
    assert capping_subject("p-1", [("Email", "a@x"), ("ECID", "123")]) == "pid:p-1"
    assert capping_subject("p-1", [("ECID", "123")]) == "pid:p-1"
    assert capping_subject(None, [("ECID", "123"), ("Email", "a@x")]) == "id:ECID:123"
    assert capping_subject(None, []) is None


def test_per_profile_rules_need_somebody(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(1, per_profile=True)]))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    for _ in range(3):  # nobody to count for: the rule cannot apply
        assert choose(gate, catalog, P1, None, now) == CAPPED


def test_dry_runs_and_explanations_check_and_never_count(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(2)]))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    for _ in range(5):
        assert choose(gate, catalog, P1, ADA, now, count=False) == CAPPED
        assert choose(gate, catalog, P1, ADA, now, count=False, explain=True) == CAPPED
    assert choose(gate, catalog, P1, ADA, now) == CAPPED
    assert choose(gate, catalog, P1, ADA, now) == CAPPED
    assert choose(gate, catalog, P1, ADA, now, count=False) == OTHER
    assert choose(gate, catalog, P1, ADA, now, count=False, explain=True) == OTHER


def test_custom_events_count_only_when_their_condition_matches(store: CounterStore) -> None:
    catalog = build_catalog(
        documents([rule(1, event="custom", condition='eventType = "commerce.checkout"')])
    )
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    browse = Feedback("custom", None, None, {"eventType": "web.webpagedetails.pageViews"})
    assert gate.count_events("sbx", catalog, ADA, [browse], now=now) == 0
    assert choose(gate, catalog, P1, ADA, now) == CAPPED
    checkout = Feedback("custom", CAPPED, None, CHECKOUT)
    assert gate.count_events("sbx", catalog, ADA, [checkout], now=now) == 1
    assert choose(gate, catalog, P1, ADA, now) == OTHER


def test_feedback_for_unknown_offers_or_decisions_moves_nothing(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(1, event="impression")]))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    events = [
        Feedback("impression", "dps:personalized-offer:nope", P1),
        Feedback("decision", CAPPED, P1),
        Feedback("impression", OTHER, P1),  # no rules
    ]
    assert gate.count_events("sbx", catalog, ADA, events, now=now) == 0
    assert choose(gate, catalog, P1, ADA, now) == CAPPED


def test_a_decision_proposing_an_offer_twice_counts_it_twice(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(3)]))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    scopes = [ScopeRequest(DECISION, P1), ScopeRequest(DECISION, P2)]
    # the second request would need two counts where one is left: the offer sits it out
    # rather than pass its limit (never more than the limit, sometimes one less)
    for expected in ([CAPPED, CAPPED], [OTHER, OTHER]):
        request = DecisionRequest(scopes, now=now, allow_duplicates=(True, True))

        def run(view, request=request):  # type: ignore[no-untyped-def]
            request.capping = view
            return decide(catalog, request)

        props = gate.decide("sbx", catalog, request, run, subject=ADA, count=True)
        assert [p.options[0].offer.id for p in props] == expected
    assert choose(gate, catalog, P1, ADA, now) == CAPPED
    assert choose(gate, catalog, P1, ADA, now) == OTHER


decisions = st.lists(
    st.tuples(st.sampled_from([ADA, BOB, "id:Email:cy"]), st.sampled_from([P1, P2]), st.booleans()),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 4),
    per_profile=st.booleans(),
    per_placement=st.booleans(),
    calls=decisions,
)
def test_sequential_decisions_follow_a_simple_counting_model(
    limit: int, per_profile: bool, per_placement: bool, calls: list
) -> None:
    """The capped offer is proposed exactly while its counter is below the limit; dry runs
    see the same and never count."""
    catalog = build_catalog(
        documents([rule(limit, per_profile=per_profile, per_placement=per_placement)])
    )
    gate = CappingGate(MemoryStore())
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    model: dict[tuple[str, str], int] = {}
    for subject, placement, dry in calls:
        key = (subject if per_profile else "*", placement if per_placement else "*")
        expected = CAPPED if model.get(key, 0) < limit else OTHER
        assert choose(gate, catalog, placement, subject, now, count=not dry) == expected
        if expected == CAPPED and not dry:
            model[key] = model.get(key, 0) + 1
    assert all(count <= limit for count in model.values())


def test_a_node_that_did_not_see_the_limit_reached_retries_and_stays_exact(
    store: CounterStore,
) -> None:
    catalog = build_catalog(documents([rule(2)]))
    node_a, node_b = CappingGate(store), CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    assert choose(node_a, catalog, P1, ADA, now) == CAPPED
    assert choose(node_a, catalog, P1, BOB, now) == CAPPED
    # node B knows nothing yet: its optimistic pick is refused, it decides again
    assert choose(node_b, catalog, P1, "id:Email:cy", now) == OTHER
    assert choose(node_b, catalog, P1, "id:Email:di", now, count=False) == OTHER
    assert choose(node_a, catalog, P1, "id:Email:di", now, count=False) == OTHER


def test_when_reservations_keep_failing_capped_offers_sit_out(
    store: CounterStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = build_catalog(documents([rule(5)]))
    gate = CappingGate(store)
    now = datetime(2026, 6, 17, 9, tzinfo=UTC)
    monkeypatch.setattr("nextoffer.capping.ledger.MAX_ATTEMPTS", 0)
    assert choose(gate, catalog, P1, ADA, now) == OTHER
    monkeypatch.undo()
    assert choose(gate, catalog, P1, ADA, now, count=False) == CAPPED  # nothing was counted
