"""Adobe's worked examples (create-offer-activities.md) give Adobe's documented results."""

from __future__ import annotations

from dataclasses import dataclass

from nextoffer.engine import DecisionRequest, ScopeRequest, build_catalog, decide
from nextoffer.engine.catalog import Offer
from tests.engine.conftest import NOW
from tests.engine.library import Library, criterion


def test_criteria_groups_rank_together_and_a_later_group_never_outranks() -> None:
    """Group 1 = criteria 1 and 2 ranked together (offer 3 keeps its higher score, 45);
    group 2 = criterion 3, whose offer 6 scores 60 yet comes after every group-1 offer."""
    lib = Library()
    lib.placement("p1", item_count=6)
    lib.fallback()
    for n, priority in zip(range(1, 7), (10, 20, 30, 40, 50, 60), strict=True):
        lib.offer(f"offer{n}", priority)
    lib.formula("f1", "offer.rank.priority")
    lib.formula("f2", "if(offer.rank.priority = 30, 45, offer.rank.priority)")
    lib.collection("c1", ["offer1", "offer2", "offer3"])
    lib.collection("c2", ["offer3", "offer4", "offer5"])
    lib.collection("c3", ["offer5", "offer6"])
    lib.decision(
        "d",
        [
            criterion("c1", priority=1, formula="f1"),
            criterion("c2", priority=1, formula="f2"),
            criterion("c3", priority=0, formula="f1"),
        ],
    )
    catalog = build_catalog(lib.docs)
    for explain in (False, True):
        [prop] = decide(
            catalog, DecisionRequest([ScopeRequest("d", "p1")], now=NOW, explain=explain)
        )
        assert [c.offer.id for c in prop.options] == [
            "offer5",
            "offer3",
            "offer4",
            "offer2",
            "offer1",
            "offer6",
        ]
        assert [c.score for c in prop.options] == [50, 45, 40, 20, 10, 60]


def test_sequential_criteria_fill_from_the_first_then_the_next() -> None:
    """Not combined: the top offers of criterion A first; B only for what is still needed."""
    lib = Library()
    lib.placement("p1", item_count=2)
    lib.fallback()
    lib.offer("a1", 1)
    lib.offer("b1", 90)
    lib.offer("b2", 80)
    lib.offer("b3", 70)
    lib.collection("A", ["a1"])
    lib.collection("B", ["b1", "b2", "b3"])
    lib.decision("seq", [criterion("A", priority=2), criterion("B", priority=1)])
    lib.decision("together", [criterion("A", priority=1), criterion("B", priority=1)])
    catalog = build_catalog(lib.docs)
    [seq, together] = decide(
        catalog,
        DecisionRequest(
            [ScopeRequest("seq", "p1"), ScopeRequest("together", "p1")],
            now=NOW,
            allow_duplicates=(True, True),
        ),
    )
    assert [c.offer.id for c in seq.options] == ["a1", "b1"]
    assert [c.offer.id for c in together.options] == ["b1", "b2"]


@dataclass
class Exhausted:
    """A capping view in which the listed offers have reached their cap."""

    offers: frozenset[str]

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        return 0 if offer.id in self.offers else None


def _two_scopes(capped: set[str], duplicates: bool) -> list[list[str]]:
    lib = Library()
    lib.placement("p1", item_count=2, allow_duplicates=duplicates)
    lib.placement("p2", item_count=2, allow_duplicates=duplicates)
    lib.fallback(placements=("p1", "p2"))
    capping = [{"limit": 1}]
    for n, priority in zip(range(1, 5), (40, 30, 20, 10), strict=True):
        lib.offer(f"offer{n}", priority, ("p1", "p2"), frequencyCappingConstraints=capping)
    lib.collection("all", [f"offer{n}" for n in range(1, 5)])
    lib.decision("d", [criterion("all", ("p1", "p2"))])
    request = DecisionRequest(
        [ScopeRequest("d", "p1"), ScopeRequest("d", "p2")],
        now=NOW,
        capping=Exhausted(frozenset(capped)),
    )
    out = []
    for prop in decide(build_catalog(lib.docs), request):
        out.append([c.offer.id for c in prop.options] or [f"fallback:{prop.fallback.id}"])
    return out


def test_multiple_scopes_without_duplicates_fill_in_request_order() -> None:
    assert _two_scopes(set(), duplicates=False) == [["offer1", "offer2"], ["offer3", "offer4"]]
    assert _two_scopes({"offer1"}, duplicates=False) == [["offer2", "offer3"], ["offer4"]]
    assert _two_scopes({"offer1", "offer3"}, duplicates=False) == [
        ["offer2", "offer4"],
        ["fallback:fb"],
    ]


def test_multiple_scopes_with_duplicates_decide_independently() -> None:
    assert _two_scopes(set(), duplicates=True) == [["offer1", "offer2"], ["offer1", "offer2"]]
    assert _two_scopes({"offer1"}, duplicates=True) == [["offer2", "offer3"], ["offer2", "offer3"]]
    assert _two_scopes({"offer1", "offer3"}, duplicates=True) == [
        ["offer2", "offer4"],
        ["offer2", "offer4"],
    ]
