"""The online capping gate (`decisioning.capping_gate`) on every counter store: what one event
counts, whose counters they are, which catalog's rules apply, and how retries decide."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from nextoffer.capping import ledger as ledger_module
from nextoffer.capping.keys import capping_subject
from nextoffer.capping.ledger import Ledger
from nextoffer.capping.memory_store import MemoryStore
from nextoffer.capping.plans import CatalogPlan, Moment
from nextoffer.capping.store import CounterStore, Increment
from nextoffer.decisioning import capping_gate as gate_module
from nextoffer.decisioning.capping_gate import CappingGate, Feedback, new_seed
from nextoffer.engine import Catalog, DecisionRequest, ScopeRequest, build_catalog, decide
from nextoffer.observability import Observer
from nextoffer.observability.prometheus import PrometheusMetrics
from tests.capping.library import (
    CAPPED,
    COLLECTION,
    DECISION,
    FALLBACK,
    OTHER,
    P1,
    P2,
    documents,
    rule,
)

ADA = capping_subject(None, [("Email", "ada@example.com")])
NOW = datetime(2026, 6, 17, 9, tzinfo=UTC)
CHECKOUT = {"eventType": "commerce.checkout"}
IS_CHECKOUT = 'eventType = "commerce.checkout"'


def choose(
    gate: CappingGate,
    catalog: Catalog,
    *,
    sandbox: str = "sbx",
    placement: str = P1,
    subject: str | None = ADA,
    count: bool = True,
    seed: int | None = None,
) -> str:
    """The offer (or fallback) one decision proposes."""
    request = DecisionRequest([ScopeRequest(DECISION, placement)], now=NOW, seed=seed)

    def run(view):  # type: ignore[no-untyped-def]
        request.capping = view
        return decide(catalog, request)

    [prop] = gate.decide(sandbox, catalog, request, run, subject=subject, count=count)
    return prop.options[0].offer.id if prop.options else prop.fallback.id  # type: ignore[union-attr]


def key_of(catalog: Catalog, offer_id: str, *, sandbox: str = "sbx", placement: str = P1) -> str:
    """The key of the offer's first counter that applies now, for Ada."""
    plan = CatalogPlan(sandbox, catalog)
    [first, *_] = Moment(NOW.timestamp(), ADA).counters(
        plan.rules(catalog.offers[offer_id]), placement
    )
    return first.key


# -- one event, one count ------------------------------------------------------------------


@pytest.mark.parametrize("per_placement", [False, True], ids=["all-placements", "placement"])
def test_one_custom_event_counts_once(store: CounterStore, per_placement: bool) -> None:
    """As feedback sends it: no offer, no placement. An across-placements counter moves once
    (the offer has two placements), a per-placement counter once on each placement."""
    catalog = build_catalog(
        documents([rule(2, event="custom", condition=IS_CHECKOUT, per_placement=per_placement)])
    )
    gate = CappingGate(store)
    event = Feedback("custom", None, None, CHECKOUT)
    assert gate.count_events("sbx", catalog, ADA, [event], now=NOW) == (2 if per_placement else 1)
    keys = [key_of(catalog, CAPPED, placement=p) for p in (P1, P2)]
    assert store.read(keys) == [1, 1]
    assert choose(gate, catalog) == CAPPED  # one of two
    gate.count_events("sbx", catalog, ADA, [event], now=NOW)
    assert store.read(keys) == [2, 2]
    assert choose(gate, catalog) == OTHER


@pytest.mark.parametrize("kind", ["impression", "click"])
def test_one_impression_or_click_counts_once(store: CounterStore, kind: str) -> None:
    catalog = build_catalog(documents([rule(2, event=kind, per_profile=True)]))
    gate = CappingGate(store)
    assert gate.count_events("sbx", catalog, ADA, [Feedback(kind, CAPPED, P1)], now=NOW) == 1
    assert store.read([key_of(catalog, CAPPED)]) == [1]
    assert choose(gate, catalog) == CAPPED


def test_events_without_a_time_are_counted_at_the_gate_clock(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(1, event="impression", unit="day")]))
    yesterday = NOW - timedelta(days=1)
    gate = CappingGate(store, clock=lambda: yesterday)
    assert gate.count_events("sbx", catalog, ADA, [Feedback("impression", CAPPED, P1)]) == 1
    assert choose(gate, catalog) == CAPPED  # yesterday's window, not today's
    gate.count_events("sbx", catalog, ADA, [Feedback("impression", CAPPED, P1)], now=NOW)
    assert choose(gate, catalog) == OTHER


def test_a_catalog_without_caps_counts_nothing(store: CounterStore) -> None:
    catalog = build_catalog(documents([]))
    gate = CappingGate(store)
    assert gate.count_events("sbx", catalog, ADA, [Feedback("impression", CAPPED, P1)]) == 0
    assert choose(gate, catalog) == CAPPED


def test_one_unknown_offer_in_a_batch_drops_none_of_the_events_after_it(
    store: CounterStore,
) -> None:
    """An offer deleted since it was proposed: its events move nothing, the others count."""
    catalog = build_catalog(documents([rule(2, event="impression")]))
    gate = CappingGate(store)
    events = [
        Feedback("impression", "dps:personalized-offer:deleted", P1),
        Feedback("impression", CAPPED, P1),
        Feedback("impression", "dps:personalized-offer:deleted", P2),
        Feedback("impression", CAPPED, P2),
    ]
    assert gate.count_events("sbx", catalog, ADA, events, now=NOW) == 2
    assert store.read([key_of(catalog, CAPPED)]) == [2]
    assert choose(gate, catalog) == OTHER


# -- whose counters ------------------------------------------------------------------------


def test_two_sandboxes_sharing_an_offer_id_keep_their_own_counters(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(1), rule(1, event="impression", per_profile=True)]))
    gate = CappingGate(store)
    assert choose(gate, catalog, sandbox="prod") == CAPPED
    assert choose(gate, catalog, sandbox="prod") == OTHER  # the decision cap of prod is spent
    assert choose(gate, catalog, sandbox="dev", count=False) == CAPPED
    assert choose(gate, catalog, sandbox="dev") == CAPPED
    assert choose(gate, catalog, sandbox="dev") == OTHER
    # an impression in one sandbox moves nothing in the other
    fresh = build_catalog(documents([rule(1, event="impression", per_profile=True)]))
    gate.count_events("qa", fresh, ADA, [Feedback("impression", CAPPED, P1)], now=NOW)
    assert choose(gate, fresh, sandbox="qa", count=False) == OTHER
    assert choose(gate, fresh, sandbox="stage", count=False) == CAPPED
    assert store.read([key_of(fresh, CAPPED, sandbox="qa")]) == [1]
    assert store.read([key_of(fresh, CAPPED, sandbox="stage")]) == [0]


# -- which rules ---------------------------------------------------------------------------


def test_a_running_gate_applies_the_rules_of_the_catalog_it_is_given(
    store: CounterStore,
) -> None:
    """The library changes under a running gate: a new catalog object with other caps."""
    strict = build_catalog(documents([rule(1)]))
    gate = CappingGate(store)
    assert choose(gate, strict) == CAPPED
    assert choose(gate, strict) == OTHER
    # the limit is raised to 3: the same counter (1 counted) has room for two more
    raised = build_catalog(documents([rule(3)]))
    assert choose(gate, raised, count=False) == CAPPED
    assert choose(gate, raised) == CAPPED
    assert choose(gate, raised) == CAPPED
    assert choose(gate, raised) == OTHER
    # the caps are removed: nothing caps, nothing is counted
    free = build_catalog(documents([]))
    assert choose(gate, free) == CAPPED
    assert gate.count_events("sbx", free, ADA, [Feedback("impression", CAPPED, P1)]) == 0
    # an impression cap is added: impressions count now
    shown = build_catalog(documents([rule(9), rule(1, event="impression")]))
    assert choose(gate, shown) == CAPPED
    assert gate.count_events("sbx", shown, ADA, [Feedback("impression", CAPPED, P1)]) == 1
    assert choose(gate, shown) == OTHER
    # the strict catalog again: its own rule over the same counter (4 counted, limit 1)
    assert choose(gate, strict, count=False) == OTHER


# -- retries -------------------------------------------------------------------------------

TIED = [CAPPED] + [f"dps:personalized-offer:tied-{i}" for i in range(3)]


def tied_catalog() -> Catalog:
    """Four offers of equal priority, each with a total cap of 1 decision."""
    docs = documents([rule(1)])
    offers = docs["personalized-offer"]
    for offer_id in TIED[1:]:
        offers[offer_id] = {**copy.deepcopy(offers[CAPPED]), "id": offer_id, "name": offer_id}
    docs["offer-filter"][COLLECTION]["ids"] = [*TIED, OTHER]
    return build_catalog(docs)


def order(catalog: Catalog, sandbox: str, seed: int) -> list[str]:
    """The tied offers in the order a decision seeded `seed` tries them."""
    ledger = Ledger(CatalogPlan(sandbox, catalog), Moment(NOW.timestamp(), ADA))
    out: list[str] = []
    while len(out) < len(TIED):
        request = DecisionRequest([ScopeRequest(DECISION, P1)], now=NOW, seed=seed)
        request.capping = ledger
        [prop] = decide(catalog, request)
        picked = prop.options[0].offer.id
        out.append(picked)
        ledger.mark(key_of(catalog, picked, sandbox=sandbox))
    return out


def test_a_retry_after_a_refused_reservation_breaks_ties_as_the_first_attempt_did(
    store: CounterStore,
) -> None:
    """Another node spent the first pick's cap: this gate's reservation is refused, and it
    decides again with the same seed, so the next offer in the first attempt's order wins."""
    catalog = tied_catalog()
    firsts = set()
    for seed in range(12):
        sandbox = f"sbx-{seed}"
        first, second, *_ = order(catalog, sandbox, seed)
        firsts.add(first)
        store.add([Increment(key_of(catalog, first, sandbox=sandbox), 1)])  # the other node
        gate = CappingGate(store, seeds=lambda seed=seed: seed)
        assert choose(gate, catalog, sandbox=sandbox) == second
        assert store.read([key_of(catalog, second, sandbox=sandbox)]) == [1]
    assert len(firsts) > 1  # the ties are really broken at random


def test_a_decision_keeps_the_seed_it_was_given(store: CounterStore) -> None:
    catalog = tied_catalog()
    for seed in range(6):
        sandbox = f"sbx-{seed}"
        first, second, *_ = order(catalog, sandbox, seed)
        store.add([Increment(key_of(catalog, first, sandbox=sandbox), 1)])
        gate = CappingGate(store, seeds=lambda: 10**6)  # never asked
        assert choose(gate, catalog, sandbox=sandbox, seed=seed) == second


# -- the last resort -----------------------------------------------------------------------


def test_the_last_resort_leaves_out_only_offers_with_a_rule_in_force(
    store: CounterStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reservation refused: capped offers sit out. The other offer has rules too, but
    none in force now (its dates are ahead, or it counts per profile and nobody is known):
    it is not capped, and is proposed."""
    docs = documents([rule(5)])
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [
        rule(1, startDate="2027-01-01T00:00:00Z"),
        rule(1, per_profile=True),
    ]
    catalog = build_catalog(docs)
    gate = CappingGate(store)
    monkeypatch.setattr(ledger_module, "MAX_ATTEMPTS", 0)
    assert choose(gate, catalog, subject=None) == OTHER
    monkeypatch.undo()
    # nothing was counted
    assert store.read([key_of(catalog, CAPPED)]) == [0]
    assert choose(gate, catalog, subject=None) == CAPPED


def test_a_dry_run_reads_every_capped_candidate_once(store: CounterStore) -> None:
    catalog = build_catalog(documents([rule(1, per_placement=True)]))
    gate = CappingGate(store)
    assert choose(gate, catalog, placement=P2) == CAPPED
    assert choose(gate, catalog, placement=P2, count=False) == OTHER
    assert choose(gate, catalog, placement=P1, count=False) == CAPPED


class WatchedStore(MemoryStore):
    """A memory store that keeps a log of the calls it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def read(self, keys):  # type: ignore[no-untyped-def]
        self.calls.append("read")
        return super().read(keys)

    def reserve(self, increments):  # type: ignore[no-untyped-def]
        self.calls.append("reserve")
        return super().reserve(increments)

    def add(self, increments):  # type: ignore[no-untyped-def]
        self.calls.append("add")
        return super().add(increments)

    def close(self) -> None:
        self.calls.append("close")
        super().close()


def test_the_store_is_asked_only_when_a_pick_has_counters() -> None:
    """A counter seen at its limit is remembered: later decisions leave its offer out without
    asking; a decision that proposes no capped offer never touches the store."""
    store = WatchedStore()
    gate = CappingGate(store)
    free = build_catalog(documents([]))
    assert choose(gate, free) == CAPPED
    assert store.calls == []
    catalog = build_catalog(documents([rule(2)]))
    assert choose(gate, catalog) == CAPPED
    assert store.calls == ["reserve"]  # 1 of 2: not at its limit yet
    assert choose(gate, catalog) == CAPPED
    assert store.calls == ["reserve"] * 2  # 2 of 2: seen at its limit
    assert choose(gate, catalog) == OTHER
    assert choose(gate, catalog, subject="id:Email:bob") == OTHER
    assert store.calls == ["reserve"] * 2
    assert choose(gate, catalog, count=False) == OTHER  # a dry run reads, never reserves
    assert store.calls == ["reserve"] * 2 + ["read"]


def test_a_node_learns_a_limit_from_a_refusal() -> None:
    store = WatchedStore()
    catalog = build_catalog(documents([rule(1)]))
    node_a, node_b = CappingGate(store), CappingGate(store)
    assert choose(node_a, catalog) == CAPPED
    assert choose(node_b, catalog) == OTHER  # refused, then decided again
    assert store.calls == ["reserve"] * 2
    assert choose(node_b, catalog) == OTHER  # the refusal was remembered
    assert store.calls == ["reserve"] * 2


def test_events_that_move_no_counter_never_touch_the_store() -> None:
    store = WatchedStore()
    gate = CappingGate(store)
    catalog = build_catalog(documents([rule(1, event="impression")]))
    assert gate.count_events("sbx", catalog, ADA, [Feedback("click", CAPPED, P1)], now=NOW) == 0
    assert gate.count_events("sbx", catalog, ADA, [], now=NOW) == 0
    assert store.calls == []
    assert gate.count_events("sbx", catalog, ADA, [Feedback("impression", CAPPED, P1)]) == 1
    assert store.calls == ["add"]
    gate.close()
    assert store.calls == ["add", "close"]


def test_the_counters_remembered_as_exhausted_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond `KNOWN_EXHAUSTED` counters the gate forgets them all and asks the store again."""
    monkeypatch.setattr(gate_module, "KNOWN_EXHAUSTED", 2)
    store = WatchedStore()
    gate = CappingGate(store)
    # a total cap below its limit moves with every decision: never remembered
    catalog = build_catalog(documents([rule(1, per_profile=True), rule(99)]))
    people = [f"id:Email:{name}" for name in ("ada", "bob", "cy")]
    for subject in people[:2]:
        assert choose(gate, catalog, subject=subject) == CAPPED
    assert store.calls == ["reserve"] * 2
    assert choose(gate, catalog, subject=people[0]) == OTHER  # both remembered: no call
    assert choose(gate, catalog, subject=people[1]) == OTHER
    assert store.calls == ["reserve"] * 2
    assert choose(gate, catalog, subject=people[2]) == CAPPED  # a third: the first two go
    assert store.calls == ["reserve"] * 3
    assert choose(gate, catalog, subject=people[2]) == OTHER
    assert store.calls == ["reserve"] * 3
    assert choose(gate, catalog, subject=people[0]) == OTHER  # forgotten: asked and refused
    assert store.calls == ["reserve"] * 4


def test_seeds_fit_a_signed_64_bit_integer() -> None:
    """As a seed given through the APIs must (`nextoffer:seed`); drawn at random."""
    seeds = [new_seed() for _ in range(64)]
    assert all(0 <= seed < 2**63 for seed in seeds)
    assert len(set(seeds)) == 64


def test_a_refusal_below_the_limit_rules_out_the_refused_counter(store: CounterStore) -> None:
    """Two picks of one offer need two counts where one is left: the store refuses with the
    counter below its limit. That counter is ruled out and the next offer is reserved, not
    every capped offer (the last resort)."""
    docs = documents([rule(3)])
    mid = "dps:personalized-offer:mid"
    offers = docs["personalized-offer"]
    offers[mid] = {**copy.deepcopy(offers[CAPPED]), "id": mid, "rank": {"priority": 5}}
    offers[mid]["frequencyCappingConstraints"] = [rule(9)]
    docs["offer-filter"][COLLECTION]["ids"] = [CAPPED, mid, OTHER]
    catalog = build_catalog(docs)
    store.add([Increment(key_of(catalog, CAPPED), 2)])
    gate = CappingGate(store)
    request = DecisionRequest(
        [ScopeRequest(DECISION, P1), ScopeRequest(DECISION, P2)],
        now=NOW,
        allow_duplicates=(True, True),
    )

    def run(view):  # type: ignore[no-untyped-def]
        request.capping = view
        return decide(catalog, request)

    props = gate.decide("sbx", catalog, request, run, subject=ADA, count=True)
    assert [p.options[0].offer.id for p in props] == [mid, mid]
    assert store.read([key_of(catalog, CAPPED), key_of(catalog, mid)]) == [2, 2]


def test_a_custom_condition_is_tested_at_the_time_of_the_event(store: CounterStore) -> None:
    catalog = build_catalog(
        documents([rule(1, event="custom", condition="timestamp occurs <= 1 days before now")])
    )
    gate = CappingGate(store)
    event = Feedback("custom", None, None, {"timestamp": "2026-06-17T08:00:00Z"})
    later = NOW + timedelta(days=3)
    assert gate.count_events("sbx", catalog, ADA, [event], now=later) == 0
    assert gate.count_events("sbx", catalog, ADA, [event], now=NOW) == 1
    assert choose(gate, catalog) == OTHER


def test_a_plan_is_compiled_once_per_sandbox_and_catalog_and_plans_are_bounded() -> None:
    gate = CappingGate(MemoryStore())
    catalog = build_catalog(documents([rule(1)]))
    first = gate.plan("s0", catalog)
    assert gate.plan("s0", catalog) is first
    assert gate.plan("s1", catalog) is not first
    for i in range(2, 1024):  # 1,024 sandboxes are kept
        gate.plan(f"s{i}", catalog)
    assert gate.plan("s0", catalog) is first
    gate.plan("s1024", catalog)  # one more: all are forgotten, then compiled again
    again = gate.plan("s0", catalog)
    assert again is not first and again.sandbox == "s0" and again.catalog is catalog
    assert gate.plan("s0", build_catalog(documents([rule(1)]))) is not again


# -- what the gate reports ----------------------------------------------------------------


def rejections(metrics: PrometheusMetrics) -> float:
    return metrics.registry.get_sample_value("nextoffer_capping_rejections_total") or 0.0


def both_capped() -> Catalog:
    """Both offers capped at one decision."""
    docs = documents([rule(1)])
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [rule(1)]
    return build_catalog(docs)


def lost_races(metrics: PrometheusMetrics) -> float:
    return metrics.registry.get_sample_value("nextoffer_capping_lost_races_total") or 0.0


def test_every_offer_a_cap_keeps_out_of_a_decision_is_reported() -> None:
    """The third decision has both offers left out (two rejections in one decision) and
    falls back."""
    catalog = both_capped()
    metrics = PrometheusMetrics()
    gate = CappingGate(MemoryStore(), telemetry=Observer(metrics))
    assert choose(gate, catalog) == CAPPED
    assert rejections(metrics) == 0
    assert choose(gate, catalog) == OTHER
    assert rejections(metrics) == 1
    assert choose(gate, catalog) == FALLBACK
    assert rejections(metrics) == 3


def test_a_reported_decision_caps_per_placement_on_the_placement_decided() -> None:
    metrics = PrometheusMetrics()
    gate = CappingGate(MemoryStore(), telemetry=Observer(metrics))
    catalog = build_catalog(documents([rule(1, per_placement=True)]))
    assert choose(gate, catalog, placement=P1) == CAPPED
    assert choose(gate, catalog, placement=P1) == OTHER
    assert rejections(metrics) == 1
    assert choose(gate, catalog, placement=P2) == CAPPED  # its own counter
    assert rejections(metrics) == 1


def test_every_reservation_lost_in_one_decision_is_reported() -> None:
    """Node A spent both caps; node B, not knowing it, loses two reservations in one decision
    (one per offer) before it falls back."""
    store, catalog = MemoryStore(), both_capped()
    node_a = CappingGate(store)
    assert [choose(node_a, catalog) for _ in range(2)] == [CAPPED, OTHER]
    metrics = PrometheusMetrics()
    node_b = CappingGate(store, telemetry=Observer(metrics))
    assert choose(node_b, catalog) == FALLBACK
    assert lost_races(metrics) == 2
    assert rejections(metrics) == 2
