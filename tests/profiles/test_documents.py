"""Profile documents: validation names every wrong field; merge patch follows RFC 7396."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextoffer.errors import InvalidInput
from nextoffer.profiles import Profile, parse_profile, read_model
from nextoffer.profiles.documents import body_of, canonical_patch
from nextoffer.profiles.events import cutoff, newest_first, within
from nextoffer.profiles.merge_patch import merge_patch


def test_a_profile_in_xdm_shape_is_normalised() -> None:
    data = parse_profile(
        {
            "identityMap": {"Email": [{"id": "a@b.c"}, {"xdm:id": "a@b.c"}], "ECID": [{"id": "1"}]},
            "attributes": {"loyalty": {"tier": "gold"}},
            "segmentMembership": {"ups": {"aud-1": {"status": "realized"}}},
            "segments": {"aud-2": "exited"},
            "events": [
                {"timestamp": "2026-01-01T00:00:00Z", "eventType": "a"},
                {"timestamp": "2026-01-02T01:00:00+01:00", "eventType": "b"},
            ],
        }
    )
    assert data.identities == {"email": ("a@b.c",), "ecid": ("1",)}
    assert data.segments == {"aud-1": "realized", "aud-2": "exited"}
    # in the order given, so that the store's checks name the right index; stored newest first
    assert [e["eventType"] for e in data.events] == ["a", "b"]
    assert data.events[1]["timestamp"] == "2026-01-02T00:00:00.000+00:00"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"identityMap": {}}, "/identityMap"),
        ({}, "/identityMap"),
        ({"identityMap": []}, "/identityMap"),
        ({"identityMap": {"bad ns": [{"id": "x"}]}}, "/identityMap/bad ns"),
        ({"identityMap": {"email": []}}, "/identityMap/email"),
        ({"identityMap": {"email": [{"id": ""}]}}, "/identityMap/email/0"),
        ({"identityMap": {"email": ["a@b.c"]}}, "/identityMap/email/0"),
        ({"identityMap": {"email": [{"id": "x" * 1025}]}}, "/identityMap/email/0"),
        ({"identityMap": {"e": [{"id": "x"}]}, "attributes": []}, "/attributes"),
        ({"identityMap": {"e": [{"id": "x"}]}, "segments": {"a": "gone"}}, "/segments/a"),
        ({"identityMap": {"e": [{"id": "x"}]}, "segments": []}, "/segments"),
        ({"identityMap": {"e": [{"id": "x"}]}, "segments": {"": "realized"}}, "/segments/"),
        (
            {"identityMap": {"e": [{"id": "x"}]}, "segmentMembership": {"ups": {"a": "realized"}}},
            "/segmentMembership/ups/a",
        ),
        (
            {"identityMap": {"e": [{"id": "x"}]}, "segmentMembership": {"ups": {"a": {}}}},
            "/segmentMembership/ups/a/status",
        ),
        ({"identityMap": {"e": [{"id": "x"}]}, "segmentMembership": 3}, "/segmentMembership"),
        (
            {"identityMap": {"e": [{"id": "x"}]}, "segmentMembership": {"u": 1}},
            "/segmentMembership/u",
        ),
        ({"identityMap": {"e": [{"id": "x"}]}, "events": {}}, "/events"),
        ({"identityMap": {"e": [{"id": "x"}]}, "events": [1]}, "/events/0"),
        ({"identityMap": {"e": [{"id": "x"}]}, "events": [{}]}, "/events/0/timestamp"),
        (
            {"identityMap": {"e": [{"id": "x"}]}, "events": [{"timestamp": "yesterday"}]},
            "/events/0/timestamp",
        ),
        ({"identityMap": {"e": [{"id": "x"}]}, "name": "Ada"}, "/name"),
        ({"identityMap": {"e": [{"id": str(i)} for i in range(101)]}}, "/identityMap"),
    ],
)
def test_every_wrong_field_is_named(body: dict[str, Any], pointer: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_profile(body)
    assert info.value.code == "invalid-profile"
    assert pointer in [e.pointer for e in info.value.errors], info.value.errors


def test_a_profile_must_be_an_object() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_profile([1])
    assert info.value.errors[0].pointer == ""


def test_read_only_members_are_ignored_so_a_read_model_can_be_written_back() -> None:
    profile = Profile("p1", {"email": ("a",)}, {"x": 1}, {"s": "realized"}, (), 4, "c", "m")
    again = parse_profile(read_model(profile))
    assert (again.identities, again.attributes, again.segments) == (
        {"email": ("a",)},
        {"x": 1},
        {"s": "realized"},
    )


def test_events_are_kept_within_the_window_and_the_maximum() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 31, tzinfo=UTC)
    data = parse_profile(
        {
            "identityMap": {"e": [{"id": "x"}]},
            "events": [{"timestamp": f"2026-03-{d:02d}T00:00:00Z", "n": d} for d in range(1, 31)],
        }
    )
    events = newest_first(data.events)
    kept = within(events, cutoff(now, 10), 1000)
    assert [e["n"] for e in kept] == list(range(30, 20, -1))  # 21st is exactly 10 days back
    assert [e["n"] for e in within(events, cutoff(now, 10), 3)] == [30, 29, 28]


def test_canonical_patch_moves_every_audience_under_ups_and_lower_cases_namespaces() -> None:
    patch = canonical_patch(
        {
            "identityMap": {"Email": None, "Phone": [{"id": "1"}]},
            "segments": {"a": "exited", "b": None},
            "segmentMembership": {"other": {"c": {"status": "realized"}}},
            "etag": 7,
        }
    )
    assert patch == {
        "identityMap": {"email": None, "phone": [{"id": "1"}]},
        "segmentMembership": {
            "ups": {"c": {"status": "realized"}, "a": {"status": "exited"}, "b": None}
        },
    }
    assert canonical_patch({"segmentMembership": {"ups": None}}) == {
        "segmentMembership": {"ups": None}
    }
    with pytest.raises(InvalidInput):
        canonical_patch([{"op": "add"}])


def test_body_of_is_what_a_merge_patch_applies_to() -> None:
    profile = Profile("p", {"email": ("a",)}, {"x": {"y": 1}}, {"s": "realized"})
    patched = merge_patch(body_of(profile), canonical_patch({"attributes": {"x": {"y": None}}}))
    assert parse_profile(patched).attributes == {"x": {}}


# -- RFC 7396 against a reference ---------------------------------------------------------------


def reference_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2, transcribed literally."""
    if isinstance(patch, dict):
        target = dict(target) if isinstance(target, dict) else {}
        for name, value in patch.items():
            if value is None:
                if name in target:
                    del target[name]
            else:
                target[name] = reference_merge_patch(target.get(name), value)
        return target
    return patch


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values, json_values)
def test_merge_patch_matches_the_rfc(target: Any, patch: Any) -> None:
    import copy

    before = copy.deepcopy((target, patch))
    assert merge_patch(target, patch) == reference_merge_patch(target, patch)
    assert (target, patch) == before  # inputs are never modified


@given(json_values)
def test_a_patch_applied_twice_changes_nothing_more(patch: Any) -> None:
    once = merge_patch({"a": 1}, patch)
    assert merge_patch(once, patch) == once
