"""A catalog's capping plan (`capping.plans`) and the counter keys it gives (`capping.keys`):
which counters a decision or an event moves, under which key, for how long."""

from __future__ import annotations

from datetime import UTC, datetime

from nextoffer.capping.keys import counter_key, rule_prefix
from nextoffer.capping.plans import CatalogPlan, Feedback, Moment
from nextoffer.engine import Catalog, build_catalog
from tests.capping.library import CAPPED, COLLECTION, DECISION, OTHER, P1, P2, documents, rule

NOW = datetime(2026, 6, 17, 9, tzinfo=UTC)
ADA = "id:Email:ada@example.com"
CHECKOUT = {"eventType": "commerce.checkout"}
IS_CHECKOUT = 'eventType = "commerce.checkout"'


def plan_for(rules: list[dict], sandbox: str = "sbx", **kwargs) -> tuple[CatalogPlan, Catalog]:  # type: ignore[no-untyped-def]
    catalog = build_catalog(documents(rules))
    return CatalogPlan(sandbox, catalog, **kwargs), catalog


def keys(plan: CatalogPlan, events: list[Feedback], subject: str | None = ADA) -> list[str]:
    moment = Moment(NOW.timestamp(), subject)
    return [c.key for c in plan.feedback_counters(moment, events, NOW)]


# -- keys ----------------------------------------------------------------------------------


def test_a_key_names_the_sandbox_in_braces_then_offer_rule_window_placement_subject() -> None:
    """The stored format: counters written by one version are read by the next. The braces
    keep a sandbox's counters in one Redis Cluster slot; the subject, which may hold `|`,
    comes last."""
    prefix = rule_prefix("prod", "dps:personalized-offer:x", 2)
    assert prefix == "{prod}|dps:personalized-offer:x|2|"
    assert counter_key(prefix, 1_781_654_400, "p1", "id:Email:a|b") == (
        "{prod}|dps:personalized-offer:x|2|1781654400|p1|id:Email:a|b"
    )


def test_the_keys_of_each_kind_of_rule() -> None:
    plan, catalog = plan_for(
        [
            rule(1),
            rule(1, per_profile=True, per_placement=True, unit="day"),
            rule(1, unit="week"),
        ],
        sandbox="prod",
    )
    counters = Moment(NOW.timestamp(), ADA).counters(plan.rules(catalog.offers[CAPPED]), P2)
    assert [(c.key, c.ttl) for c in counters] == [
        # a total counter that never resets: window start 0, no placement, nobody, no expiry
        (f"{{prod}}|{CAPPED}|0|0|*|*", None),
        # per profile and placement, from today's 00:00 UTC until tomorrow's (15 hours)
        (f"{{prod}}|{CAPPED}|1|1781654400|{P2}|{ADA}", 15 * 3600),
        # from Sunday 2026-06-14 00:00 UTC until the next Sunday
        (f"{{prod}}|{CAPPED}|2|1781395200|*|*", 3 * 86400 + 15 * 3600),
    ]
    total, daily, _ = counters
    assert total.increment(1) == (total.key, 1, 1, None)
    assert daily.increment(0) == (daily.key, 0, 1, 15 * 3600)  # a check, until its window ends


def test_two_sandboxes_never_share_a_key() -> None:
    prod, catalog = plan_for([rule(1)], sandbox="prod")
    dev = CatalogPlan("dev", catalog)
    moment = Moment(NOW.timestamp(), ADA)
    offer = catalog.offers[CAPPED]
    [a], [b] = moment.counters(prod.rules(offer), P1), moment.counters(dev.rules(offer), P1)
    assert a.key.startswith("{prod}|") and b.key.startswith("{dev}|")
    assert a.key.removeprefix("{prod}") == b.key.removeprefix("{dev}")


# -- which counters apply ------------------------------------------------------------------


def test_counters_leave_out_rules_that_cannot_count_now() -> None:
    plan, catalog = plan_for(
        [
            rule(1, per_profile=True),  # needs somebody
            rule(1, per_placement=True),  # needs a placement
            rule(1, startDate="2026-06-18T00:00:00Z"),  # not started yet
            rule(1, endDate="2026-06-17T08:59:59Z"),  # over
            rule(1, endDate="2026-06-17T09:00:00Z"),  # ends at this very instant: in force
        ]
    )
    rules = plan.rules(catalog.offers[CAPPED])
    now = NOW.timestamp()
    assert [c.rule.index for c in Moment(now, None).counters(rules, None)] == [4]
    assert [c.rule.index for c in Moment(now, ADA).counters(rules, None)] == [0, 4]
    assert [c.rule.index for c in Moment(now, None).counters(rules, P1)] == [1, 4]
    assert [c.rule.index for c in Moment(now, ADA).counters(rules, P1)] == [0, 1, 4]


def test_a_plan_keeps_the_rules_it_selects_with_their_own_indices() -> None:
    plan, catalog = plan_for(
        [rule(1), rule(2, per_profile=True), rule(3)], keep=lambda r: not r.per_profile
    )
    assert [(r.index, r.limit, p) for r, p in plan.rules(catalog.offers[CAPPED])] == [
        (0, 1, f"{{sbx}}|{CAPPED}|0|"),
        (2, 3, f"{{sbx}}|{CAPPED}|2|"),
    ]
    assert plan.rules(catalog.offers[OTHER]) == ()
    assert plan.any_caps
    assert not CatalogPlan("sbx", build_catalog(documents([]))).any_caps


def test_disabled_or_unusable_rules_never_count() -> None:
    plan, catalog = plan_for([rule(1, enabled=False), rule(0), rule(2)])
    assert [r.index for r, _ in plan.rules(catalog.offers[CAPPED])] == [2]


def test_capped_members_are_the_offers_with_rules_a_scope_may_examine() -> None:
    docs = documents([rule(1)])
    decision = docs["offer-activity"][DECISION]
    decision["criteria"].append({**decision["criteria"][0], "placements": [P2]})
    decision["criteria"][0]["placements"] = [P1]
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [rule(1)]
    docs["offer-filter"]["dps:offer-filter:other"] = {
        "id": "dps:offer-filter:other",
        "name": "other",
        "filterType": "offers",
        "ids": [OTHER],
    }
    decision["criteria"][1]["optionSelection"] = {"filter": "dps:offer-filter:other"}
    docs["offer-filter"][COLLECTION]["ids"] = [CAPPED]
    plan = CatalogPlan("sbx", build_catalog(docs))
    assert [o.id for o in plan.capped_members(DECISION, P1)] == [CAPPED]
    assert [o.id for o in plan.capped_members(DECISION, P2)] == [OTHER]
    assert plan.capped_members("dps:offer-activity:nope", P1) == ()
    # one offer in two criteria of a placement, next to another: each offer once
    both = documents([rule(1)])
    both["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [rule(1)]
    criteria = both["offer-activity"][DECISION]["criteria"]
    criteria.append({**criteria[0], "placements": [P1]})
    plan = CatalogPlan("sbx", build_catalog(both))
    assert [o.id for o in plan.capped_members(DECISION, P1)] == [CAPPED, OTHER]
    uncapped = CatalogPlan("sbx", build_catalog(documents([])))
    assert uncapped.capped_members(DECISION, P1) == ()


# -- feedback ------------------------------------------------------------------------------


def test_impressions_and_clicks_move_their_own_kind_of_rule() -> None:
    plan, _ = plan_for(
        [
            rule(1, event="impression"),
            rule(1, event="click"),
            rule(1, event="impression", per_placement=True),
            rule(1),
        ]
    )
    prefix = f"{{sbx}}|{CAPPED}|"
    assert keys(plan, [Feedback("impression", CAPPED, P2)]) == [
        f"{prefix}0|0|*|*",
        f"{prefix}2|0|{P2}|*",
    ]
    assert keys(plan, [Feedback("click", CAPPED, P1)]) == [f"{prefix}1|0|*|*"]
    # no placement: per-placement rules are left out
    assert keys(plan, [Feedback("impression", CAPPED, None)]) == [f"{prefix}0|0|*|*"]
    # decisions are counted when made; unknown offers and offers without rules move nothing
    assert keys(plan, [Feedback("decision", CAPPED, P1)]) == []
    assert keys(plan, [Feedback("impression", "dps:personalized-offer:nope", P1)]) == []
    assert keys(plan, [Feedback("impression", OTHER, P1)]) == []
    assert keys(plan, [Feedback("impression", None, P1)]) == []


def test_a_custom_event_moves_the_matching_custom_rules_of_every_offer() -> None:
    docs = documents(
        [
            rule(1, event="custom", condition=IS_CHECKOUT),
            rule(1, event="custom", condition='eventType = "web.pageView"'),
            rule(1, event="impression"),
            rule(1, event="custom", condition=IS_CHECKOUT, per_placement=True),
            rule(1, event="custom"),  # no condition: never matches
        ]
    )
    docs["personalized-offer"][OTHER]["frequencyCappingConstraints"] = [
        rule(1, event="custom", condition=IS_CHECKOUT)
    ]
    plan = CatalogPlan("sbx", build_catalog(docs))
    assert [(o.id, [r.index for r, _ in rules]) for o, rules in plan.custom_rules()] == [
        (CAPPED, [0, 1, 3, 4]),
        (OTHER, [0]),
    ]
    capped, other = f"{{sbx}}|{CAPPED}|", f"{{sbx}}|{OTHER}|"
    # as feedback sends it: every offer; an across-placements counter once, a per-placement
    # counter on each of the offer's placements
    assert keys(plan, [Feedback("custom", None, None, CHECKOUT)]) == [
        f"{capped}0|0|*|*",
        f"{capped}3|0|{P1}|*",
        f"{capped}3|0|{P2}|*",
        f"{other}0|0|*|*",
    ]
    # one offer, one placement
    assert keys(plan, [Feedback("custom", OTHER, None, CHECKOUT)]) == [f"{other}0|0|*|*"]
    assert keys(plan, [Feedback("custom", CAPPED, P2, CHECKOUT)]) == [
        f"{capped}0|0|*|*",
        f"{capped}3|0|{P2}|*",
    ]
    # an event that matches nothing, or no event at all
    assert keys(plan, [Feedback("custom", None, None, {"eventType": "other"})]) == []
    assert keys(plan, [Feedback("custom", None, None)]) == []


def test_a_custom_event_counts_for_an_offer_without_placements() -> None:
    """A draft offer without representations still counts custom events in its across-
    placements counters (its per-placement counters have no placement to count for)."""
    docs = documents(
        [
            rule(1, event="custom", condition=IS_CHECKOUT),
            rule(1, event="custom", condition=IS_CHECKOUT, per_placement=True),
        ]
    )
    draft = docs["personalized-offer"][CAPPED]
    draft["status"] = "draft"
    draft["representations"] = []
    plan = CatalogPlan("sbx", build_catalog(docs))
    assert keys(plan, [Feedback("custom", None, None, CHECKOUT)]) == [f"{{sbx}}|{CAPPED}|0|0|*|*"]


def test_feedback_counts_each_event_of_a_batch() -> None:
    plan, _ = plan_for(
        [rule(5, event="impression"), rule(5, event="custom", condition=IS_CHECKOUT)]
    )
    prefix = f"{{sbx}}|{CAPPED}|"
    events = [
        Feedback("impression", "dps:personalized-offer:deleted", P1),
        Feedback("custom", None, None, CHECKOUT),
        Feedback("impression", CAPPED, P1),
        Feedback("impression", CAPPED, P1),
    ]
    assert keys(plan, events) == [f"{prefix}1|0|*|*", f"{prefix}0|0|*|*", f"{prefix}0|0|*|*"]


def test_a_custom_condition_is_tested_at_the_time_the_event_is_counted() -> None:
    plan, _ = plan_for([rule(5, event="custom", condition="timestamp occurs <= 1 days before now")])
    recent = Feedback("custom", None, None, {"timestamp": "2026-06-17T08:00:00Z"})
    old = Feedback("custom", None, None, {"timestamp": "2026-06-01T08:00:00Z"})
    assert keys(plan, [recent, old]) == [f"{{sbx}}|{CAPPED}|0|0|*|*"]
