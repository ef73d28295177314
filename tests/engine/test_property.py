"""For random libraries, profiles and requests, the fast engine returns exactly what the
straightforward reference engine returns, given the same seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextoffer.engine import DecisionRequest, ScopeRequest, build_catalog, decide, scope_problems
from nextoffer.engine.catalog import Offer
from nextoffer.engine.request import Nobody
from nextoffer.timeutil import outside
from tests.engine.conftest import NOW
from tests.engine.library import Library, criterion

RULES = {
    "adult": "person.age >= 18",
    "gold": 'loyalty.tier = "gold"',
    "in-s1": 'inSegment("s1")',
}
FORMULAS = {
    "double": "offer.rank.priority * 2",
    "flip": "if(person.age > 30, offer.rank.priority, 10 - offer.rank.priority)",
    "sometimes-null": "if(offer.rank.priority = 2, null, offer.rank.priority + 0.5)",
    # negative scores, and no score at all for priority 1: no score must still rank last
    "negative": "if(offer.rank.priority = 1, null, 0 - offer.rank.priority - 1)",
}
DATES = [None, "2026-01-01T00:00:00Z", "2026-06-15T12:00:00Z", "2027-01-01T00:00:00Z"]
PLACEMENTS = ("p1", "p2")


@dataclass
class Exhausted:
    offers: frozenset[str]

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        return 0 if offer.id in self.offers else None


@st.composite
def libraries(draw: st.DrawFn) -> Library:
    lib = Library()
    for p in PLACEMENTS:
        lib.placement(p, item_count=draw(st.integers(1, 3)), allow_duplicates=draw(st.booleans()))
    for rid, text in RULES.items():
        lib.rule(rid, text)
    for fid, text in FORMULAS.items():
        lib.formula(fid, text)
    offers = []
    for n in range(draw(st.integers(2, 12))):
        constraint = draw(st.sampled_from(["none", "none", "none", "rule", "any", "all"]))
        kwargs: dict[str, Any] = {}
        if constraint == "rule":
            kwargs["rule"] = draw(st.sampled_from(sorted(RULES)))
        elif constraint in ("any", "all"):
            kwargs["segments"] = tuple(draw(st.sets(st.sampled_from(["s1", "s2"]), min_size=1)))
            kwargs["all_segments"] = constraint == "all"
        lib.offer(
            f"o{n}",
            draw(st.integers(0, 2)),  # few priorities: many ties
            tuple(draw(st.sets(st.sampled_from(PLACEMENTS), min_size=1))),
            status=draw(st.sampled_from(["approved"] * 5 + ["draft"])),
            start=draw(st.sampled_from([None, None, None, *DATES])),
            end=draw(st.sampled_from([None, None, None, *DATES[1:]])),
            tags=tuple(draw(st.sets(st.sampled_from(["a", "b", "c"]), min_size=1))),
            frequencyCappingConstraints=[{"limit": 1}] if draw(st.booleans()) else [],
            **kwargs,
        )
        offers.append(f"o{n}")
    lib.fallback(placements=tuple(draw(st.sets(st.sampled_from(PLACEMENTS)))))
    for c in range(3):
        kind = draw(st.sampled_from(["offers", "any-tags", "all-tags"]))
        used_tags = sorted({t for o in lib.docs["personalized-offer"].values() for t in o["tags"]})
        pool = offers if kind == "offers" else used_tags
        chosen = (
            draw(st.lists(st.sampled_from(pool), unique=True, min_size=1, max_size=2))
            if kind != "offers"
            else draw(st.lists(st.sampled_from(pool), unique=True, min_size=min(len(pool), 3)))
            if pool
            else []
        )
        lib.collection(f"c{c}", chosen, kind)
    for d in range(2):
        criteria = []
        for _ in range(draw(st.integers(1, 4))):
            ranking = draw(st.sampled_from(["static", "static", "formula", "formula", "model"]))
            constraint = draw(st.sampled_from(["none", "none", "none", "rule", "segments"]))
            criteria.append(
                criterion(
                    f"c{draw(st.integers(0, 2))}",
                    draw(st.sampled_from([None, ("p1",), ("p2",), ("p1", "p2")])),
                    draw(st.integers(0, 1)),
                    formula=draw(st.sampled_from(sorted(FORMULAS)))
                    if ranking == "formula"
                    else None,
                    model="m" if ranking == "model" else None,
                    rule=draw(st.sampled_from(sorted(RULES))) if constraint == "rule" else None,
                    segments=("s2",) if constraint == "segments" else (),
                )
            )
        lib.decision(
            f"d{d}",
            criteria,
            start=draw(
                st.sampled_from([None] * 6 + ["2026-06-15T12:00:00Z", "2027-01-01T00:00:00Z"])
            ),
            end=draw(
                st.sampled_from([None] * 6 + ["2026-06-15T12:00:00Z", "2026-01-01T00:00:00Z"])
            ),
        )
    return lib


subjects = st.builds(
    lambda age, tier, segments: Nobody(
        attributes={"person": {"age": age}, "loyalty": {"tier": tier}} if age is not None else {},
        segments=segments,
    ),
    st.one_of(st.none(), st.integers(10, 50)),
    st.sampled_from(["gold", "silver"]),
    st.dictionaries(
        st.sampled_from(["s1", "s2"]), st.sampled_from(["realized", "existing", "exited"])
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    libraries(),
    subjects,
    st.lists(
        st.tuples(
            st.sampled_from(["d0", "d1"]),
            st.sampled_from(PLACEMENTS),
            st.one_of(st.none(), st.integers(1, 4)),
        ),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.none(), st.tuples(st.booleans(), st.booleans())),
    st.integers(0, 2**32),
    st.sets(st.sampled_from([f"o{n}" for n in range(12)]), max_size=2),
)
def test_fast_engine_equals_reference_engine(lib, subject, scopes, flags, seed, capped) -> None:
    catalog = build_catalog(lib.docs)
    requests = [ScopeRequest(a, p, n) for a, p, n in scopes]
    requests = [r for r in requests if not scope_problems(catalog, [r])]
    if not requests:
        return
    common = dict(
        subject=subject, allow_duplicates=flags, seed=seed, capping=Exhausted(frozenset(capped))
    )
    fast = decide(catalog, DecisionRequest(requests, now=NOW, **common))
    slow = decide(catalog, DecisionRequest(requests, now=NOW, explain=True, **common))
    now = NOW.timestamp()
    for index, (f, s, r) in enumerate(zip(fast, slow, requests, strict=True)):
        for p in (f, s):
            assert (p.index, p.decision.id, p.placement.id) == (
                index,
                r.activity_id,
                r.placement_id,
            )
            assert p.item_count == (r.item_count or catalog.placements[r.placement_id].item_count)
        assert f.trace is None and s.trace is not None
        if outside(f.decision.start, f.decision.end, now):  # not started or ended: no offers
            assert f.options == [] and s.trace.candidates == []
        assert [(c.offer.id, c.score) for c in f.options] == [
            (c.offer.id, c.score) for c in s.options
        ]
        assert (f.fallback and f.fallback.id) == (s.fallback and s.fallback.id)
        assert len(f.options) <= f.item_count
        assert len({c.offer.id for c in f.options}) == len(f.options)
        chosen = {c.offer.id for c in f.options}
        assert all(t.reason == "selected" for t in s.trace.candidates if t.offer_id in chosen)
