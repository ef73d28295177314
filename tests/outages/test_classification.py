"""Which errors are outages (503 `dependency-unavailable`) and which are not, on real errors
raised by real servers and drivers (the node-level tests cover the HTTP answers)."""

from __future__ import annotations

import sqlite3
import uuid

import psycopg
import pytest
import redis
import sqlalchemy as sa

from nextoffer.store.outages import unavailable
from tests.capping.servers import free_port
from tests.conftest import POSTGRES_URL


def _raised(fn) -> BaseException:
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def test_a_refused_redis_is_an_outage_of_redis() -> None:
    client = redis.Redis(port=free_port(), socket_connect_timeout=1)
    outage = unavailable(_raised(client.ping))
    assert outage is not None and outage.extra == {"dependency": "redis", "retryAfter": 5}
    assert outage.code == "dependency-unavailable"
    assert "Connection refused" in outage.detail


def test_a_refused_postgresql_is_an_outage_of_the_database() -> None:
    engine = sa.create_engine(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/x")
    outage = unavailable(_raised(engine.connect))
    assert outage is not None and outage.extra == {"dependency": "database", "retryAfter": 5}
    engine.dispose()


def test_a_missing_sqlite_directory_is_an_outage_but_a_bad_statement_is_not(tmp_path) -> None:
    missing = tmp_path / "gone" / "x.db"
    assert unavailable(_raised(lambda: sqlite3.connect(missing))) is not None
    conn = sqlite3.connect(tmp_path / "ok.db")
    assert unavailable(_raised(lambda: conn.execute("select * from nowhere"))) is None
    conn.close()


def test_postgresql_errors_that_are_not_outages_stay_what_they_are(postgres_url: str) -> None:
    """A lock that cannot be taken (55P03), a statement timeout (57014) and a bad statement
    are answered by whoever handles them, not as a dependency outage."""
    table = f"nextoffer_lock_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as a, psycopg.connect(POSTGRES_URL) as b:
        a.execute(f"CREATE TABLE {table} (id int)")
        try:
            with a.transaction():
                a.execute(f"LOCK TABLE {table}")
                b.execute("SET lock_timeout = '10ms'")
                locked = _raised(lambda: b.execute(f"SELECT * FROM {table}"))
            assert isinstance(locked, psycopg.errors.LockNotAvailable)
            assert unavailable(locked) is None
            b.rollback()
            b.execute("SET statement_timeout = '10ms'")
            cancelled = _raised(lambda: b.execute("SELECT pg_sleep(1)"))
            assert isinstance(cancelled, psycopg.errors.QueryCanceled)
            assert unavailable(cancelled) is None
            b.rollback()
            assert unavailable(_raised(lambda: b.execute("SELECT nope"))) is None
        finally:
            b.rollback()
            a.execute(f"DROP TABLE {table}")
