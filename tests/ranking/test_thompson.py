"""Auto-optimization serving: random until two offers graduate, Thompson sampling after,
exploration, explanations, and propensities that match how often the policy really serves."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from nextoffer.engine import DecisionRequest, ScopeRequest, build_catalog, decide
from nextoffer.ranking import Arm, AutoModel, StrategySettings, ThompsonScorer, train_auto
from tests.engine.library import Library, criterion

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = "dps:ranking-strategy:1"


def library(exploration: float = 0.1, status: str = "enabled") -> Library:
    lib = Library()
    lib.placement("p1")
    for n in range(3):
        lib.offer(f"o{n}", 0)
    lib.collection("c", ["o0", "o1", "o2"])
    lib.add(
        "ranking-strategy",
        {
            "id": MODEL,
            "name": "m",
            "type": "auto-optimization",
            "status": status,
            "training": {
                "windowDays": 14,
                "newOfferImpressions": 100,
                "newOfferConversions": 5,
                "explorationShare": exploration,
            },
        },
    )
    lib.decision("d", [criterion("c", model=MODEL)])
    return lib


def model(counts: dict[str, tuple[int, int]]) -> AutoModel:
    return train_auto(
        MODEL,
        1,
        "2026-01-01T00:00:00.000Z",
        ("2025-12-18T00:00:00.000Z", "2026-01-01T00:00:00.000Z"),
        {o: i for o, (i, _) in counts.items()},
        {o: c for o, (_, c) in counts.items()},
    )


def serve(lib: Library, models: dict[str, AutoModel], seed: int, explain: bool = False) -> Any:
    catalog = build_catalog(lib.docs)
    request = DecisionRequest(
        [ScopeRequest("d", "p1")],
        now=NOW,
        seed=seed,
        scorer=ThompsonScorer(models, seed),
        explain=explain,
    )
    return decide(catalog, request)[0]


TRAINED = {"o0": (1000, 10), "o1": (1000, 50), "o2": (1000, 20)}


def test_posterior_is_beta_one_plus_counts() -> None:
    arm = model(TRAINED).arm("o1")
    assert (arm.alpha, arm.beta) == (51.0, 951.0)
    assert arm.mean == pytest.approx(51 / 1002)
    assert model({"o0": (3, 5)}).arm("o0").impressions == 5  # clicks never exceed displays


def test_untrained_serves_at_random_with_exact_propensities() -> None:
    picks = Counter()
    for seed in range(300):
        prop = serve(library(), {}, seed)
        choice = prop.options[0]
        assert choice.propensity == pytest.approx(1 / 3)
        assert choice.model == (MODEL, None)
        picks[choice.offer.id] += 1
    assert set(picks) == {"o0", "o1", "o2"} and min(picks.values()) > 60


def test_random_until_two_offers_graduate() -> None:
    one_graduated = {MODEL: model({"o0": (1000, 10), "o1": (99, 4), "o2": (5, 0)})}
    scorer = ThompsonScorer(one_graduated, 1)
    lib = library()
    ranking = build_catalog(lib.docs).decisions["d"].criteria[0].ranking
    assert scorer.mode(ranking) == "random"
    two = {MODEL: model({"o0": (1000, 10), "o1": (10, 5), "o2": (5, 0)})}
    assert ThompsonScorer(two, 1).mode(ranking) in ("exploit", "explore")


def test_trained_model_serves_the_best_offer_mostly() -> None:
    picks = Counter(
        serve(library(), {MODEL: model(TRAINED)}, seed).options[0].offer.id for seed in range(300)
    )
    assert picks.most_common(1)[0][0] == "o1" and picks["o1"] > 250


def test_disabled_strategy_serves_at_random() -> None:
    lib = library(status="disabled")
    picks = Counter(
        serve(lib, {MODEL: model(TRAINED)}, seed).options[0].offer.id for seed in range(300)
    )
    assert min(picks.values()) > 60
    assert serve(lib, {MODEL: model(TRAINED)}, 1).options[0].propensity == pytest.approx(1 / 3)


def test_explanations_show_the_sample_and_the_posterior_mean() -> None:
    models = {MODEL: model(TRAINED)}
    for seed in range(40):
        prop = serve(library(exploration=0.0), models, seed, explain=True)
        first = prop.trace.candidates[0]
        assert first.model["mode"] == "exploit"
        assert first.model["sampled"] == first.score
        assert first.model["posteriorMean"] == pytest.approx(models[MODEL].arm(first.offer_id).mean)
        assert first.model["version"] == 1
        out = first.as_dict()
        assert out["model"]["sampled"] == out["score"]


@pytest.mark.parametrize("exploration", [0.0, 0.3])
def test_logged_propensities_match_serving_frequencies(exploration: float) -> None:
    """The propensity an offer is logged with is the frequency the policy serves it with."""
    close = {MODEL: model({"o0": (200, 10), "o1": (200, 14), "o2": (200, 12)})}
    lib = library(exploration=exploration)
    served: Counter[str] = Counter()
    logged: dict[str, list[float]] = {}
    n = 600
    for seed in range(n):
        choice = serve(lib, close, seed).options[0]
        served[choice.offer.id] += 1
        logged.setdefault(choice.offer.id, []).append(choice.propensity)
    for offer_id, count in served.items():
        # a served offer's propensity is the same whatever the draw: its estimates agree
        mean_logged = sum(logged[offer_id]) / len(logged[offer_id])
        assert abs(mean_logged - count / n) < 0.08, (offer_id, mean_logged, count / n)
    if exploration:
        assert min(min(v) for v in logged.values()) >= exploration / 3 - 1e-9


def test_settings_from_a_missing_strategy_are_disabled() -> None:
    assert StrategySettings.from_doc("x", None).enabled is False
    assert StrategySettings.from_doc("x", {"type": "personalized-optimization"}).window_days == 30


def test_state_round_trips() -> None:
    m = model(TRAINED)
    assert AutoModel.from_state(MODEL, m.as_state()) == m


def test_fast_and_reference_engines_rank_alike_under_a_model() -> None:
    """Draws depend on the request salt and the offer, never on evaluation order."""
    lib = library()
    for n in range(3, 8):
        lib.offer(f"o{n}", n % 3)
    lib.docs["offer-filter"]["c"]["ids"] = [f"o{n}" for n in range(8)]
    counts = {**TRAINED, "o3": (500, 40), "o4": (20, 1)}
    models = {MODEL: model(counts)}
    catalog = build_catalog(lib.docs)
    for seed in range(60):
        scopes = [ScopeRequest("d", "p1", 3)]
        fast = decide(
            catalog,
            DecisionRequest(scopes, now=NOW, seed=seed, scorer=ThompsonScorer(models, seed)),
        )[0]
        explained = decide(
            catalog,
            DecisionRequest(
                scopes, now=NOW, seed=seed, scorer=ThompsonScorer(models, seed), explain=True
            ),
        )[0]
        assert [(c.offer.id, c.score) for c in fast.options] == [
            (c.offer.id, c.score) for c in explained.options
        ]


def test_training_counts_offers_seen_in_either_count() -> None:
    trained = train_auto(MODEL, 4, "now", ("from", "to"), {"a": 10}, {"b": 2}, events=12)
    assert trained.arm("a") == Arm(10, 0)
    assert trained.arm("b") == Arm(2, 2)  # clicks without displays count as displays
    assert (trained.version, trained.events) == (4, 12)
    assert (trained.window_start, trained.window_end, trained.trained_at) == ("from", "to", "now")
    state = trained.as_state()
    assert state["events"] == 12 and state["arms"] == {"a": [10, 0], "b": [2, 2]}
    assert AutoModel.from_state(MODEL, state) == trained


def test_an_offer_graduates_at_exactly_a_threshold() -> None:
    settings = StrategySettings(MODEL, new_impressions=100, new_conversions=5)
    m = model({"at": (100, 0), "below": (99, 4), "clicks": (10, 5)})
    assert m.graduated("at", settings) and m.graduated("clicks", settings)
    assert not m.graduated("below", settings) and not m.graduated("unknown", settings)
    assert m.active(settings)
    assert not model({"at": (100, 0), "below": (99, 4)}).active(settings)


def test_a_group_mixing_priority_and_model_estimates_each_slot() -> None:
    lib = library(exploration=0.2)
    lib.placement("p2", item_count=2)
    for oid in ("o0", "o1", "o2"):
        lib.docs["personalized-offer"][oid]["representations"].append(
            {**lib.docs["personalized-offer"][oid]["representations"][0], "placement": "p2"}
        )
    lib.offer("fixed", 5, placements=("p1", "p2"))
    lib.collection("c2", ["fixed"])
    lib.decision("mixed", [criterion("c", ("p2",), model=MODEL), criterion("c2", ("p2",))])
    catalog = build_catalog(lib.docs)
    for models in ({}, {MODEL: model(TRAINED)}):
        for seed in range(5):
            request = DecisionRequest(
                [ScopeRequest("mixed", "p2")],
                now=NOW,
                seed=seed,
                scorer=ThompsonScorer(models, seed),
            )
            first, second = decide(catalog, request)[0].options
            assert first.offer.id == "fixed" and first.propensity == 1.0  # priority 5 > any draw
            assert 0 < second.propensity <= 1.0
            assert second.model == (MODEL, 1 if models else None)
