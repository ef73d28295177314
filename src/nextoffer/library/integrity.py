"""Rules a well-formed document must also keep: those that look at other objects or limits.

Each check yields `FieldError`s located by JSON pointer; the validation pipeline turns them into
one 422. Checks read other objects only through `LibraryView`, so the same code guards API
writes (a view over the open transaction) and imports (a view over the file plus the database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nextoffer.config import Limits
from nextoffer.errors import FieldError
from nextoffer.pql import PqlError, compile_cached
from nextoffer.vocabulary import channel_name, content_kind, filter_kind

Doc = Mapping[str, Any]

LIMIT = "limit-exceeded"
"""The code of every error that names a configured limit (`Limits`)."""


@dataclass(frozen=True, slots=True)
class Stored:
    kind: str
    doc: Doc


class LibraryView(Protocol):
    """What integrity checks may ask about the rest of the sandbox."""

    limits: Limits

    def get(self, object_id: str) -> Stored | None: ...

    def count(self, kinds: tuple[str, ...]) -> int: ...

    def count_live_decisions(self) -> int: ...


Check = Callable[[Doc, LibraryView, Doc | None], Iterator[FieldError]]
DependentCheck = Callable[[Doc, str, Doc], Iterator[FieldError]]
"""Re-checks a referrer (first argument) against a changed object (its id and new document)."""


def _dates_in_order(doc: Doc | None, end_ptr: str) -> Iterator[FieldError]:
    if not doc:
        return
    start, end = doc.get("startDate"), doc.get("endDate")
    # both are normalised to one UTC spelling, so string order is time order
    if start and end and start > end:
        yield FieldError(f"endDate {end} is before startDate {start}", pointer=end_ptr)


def representation_matches(rep: Doc, index: int, placement: Doc) -> Iterator[FieldError]:
    """A representation's channel and component types must be its placement's."""
    base = f"/representations/{index}"
    if channel_name(rep["channel"]) != channel_name(placement["channel"]):
        yield FieldError(
            f"channel {rep['channel']} does not match the channel of placement "
            f"{rep['placement']} ({placement['channel']})",
            pointer=f"{base}/channel",
        )
    wanted = content_kind(placement["componentType"])
    for j, component in enumerate(rep.get("components", ())):
        if content_kind(component["type"]) != wanted:
            yield FieldError(
                f"component type {component['type']} does not match the component type of "
                f"placement {rep['placement']} ({placement['componentType']})",
                pointer=f"{base}/components/{j}/type",
            )


def check_offer(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    """Offers: one representation per placement, matching it; dates in order; per-offer limits."""
    seen: dict[str, int] = {}
    representations = doc.get("representations", [])
    for i, rep in enumerate(representations):
        pid = rep["placement"]
        if pid in seen:
            yield FieldError(
                f"placement {pid} already has a representation at /representations/{seen[pid]}; "
                "an offer holds at most one representation per placement",
                pointer=f"/representations/{i}/placement",
            )
            continue
        seen[pid] = i
        placement = view.get(pid)
        if placement is not None and placement.kind == "offer-placement":
            yield from representation_matches(rep, i, placement.doc)
    if doc.get("status") == "approved" and not representations:
        yield FieldError(
            "an approved offer needs at least one representation", pointer="/representations"
        )
    yield from _dates_in_order(doc.get("selectionConstraint"), "/selectionConstraint/endDate")
    limits = view.limits
    if len(doc.get("tags") or ()) > limits.tags_per_object:
        yield FieldError(
            f"an offer may carry at most {limits.tags_per_object} collection qualifiers "
            "(limit tags_per_object)",
            pointer="/tags",
            code=LIMIT,
        )
    rules = doc.get("frequencyCappingConstraints") or ()
    if len(rules) > limits.capping_rules_per_offer:
        yield FieldError(
            f"an offer may carry at most {limits.capping_rules_per_offer} capping rules "
            "(limit capping_rules_per_offer)",
            pointer="/frequencyCappingConstraints",
            code=LIMIT,
        )
    for i, rule in enumerate(rules):
        yield from _dates_in_order(rule, f"/frequencyCappingConstraints/{i}/endDate")
    if len(doc.get("characteristics") or {}) > limits.characteristics_per_offer:
        yield FieldError(
            f"an offer may carry at most {limits.characteristics_per_offer} characteristics "
            "(limit characteristics_per_offer)",
            pointer="/characteristics",
            code=LIMIT,
        )


def offer_on_placement_change(
    offer: Doc, placement_id: str, placement: Doc
) -> Iterator[FieldError]:
    for i, rep in enumerate(offer.get("representations", [])):
        if rep["placement"] == placement_id:
            yield from representation_matches(rep, i, placement)


def check_collection(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    ids = doc.get("ids", [])
    first: dict[str, int] = {}
    for i, item in enumerate(ids):
        if item in first:
            yield FieldError(
                f"{item} is listed twice (first at /ids/{first[item]})", pointer=f"/ids/{i}"
            )
        first.setdefault(item, i)
    if filter_kind(doc["filterType"]) == "offers":
        most, name = view.limits.offers_per_collection, "offers_per_collection"
    else:
        most, name = view.limits.tags_per_object, "tags_per_object"
    if len(ids) > most:
        yield FieldError(
            f"a collection may list at most {most} ids (limit {name})", pointer="/ids", code=LIMIT
        )


def decision_placements(doc: Doc) -> list[str]:
    """Every placement a decision's criteria name, in first-seen order."""
    out: dict[str, None] = {}
    for criterion in doc.get("criteria", ()):
        for pid in criterion.get("placements", ()):
            out.setdefault(pid, None)
    return list(out)


def fallback_usable(decision: Doc, fallback_id: str, fallback: Doc) -> Iterator[FieldError]:
    """A live decision's fallback must be approved and cover every placement of the decision."""
    if decision.get("status") != "live":
        return
    if fallback.get("status") != "approved":
        yield FieldError(
            f"a live decision needs an approved fallback; {fallback_id} is "
            f"{fallback.get('status', 'draft')}",
            pointer="/fallback",
        )
    covered = {rep["placement"] for rep in fallback.get("representations", ())}
    for pid in decision_placements(decision):
        if pid not in covered:
            yield FieldError(
                f"fallback {fallback_id} has no representation for placement {pid}, "
                "which this live decision uses",
                pointer="/fallback",
            )


def check_decision(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    yield from _dates_in_order(doc, "/endDate")
    limits = view.limits
    criteria = doc.get("criteria", [])
    if len(criteria) > limits.criteria_per_decision:
        yield FieldError(
            f"a decision may have at most {limits.criteria_per_decision} criteria "
            "(limit criteria_per_decision)",
            pointer="/criteria",
            code=LIMIT,
        )
    if len(decision_placements(doc)) > limits.placements_per_decision:
        yield FieldError(
            f"a decision may use at most {limits.placements_per_decision} placements "
            "(limit placements_per_decision)",
            pointer="/criteria",
            code=LIMIT,
        )
    yield from _one_model_per_group(criteria)
    collections = {c["optionSelection"]["filter"] for c in criteria}
    if len(collections) > limits.collections_per_decision:
        yield FieldError(
            f"a decision may use at most {limits.collections_per_decision} collections "
            "(limit collections_per_decision)",
            pointer="/criteria",
            code=LIMIT,
        )
    if doc.get("status") != "live":
        return
    if not criteria:
        yield FieldError("a live decision needs at least one criterion", pointer="/criteria")
    fallback_id = doc.get("fallback")
    if not fallback_id:
        yield FieldError("a live decision needs a fallback offer", pointer="/fallback")
    else:
        fallback = view.get(fallback_id)
        if fallback is not None and fallback.kind == "fallback-offer":
            yield from fallback_usable(doc, fallback_id, fallback.doc)
    if (old is None or old.get("status") != "live") and (
        view.count_live_decisions() >= limits.live_decisions_per_sandbox
    ):
        yield FieldError(
            f"the sandbox already has {limits.live_decisions_per_sandbox} live decisions "
            "(limit live_decisions_per_sandbox)",
            pointer="/status",
            code=LIMIT,
        )


MODEL_ORDERS = ("rankingStrategy", "ranking-strategy")


def _one_model_per_group(criteria: Any) -> Iterator[FieldError]:
    """Adobe's rule: the criteria of one priority group that rank by a model use the same one."""
    first: dict[int, tuple[int, str]] = {}
    for i, criterion in enumerate(criteria):
        rank = criterion.get("rank") or {}
        order = rank.get("order") or {}
        if order.get("orderEvaluationType") not in MODEL_ORDERS:
            continue
        priority, model = rank.get("priority", 0), order.get("rankingStrategy")
        seen = first.setdefault(priority, (i, model))
        if seen[1] != model:
            yield FieldError(
                f"criteria of one priority group ({priority}) must rank by the same model: "
                f"/criteria/{seen[0]} uses {seen[1]}, this one {model}",
                pointer=f"/criteria/{i}/rank/order/rankingStrategy",
                code="one-model-per-group",
            )


def check_strategy(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    """A ranking strategy keeps its type: a trained model of one kind cannot become the other."""
    if old is not None and old.get("type") != doc.get("type"):
        yield FieldError(
            f"the type of a ranking strategy cannot change ({old.get('type')} to "
            f"{doc.get('type')}); create a new strategy instead",
            pointer="/type",
        )


def decision_on_fallback_change(
    decision: Doc, fallback_id: str, fallback: Doc
) -> Iterator[FieldError]:
    if decision.get("fallback") == fallback_id:
        yield from fallback_usable(decision, fallback_id, fallback)


def pql_error(exc: PqlError, pointer: str) -> FieldError:
    """A PQL compile error as a field error carrying its position and a caret excerpt."""
    return FieldError(
        f"{exc.message} (line {exc.line}, column {exc.column})",
        pointer=pointer,
        code="invalid-pql",
        details={
            "line": exc.line,
            "column": exc.column,
            "pqlCode": exc.code,
            "excerpt": exc.excerpt,
        },
    )


def check_rule(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    """A decision rule's condition must compile as a boolean PQL rule."""
    try:
        compile_cached(doc["condition"]["value"], "rule")
    except PqlError as exc:
        yield pql_error(exc, "/condition/value")


def formula_aliases(doc: Doc) -> tuple[str, ...]:
    """The roots a formula may use besides `offer` and the profile: its `definedOn` aliases."""
    names = []
    for alias in doc.get("definedOn") or {}:
        if alias and alias.isidentifier() and alias not in ("offer", "profile", "xEvent"):
            names.append(alias)
    return tuple(sorted(names))


def check_formula(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    """A ranking formula's expression must compile as a numeric PQL formula."""
    try:
        compile_cached(doc["expression"]["value"], "formula", formula_aliases(doc))
    except PqlError as exc:
        yield pql_error(exc, "/expression/value")
    except ValueError as exc:  # an alias PQL cannot use as a root
        yield FieldError(str(exc), pointer="/definedOn", code="invalid-pql")


def check_capping_conditions(doc: Doc, view: LibraryView, old: Doc | None) -> Iterator[FieldError]:
    """Custom capping events are matched by a PQL condition over the event; it must compile."""
    for i, rule in enumerate(doc.get("frequencyCappingConstraints") or ()):
        condition = rule.get("eventCondition")
        if condition:
            try:
                compile_cached(condition["value"], "rule")
            except PqlError as exc:
                yield pql_error(exc, f"/frequencyCappingConstraints/{i}/eventCondition/value")
