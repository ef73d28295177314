"""The Catalog: an immutable, compiled snapshot of one sandbox's library.

Built once per library revision from plain documents (so tests build it inline): offers are
indexed by placement, collections resolved, rules and formulas compiled (through the PQL cache,
so unchanged rules are not recompiled), and each criterion's candidates for each placement are
filtered by what never depends on the request (status, representation) and pre-sorted by
static priority. Requests never touch the library again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nextoffer.memory import paused_gc
from nextoffer.pql import Compiled, PqlError, compile_cached
from nextoffer.pql.compiled import cache_key
from nextoffer.timeutil import epoch_or_none
from nextoffer.vocabulary import filter_kind

Doc = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Constraint:
    """Who is eligible: everyone, a decision rule, or audience membership (any / all)."""

    kind: str = "none"
    """`none`, `eligibilityRule`, `anySegments` or `allSegments`."""
    rule_id: str | None = None
    rule: Compiled | None = None
    rule_error: str | None = None
    """Why the rule did not compile (then it is never satisfied)."""
    segments: tuple[str, ...] = ()


NO_CONSTRAINT = Constraint()


@dataclass(frozen=True, slots=True)
class Content:
    """An offer's representation for one placement."""

    placement_id: str
    channel: str
    components: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    kind: str
    etag: int
    name: str
    status: str
    priority: int
    start: float | None
    """Epoch seconds; None means unbounded."""
    end: float | None
    constraint: Constraint
    contents: Mapping[str, Content]
    tags: frozenset[str]
    characteristics: Mapping[str, str]
    capping: tuple[Doc, ...]
    """The offer's capping rules, in order (a rule is known by its index): see `capping_rules`."""
    doc: Doc
    """The read model, which ranking formulas see as `offer`."""

    @property
    def has_caps(self) -> bool:
        return any(rule.get("enabled", True) for rule in self.capping)

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True, slots=True)
class Placement:
    id: str
    etag: int
    name: str
    channel: str
    component_type: str
    item_count: int
    allow_duplicates: bool
    return_content: bool | None
    doc: Doc


@dataclass(frozen=True, slots=True)
class Ranking:
    """How a criterion scores offers: `static` (priority), `formula` or `model`."""

    kind: str = "static"
    formula_id: str | None = None
    formula: Compiled | None = None
    formula_error: str | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Formula alias -> the context data key it reads (from the formula's `definedOn`)."""
    model_id: str | None = None
    strategy: Doc | None = None
    """The ranking strategy's library document (its settings), None when it does not exist."""


STATIC = Ranking()


@dataclass(frozen=True, slots=True)
class Criterion:
    index: int
    priority: int
    placements: frozenset[str] | None
    """None: every placement."""
    placement_order: tuple[str, ...]
    """The placements as the criterion lists them."""
    collection_id: str
    members: tuple[Offer, ...]
    """Every offer of the collection, by priority then id (explanations walk these)."""
    constraint: Constraint
    ranking: Ranking
    candidates: Mapping[str, tuple[Offer, ...]]
    """Per placement: the approved members with a representation for it, by priority then id."""

    def applies_to(self, placement_id: str) -> bool:
        return self.placements is None or placement_id in self.placements

    def candidates_for(self, placement_id: str) -> tuple[Offer, ...]:
        found = self.candidates.get(placement_id)
        if found is None:
            return tuple(o for o in self.members if o.approved and placement_id in o.contents)
        return found


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    etag: int
    name: str
    status: str
    start: float | None
    end: float | None
    fallback: Offer | None
    fallback_id: str | None
    criteria: tuple[Criterion, ...]
    doc: Doc
    _groups: dict[str, tuple[tuple[Criterion, ...], ...]] = field(default_factory=dict, repr=False)

    def groups(self, placement_id: str) -> tuple[tuple[Criterion, ...], ...]:
        """The criteria for a placement, grouped by equal `rank.priority`, highest first."""
        found = self._groups.get(placement_id)
        if found is None:
            applicable = [c for c in self.criteria if c.applies_to(placement_id)]
            priorities = sorted({c.priority for c in applicable}, reverse=True)
            found = tuple(tuple(c for c in applicable if c.priority == p) for p in priorities)
            self._groups[placement_id] = found
        return found

    @property
    def placement_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.criteria:
            for p in c.placement_order:
                seen.setdefault(p, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Catalog:
    revision: int
    offers: Mapping[str, Offer]
    fallbacks: Mapping[str, Offer]
    placements: Mapping[str, Placement]
    decisions: Mapping[str, Decision]
    problems: tuple[str, ...] = ()
    """Rules and formulas that do not compile (they never satisfy / never score)."""
    reads_events: bool = False
    """Whether any rule or formula reads experience events (then profiles are loaded with them)."""
    compiled: Mapping[str, Compiled] = field(default_factory=dict)
    """Every rule and formula compiled for this catalog, by PQL cache key (reused by the next)."""


Compiler = Callable[[str, str, tuple[str, ...]], Compiled]


def _compile(text: str, kind: str, aliases: tuple[str, ...]) -> Compiled:
    return compile_cached(text, kind, aliases)


def _segment_ids(items: Iterable[Doc] | None) -> tuple[str, ...]:
    return tuple(str(s.get("_id")) for s in items or () if s.get("_id"))


class _Builder:
    def __init__(
        self,
        docs: Mapping[str, Mapping[str, Doc]],
        compiler: Compiler,
        previous: Mapping[str, Compiled],
    ) -> None:
        self.docs = docs
        self._compile = compiler
        self._previous = previous
        self.compiled: dict[str, Compiled] = {}
        self.rules: dict[str, tuple[Compiled | None, str | None]] = {}
        self.formulas: dict[str, tuple[Compiled | None, str | None, dict[str, str]]] = {}
        self.problems: list[str] = []
        self.reads_events = False

    def compiler(self, text: str, kind: str, aliases: tuple[str, ...]) -> Compiled:
        """Compile, reusing the previous catalog's compile of the same text (by its digest)."""
        key = cache_key(kind, aliases, text)
        found = self._previous.get(key)
        if found is None:
            found = self._compile(text, kind, aliases)
        self.compiled[key] = found
        return found

    def of(self, kind: str) -> Mapping[str, Doc]:
        return self.docs.get(kind, {})

    def rule(self, rule_id: str) -> tuple[Compiled | None, str | None]:
        if rule_id not in self.rules:
            doc = self.of("eligibility-rule").get(rule_id)
            if doc is None:
                self.rules[rule_id] = (None, f"rule {rule_id} does not exist")
            else:
                text = doc.get("condition", {}).get("value", "")
                try:
                    compiled = self.compiler(text, "rule", ())
                    self.reads_events |= bool(compiled.reads.events)
                    self.rules[rule_id] = (compiled, None)
                except PqlError as exc:
                    self.rules[rule_id] = (None, f"rule {rule_id} does not compile: {exc.message}")
                    self.problems.append(self.rules[rule_id][1] or "")
        return self.rules[rule_id]

    def constraint(self, doc: Doc | None) -> Constraint:
        if not doc:
            return NO_CONSTRAINT
        kind = doc.get("profileConstraintType", "none")
        if kind == "eligibilityRule" and doc.get("eligibilityRule"):
            rule, error = self.rule(doc["eligibilityRule"])
            return Constraint(kind, doc["eligibilityRule"], rule, error)
        if kind in ("anySegments", "allSegments"):
            return Constraint(kind, segments=_segment_ids(doc.get("segmentIdentities")))
        return NO_CONSTRAINT

    def offer(self, kind: str, doc: Doc) -> Offer:
        selection = doc.get("selectionConstraint") or {}
        contents = {
            rep["placement"]: Content(rep["placement"], rep["channel"], tuple(rep["components"]))
            for rep in doc.get("representations", ())
        }
        return Offer(
            id=doc["id"],
            kind=kind,
            etag=doc.get("etag", 1),
            name=doc.get("name", ""),
            status=doc.get("status", "draft"),
            priority=(doc.get("rank") or {}).get("priority", 0),
            start=epoch_or_none(selection.get("startDate")),
            end=epoch_or_none(selection.get("endDate")),
            constraint=self.constraint(selection)
            if kind == "personalized-offer"
            else NO_CONSTRAINT,
            contents=MappingProxyType(contents),
            tags=frozenset(doc.get("tags") or ()),
            characteristics=MappingProxyType(dict(doc.get("characteristics") or {})),
            capping=capping_rules(doc),
            doc=doc,
        )

    def ranking(self, rank: Doc | None) -> Ranking:
        order = (rank or {}).get("order") or {}
        kind = order.get("orderEvaluationType", "static")
        if kind == "scoringFunction" and order.get("function"):
            formula_id = order["function"]
            formula, error, aliases = self.formula(formula_id)
            return Ranking("formula", formula_id, formula, error, aliases)
        if kind in ("rankingStrategy", "ranking-strategy"):
            model_id = str(order.get("rankingStrategy"))
            strategy = self.of("ranking-strategy").get(model_id)
            return Ranking("model", model_id=model_id, strategy=strategy)
        return STATIC

    def formula(self, formula_id: str) -> tuple[Compiled | None, str | None, dict[str, str]]:
        if formula_id not in self.formulas:
            doc = self.of("ranking-function").get(formula_id)
            if doc is None:
                self.formulas[formula_id] = (None, f"formula {formula_id} does not exist", {})
                return self.formulas[formula_id]
            aliases = formula_aliases(doc)
            text = doc.get("expression", {}).get("value", "")
            try:
                compiled = self.compiler(text, "formula", tuple(sorted(aliases)))
                self.reads_events |= bool(compiled.reads.events)
                self.formulas[formula_id] = (compiled, None, aliases)
            except PqlError as exc:
                error = f"formula {formula_id} does not compile: {exc.message}"
                self.problems.append(error)
                self.formulas[formula_id] = (None, error, aliases)
        return self.formulas[formula_id]


def formula_aliases(doc: Doc) -> dict[str, str]:
    """A formula's extra roots (`definedOn` aliases other than offer/profile) -> context key."""
    out = {}
    for alias, entry in (doc.get("definedOn") or {}).items():
        if not alias or alias in ("offer", "profile", "xEvent") or not alias.isidentifier():
            continue
        schema = (entry or {}).get("schema") or {}
        key = schema.get("altId") or schema.get("ref") or alias
        out[alias] = str(key)
    return out


def capping_rules(doc: Doc) -> tuple[Doc, ...]:
    """The offer's capping rules in order: `frequencyCappingConstraints`, then the legacy
    `cappingConstraint` as decision-event rules that never reset (`globalCap` in total, then
    `profileCap` per profile)."""
    rules = list(doc.get("frequencyCappingConstraints") or ())
    legacy = doc.get("cappingConstraint") or doc.get("xdm:cappingConstraint") or {}
    for name, scope in (("globalCap", "global"), ("profileCap", "profile")):
        limit = legacy.get(name, legacy.get(f"xdm:{name}"))
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            rules.append({"limit": limit, "scope": scope, "event": "decision", "legacy": name})
    return tuple(rules)


def _by_priority(offers: Iterable[Offer]) -> tuple[Offer, ...]:
    return tuple(sorted(offers, key=lambda o: (-o.priority, o.id)))


def build_catalog(
    docs: Mapping[str, Mapping[str, Doc]],
    *,
    revision: int = 0,
    compiler: Compiler = _compile,
    previous: Catalog | None = None,
) -> Catalog:
    """Compile a library given as `kind -> id -> read model` into a Catalog.

    With `previous` (the sandbox's last catalog), unchanged rules and formulas are taken from it
    rather than compiled again, however many sandboxes share the process-wide PQL cache.
    """
    builder = _Builder(docs, compiler, previous.compiled if previous else {})
    with paused_gc():  # ~20 objects per offer, no cycles: don't rescan the heap meanwhile
        return _build(docs, revision, builder)


def _build(docs: Mapping[str, Mapping[str, Doc]], revision: int, b: _Builder) -> Catalog:
    offers = {i: b.offer("personalized-offer", d) for i, d in b.of("personalized-offer").items()}
    fallbacks = {i: b.offer("fallback-offer", d) for i, d in b.of("fallback-offer").items()}
    by_tag: dict[str, list[Offer]] = {}
    for offer in offers.values():
        for tag in offer.tags:
            by_tag.setdefault(tag, []).append(offer)

    def members(collection: Doc | None) -> tuple[Offer, ...]:
        if collection is None:
            return ()
        ids = collection.get("ids", ())
        kind = filter_kind(collection.get("filterType", "offers"))
        if kind == "offers":
            found = [offers[i] for i in dict.fromkeys(ids) if i in offers]
        elif kind == "any-tags":
            found = list({o.id: o for t in ids for o in by_tag.get(t, ())}.values())
        else:  # all-tags
            wanted = set(ids)
            found = [o for o in offers.values() if wanted and wanted <= o.tags]
        return _by_priority(found)

    placements = {
        i: Placement(
            id=i,
            etag=d.get("etag", 1),
            name=d.get("name", ""),
            channel=d.get("channel", ""),
            component_type=d.get("componentType", ""),
            item_count=d.get("itemCount") or 1,
            allow_duplicates=bool(d.get("allowDuplicatePlacements", False)),
            return_content=d.get("returnContent"),
            doc=d,
        )
        for i, d in b.of("offer-placement").items()
    }
    collections = b.of("offer-filter")
    decisions = {}
    for decision_id, d in b.of("offer-activity").items():
        criteria = []
        for index, c in enumerate(d.get("criteria", ())):
            pool = members(collections.get(c["optionSelection"]["filter"]))
            targets = c.get("placements") or None
            scope = targets if targets is not None else list(placements)
            candidates = {
                p: tuple(o for o in pool if o.approved and p in o.contents) for p in scope
            }
            criteria.append(
                Criterion(
                    index=index,
                    priority=(c.get("rank") or {}).get("priority", 0),
                    placements=frozenset(targets) if targets is not None else None,
                    placement_order=tuple(targets or ()),
                    collection_id=c["optionSelection"]["filter"],
                    members=pool,
                    constraint=b.constraint(c.get("profileConstraint")),
                    ranking=b.ranking(c.get("rank")),
                    candidates=MappingProxyType(candidates),
                )
            )
        fallback_id = d.get("fallback")
        decisions[decision_id] = Decision(
            id=decision_id,
            etag=d.get("etag", 1),
            name=d.get("name", ""),
            status=d.get("status", "draft"),
            start=epoch_or_none(d.get("startDate")),
            end=epoch_or_none(d.get("endDate")),
            fallback=fallbacks.get(fallback_id) if fallback_id else None,
            fallback_id=fallback_id,
            criteria=tuple(criteria),
            doc=d,
        )
    return Catalog(
        revision=revision,
        offers=MappingProxyType(offers),
        fallbacks=MappingProxyType(fallbacks),
        placements=MappingProxyType(placements),
        decisions=MappingProxyType(decisions),
        problems=tuple(b.problems),
        reads_events=b.reads_events,
        compiled=MappingProxyType(b.compiled),
    )
