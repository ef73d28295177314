"""The identity-merge rules without a database: a `MergePlan` fed profiles as a store would."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from nextoffer.profiles.documents import ProfileData
from nextoffer.profiles.merge import (
    MergePlan,
    ProfileChange,
    data_of,
    identity_keys,
    with_identity,
)
from nextoffer.profiles.model import Profile
from nextoffer.records.etags import ETagCondition

STAMP = "2026-01-02T00:00:00.000Z"


def plan(*stored: Profile) -> MergePlan:
    """A plan that has read `stored` (every identity of them looked up), as the store does."""
    ids = (f"p{i}" for i in itertools.count(1))
    p = MergePlan(stamp=STAMP, oldest="2026-01-01T00:00:00.000Z", max_events=2, new_id=ids.__next__)
    for profile in stored:
        p.unknown(profile.identity_pairs())
        p.learn_owners({k: profile.profile_id for k in profile.identity_pairs()})
        p.learn_profile(profile)
    return p


def data(*identities: tuple[str, str], **attributes: object) -> ProfileData:
    by_ns: dict[str, tuple[str, ...]] = {}
    for ns, value in identities:
        by_ns[ns] = (*by_ns.get(ns, ()), value)
    return ProfileData(by_ns, dict(attributes), {})


def stored(pid: str, *identities: tuple[str, str], etag: int = 1, **segments: str) -> Profile:
    return Profile(pid, data(*identities).identities, {}, segments, (), etag, "then", "then")


def test_a_new_identity_makes_a_new_profile() -> None:
    p = plan()
    assert p.unknown([("email", "a")]) == [("email", "a")]
    assert p.learn_owners({}) == []
    pid, created = p.upsert(data(("email", "a"), x=1))
    assert (pid, created) == ("p1", True)
    new = p.final_profile(pid)
    assert (new.etag, new.created, new.modified, new.attributes) == (1, STAMP, STAMP, {"x": 1})
    assert list(p.changes()) == [ProfileChange("p1", None, new)]
    assert ProfileChange("p1", None, new).identities_added() == {("email", "a")}


def test_a_known_identity_replaces_its_profile_and_releases_what_the_body_lacks() -> None:
    old = stored("A", ("email", "a"), ("ecid", "E1"), etag=3, gold="realized", silver="existing")
    p = plan(old)
    p.unknown([("email", "a")])
    pid, created = p.upsert(data(("email", "a")))
    assert (pid, created) == ("A", False)
    new = p.final_profile("A")
    assert (new.etag, new.created, new.modified) == (4, "then", STAMP)
    assert p.owner == {("email", "a"): "A"}  # ecid:E1 is free again
    (change,) = p.changes()
    assert change.identities_removed() == {("ecid", "E1")}
    assert change.segments_removed() == ["gold", "silver"]


def test_identities_of_two_profiles_are_a_409_naming_each() -> None:
    p = plan(stored("A", ("email", "a")), stored("B", ("email", "b")))
    with pytest.raises(Conflict) as caught:
        p.upsert(data(("email", "a"), ("email", "b")))
    assert caught.value.code == "identity-conflict"
    assert [e.message for e in caught.value.errors] == ["the identity email:b belongs to profile B"]
    assert list(p.changes()) == []  # nothing planned


def test_the_target_profile_conflicts_with_another_owner() -> None:
    p = plan(stored("A", ("email", "a")), stored("B", ("email", "b")))
    with pytest.raises(Conflict):
        p.upsert(data(("email", "b")), target="A")


def test_expected_etag_guards_the_profile_the_write_lands_on() -> None:
    p = plan(stored("A", ("email", "a"), etag=2))
    with pytest.raises(PreconditionFailed, match='If-Match "1" does not match the current etag 2'):
        p.upsert(data(("email", "a")), expected_etag=ETagCondition.of(1))
    with pytest.raises(PreconditionFailed, match="does not match no profile"):
        p.upsert(data(("email", "new")), expected_etag=ETagCondition.parse("*"))
    assert p.upsert(data(("email", "a")), expected_etag=ETagCondition.parse('W/"2"'))[0] == "A"


def test_events_are_kept_newest_first_within_the_window_and_the_cap() -> None:
    events = tuple(
        {"timestamp": t}
        for t in (
            "2025-12-31T00:00:00.000Z",
            "2026-01-01T05:00:00.000Z",
            "2026-01-01T09:00:00.000Z",
        )
    )
    p = plan()
    pid, _ = p.upsert(ProfileData({"email": ("a",)}, {}, {}, events))
    assert [e["timestamp"] for e in p.final_profile(pid).events] == [
        "2026-01-01T09:00:00.000Z",
        "2026-01-01T05:00:00.000Z",
    ]


def test_stitching_adds_unowned_identities_and_leaves_owned_ones() -> None:
    p = plan(stored("A", ("ecid", "E1")), stored("B", ("email", "b")))
    p.unknown([("crm", "c")])
    keys = [("ecid", "E1"), ("crm", "c"), ("email", "b")]
    pid, created = p.stitch(keys, [{"timestamp": "2026-01-01T10:00:00.000Z"}], create=True)
    assert (pid, created) == ("A", False)
    assert p.final_profile("A").identities == {"ecid": ("E1",), "crm": ("c",)}
    assert p.owner[("email", "b")] == "B"
    with pytest.raises(NotFound):
        plan().stitch([("ecid", "nobody")], [], create=False)


def test_remove_frees_the_identities() -> None:
    p = plan(stored("A", ("email", "a"), gold="realized"))
    p.remove("A")
    assert p.owner == {}
    (change,) = p.changes()
    assert change.new is None and change.identities_removed() == {("email", "a")}
    assert p.upsert(data(("email", "a")))[0] == "p1"  # the identity can start a new profile


def test_identity_keys_lower_case_namespaces_and_drop_duplicates() -> None:
    assert identity_keys([("Email", "A"), ("email", "A"), ("ECID", "1")]) == [
        ("email", "A"),
        ("ecid", "1"),
    ]
    assert with_identity(data(("email", "a")), ("Email", "b")).identities == {"email": ("a", "b")}


def test_a_bulk_item_that_is_no_profile_names_its_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        data_of({"identityMap": "nope"}, 7)
    assert caught.value.detail.startswith("line 7: ") and caught.value.extra == {"line": 7}


# -- invariants ---------------------------------------------------------------------------------

IDENTITIES = [("email", "a"), ("email", "b"), ("ecid", "1"), ("ecid", "2"), ("crm", "x")]
writes = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.sets(st.sampled_from(IDENTITIES), min_size=1)),
        st.tuples(st.just("remove"), st.sampled_from(IDENTITIES)),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(writes)
def test_every_identity_has_one_owner_and_changes_lead_from_stored_to_final(ops: list) -> None:
    """Whatever a write plans, no identity belongs to two profiles, `owner` agrees with the
    final profiles, and the planned changes turn the stored state into the final one."""
    p = plan(stored("A", ("email", "a"), ("ecid", "1")), stored("B", ("crm", "x")))
    p.unknown(IDENTITIES)
    p.learn_owners({})
    for op, arg in ops:
        if op == "upsert":
            with contextlib.suppress(Conflict):  # a refused write plans nothing
                p.upsert(data(*sorted(arg)))
        elif arg in p.owner:
            p.remove(p.owner[arg])
    owned: dict[tuple[str, str], str] = {}
    for pid, profile in p.final.items():
        for k in profile.identity_pairs() if profile else ():
            assert k not in owned, f"{k} owned by {owned.get(k)} and {pid}"
            owned[k] = pid
    assert owned == p.owner
    state = {pid: prof for pid, prof in p.stored.items() if prof is not None}
    for change in p.changes():
        assert state.get(change.profile_id) is change.old
        if change.new is None:
            del state[change.profile_id]
        else:
            state[change.profile_id] = change.new
    assert state == {pid: prof for pid, prof in p.final.items() if prof is not None}


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(IDENTITIES), min_size=1), st.integers(1, 3))
def test_writing_the_same_body_again_changes_only_etag_and_modified(ids: set, times: int) -> None:
    """Upserting is idempotent in content: repeats land on the same profile, equal but for the
    etag, which counts the writes."""
    p = plan()
    body = data(*sorted(ids), name="ada")
    first, _ = p.upsert(body)
    once = p.final_profile(first)
    for _ in range(times):
        assert p.upsert(body) == (first, False)
    again = p.final_profile(first)
    assert (again.identities, again.attributes, again.segments, again.events) == (
        once.identities,
        once.attributes,
        once.segments,
        once.events,
    )
    assert again.etag == once.etag + times


def ev(stamp: str, n: int) -> dict:
    return {"timestamp": stamp, "n": n}


def test_a_whole_write_replaces_the_events_and_a_stitch_adds_them() -> None:
    from nextoffer.profiles.merge import EventWrite

    p = plan(stored("A", ("email", "a")))
    p.upsert(data(("email", "a")))  # a body without events: the stored ones go
    assert [c.events for c in p.changes()] == [EventWrite(True, ())]
    day = "2026-01-01T12:00:00.000Z"
    later = "2026-01-01T13:00:00.000Z"
    p.stitch(
        [("email", "a")], [ev(day, 1), ev(later, 2), ev("2025-12-01T00:00:00.000Z", 0)], create=True
    )
    # in the same plan the stitched events join the replacing ones, newest first, in the window
    assert [c.events for c in p.changes()] == [EventWrite(True, (ev(later, 2), ev(day, 1)))]

    q = plan(stored("A", ("email", "a")))
    q.stitch([("email", "a"), ("ecid", "E")], [ev(day, 1)], create=True)
    (change,) = q.changes()
    assert change.events == EventWrite(False, (ev(day, 1),))  # added to what is stored
    assert change.new is not None and change.new.events == () and change.new.etag == 2
    assert change.identities_added() == {("ecid", "E")}
    q.stitch([("email", "a")], [ev(later, 2), ev(later, 3), ev(later, 4)], create=True)
    (change,) = q.changes()
    assert change.events == EventWrite(False, (ev(later, 2), ev(later, 3)))  # max_events = 2


def test_a_patch_that_keeps_events_writes_none_and_a_deleted_profile_takes_its_own() -> None:
    p = plan(stored("A", ("email", "a")), stored("B", ("email", "b")))
    p.upsert(data(("email", "a"), x=1), keep_events=True)
    p.stitch([("email", "b")], [ev("2026-01-01T12:00:00.000Z", 1)], create=True)
    p.remove("B")
    assert {c.profile_id: c.events for c in p.changes()} == {"A": None, "B": None}
    new = plan()
    new.upsert(data(("email", "n")))  # a new profile without events: nothing to write
    assert [c.events for c in new.changes()] == [None]


def test_written_and_forgotten_plans_keep_what_later_rules_need() -> None:
    p = plan(stored("A", ("email", "a"), gold="realized"))
    p.upsert(data(("email", "a"), ("ecid", "E"), x=1))
    p.forget_bodies()
    a = p.final_profile("A")
    assert (a.identities, a.attributes, a.segments, a.etag) == (
        {"email": ("a",), "ecid": ("E",)},
        {},
        {},
        2,
    )
    p.unknown([("email", "x")])
    p.upsert(data(("email", "x")))
    with pytest.raises(Conflict):  # who owns what is still known
        p.upsert(data(("ecid", "E"), ("email", "x")))
    p.written()
    assert list(p.changes()) == []
