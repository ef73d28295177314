"""Exactness under load: 64 concurrent clients, two server processes, one shared store.

An offer capped at 100 decisions in total is proposed exactly 100 times however the requests
interleave, on the SQL store (SQLite and PostgreSQL) and on Redis; a counter written through
one node is seen by the very next decision on the other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from nextoffer.composition import Services
from nextoffer.config import Settings
from nextoffer.library.portable import import_library
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.capping.conftest import drop_redis_keys, redis_url, unique_prefix
from tests.capping.library import CAPPED, OTHER, P1, P2, decision_body, portable, proposed, rule
from tests.capping.servers import nodes, tenant_headers
from tests.conftest import new_org

CLIENTS = 64
REQUESTS = 320
LIMIT = 100

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sql-sqlite", "sql-postgresql", "redis"])
def cluster(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[list[str], str]]:
    """Two server processes over one database and counter store, and a tenant with a library
    whose capped offer allows 100 decisions in total and one per profile on P2."""
    kind = request.param
    if kind == "sql-postgresql":
        db: Database = request.getfixturevalue("postgres_db")
    else:
        db = Database(f"sqlite:///{tmp_path / 'nodes.db'}")
        db.upgrade()
    env: dict[str, str] = {}
    if kind == "redis":
        url, prefix = redis_url(), unique_prefix()
        env = {
            "NEXTOFFER_CAPPING_STORE": "redis",
            "NEXTOFFER_REDIS_URL": url,
            "NEXTOFFER_CAPPING_KEY_PREFIX": prefix,
        }
        request.addfinalizer(lambda: drop_redis_keys(url, prefix))
    org = new_org()
    services = Services.build(Settings(database_url=str(db.url), auto_migrate=False), db=db)
    library = portable([rule(LIMIT), rule(1, per_profile=True, per_placement=True)])
    import_library(services.library, Tenant(org, "prod"), Actor("t", "t"), library)
    url_text = db.url.render_as_string(hide_password=False)
    with nodes(2, url_text, **env) as bases:
        yield bases, org
    if kind != "sql-postgresql":
        db.dispose()


async def _decide_all(bases: list[str], org: str) -> Counter[str]:
    headers = tenant_headers(org)
    gate = asyncio.Semaphore(CLIENTS)
    counts: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(i: int) -> None:
            async with gate:
                body = decision_body(P1, email=f"user{i}@example.com")
                r = await client.post(
                    f"{bases[i % 2]}/data/core/ods/decisions", json=body, headers=headers
                )
                assert r.status_code == 200, r.text
                counts.update(proposed(r.json()))

        await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    return counts


def test_concurrent_clients_on_two_nodes_never_pass_the_limit(cluster) -> None:
    bases, org = cluster
    counts = asyncio.run(_decide_all(bases, org))
    assert counts[CAPPED] == LIMIT
    assert counts[OTHER] == REQUESTS - LIMIT
    # and the counter is exhausted for everyone, on both nodes, dry run or not
    for base in bases:
        for extra in ({}, {"xdm:dryRun": True}):
            body = decision_body(P1, email=f"late-{uuid.uuid4().hex}@x", **extra)
            r = httpx.post(
                f"{base}/data/core/ods/decisions", json=body, headers=tenant_headers(org)
            )
            assert proposed(r.json()) == [OTHER]


def test_a_counter_written_on_one_node_is_seen_by_the_next_decision_on_the_other(
    cluster,
) -> None:
    (a, b), org = cluster
    headers = tenant_headers(org)
    body = decision_body(P2, email="ada@example.com")
    dry = decision_body(P2, email="ada@example.com", **{"xdm:dryRun": True})
    assert proposed(
        httpx.post(f"{b}/data/core/ods/decisions", json=dry, headers=headers).json()
    ) == [CAPPED]
    assert proposed(
        httpx.post(f"{a}/data/core/ods/decisions", json=body, headers=headers).json()
    ) == [CAPPED]
    # one per profile on P2: node B knows at once
    assert proposed(
        httpx.post(f"{b}/data/core/ods/decisions", json=dry, headers=headers).json()
    ) == [OTHER]
    assert proposed(
        httpx.post(f"{b}/data/core/ods/decisions", json=body, headers=headers).json()
    ) == [OTHER]
