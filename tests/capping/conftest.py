"""Counter stores of every kind for the shared contract suite, on real servers.

PostgreSQL and Redis are used when `NEXTOFFER_TEST_POSTGRES_URL` / `NEXTOFFER_TEST_REDIS_URL`
are set (CI sets both). Redis tests use db 0 with a key prefix of their own and delete their
keys after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa

from nextoffer.capping.memory_store import MemoryStore
from nextoffer.capping.store import CounterStore
from nextoffer.store.capping_redis import RedisStore
from nextoffer.store.capping_sql import SqlStore
from nextoffer.store.database import Database
from tests.conftest import postgres_database

REDIS_URL = os.environ.get("NEXTOFFER_TEST_REDIS_URL")

STORE_KINDS = ["memory", "sql-sqlite", "sql-postgresql", "redis"]


def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("Redis suite: set NEXTOFFER_TEST_REDIS_URL (CI always does)")
    return REDIS_URL


def unique_prefix() -> str:
    return f"nextoffer-test:{uuid.uuid4().hex[:12]}:"


def drop_redis_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Database]:
    """A migrated PostgreSQL schema of this module's own."""
    with postgres_database("nextoffer_capping") as db:
        yield db


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'counters.db'}")
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[CounterStore]:
    """Each counter store, empty."""
    kind = request.param
    if kind == "memory":
        made: CounterStore = MemoryStore()
    elif kind == "sql-sqlite":
        made = SqlStore(request.getfixturevalue("sqlite_db"))
    elif kind == "sql-postgresql":
        db = request.getfixturevalue("postgres_db")
        with db.write() as conn:
            conn.execute(sa.text("DELETE FROM capping_counters"))
        made = SqlStore(db)
    else:
        url, prefix = redis_url(), unique_prefix()
        made = RedisStore(url, prefix)
        request.addfinalizer(lambda: drop_redis_keys(url, prefix))
    yield made
    made.close()
