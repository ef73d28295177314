"""The Catalog: built from plain documents, compiled once, indexed per placement."""

from __future__ import annotations

from nextoffer.engine import build_catalog
from tests.engine.library import Library, criterion


def _library() -> Library:
    lib = Library()
    lib.placement("p1")
    lib.placement("p2")
    lib.fallback(placements=("p1", "p2"))
    lib.rule("r", "person.age >= 18")
    lib.rule("events", 'select e from xEvent where e.eventType = "purchase"')
    lib.offer("approved", 5, ("p1",), rule="r")
    lib.offer("draft", 9, ("p1",), status="draft")
    lib.offer("p2-only", 3, ("p2",))
    lib.collection("c", ["approved", "draft", "p2-only"])
    lib.decision("d", [criterion("c", placements=None), criterion("c", ("p2",), priority=3)])
    return lib


def test_candidates_are_prefiltered_per_placement_and_sorted_by_priority() -> None:
    catalog = build_catalog(_library().docs)
    [anywhere, _] = catalog.decisions["d"].criteria
    assert [o.id for o in anywhere.members] == ["draft", "approved", "p2-only"]
    assert [o.id for o in anywhere.candidates_for("p1")] == ["approved"]
    assert [o.id for o in anywhere.candidates_for("p2")] == ["p2-only"]
    groups = catalog.decisions["d"].groups("p2")
    assert [[c.index for c in g] for g in groups] == [[1], [0]]
    assert [[c.index for c in g] for g in catalog.decisions["d"].groups("p1")] == [[0]]


def test_unchanged_rules_are_not_recompiled_between_builds() -> None:
    first = build_catalog(_library().docs, revision=1)
    second = build_catalog(_library().docs, revision=2)
    rule = first.offers["approved"].constraint.rule
    assert rule is not None and rule is second.offers["approved"].constraint.rule


def test_reading_events_is_known_from_the_rules() -> None:
    lib = _library()
    assert build_catalog(lib.docs).reads_events is False
    lib.offer("eventful", 1, ("p1",), rule="events")
    assert build_catalog(lib.docs).reads_events is True


def test_fallbacks_and_placements_are_resolved() -> None:
    catalog = build_catalog(_library().docs)
    decision = catalog.decisions["d"]
    assert decision.fallback is not None and decision.fallback.id == "fb"
    assert set(decision.fallback.contents) == {"p1", "p2"}
    assert catalog.placements["p1"].item_count == 1
