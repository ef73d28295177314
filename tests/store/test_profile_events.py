"""Profile events as rows (`profile_events`) on SQLite and PostgreSQL: appends that never
rewrite, retention by cheap deletes, the decision's one-query read, bulk loads in short steps,
and the migration that moves stored events into the table and back."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextoffer.errors import Conflict, InvalidInput, TooLarge
from nextoffer.profiles import parse_profile
from nextoffer.profiles.events import cutoff, encoded, newest_first, within_budget
from nextoffer.store.database import Database
from nextoffer.store.profile_tables import profile_events as ev
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc
from tests.conftest import new_org, postgres_database

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database, clock: Clock) -> ProfileStore:
    return ProfileStore(
        database, event_window_days=30, max_events=5, event_budget_bytes=4000, clock=clock
    )


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(new_org(), "prod")


def at(minutes_ago: float) -> str:
    return format_utc(NOW - timedelta(minutes=minutes_ago))


def body(email: str, **extra: object) -> dict:
    return {"identityMap": {"email": [{"id": email}]}, **extra}


def rows(store: ProfileStore, pid: str) -> list[tuple[int, str, int, str]]:
    """The profile's stored event rows, newest first: (seq, timestamp, size, event)."""
    with store.db.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(ev.c.seq, ev.c.timestamp, ev.c.size, ev.c.event)
                .where(ev.c.profile_id == pid)
                .order_by(ev.c.timestamp.desc(), ev.c.seq.desc())
            )
        ]


def names(store: ProfileStore, tenant: Tenant, email: str = "a") -> list[Any]:
    return [e.get("n") for e in store.get(tenant, ("email", email)).events]


def test_appending_inserts_rows_and_never_rewrites_the_stored_ones(
    store: ProfileStore, tenant: Tenant
) -> None:
    events = [{"timestamp": at(10 + i), "n": i} for i in range(4)]
    pid = store.put(tenant, parse_profile(body("a", events=events))).profile.profile_id
    before = rows(store, pid)
    assert [orjson.loads(r[3])["n"] for r in before] == [0, 1, 2, 3]
    assert all(r[2] == len(r[3].encode()) for r in before)  # size: bytes of the stored JSON

    assert store.append_events(tenant, [("email", "a")], [{"timestamp": at(1), "n": "new"}]) == pid
    after = rows(store, pid)
    assert after[1:] == before  # the stored rows are untouched: same seq, same text
    assert orjson.loads(after[0][3]) == {"timestamp": at(1), "n": "new"}
    assert names(store, tenant) == ["new", 0, 1, 2, 3]

    store.append_events(tenant, [("email", "a")], [{"timestamp": at(0), "n": "newer"}])
    after = rows(store, pid)
    assert len(after) == 5 and after[2:] == before[:3]  # max_events: the oldest row went
    assert names(store, tenant) == ["newer", "new", 0, 1, 2]


def test_retention_deletes_what_the_window_and_the_byte_budget_drop(
    store: ProfileStore, tenant: Tenant, clock: Clock
) -> None:
    pid = store.append_events(tenant, [("email", "a")], [{"timestamp": at(60 * 24 * 20), "n": 0}])
    clock.now = NOW + timedelta(days=15)  # the first event is now 35 days old
    assert names(store, tenant) == []  # never read
    assert len(rows(store, pid)) == 1  # until the next write
    store.append_events(tenant, [("email", "a")], [{"timestamp": at(0), "n": 1}])
    assert [orjson.loads(r[3])["n"] for r in rows(store, pid)] == [1]  # deleted by the append

    big = [{"timestamp": at(-5 - i), "n": f"b{i}", "pad": "x" * 1500} for i in range(3)]
    store.append_events(tenant, [("email", "a")], big)  # 3 x ~1.5 KB: the budget is 4000
    kept = rows(store, pid)
    assert sum(r[2] for r in kept) <= 4000
    # the newest that fit: b0 would take the sum over the budget (b2, b1 and 1 are ~3,100)
    assert [orjson.loads(r[3])["n"] for r in kept] == ["b2", "b1", 1]
    assert names(store, tenant) == ["b2", "b1", 1]


def test_a_batch_larger_than_the_budget_keeps_its_newest_from_the_start(
    store: ProfileStore, tenant: Tenant
) -> None:
    events = [{"timestamp": at(i), "n": i, "pad": "x" * 1500} for i in range(4)]
    pid = store.put(tenant, parse_profile(body("a", events=events))).profile.profile_id
    assert [orjson.loads(r[3])["n"] for r in rows(store, pid)] == [0, 1]
    written = store.patch(tenant, ("email", "a"), {"events": events[::-1]}).profile
    assert [e["n"] for e in written.events] == [0, 1]


def test_events_of_one_instant_keep_their_order_and_later_writes_come_first(
    store: ProfileStore, tenant: Tenant
) -> None:
    same = at(3)
    store.append_events(tenant, [("email", "a")], [{"timestamp": same, "n": n} for n in "xy"])
    store.append_events(tenant, [("email", "a")], [{"timestamp": same, "n": n} for n in "zw"])
    assert names(store, tenant) == ["z", "w", "x", "y"]
    found = store.find(tenant, [("email", "a")], with_events=True)
    assert found is not None and [e["n"] for e in found.events] == ["z", "w", "x", "y"]


def test_put_replaces_the_events_patch_keeps_them_unless_it_names_them(
    store: ProfileStore, tenant: Tenant
) -> None:
    events = [{"timestamp": at(i), "n": i} for i in range(3)]
    pid = store.put(tenant, parse_profile(body("a", events=events))).profile.profile_id
    kept = rows(store, pid)
    patched = store.patch(tenant, ("email", "a"), {"attributes": {"x": 1}}).profile
    assert [e["n"] for e in patched.events] == [0, 1, 2]  # answered with its events
    assert rows(store, pid) == kept  # not rewritten
    patched = store.patch(tenant, ("email", "a"), {"events": [{"timestamp": at(9), "n": 9}]})
    assert [e["n"] for e in patched.profile.events] == [9]
    assert names(store, tenant) == [9] and len(rows(store, pid)) == 1
    assert store.patch(tenant, ("email", "a"), {"events": None}).profile.events == ()
    store.put(tenant, parse_profile(body("a", events=events)))
    assert names(store, tenant) == [0, 1, 2]
    assert store.put(tenant, parse_profile(body("a"))).profile.events == ()
    assert rows(store, pid) == []


def test_deleting_a_profile_deletes_its_events(store: ProfileStore, tenant: Tenant) -> None:
    pid = store.append_events(tenant, [("email", "a")], [{"timestamp": at(1)}, {}])
    other = store.append_events(tenant, [("email", "b")], [{"timestamp": at(1)}])
    assert len(rows(store, pid)) == 2
    store.delete(tenant, ("email", "a"))
    assert rows(store, pid) == [] and len(rows(store, other)) == 1
    again = store.append_events(tenant, [("email", "a")], [{"timestamp": at(0), "n": 1}])
    assert again != pid and names(store, tenant) == [1]


def test_profile_writes_refuse_future_and_oversized_events_naming_them(
    store: ProfileStore, tenant: Tenant
) -> None:
    future = format_utc(NOW + timedelta(minutes=6))
    fine = {"timestamp": at(0)}
    with pytest.raises(InvalidInput) as info:
        store.put(tenant, parse_profile(body("a", events=[fine, {"timestamp": future}])))
    assert info.value.code == "future-timestamp"
    assert info.value.errors[0].pointer == "/events/1/timestamp"
    with pytest.raises(InvalidInput) as info:
        store.patch(tenant, ("email", "a"), {"events": [{"timestamp": future}]})
    assert info.value.errors[0].pointer == "/events/0/timestamp"
    with pytest.raises(InvalidInput) as info:
        store.append_events(tenant, [("email", "a")], [fine, fine, {"timestamp": future}])
    assert info.value.errors[0].pointer == "/events/2/timestamp"
    with pytest.raises(TooLarge) as big:
        store.append_events(tenant, [("email", "a")], [{"pad": "x" * 70_000}])
    assert big.value.code == "event-too-large" and big.value.errors[0].pointer == "/events/0"
    with pytest.raises(InvalidInput) as info:
        store.bulk_upsert(tenant, [body("b"), body("c", events=[{"timestamp": future}])])
    assert info.value.extra["line"] == 2 and info.value.detail.startswith("line 2:")
    assert info.value.errors[0].pointer == "/events/0/timestamp"
    # a skewed clock of up to 5 minutes is fine
    store.append_events(tenant, [("email", "a")], [{"timestamp": format_utc(NOW)}])
    assert store.find(tenant, [("email", "b")]) is None  # nothing of the refused writes stayed
    assert len(store.get(tenant, ("email", "a")).events) == 1


def test_the_decision_read_is_one_indexed_query(store: ProfileStore, tenant: Tenant) -> None:
    events = [{"timestamp": at(i), "n": i} for i in range(8)]
    store.bulk_upsert(tenant, [body("a", events=events[:5]), body("b")])
    store.find(tenant, [("email", "a")])  # the sandbox id is now known
    statements: list[str] = []
    parameters: list[Any] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(statement)
            parameters.append(params)

    engine = store.db.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        found = store.find(tenant, [("email", "a"), ("ecid", "x")], with_events=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert found is not None and [e["n"] for e in found.events] == [0, 1, 2, 3, 4]
    assert len(statements) == 1 and "profile_events" in statements[0]
    if store.db.dialect == "sqlite":
        with engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0], parameters[0])
        details = " ".join(str(r[-1]) for r in plan.all())
        assert "ix_profile_events_recent" in details, details
        assert "SCAN profile_events" not in details, details


def test_a_bulk_load_lets_another_writer_in_between_its_steps(
    store: ProfileStore, tenant: Tenant
) -> None:
    items = [body(f"u{i}", attributes={"by": "load"}) for i in range(200)]
    steps: list[int] = []
    done = threading.Event()

    def other_writer() -> None:
        store.put(tenant, parse_profile(body("u199", attributes={"by": "other"})))
        store.put(tenant, parse_profile(body("bystander")))
        done.set()

    def on_step(applied: int) -> None:
        steps.append(applied)
        if len(steps) == 1:  # the load is between its first and second steps
            writer = threading.Thread(target=other_writer)
            writer.start()
            writer.join(timeout=120)  # a load holding the writer would never let it finish
            assert done.is_set(), "the other writer could not write between two steps"

    result = store.bulk_upsert(tenant, items, on_step=on_step)
    assert result.as_dict() == {"created": 199, "replaced": 1, "total": 200}
    assert len(steps) > 1 and steps[-1] == 200 and steps == sorted(steps)
    # the other writer's u199 came first, then the load's line replaced it
    u199 = store.find(tenant, [("email", "u199")])
    assert u199 is not None and u199.attributes == {"by": "load"} and u199.etag == 2
    assert store.find(tenant, [("email", "bystander")]) is not None


def test_a_bulk_load_failing_on_its_last_line_leaves_nothing_behind(
    store: ProfileStore, tenant: Tenant
) -> None:
    store.put(tenant, parse_profile(body("taken")))
    store.put(tenant, parse_profile(body("also-taken")))
    items = [body(f"u{i}", events=[{"timestamp": at(1)}]) for i in range(300)]
    steps: list[int] = []
    for bad, error in (
        ({"identityMap": {"email": [{"id": ""}]}}, InvalidInput),
        (
            {"identityMap": {"email": [{"id": "taken"}, {"id": "also-taken"}]}},
            Conflict,
        ),
    ):
        with pytest.raises(error) as info:
            store.bulk_upsert(tenant, [*items, bad], on_step=steps.append)
        assert info.value.extra["line"] == 301
        assert steps == []  # checked whole before the first write
        assert store.find(tenant, [("email", "u0")]) is None
    assert store.resolve_profile_id(tenant, [("email", "u299")]) is None


def test_a_conflict_that_appears_after_the_check_says_what_was_written(
    store: ProfileStore, tenant: Tenant
) -> None:
    items = [body(f"u{i}") for i in range(100)]
    items.append({"identityMap": {"email": [{"id": "x"}, {"id": "y"}]}})

    def on_step(applied: int) -> None:
        if applied < 100 and store.resolve_profile_id(tenant, [("email", "x")]) is None:
            store.put(tenant, parse_profile(body("x")))  # two other profiles take x and y
            store.put(tenant, parse_profile(body("y")))

    with pytest.raises(Conflict) as info:
        store.bulk_upsert(tenant, items, on_step=on_step)
    applied = info.value.extra["applied"]
    assert info.value.extra["line"] == 101 and 0 < applied <= 100
    assert "send the load again" in info.value.detail
    assert store.find(tenant, [("email", "u0")]) is not None  # the steps before it stay


def _seed_0007(db: Database) -> None:
    """Profiles as revision 0007 stored them: the events a JSON list on the row, newest first."""
    db.upgrade("0007_batch_workloads")
    events = [
        {"timestamp": "2026-06-30T10:00:00.000+00:00", "n": 2, "é": "ü"},
        {"timestamp": "2026-06-30T09:00:00.000+00:00", "n": 1},
        {"timestamp": "2026-06-30T09:00:00.000+00:00", "n": 0},
    ]
    meta = sa.MetaData()
    sandboxes = sa.Table("sandboxes", meta, autoload_with=db.engine)
    profiles = sa.Table("profiles", meta, autoload_with=db.engine)
    with db.engine.begin() as conn:
        pk = conn.execute(
            sa.insert(sandboxes).returning(sandboxes.c.pk),
            {
                "org": "MIG@AdobeOrg",
                "name": "prod",
                "sandbox_id": str(uuid.uuid4()),
                "revision": 0,
                "tombstones_pruned_through": 0,
                "created": "then",
            },
        ).scalar_one()
        conn.execute(
            sa.insert(profiles),
            [
                {
                    "sandbox_pk": pk,
                    "profile_id": pid,
                    "etag": 1,
                    "created": "then",
                    "modified": "then",
                    "identity_map": {"email": [pid]},
                    "attributes": {},
                    "segments": {},
                    "events": evs,
                }
                for pid, evs in (("p1", events), ("p2", []), ("p3", events[1:]))
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO profile_identities (sandbox_pk, namespace, identity, profile_id) "
                "VALUES (:pk, 'email', 'p1', 'p1'), (:pk, 'email', 'p3', 'p3')"
            ),
            {"pk": pk},
        )


def _migrates_events_both_ways(db: Database, clock: Clock) -> None:
    _seed_0007(db)
    db.upgrade()
    store = ProfileStore(db, clock=clock)
    t = Tenant("MIG@AdobeOrg", "prod")
    assert [e["n"] for e in store.get(t, ("email", "p1")).events] == [2, 1, 0]
    assert store.get(t, ("email", "p1")).events[0]["é"] == "ü"
    assert [e["n"] for e in store.get(t, ("email", "p3")).events] == [1, 0]
    assert [r[2] for r in rows(store, "p1")] == [
        len(encoded(e)) for e in store.get(t, ("email", "p1")).events
    ]
    store.append_events(t, [("email", "p3")], [{"timestamp": "2026-06-30T09:00:00Z", "n": 9}])
    db.downgrade("0007_batch_workloads")
    with db.engine.connect() as conn:
        stored = dict(conn.exec_driver_sql("SELECT profile_id, events FROM profiles").all())
    decoded = {
        pid: [e["n"] for e in (orjson.loads(v) if isinstance(v, str) else v)]
        for pid, v in stored.items()
    }
    assert decoded == {"p1": [2, 1, 0], "p2": [], "p3": [9, 1, 0]}
    assert "profile_events" not in sa.inspect(db.engine).get_table_names()
    db.upgrade()
    assert [e["n"] for e in store.get(t, ("email", "p3")).events] == [9, 1, 0]


def test_the_migration_moves_stored_events_into_the_table_and_back_on_sqlite(
    tmp_path, clock: Clock
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    _migrates_events_both_ways(db, clock)
    db.dispose()


def test_the_migration_moves_stored_events_into_the_table_and_back_on_postgresql(
    clock: Clock,
) -> None:
    with postgres_database("nextoffer_events") as db:
        db.downgrade("base")
        _migrates_events_both_ways(db, clock)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1200)), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    )
)
def test_appends_keep_what_retention_at_each_write_keeps(
    store: ProfileStore, batches: list[list[tuple[int, int]]]
) -> None:
    """Whatever the appends, the profile holds what retention applied at each write would
    keep (the model below): the newest of the new events and those held, later writes first
    among equal times, within the count and the byte budget; its rows are exactly those. (A
    late event older than one already dropped is kept when it fits: retention looks at what
    the profile holds, not at what it once refused.)"""
    tenant = Tenant(new_org(), "prod")
    oldest = cutoff(NOW, 30)

    def keep(events: list[dict]) -> list[dict]:
        sized = [(e, encoded(e)) for e in newest_first(events)]
        return [e for e, _ in within_budget(sized, oldest, store.max_events, 4000)]

    held: list[dict] = []
    serial = 0
    pid = ""
    for batch in batches:
        events = []
        for minutes, pad in batch:
            serial += 1
            events.append({"timestamp": at(minutes), "n": serial, "pad": "x" * pad})
        pid = store.append_events(tenant, [("email", "a")], events)
        held = keep([*keep(events), *held])
        assert sum(len(encoded(e)) for e in held) <= 4000 and len(held) <= store.max_events
    expected = [e["n"] for e in held]
    assert [e["n"] for e in store.get(tenant, ("email", "a")).events] == expected
    assert [orjson.loads(r[3])["n"] for r in rows(store, pid)] == expected
