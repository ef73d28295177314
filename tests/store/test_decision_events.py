"""The decision event log: buffered writes that readers see at once, flushed in batches by a
background thread and on close, on SQLite and PostgreSQL, through either writer (a child
process, the default, or the thread itself)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nextoffer.errors import InvalidInput
from nextoffer.store.database import Database
from nextoffer.store.decision_events import DecisionEvent, DecisionEventLog, EventFilter
from nextoffer.tenants import Tenant
from tests.conftest import new_org

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def event(i: int = 0, **changes: object) -> DecisionEvent:
    values: dict = {
        "proposition_id": str(uuid.uuid4()),
        "timestamp": T0 + timedelta(seconds=i),
        "profile_id": "p1",
        "identity": ("Email", "a@b.c"),
        "activity_id": "dps:offer-activity:a",
        "placement_id": "dps:offer-placement:p",
        "offers": [("dps:personalized-offer:o1", 1, 2.5), ("dps:personalized-offer:o2", 2, None)],
        "fallback_id": None,
        "request_id": "r1",
    }
    values.update(changes)
    return DecisionEvent(**values)


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(new_org(), "prod")


@pytest.fixture(params=["process", "thread"])
def writer(request: pytest.FixtureRequest) -> str:
    return request.param


def test_buffered_events_are_seen_before_they_are_written(
    database: Database, tenant: Tenant, writer: str
) -> None:
    log = DecisionEventLog(database, writer=writer, flush_interval=3600, batch_size=10_000)
    e = event()
    log.record(tenant, [e])
    assert log.get(tenant, [e.proposition_id, "unknown"]) == {e.proposition_id: e}
    assert log.get(Tenant(tenant.org, "dev"), [e.proposition_id]) == {}
    assert log.flush() == 1
    assert log.flush() == 0
    stored = DecisionEventLog(database).get(tenant, [e.proposition_id])  # another process
    assert stored[e.proposition_id] == DecisionEvent(
        e.proposition_id,
        e.timestamp,
        "p1",
        ("email", "a@b.c"),  # namespaces are stored lower-case
        e.activity_id,
        e.placement_id,
        e.offers,
        None,
        "r1",
    )
    log.close()


def test_the_background_thread_writes_full_batches_and_close_writes_the_rest(
    database: Database, tenant: Tenant, writer: str
) -> None:
    log = DecisionEventLog(database, writer=writer, flush_interval=3600, batch_size=5)
    reader = DecisionEventLog(database)
    first = [event(i) for i in range(5)]
    log.record(tenant, first)  # a full batch wakes the writer at once
    ids = [e.proposition_id for e in first]
    for _ in range(200):
        if len(reader.get(tenant, ids)) == 5:
            break
        threading.Event().wait(0.05)
    assert len(reader.get(tenant, ids)) == 5
    last = event(9)
    log.record(tenant, [last])
    log.close()
    assert last.proposition_id in reader.get(tenant, [last.proposition_id])
    again = event(10)
    log.record(tenant, [again])  # recording after close starts the writer again
    log.close()
    assert again.proposition_id in reader.get(tenant, [again.proposition_id])


def test_a_retried_flush_does_not_duplicate(
    database: Database, tenant: Tenant, writer: str
) -> None:
    log = DecisionEventLog(database, writer=writer, flush_interval=3600)
    e = event(fallback_id="dps:fallback-offer:f", offers=[])
    log.record(tenant, [e])
    log.flush()
    log.record(tenant, [e])
    log.flush()
    page = log.query(tenant)
    assert [x.proposition_id for x in page.items] == [e.proposition_id]
    assert [
        x.proposition_id
        for x in log.query(tenant, EventFilter(offer_id="dps:fallback-offer:f")).items
    ] == [e.proposition_id]


def test_query_filters_and_pages(database: Database, tenant: Tenant, writer: str) -> None:
    log = DecisionEventLog(database, writer=writer, flush_interval=3600)
    log.record(
        tenant, [event(i, profile_id=f"p{i % 2}", placement_id=f"pl{i % 3}") for i in range(12)]
    )
    log.record(tenant, [event(5, identity=None, profile_id=None)])  # same second as another
    everything = log.query(tenant, limit=1000).items  # query writes the buffer first
    assert len(everything) == 13
    keys = [(e.timestamp, e.proposition_id) for e in everything]
    assert keys == sorted(keys, reverse=True)
    seen, cursor = [], None
    while True:
        page = log.query(tenant, limit=5, cursor=cursor)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == everything
    assert len(log.query(tenant, EventFilter(profile_id="p0")).items) == 6
    assert len(log.query(tenant, EventFilter(identity=("EMAIL", "a@b.c"))).items) == 12
    assert len(log.query(tenant, EventFilter(placement_id="pl1")).items) == 4
    window = EventFilter(since=T0 + timedelta(seconds=3), until=T0 + timedelta(seconds=6))
    assert len(log.query(tenant, window).items) == 4  # 3, 4, 5 and the other 5
    assert len(log.query(tenant, EventFilter(offer_id="dps:personalized-offer:o2")).items) == 13
    assert log.query(Tenant(new_org(), "prod")).items == []
    with pytest.raises(InvalidInput):
        log.query(tenant, cursor="not-a-cursor")
