"""Property: whatever anonymous Edge traffic claimed first, the tenant's own writes of profiles
that do not conflict among themselves never fail, and never absorb an anonymous event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.profiles.documents import ProfileData
from nextoffer.profiles.merge import MergePlan

POOL = [("email", f"u{i}@example.com") for i in range(6)] + [("ecid", f"d{i}") for i in range(6)]
identities = st.sampled_from(POOL)
anonymous_calls = st.lists(st.lists(identities, min_size=1, max_size=4, unique=True), max_size=8)


def tenant_profiles(draw_from: list[tuple[str, str]]) -> st.SearchStrategy[list[list]]:
    """Disjoint identity sets: profiles that never conflict among themselves."""
    return st.permutations(draw_from).flatmap(
        lambda order: st.lists(st.integers(1, 3), max_size=4).map(
            lambda sizes: _split(list(order), sizes)
        )
    )


def _split(order: list, sizes: list[int]) -> list[list]:
    out, at = [], 0
    for size in sizes:
        if at + size > len(order):
            break
        out.append(order[at : at + size])
        at += size
    return out


def plan() -> MergePlan:
    counter = iter(range(10_000))
    return MergePlan(
        stamp="2026-12-07T00:00:00.000Z",
        oldest="2026-11-01T00:00:00.000Z",
        max_events=100,
        new_id=lambda: f"p{next(counter)}",
    )


@settings(max_examples=200, deadline=None)
@given(anonymous_calls, tenant_profiles(POOL))
def test_claims_never_fail_nor_poison_the_tenants_writes(
    calls: list[list], profiles: list[list]
) -> None:
    p = plan()
    for keys in calls:  # unverified: (a verified identity is the tenant's own word)
        event = {"timestamp": "2026-12-06T00:00:00.000Z", "eventType": "anonymous"}
        p.stitch_anonymous([], keys, [event], create=True)
    for keys in profiles:  # the tenant's own bulk load: never a 409
        by_ns: dict[str, tuple[str, ...]] = {}
        for ns, value in keys:
            by_ns[ns] = (*by_ns.get(ns, ()), value)
        pid, _ = p.upsert(ProfileData(by_ns, {"tier": "gold"}, {}))
        profile = p.final_profile(pid)
        assert profile.events == ()  # nothing anonymous flowed in
        assert set(profile.identity_pairs()) == set(keys)
    held: dict[tuple[str, str], str] = {}
    for pid, profile in p.final.items():  # every identity has one holder, as the plan says
        for key in profile.identity_pairs() if profile else ():
            assert key not in held, (key, held[key], pid)
            held[key] = pid
            assert p.holder(key) == pid
