"""Offer Library API throughput and latency on one core, SQLite, beside a no-op endpoint.

    python benchmarks/bench_library.py [--seconds 8]

Targets (issue 2): create and get ≥ 500 requests/s each; a filtered, sorted list over 10,000
offers p99 ≤ 50 ms. The server runs in its own process pinned to core 0 (uvicorn, one worker);
the load generator runs pinned to core 1: a Python client for the closed-loop runs, `wrk`
(Debian package) for the list beside them and the paced list, where a Python client would be
the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import wrk
from benchmarks.harness import (
    Server,
    headers,
    load,
    machine,
    pin,
    table_header,
)

WEB = "https://ns.adobe.com/xdm/channel-types/web"
N_OFFERS = 10_000


def library_file(placement: str = "dps:offer-placement:bench") -> dict:
    """10,000 offers with varied priorities, names, tags and dates, as an import file."""
    rnd = random.Random(7)
    offers = []
    for i in range(N_OFFERS):
        offers.append(
            {
                "id": f"dps:personalized-offer:{i:016x}",
                "name": f"Offer {rnd.randrange(100000):05d}",
                "status": rnd.choice(["approved", "approved", "draft", "archived"]),
                "representations": [
                    {
                        "channel": WEB,
                        "placement": placement,
                        "components": [
                            {"type": "html", "format": "text/html", "content": f"<p>{i}</p>"}
                        ],
                    }
                ],
                "selectionConstraint": {
                    "startDate": "2025-01-01T00:00:00.000+00:00",
                    "endDate": f"20{26 + i % 5}-06-01T00:00:00.000+00:00",
                    "profileConstraintType": "none",
                },
                "rank": {"priority": rnd.randrange(100)},
                "tags": [f"dps:tag:t{i % 10}"],
                "characteristics": {"category": rnd.choice(["travel", "retail", "finance"])},
            }
        )
    return {
        "format": "nextoffer-library",
        "version": 1,
        "objects": {
            "tag": [{"id": f"dps:tag:t{i}", "name": f"Tag {i}"} for i in range(10)],
            "offer-placement": [
                {"id": placement, "name": "Bench", "channel": WEB, "componentType": "html"}
            ],
            "personalized-offer": offers,
        },
    }


def offer_body(i: int) -> dict:
    return {
        "name": f"Created {i}",
        "status": "approved",
        "representations": [
            {
                "channel": WEB,
                "placement": "dps:offer-placement:bench",
                "components": [{"type": "html", "format": "text/html", "content": "<p>hi</p>"}],
            }
        ],
        "selectionConstraint": {
            "startDate": "2025-01-01T00:00:00Z",
            "endDate": "2030-01-01T00:00:00Z",
        },
        "rank": {"priority": i % 100},
    }


async def run(base: str, seconds: float) -> list[str]:
    big = headers("BIG@AdobeOrg")
    small = headers("SMALL@AdobeOrg")
    lines = []

    async def noop(c, i):
        return await c.get("/v1/health")

    async def create(c, i):
        return await c.post(
            "/data/core/dps/offers?offer-type=personalized", json=offer_body(i), headers=small
        )

    ids = [f"dps:personalized-offer:{i:016x}" for i in range(N_OFFERS)]

    async def get(c, i):
        return await c.get(
            f"/data/core/dps/offers/{ids[i % N_OFFERS]}?offer-type=personalized", headers=big
        )

    def list_query(i: int) -> str:
        # the name bound differs on every call, so no filter result or page is ever reused
        bound = (i * 7919) % 100000
        return (
            "/data/core/dps/offers?offer-type=personalized&property=status==approved"
            f"&property=rank.priority>={i % 97}&property=characteristics.category~tr.*"
            f"&property=name>=Offer%20{bound:05d}&orderby=-rank.priority,name&limit=50"
        )

    async def listing(c, i):
        return await c.get(list_query(i), headers=big)

    async def listing_repeated(c, i):
        return await c.get(list_query(0), headers=big)

    async with __import__("httpx2").AsyncClient(base_url=base) as warm:  # load snapshots first
        await listing(warm, 0)
        await get(warm, 0)
    baseline = await load("no-op `GET /v1/health`", base, noop, seconds=seconds)
    results = [
        baseline,
        await load("create offer `POST /offers`", base, create, seconds=seconds, expect=201),
        await load("get offer `GET /offers/{id}`", base, get, seconds=seconds),
        await load(
            "list 10k offers, 4 filters (one new each call), 2 sort keys",
            base,
            listing,
            seconds=seconds,
        ),
        await load("list, the same query repeated", base, listing_repeated, seconds=seconds),
    ]
    lines.append(table_header())
    lines += [r.row(baseline) for r in results]
    # wrk drives the list at a paced rate: a Python client would be the bottleneck there
    paths = [list_query(i) for i in range(1, 4001)]
    closed = wrk.run("list (wrk)", base + paths[0], paths=paths, headers=big, seconds=seconds)
    base_row = wrk.WrkResult("", baseline.rps, 0, 0, 0)
    lines.append(closed.row(base_row))
    for label, rate in (("100/s", 100.0), ("70% of its rate", closed.rps * 0.7)):
        paced = wrk.run(
            f"list paced at {label} ({rate:.0f}/s, wrk)",
            base + paths[0],
            paths=paths,
            headers=big,
            seconds=seconds,
            rate=rate,
            latency_ms=closed.p50_ms * 0.7,
        )
        lines.append(paced.row(base_row))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if pin(1):
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        from nextoffer.composition import Services
        from nextoffer.config import Settings
        from nextoffer.library.portable import import_library
        from nextoffer.tenants import Actor, Tenant

        services = Services.build(Settings(database_url=url, open_mode=True))
        actor = Actor("bench", "bench")
        import_library(services.library, Tenant("BIG@AdobeOrg", "prod"), actor, library_file())
        small = library_file()
        small["objects"]["personalized-offer"] = []
        import_library(services.library, Tenant("SMALL@AdobeOrg", "prod"), actor, small)
        services.db.dispose()
        server = Server(url)
        try:
            lines = asyncio.run(run(server.base, args.seconds))
        finally:
            server.stop()
    print(f"Offer Library API, SQLite, server on one core — {machine()}\n")
    print("\n".join(lines))
    print(json.dumps({"offers": N_OFFERS}))


if __name__ == "__main__":
    main()
