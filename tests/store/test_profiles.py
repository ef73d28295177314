"""The profile store on SQLite and PostgreSQL: identities, whole and patched writes, bulk,
events within their window, audience paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nextoffer.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from nextoffer.jsonlines import read_lines
from nextoffer.profiles import parse_profile
from nextoffer.records.etags import ETagCondition
from nextoffer.store.database import Database
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Tenant
from tests.conftest import new_org


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 30, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database, clock: Clock) -> ProfileStore:
    return ProfileStore(database, event_window_days=30, max_events=5, clock=clock)


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(new_org(), "prod")


def body(*identities: tuple[str, str], **extra: object) -> dict:
    identity_map: dict[str, list[dict[str, str]]] = {}
    for ns, value in identities:
        identity_map.setdefault(ns, []).append({"id": value})
    return {"identityMap": identity_map, **extra}


def test_a_profile_is_found_through_any_of_its_identities(
    store: ProfileStore, tenant: Tenant
) -> None:
    written = store.put(
        tenant,
        parse_profile(
            body(
                ("email", "ada@x.io"),
                ("ecid", "42"),
                ("email", "ada@work.io"),
                attributes={"loyalty": {"tier": "gold"}},
                segments={"vip": "realized"},
            )
        ),
    )
    assert written.created and written.profile.etag == 1
    pid = written.profile.profile_id
    for identities in (
        [("email", "ada@work.io")],
        [("ECID", "42")],  # namespaces are case-insensitive
        [("email", "nobody"), ("ecid", "42")],
        [("phone", str(i)) for i in range(30)] + [("email", "ada@x.io")],  # the two-query path
    ):
        found = store.find(tenant, identities)
        assert found is not None and found.profile_id == pid, identities
        assert found.attributes == {"loyalty": {"tier": "gold"}}
        assert found.segments == {"vip": "realized"}
        assert found.identities == {"email": ("ada@x.io", "ada@work.io"), "ecid": ("42",)}
    assert store.find(tenant, [("email", "ADA@x.io")]) is None  # ids are exact
    assert store.find(tenant, []) is None
    assert store.find(Tenant(new_org(), "prod"), [("ecid", "42")]) is None
    assert store.find(tenant.__class__(tenant.org, "dev"), [("ecid", "42")]) is None
    assert store.resolve_profile_id(tenant, [("x", "y"), ("ecid", "42")]) == pid
    assert store.resolve_profile_id(tenant, [("x", "y")]) is None
    by_id = store.get_by_id(tenant, pid)
    assert by_id is not None and by_id.identities == found.identities
    assert store.get_by_id(tenant, "nope") is None


def test_when_identities_name_two_profiles_the_earliest_wins_on_read(
    store: ProfileStore, tenant: Tenant
) -> None:
    a = store.put(tenant, parse_profile(body(("email", "a")))).profile.profile_id
    b = store.put(tenant, parse_profile(body(("email", "b")))).profile.profile_id
    assert store.find(tenant, [("email", "b"), ("email", "a")]).profile_id == b  # type: ignore[union-attr]
    assert store.find(tenant, [("email", "a"), ("email", "b")]).profile_id == a  # type: ignore[union-attr]


def test_put_replaces_the_whole_profile_and_releases_dropped_identities(
    store: ProfileStore, tenant: Tenant
) -> None:
    first = store.put(
        tenant,
        parse_profile(
            body(("email", "a"), ("ecid", "1"), attributes={"x": 1}, segments={"s": "realized"})
        ),
    ).profile
    second = store.put(tenant, parse_profile(body(("email", "a"), attributes={"y": 2})))
    assert not second.created
    p = second.profile
    assert p.profile_id == first.profile_id and p.etag == 2 and p.created == first.created
    assert p.attributes == {"y": 2} and p.segments == {} and p.identities == {"email": ("a",)}
    assert store.find(tenant, [("ecid", "1")]) is None
    assert list(store.iter_profiles(tenant, audience="s")) == []
    # the released identity may now start a profile of its own
    other = store.put(tenant, parse_profile(body(("ecid", "1")))).profile
    assert other.profile_id != p.profile_id


def test_an_identity_belongs_to_one_profile_only(store: ProfileStore, tenant: Tenant) -> None:
    a = store.put(tenant, parse_profile(body(("email", "a")))).profile
    store.put(tenant, parse_profile(body(("email", "b"))))
    with pytest.raises(Conflict) as info:
        store.put(tenant, parse_profile(body(("email", "a"), ("email", "b"), attributes={"z": 1})))
    assert info.value.code == "identity-conflict"
    assert "belongs to profile" in info.value.errors[0].message
    with pytest.raises(Conflict):
        store.put(tenant, parse_profile(body(("email", "b"))), key=("email", "a"))
    with pytest.raises(Conflict):
        store.patch(tenant, ("email", "a"), {"identityMap": {"email": [{"id": "b"}]}})
    assert store.find(tenant, [("email", "a")]) == a  # nothing changed
    # the same identity in another sandbox is another profile
    elsewhere = Tenant(tenant.org, "dev")
    assert store.put(elsewhere, parse_profile(body(("email", "a")))).created


def test_if_match_guards_writes(store: ProfileStore, tenant: Tenant) -> None:
    store.put(tenant, parse_profile(body(("email", "a"))))
    with pytest.raises(PreconditionFailed):
        store.put(tenant, parse_profile(body(("email", "a"))), expected_etag=ETagCondition.of(7))
    assert (
        store.put(
            tenant, parse_profile(body(("email", "a"))), expected_etag=ETagCondition.of(1)
        ).profile.etag
        == 2
    )
    with pytest.raises(PreconditionFailed):
        store.delete(tenant, ("email", "a"), expected_etag=ETagCondition.of(1))
    with pytest.raises(PreconditionFailed):
        store.patch(
            tenant, ("email", "new"), {}, expected_etag=ETagCondition.parse("*")
        )  # nothing there to match
    store.delete(tenant, ("email", "a"), expected_etag=ETagCondition.parse('W/"2"'))


def test_merge_patch_changes_only_what_it_names_and_creates_when_absent(
    store: ProfileStore, tenant: Tenant
) -> None:
    created = store.patch(tenant, ("Email", "a"), {"attributes": {"x": {"y": 1, "z": 2}}})
    assert created.created and created.profile.identities == {"email": ("a",)}
    p = store.patch(
        tenant,
        ("email", "a"),
        {
            "identityMap": {"phone": [{"id": "555"}]},
            "attributes": {"x": {"z": None}, "w": True},
            "segments": {"s1": "realized", "s2": "existing"},
        },
    ).profile
    assert p.attributes == {"x": {"y": 1}, "w": True}
    assert p.identities == {"email": ("a",), "phone": ("555",)}
    assert p.segments == {"s1": "realized", "s2": "existing"}
    p = store.patch(
        tenant, ("phone", "555"), {"segments": {"s1": None}, "identityMap": {"email": None}}
    ).profile
    # the patched identity stays even when the patch removes its namespace
    assert p.segments == {"s2": "existing"} and p.identities == {"phone": ("555",)}
    assert store.find(tenant, [("email", "a")]) is None
    p = store.patch(tenant, ("phone", "555"), {"segmentMembership": {"ups": None}}).profile
    assert p.segments == {} and p.etag == 4
    with pytest.raises(InvalidInput) as info:
        store.patch(tenant, ("phone", "555"), {"attributes": 3})
    assert info.value.errors[0].pointer == "/attributes"
    assert store.find(tenant, [("phone", "555")]).etag == 4  # type: ignore[union-attr]


def test_delete_removes_the_profile_its_identities_and_memberships(
    store: ProfileStore, tenant: Tenant
) -> None:
    store.put(
        tenant, parse_profile(body(("email", "a"), ("ecid", "1"), segments={"s": "realized"}))
    )
    store.delete(tenant, ("ecid", "1"))
    assert store.find(tenant, [("email", "a")]) is None
    assert list(store.iter_profiles(tenant, audience="s")) == []
    with pytest.raises(NotFound) as info:
        store.delete(tenant, ("ecid", "1"))
    assert info.value.code == "no-profile" and "ecid:1" in info.value.detail
    with pytest.raises(NotFound):
        store.get(tenant, ("email", "a"))
    assert store.put(tenant, parse_profile(body(("email", "a")))).created


def test_events_are_kept_for_the_window_and_up_to_the_maximum(
    store: ProfileStore, tenant: Tenant, clock: Clock
) -> None:
    now = clock.now
    stamps = [now - timedelta(days=d) for d in (0, 10, 29, 31, 40)]
    store.put(
        tenant,
        parse_profile(
            body(
                ("email", "a"),
                events=[{"timestamp": t.isoformat(), "n": i} for i, t in enumerate(stamps)],
            )
        ),
    )
    assert [e["n"] for e in store.get(tenant, ("email", "a")).events] == [0, 1, 2]
    assert store.find(tenant, [("email", "a")]).events == ()  # type: ignore[union-attr]
    clock.now = now + timedelta(days=5)  # day 29 is now 34 days old: no longer read
    assert [e["n"] for e in store.get(tenant, ("email", "a")).events] == [0, 1]
    pid = store.append_events(tenant, [("email", "a")], [{"eventType": f"e{i}"} for i in range(4)])
    events = store.get(tenant, ("email", "a")).events
    assert len(events) == 5  # max_events
    assert [e.get("n") for e in events][-1] == 0
    assert all(e["timestamp"] == "2026-07-05T12:00:00.000+00:00" for e in events[:4])
    stored = store.get_by_id(tenant, pid)
    assert stored is not None and len(stored.events) == 5


def test_append_events_creates_and_stitches_identities(store: ProfileStore, tenant: Tenant) -> None:
    at = "2026-06-30T11:00:00Z"
    pid = store.append_events(tenant, [("ecid", "1")], [{"timestamp": at, "eventType": "view"}])
    found = store.find(tenant, [("ecid", "1")], with_events=True)
    assert found is not None and found.profile_id == pid
    assert found.events[0]["eventType"] == "view"
    assert store.append_events(tenant, [("ecid", "1"), ("email", "a")], []) == pid
    assert store.resolve_profile_id(tenant, [("email", "a")]) == pid
    with pytest.raises(NotFound):
        store.append_events(tenant, [("ecid", "2")], [{"timestamp": at}], create=False)
    with pytest.raises(InvalidInput) as info:
        store.append_events(tenant, [("ecid", "1")], [{"timestamp": "soon"}])
    assert info.value.errors[0].pointer == "/events/0/timestamp"
    with pytest.raises(InvalidInput):
        store.append_events(tenant, [], [{"timestamp": at}])


def test_bulk_upsert_counts_and_is_all_or_nothing(store: ProfileStore, tenant: Tenant) -> None:
    items = [body(("email", f"u{i}"), segments={"all": "realized"}) for i in range(2500)]
    result = store.bulk_upsert(tenant, items)
    assert (result.created, result.replaced, result.total) == (2500, 0, 2500)
    again = store.bulk_upsert(
        tenant,
        [
            body(("email", "u1"), attributes={"v": 2}),
            body(("email", "new")),
            body(("email", "new")),
        ],
    )
    assert again.as_dict() == {"created": 1, "replaced": 2, "total": 3}
    assert store.find(tenant, [("email", "u1")]).attributes == {"v": 2}  # type: ignore[union-attr]
    bad = [body(("email", "fresh")), body(("email", "u7")), {"identityMap": {"email": "x"}}]
    with pytest.raises(InvalidInput) as info:
        store.bulk_upsert(tenant, bad)
    assert info.value.extra["line"] == 3 and info.value.detail.startswith("line 3:")
    assert info.value.errors[0].details == {"line": 3}
    assert store.find(tenant, [("email", "fresh")]) is None  # nothing of the load stays
    with pytest.raises(Conflict) as conflict:
        store.bulk_upsert(tenant, [body(("email", "z")), body(("email", "u1"), ("email", "u2"))])
    assert conflict.value.extra["line"] == 2
    assert store.find(tenant, [("email", "z")]) is None


def test_bulk_upsert_reads_json_lines_with_their_line_numbers(
    store: ProfileStore, tenant: Tenant
) -> None:
    lines = [b'{"identityMap": {"email": [{"id": "a"}]}}\n', b"\n", b"{broken\n"]
    with pytest.raises(InvalidInput) as info:
        store.bulk_upsert(tenant, read_lines(lines))
    assert info.value.extra["line"] == 3 and info.value.code == "malformed-json"
    lines[2] = b'{"identityMap": {}}\n'
    with pytest.raises(InvalidInput) as info:
        store.bulk_upsert(tenant, read_lines(lines))
    assert info.value.extra["line"] == 3 and info.value.code == "invalid-profile"
    assert store.bulk_upsert(tenant, read_lines(lines[:2])).created == 1


def test_iter_profiles_pages_an_audience_by_status(store: ProfileStore, tenant: Tenant) -> None:
    statuses = ["realized", "existing", "exited"]
    store.bulk_upsert(
        tenant,
        [
            body(
                ("email", f"u{i}"),
                segments={"aud": statuses[i % 3]},
                events=[{"timestamp": "2026-06-30T00:00:00Z"}],
            )
            for i in range(250)
        ],
    )
    store.put(tenant, parse_profile(body(("email", "outsider"))))
    batches = list(store.iter_profiles(tenant, audience="aud", batch_size=40))
    assert all(len(b) <= 40 for b in batches)
    members = [p for b in batches for p in b]
    ids = [p.profile_id for p in members]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len(members) == len([i for i in range(250) if i % 3 != 2])
    assert all(p.segments["aud"] in ("realized", "existing") for p in members)
    assert all(p.events == () for p in members)
    exited = [
        p for b in store.iter_profiles(tenant, audience="aud", statuses=["exited"]) for p in b
    ]
    assert len(exited) == len(range(2, 250, 3))
    everyone = [p for b in store.iter_profiles(tenant, batch_size=100, with_events=True) for p in b]
    assert len(everyone) == 251
    assert sum(len(p.events) for p in everyone) == 250
    assert list(store.iter_profiles(Tenant(new_org(), "prod"))) == []


def test_concurrent_writers_of_one_new_identity_end_with_one_profile(
    store: ProfileStore, tenant: Tenant
) -> None:
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(i: int) -> None:
        try:
            start.wait()
            store.put(tenant, parse_profile(body(("email", "shared"), attributes={"writer": i})))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    found = store.find(tenant, [("email", "shared")])
    assert found is not None and found.etag == 6  # one profile, written six times
    assert sum(len(b) for b in store.iter_profiles(tenant)) == 1


def test_the_migration_creates_and_drops_the_tables(tmp_path) -> None:
    import sqlalchemy as sa

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade()
    ours = {"profiles", "profile_identities", "profile_segments"}
    ours |= {"decision_events", "decision_event_offers"}
    assert ours <= set(sa.inspect(db.engine).get_table_names())
    db.downgrade("base")
    assert not ours & set(sa.inspect(db.engine).get_table_names())
    db.dispose()
