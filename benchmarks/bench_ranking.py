"""Model-ranked decisions beside priority-ranked ones, and training time on logged events.

    python benchmarks/bench_ranking.py [--candidates 100] [--events 1000000]

Targets (issue 18): a model-ranked decision over 100 candidates costs <= 1.5x a priority-ranked
one, side by side in one run (engine); training on 10 million logged events (auto) in <= 60 s.
The engine part decides one scope over `--candidates` approved offers, no rules, ranked by
offer priority (which stops as soon as the top is certain), by a ranking formula (which, like a
model, scores every eligible candidate), by an untrained model (random, exact propensities)
and by a trained auto-optimization model (Thompson sampling with Monte-Carlo propensities),
rounds interleaved.
The training part counts `--events` feedback events (displays and clicks naming decided
propositions) into a model: the pure counting and posterior step, without the database read.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import machine
from nextoffer.decisioning.model_training import count_feedback
from nextoffer.engine import DecisionRequest, ScopeRequest, build_catalog, decide
from nextoffer.ranking import StrategySettings, ThompsonScorer, train_auto

WEB = "https://ns.adobe.com/xdm/channel-types/web"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MODEL = "dps:ranking-strategy:bench"


def library(candidates: int) -> dict:
    docs: dict[str, dict[str, dict]] = {
        "offer-placement": {"p": {"id": "p", "name": "p", "channel": WEB, "componentType": "html"}},
        "personalized-offer": {},
        "offer-filter": {},
        "offer-activity": {},
        "ranking-function": {
            "f": {"id": "f", "name": "f", "expression": {"value": "offer.rank.priority * 2"}}
        },
        "ranking-strategy": {
            MODEL: {"id": MODEL, "name": "m", "type": "auto-optimization", "status": "enabled"}
        },
    }
    ids = [f"o{i}" for i in range(candidates)]
    for i, oid in enumerate(ids):
        docs["personalized-offer"][oid] = {
            "id": oid,
            "name": oid,
            "status": "approved",
            "rank": {"priority": i % 50},
            "representations": [
                {
                    "channel": WEB,
                    "placement": "p",
                    "components": [{"type": "html", "format": "text/html", "content": oid}],
                }
            ],
        }
    docs["offer-filter"]["c"] = {"id": "c", "name": "c", "filterType": "offers", "ids": ids}
    for name, order in (
        ("static", None),
        ("formula", {"orderEvaluationType": "scoringFunction", "function": "f"}),
        ("model", {"orderEvaluationType": "rankingStrategy", "rankingStrategy": MODEL}),
    ):
        rank: dict = {"priority": 0}
        if order:
            rank["order"] = order
        docs["offer-activity"][name] = {
            "id": name,
            "name": name,
            "status": "live",
            "criteria": [{"placements": ["p"], "optionSelection": {"filter": "c"}, "rank": rank}],
        }
    return docs


def trained(candidates: int) -> dict:
    rnd = random.Random(5)
    impressions = {f"o{i}": 1000 + rnd.randrange(5000) for i in range(candidates)}
    conversions = {o: int(n * rnd.uniform(0.01, 0.08)) for o, n in impressions.items()}
    return {MODEL: train_auto(MODEL, 1, "t", ("a", "b"), impressions, conversions)}


def engine(candidates: int, rounds: int = 7, per_round: int = 300) -> None:
    catalog = build_catalog(library(candidates))
    models = trained(candidates)
    cases = {
        "priority": ("static", None),
        "formula (scores every candidate)": ("formula", None),
        "model, untrained": ("model", {}),
        "model, trained": ("model", models),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (decision, served) in cases.items():
            scopes = [ScopeRequest(decision, "p")]
            for _ in range(per_round):
                t = time.perf_counter()
                scorer = ThompsonScorer(served) if served is not None else None
                decide(catalog, DecisionRequest(scopes, now=NOW, scorer=scorer))
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["priority"])
    print(f"## Engine: one scope over {candidates} candidates\n\n{machine()}\n")
    print("| ranking | p50 us | p99 us | vs priority |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        values.sort()
        p50, p99 = statistics.median(values), values[int(len(values) * 0.99)]
        print(f"| {name} | {p50 * 1e6:.0f} | {p99 * 1e6:.0f} | {p50 / base:.2f}x |")


def training(events: int, offers: int = 20) -> None:
    rnd = random.Random(9)
    propositions = max(events // 2, 1)
    decided = {f"prop-{i}": {f"o{rnd.randrange(offers)}"} for i in range(propositions)}
    keys = list(decided)

    def stream():
        for i in range(events):
            pid = keys[i % propositions]
            kind = (
                "decisioning.propositionDisplay"
                if i < propositions
                else "decisioning.propositionInteract"
            )
            offer = next(iter(decided[pid]))
            yield {
                "eventType": kind,
                "_experience": {
                    "decisioning": {"propositions": [{"id": pid, "items": [{"id": offer}]}]}
                },
            }

    settings = StrategySettings(MODEL)
    t = time.perf_counter()
    impressions, conversions = count_feedback(decided, stream(), settings)
    model = train_auto(MODEL, 1, "t", ("a", "b"), impressions, conversions, len(decided))
    took = time.perf_counter() - t
    print(f"\n## Training (auto): {events:,} feedback events, {len(model.arms)} offers\n")
    print(f"{took:.2f} s ({events / took:,.0f} events/s), generating the events included")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    engine(args.candidates)
    training(args.events)


if __name__ == "__main__":
    main()
