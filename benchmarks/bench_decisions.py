"""Decisions over HTTP on one worker core, beside a no-op endpoint on the same server.

    python benchmarks/bench_decisions.py [--seconds 8]

Targets (issue 4): >= 2,000 decisions/s on one worker core, p99 <= 10 ms at 70% of that rate.
The library: 1,000 offers, 100 rules, 10 placements, one live decision whose collection holds
100 candidates with rules (the engine benchmark's). Needs `wrk` (Debian package) for the load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import wrk
from benchmarks.bench_engine import TIERS, library
from benchmarks.harness import Server, headers, machine, pin

ORG = "BENCH@AdobeOrg"


def bodies(n: int, decision: str) -> list[bytes]:
    rnd = random.Random(5)
    out = []
    for i in range(n):
        attributes = {
            "person": {
                "age": rnd.randrange(14, 80),
                "name": {"firstName": rnd.choice("ABCDEFGH") + "x"},
            },
            "loyalty": {"tier": rnd.choice(TIERS), "points": rnd.randrange(6000)},
            "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
            "orders": {"count": rnd.randrange(10), "total": rnd.randrange(1000)},
        }
        body = {
            "xdm:propositionRequests": [{"xdm:activityId": decision, "xdm:placementId": "p0"}],
            "xdm:profiles": [
                {
                    "xdm:identityMap": {
                        "Email": [{"xdm:id": f"user{i}@example.com", "primary": True}]
                    },
                    "xdm:attributes": attributes,
                }
            ],
            "xdm:responseFormat": {"xdm:includeContent": True},
        }
        out.append(json.dumps(body).encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if not wrk.available():
        sys.exit("this benchmark needs wrk: apt-get install wrk")
    if pin(1):
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        from nextoffer.api.app import Services
        from nextoffer.config import Settings
        from nextoffer.library.portable import import_library
        from nextoffer.tenants import Actor, Tenant

        services = Services.build(Settings(database_url=url, open_mode=True))
        docs = library(offers=1000, rules=100, placements=10, candidates=100)
        data = {
            "format": "nextoffer-library",
            "version": 1,
            "objects": {k: list(v.values()) for k, v in docs.items()},
        }
        import_library(services.library, Tenant(ORG, "prod"), Actor("bench", "bench"), data)
        services.db.dispose()
        server = Server(url)
        try:
            h = {**headers(ORG), "Content-Type": "application/json"}
            decide_url = f"{server.base}/data/core/ods/decisions"
            static, formula = bodies(200, "static"), bodies(200, "formula")
            wrk.run("warm-up", decide_url, method="POST", bodies=static, headers=h, seconds=2)
            noop = wrk.run(
                "no-op `GET /v1/health`", f"{server.base}/v1/health", seconds=args.seconds
            )
            by_priority = wrk.run(
                "decision, priority ranking",
                decide_url,
                method="POST",
                bodies=static,
                headers=h,
                seconds=args.seconds,
            )
            by_formula = wrk.run(
                "decision, formula ranking",
                decide_url,
                method="POST",
                bodies=formula,
                headers=h,
                seconds=args.seconds,
            )
            rate = by_priority.rps * 0.7
            paced = wrk.run(
                f"decision at 70% ({rate:,.0f}/s, paced)",
                decide_url,
                method="POST",
                bodies=static,
                headers=h,
                seconds=args.seconds,
                connections=64,
                rate=rate,
                latency_ms=by_priority.p50_ms * 0.7,
            )
        finally:
            server.stop()
    print(
        f"Decisioning API, SQLite, one uvicorn worker on one core; wrk on the other — {machine()}\n"
    )
    print(
        "| endpoint | req/s | vs no-op | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|"
    )
    for r in (noop, by_priority, by_formula, paced):
        print(r.row(noop))


if __name__ == "__main__":
    main()
