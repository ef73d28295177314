"""Edge collects with the per-datastream rate limits on beside the same calls with them off.

    python benchmarks/bench_edge_limits.py [--calls 1000] [--repeat 5] [--redis URL]

Issue 15 puts three limits on anonymous Edge calls (requests per second, new profiles per
minute, events per profile per minute). With the limits on, a collect takes two limiter steps
(one before reading the body, one for its profiles and events) and, for the new-profile limit,
one look-up of who owns the event's identities. Both datastreams belong to one tenant on one
SQLite database; each call is a Web SDK collect of one page view for one of 1,000 known
visitors (ECIDs, so no profile is created and nothing is refused: the limits are far above the
rate). Calls go straight into the ASGI app (no socket); batches alternate off / on, the best of
`--repeat` is kept. Limiters: in memory, and Redis when reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from benchmarks.bench_capping import reachable_redis
from benchmarks.harness import asgi_caller, machine
from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import Settings
from nextoffer.tenants import Tenant

TENANT = Tenant("EDGEBENCH@AdobeOrg", "prod")
HIGH = 1_000_000_000
VISITORS = 1_000


def body(i: int) -> bytes:
    xdm = {
        "eventType": "web.webpagedetails.pageViews",
        "identityMap": {"ECID": [{"id": f"visitor-{i % VISITORS}", "primary": True}]},
        "web": {"webPageDetails": {"URL": "https://www.example.com/"}},
    }
    return orjson.dumps({"events": [{"xdm": xdm}]})


def caller(app: Any, datastream: str) -> Callable[[bytes], Any]:
    """One Edge collect call straight into the ASGI app (no socket, no HTTP client)."""
    query = f"configId={datastream}".encode()
    return asgi_caller(app, "/ee/v2/collect", {"content-type": "text/plain"}, 204, query)


def measure(name: str, settings: Settings, calls: int, repeat: int) -> tuple[str, float, float]:
    services = Services.build(settings)
    off = services.datastream_admin.create(
        TENANT,
        {
            "name": "off",
            "limits": {
                "requestsPerSecond": 0,
                "newProfilesPerMinute": 0,
                "eventsPerProfilePerMinute": 0,
            },
        },
    )["id"]
    on = services.datastream_admin.create(
        TENANT,
        {
            "name": "on",
            "limits": {
                "requestsPerSecond": HIGH,
                "newProfilesPerMinute": HIGH,
                "eventsPerProfilePerMinute": HIGH,
            },
        },
    )["id"]
    app = create_app(services_=services)
    call = {"off": caller(app, off), "on": caller(app, on)}

    async def run(which: str, start: int) -> float:
        began = time.perf_counter()
        for i in range(start, start + calls):
            await call[which](body(i))
        return (time.perf_counter() - began) / calls

    asyncio.run(run("off", 0))  # every visitor's profile exists from here on
    best = {"off": float("inf"), "on": float("inf")}
    for r in range(repeat + 1):
        for which in ("off", "on"):
            took = asyncio.run(run(which, r * calls))
            if r:
                best[which] = min(best[which], took)
    services.close()
    services.db.dispose()
    return name, best["off"], best["on"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis", default=os.environ.get("NEXTOFFER_TEST_REDIS_URL"))
    args = parser.parse_args()
    print(machine())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (
            ("memory", {"edge_limit_store": "memory"}),
            (
                "redis",
                {
                    "redis_url": reachable_redis(args.redis),
                    "edge_limit_store": "redis",
                    "edge_limit_key_prefix": f"nextoffer-bench:{os.getpid()}:",
                },
            ),
        ):
            if name == "redis" and not extra["redis_url"]:
                print("redis: not reachable, skipped")
                continue
            db = Path(tmp) / f"{name}.db"
            settings = Settings(database_url=f"sqlite:///{db}", **extra)  # type: ignore[arg-type]
            rows.append(measure(name, settings, args.calls, args.repeat))
    print("| limiter | collect, limits off µs | collect, limits on µs | extra µs | on / off |")
    print("|---|---:|---:|---:|---:|")
    for name, off, on in rows:
        print(
            f"| {name} | {off * 1e6:.0f} | {on * 1e6:.0f} | +{(on - off) * 1e6:.0f} | "
            f"{on / off:.2f}x |"
        )


if __name__ == "__main__":
    main()
