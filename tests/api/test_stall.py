"""One long write freezes nothing (issue 15): a real server (uvicorn, in a thread of its own)
over a SQLite file whose writer another connection holds.

While the writer is held, `/v1/health`, an uncapped decision and a profile read are answered
(each returns while the holder still holds: the holder lets go only when the test says so, or
after a minute as a safety net the test then fails on); a write waits the configured time, no
longer, and is a `503 busy` problem with `Retry-After` that wrote nothing; once the holder lets
go, the same write succeeds. Two kinds of holder: another `Database` writer (the `flock` every
nextoffer process queues on, then `BEGIN IMMEDIATE`), and a foreign SQLite connection in
`BEGIN IMMEDIATE` (SQLite's own lock, met through the busy timeout).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn

from nextoffer.api.app import create_app
from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.conftest import build_services, new_org
from tests.decisioning.conftest import GOLD_US, request_body, scope

WAIT = 0.5
"""The server's `write_wait_seconds`: short, so that a refused write comes back soon."""
SAFETY = 60.0
"""A holder lets go by itself after this long; a test that needed it to has failed."""
GOLD = {"xdm:attributes": GOLD_US}
EVENT = {
    "events": [
        {
            "xdm": {
                "eventType": "web.webpagedetails.pageViews",
                "identityMap": {"ECID": [{"id": "12345678901234567890123456789012345678"}]},
            }
        }
    ]
}
"""An anonymous page view, kept on the ECID's profile: a write."""


@dataclass
class Node:
    base: str
    org: str
    db_path: Path
    app: Any

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": "Bearer acme-token",
            "x-api-key": "acme-key",
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": "prod",
        }


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with serve(tmp_path, WAIT) as running:
        yield running


@contextmanager
def serve(tmp_path: Path, wait: float) -> Iterator[Node]:
    """A server on a free port over a fresh SQLite file holding the demo library."""
    path = tmp_path / "stall.db"
    db = Database(f"sqlite:///{path}", write_wait=wait)
    db.upgrade()
    services = build_services(db, write_wait_seconds=wait)
    org = new_org()
    import_library(services.library, Tenant(org, "prod"), Actor("t", "t"), demo_library())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(services_=services)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Node(f"http://127.0.0.1:{port}", org, path, app)
    finally:
        server.should_exit = True
        thread.join(20)
        services.close()
        db.dispose()


class Holder:
    """Holds the database's writer in a thread until `release()` (or the safety net)."""

    def __init__(self, hold: Callable[[], AbstractContextManager[object]]) -> None:
        self._hold = hold
        self.holding = threading.Event()
        self._release = threading.Event()
        self.timed_out = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._hold():
            self.holding.set()
            self.timed_out = not self._release.wait(SAFETY)
        self.holding.clear()

    def __enter__(self) -> Holder:
        self._thread.start()
        assert self.holding.wait(20), "the holder never got the writer"
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(20)

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def nextoffer_writer(path: Path) -> Iterator[object]:
    """Another process's writer, as seen from the server: its own `Database` of the file."""
    other = Database(f"sqlite:///{path}")
    try:
        with other.write() as conn:
            yield conn
    finally:
        other.dispose()


@contextmanager
def foreign_writer(path: Path) -> Iterator[object]:
    """A tool outside nextoffer (the sqlite3 shell, a script) in a write transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


HOLDERS = {"nextoffer-writer": nextoffer_writer, "foreign-writer": foreign_writer}


def profile(email: str, tier: str = "gold") -> dict[str, object]:
    return {
        "identityMap": {"Email": [{"id": email}]},
        "attributes": {"loyalty": {"tier": tier}},
    }


def decide(client: httpx.Client, node: Node, **profile_fields: object) -> httpx.Response:
    body = request_body(scope("homepage-and-email", "web-hero"))
    body["xdm:profiles"][0].update(profile_fields)
    return client.post("/data/core/ods/decisions", json=body, headers=node.headers)


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"  # the wait (0.5 s), rounded up to whole seconds
    problem = r.json()
    assert problem["code"] == "busy"
    assert problem["type"] == "https://nextoffer.dev/problems/busy"
    assert problem["title"] == "Service busy"
    assert problem["retryAfter"] == 1
    assert "nothing was written" in problem["detail"]


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_while_another_writer_holds_the_database_reads_go_on_and_writes_are_refused_in_time(
    node: Node, holder: str
) -> None:
    with httpx.Client(base_url=node.base, timeout=SAFETY * 2) as client:
        kept = client.put(
            "/v1/profiles/Email/kept@example.com",
            json=profile("kept@example.com"),
            headers=node.headers,
        )
        assert kept.status_code == 201, kept.text
        with Holder(lambda: HOLDERS[holder](node.db_path)) as held:
            health = client.get("/v1/health")
            decision = decide(client, node)
            read = client.get("/v1/profiles/Email/kept@example.com", headers=node.headers)
            began = time.monotonic()
            refused = client.put(
                "/v1/profiles/Email/new@example.com",
                json=profile("new@example.com"),
                headers=node.headers,
            )
            waited = time.monotonic() - began
            assert held.holding.is_set()  # all of the above came back while the writer was held
        assert not held.timed_out  # ... and none of it waited for the holder to give up
        assert health.status_code == 200
        assert decision.status_code == 200, decision.text
        options = decision.json()["xdm:propositions"][0]["xdm:options"]
        assert [o["xdm:id"] for o in options] == ["dps:personalized-offer:double-points"]
        assert read.status_code == 200 and read.json()["attributes"] == {
            "loyalty": {"tier": "gold"}
        }
        assert_busy(refused)
        assert waited >= WAIT  # it waited the configured time before giving up (a lower bound)

        missing = client.get("/v1/profiles/Email/new@example.com", headers=node.headers)
        assert missing.status_code == 404, missing.text  # the refused write left nothing behind
        retried = client.put(
            "/v1/profiles/Email/new@example.com",
            json=profile("new@example.com"),
            headers=node.headers,
        )
        assert retried.status_code == 201, retried.text
        found = client.get("/v1/profiles/Email/new@example.com", headers=node.headers)
        assert found.status_code == 200
        assert found.json()["attributes"] == {"loyalty": {"tier": "gold"}}
        again = client.get("/v1/profiles/Email/kept@example.com", headers=node.headers)
        assert again.json() == read.json()  # the earlier profile is untouched


def test_edge_events_and_a_capped_decision_wait_in_bounds_then_go_through(node: Node) -> None:
    """An anonymous Edge collect (the issue's stall) and a decision that must reserve a cap
    (the gold member's lounge pass) are refused after the wait, not held for the whole write;
    once the writer is free, both succeed."""
    with httpx.Client(base_url=node.base, timeout=SAFETY * 2) as client:
        stream = client.post("/v1/datastreams", json={"name": "site"}, headers=node.headers).json()
        collect = f"/ee/v2/collect?configId={stream['id']}"
        with Holder(lambda: nextoffer_writer(node.db_path)) as held:
            collected = client.post(collect, json=EVENT)
            capped = decide(client, node, **GOLD)
            assert held.holding.is_set()
        assert not held.timed_out
        assert_busy(collected)
        assert_busy(capped)
        assert client.post(collect, json=EVENT).status_code == 204
        options = decide(client, node, **GOLD).json()["xdm:propositions"][0]["xdm:options"]
        assert "dps:personalized-offer:gold-lounge" in [o["xdm:id"] for o in options]


def test_a_write_waiting_for_the_writer_does_not_hold_up_the_event_loop(tmp_path: Path) -> None:
    """The issue's stall: an anonymous Edge event queued behind a long write. With a write
    wait longer than the hold, the event waits in a worker thread for the writer, and the
    event loop goes on answering `/v1/health` and decisions meanwhile (on the event loop, the
    wait blocked every request until the writer let go)."""
    with (
        serve(tmp_path, SAFETY) as node,
        httpx.Client(base_url=node.base, timeout=SAFETY * 2) as client,
    ):
        stream = client.post("/v1/datastreams", json={"name": "site"}, headers=node.headers)
        collect = f"/ee/v2/collect?configId={stream.json()['id']}"
        writes = node.app.state.lanes.writes
        with Holder(lambda: nextoffer_writer(node.db_path)) as held, ThreadPoolExecutor(1) as pool:
            pending = pool.submit(client.post, collect, json=EVENT)
            while writes.in_flight == 0:  # the event has reached the writer's queue
                assert not pending.done(), pending.result().text
                time.sleep(0.005)
            health = client.get("/v1/health")
            decision = decide(client, node)
            assert not pending.done()  # still waiting for the writer
            assert held.holding.is_set()
            held.release()
            collected = pending.result()
        assert not held.timed_out
        assert health.status_code == 200
        assert decision.status_code == 200, decision.text
        assert collected.status_code == 204, collected.text
