"""Capped decisions beside uncapped ones, in one run, on each counter store.

    python benchmarks/bench_capping.py [--decisions 2000] [--repeat 5] [--postgres URL]
        [--redis URL]

Target (issue 5): a decision touching capped offers costs <= 1.5x an uncapped one, on the SQL
store and on Redis. Two tenants hold the engine benchmark's library (1,000 offers, 100 rules,
one live decision over 100 candidates with rules, priority ranking); in the capped one every
offer carries two rules — at most 1,000,000 decisions a week in total, and at most 3 a day per
profile for each placement — so each decision checks and reserves two counters per proposed
offer, one of them new (every decision is for a profile of its own, with inline attributes):
the full path, one store round trip each time. Measured two ways, batches alternating uncapped
and capped, best batch of each:
- a Decisioning API call handled in-process by the ASGI app (routing, auth, decoding, the
  decision, encoding; no socket, so no client limits the rate on two cores);
- `DecisionService.decide` alone.
PostgreSQL and Redis run when reachable (`NEXTOFFER_TEST_POSTGRES_URL` /
`NEXTOFFER_TEST_REDIS_URL` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import sqlalchemy as sa

from benchmarks.bench_engine import TIERS, library
from benchmarks.harness import asgi_caller, headers, machine
from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import Settings
from nextoffer.engine import ScopeRequest
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.calls import DecideCall
from nextoffer.wire.decisioning import InlineProfile

CAPS = [
    {"limit": 1_000_000, "scope": "global", "repeat": {"enabled": True, "unit": "week"}},
    {
        "limit": 3,
        "scope": "profile",
        "entity": "placement",
        "repeat": {"enabled": True, "unit": "day"},
    },
]
PLAIN, CAPPED = Tenant("PLAIN@AdobeOrg", "prod"), Tenant("CAPPED@AdobeOrg", "prod")


def portable(docs: dict) -> dict:
    return {
        "format": "nextoffer-library",
        "version": 1,
        "objects": {k: list(v.values()) for k, v in docs.items()},
    }


def libraries() -> tuple[dict, dict]:
    plain = library(offers=1000, rules=100, placements=10, candidates=100)
    capped = copy.deepcopy(plain)
    for offer in capped["personalized-offer"].values():
        offer["frequencyCappingConstraints"] = CAPS
    return portable(plain), portable(capped)


def attributes(n: int) -> list[InlineProfile]:
    rnd = random.Random(3)
    out = []
    for _ in range(n):
        attrs = {
            "person": {"age": rnd.randrange(14, 80), "name": {"firstName": "Ax"}},
            "loyalty": {"tier": rnd.choice(TIERS), "points": rnd.randrange(6000)},
            "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
            "orders": {"count": rnd.randrange(10)},
        }
        out.append(InlineProfile(attrs, {}))
    return out


def batch(
    services: Services, tenant: Tenant, count: int, profiles: list, start: int, items: int
) -> float:
    """Seconds per decision over `count` decisions, each for a new profile."""
    decide = services.decisions.decide
    run = uuid.uuid4().hex[:8]
    calls = [
        DecideCall(
            tenant=tenant,
            scopes=[ScopeRequest("static", "p0", items)],
            identities=[("Email", f"u{run}-{start + i}@example.com")],
            inline=profiles[(start + i) % len(profiles)],
        )
        for i in range(count)
    ]
    began = time.perf_counter()
    for call in calls:
        decide(call, _pointer)
    return (time.perf_counter() - began) / count


def _pointer(index: int, field: str) -> str:
    return ""


def measure(
    name: str, make: Callable[[], Services], decisions: int, repeat: int
) -> list[tuple[str, float, float]]:
    services = make()
    plain, capped = libraries()
    import_library(services.library, PLAIN, Actor("bench", "bench"), plain)
    import_library(services.library, CAPPED, Actor("bench", "bench"), capped)
    profiles = attributes(500)
    out = []
    for items in (1, 5):
        batch(services, PLAIN, 200, profiles, 0, items)  # warm up: catalogs, plans, statements
        batch(services, CAPPED, 200, profiles, 0, items)
        best_plain = best_capped = float("inf")
        for r in range(repeat):
            best_plain = min(best_plain, batch(services, PLAIN, decisions, profiles, r, items))
            best_capped = min(best_capped, batch(services, CAPPED, decisions, profiles, r, items))
        out.append((f"{name}, itemCount {items}", best_plain, best_capped))
    services.capping.close()
    services.db.dispose()
    return out


def http_bodies(n: int, items: int) -> list[bytes]:
    rnd = random.Random(5)
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(n):
        profile = {
            "xdm:identityMap": {"Email": [{"xdm:id": f"h{run}-{i}@example.com", "primary": True}]},
            "xdm:attributes": {
                "person": {"age": rnd.randrange(14, 80)},
                "loyalty": {"tier": rnd.choice(TIERS), "points": rnd.randrange(6000)},
                "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
            },
        }
        scope = {"xdm:activityId": "static", "xdm:placementId": "p0", "xdm:itemCount": items}
        body = {"xdm:propositionRequests": [scope], "xdm:profiles": [profile]}
        out.append(orjson.dumps(body))
    return out


def decision_caller(app: Any, tenant: Tenant) -> Callable[[bytes], Any]:
    """One Decisioning API call straight into the ASGI app (no socket, no HTTP client)."""
    hdrs = {**headers(tenant.org), "Content-Type": "application/json"}
    return asgi_caller(app, "/data/core/ods/decisions", hdrs, 200)


def measure_api(
    name: str, make: Callable[[], Services], decisions: int, repeat: int
) -> list[tuple[str, float, float]]:
    """Seconds per Decisioning API call handled in-process (routing, auth, decoding, the
    decision, encoding), capped tenant against uncapped, alternating batches; best of each."""
    services = make()
    plain, capped = libraries()
    import_library(services.library, HTTP_PLAIN, Actor("bench", "bench"), plain)
    import_library(services.library, HTTP_CAPPED, Actor("bench", "bench"), capped)
    app = create_app(services_=services)
    out = []

    async def run_batch(call: Callable[[bytes], Any], bodies: list[bytes]) -> float:
        began = time.perf_counter()
        for body in bodies:
            await call(body)
        return (time.perf_counter() - began) / len(bodies)

    for items in (1, 5):
        bodies = http_bodies(decisions * (repeat + 1) * 2, items)
        calls = {t: decision_caller(app, t) for t in (HTTP_PLAIN, HTTP_CAPPED)}
        best = {HTTP_PLAIN: float("inf"), HTTP_CAPPED: float("inf")}
        at = 0
        for r in range(repeat + 1):
            for tenant in (HTTP_PLAIN, HTTP_CAPPED):
                batch_bodies = bodies[at : at + decisions]
                at += decisions
                took = asyncio.run(run_batch(calls[tenant], batch_bodies))
                if r:  # the first round warms up
                    best[tenant] = min(best[tenant], took)
        out.append((f"{name}, itemCount {items}", best[HTTP_PLAIN], best[HTTP_CAPPED]))
    services.capping.close()
    services.db.dispose()
    return out


HTTP_PLAIN, HTTP_CAPPED = Tenant("HPLAIN@AdobeOrg", "prod"), Tenant("HCAPPED@AdobeOrg", "prod")


def reachable_postgres(url: str | None) -> str | None:
    if not url:
        return None
    try:
        engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg"))
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception:
        return None


def reachable_redis(url: str | None) -> str | None:
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url).ping()
        return url
    except Exception:
        return None


def table(title: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"{title}\n")
    print("| store | uncapped µs | capped µs | extra µs | capped / uncapped |")
    print("|---|---:|---:|---:|---:|")
    for name, plain, capped in rows:
        print(
            f"| {name} | {plain * 1e6:.0f} | {capped * 1e6:.0f} | "
            f"{(capped - plain) * 1e6:+.0f} | {capped / plain:.2f}x |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("NEXTOFFER_TEST_POSTGRES_URL"))
    parser.add_argument("--redis", default=os.environ.get("NEXTOFFER_TEST_REDIS_URL"))
    args = parser.parse_args()
    inline: list[tuple[str, float, float]] = []
    http: list[tuple[str, float, float]] = []
    cleanups: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # (name, database URL, settings)
        setups: list[tuple[str, str, dict]] = [("SQL store, SQLite", f"sqlite:///{tmp}/sql.db", {})]
        pg = reachable_postgres(args.postgres)
        if pg:
            schema = f"bench_capping_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(sa.engine.make_url(pg).set(drivername="postgresql+psycopg"))
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

            def drop_schema() -> None:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

            cleanups.append(drop_schema)
            url = sa.engine.make_url(pg)
            url = url.set(query={**url.query, "options": f"-csearch_path={schema}"})
            setups.append(("SQL store, PostgreSQL", url.render_as_string(hide_password=False), {}))
        rd = reachable_redis(args.redis)
        if rd:
            prefix = f"nextoffer-bench:{uuid.uuid4().hex[:8]}:"
            cleanups.append(lambda: drop_keys(rd, prefix))
            settings = {"capping_store": "redis", "redis_url": rd, "capping_key_prefix": prefix}
            setups.append(("Redis store", f"sqlite:///{tmp}/redis.db", settings))
        try:
            for name, url, settings in setups:

                def make(url: str = url, settings: dict = settings) -> Services:
                    return Services.build(Settings(database_url=url, open_mode=True, **settings))

                inline += measure(name, make, args.decisions, args.repeat)
                http += measure_api(name, make, args.decisions, args.repeat)
        finally:
            for cleanup in cleanups:
                cleanup()
    print(f"Capped against uncapped decisions — {machine()}\n")
    table(
        "A Decisioning API call handled in-process (ASGI app: routing, auth, decoding, the "
        "decision, encoding; no socket), one at a time",
        http,
    )
    table("The decision service alone (in-process, one thread)", inline)


def drop_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    client.close()


if __name__ == "__main__":
    main()
