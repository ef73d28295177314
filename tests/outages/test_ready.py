"""`GET /v1/ready`: 200 only when a decision can be made; 503 naming what is missing, each
dependency given a bounded time to answer."""

from __future__ import annotations

import asyncio
import threading

from starlette.testclient import TestClient

from nextoffer.api import readiness
from nextoffer.api.app import create_app
from nextoffer.store.database import Database
from tests.conftest import build_services


def test_ready_names_each_dependency_it_checked(client) -> None:
    r = client.get("/v1/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["dependencies"] == {"database": "ok"}  # no Redis configured: not checked
    assert "failing" not in body


def test_a_schema_behind_head_is_not_ready(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.upgrade("0001")
    try:
        with TestClient(create_app(services_=build_services(db))) as c:
            r = c.get("/v1/ready")
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "migrations-pending"
        assert r.json()["dependencies"] == {"database": "ok"}
    finally:
        db.dispose()


def test_a_missing_database_file_is_not_ready(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gone.db'}")
    db.upgrade()
    services = build_services(db)
    (tmp_path / "gone.db").unlink()
    db.engine.dispose()
    (tmp_path / "gone.db").mkdir()  # the path exists but is no database file
    try:
        with TestClient(create_app(services_=services)) as c:
            r = c.get("/v1/ready")
        assert r.status_code == 503, r.text
        assert r.json() == {
            "status": "unavailable",
            "schema": None,
            "failing": ["database"],
            "dependencies": {"database": "unavailable"},
        }
    finally:
        db.dispose()


def test_a_check_that_hangs_counts_as_down_after_its_time() -> None:
    release = threading.Event()
    checks = {"database": lambda: "0007", "redis": lambda: release.wait(60)}
    try:
        results = asyncio.run(readiness.probe(checks, timeout=0.05))
    finally:
        release.set()
    assert results["database"] == "0007"
    assert isinstance(results["redis"], TimeoutError)
    assert str(results["redis"]) == "no answer within 0.05 s"
