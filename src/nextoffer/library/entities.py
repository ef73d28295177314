"""Each Offer Library entity, declared once: path, id kind, schema, references, lifecycle, rules.

The generic resource layer (`service.py`, `api/library_routes.py`) serves every entity from these
declarations, so adding an entity is one `EntitySpec`, not a new router.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from nextoffer.library import integrity, models
from nextoffer.library.lifecycle import DECISION_LIFECYCLE, OFFER_LIFECYCLE, Lifecycle
from nextoffer.library.references import Reference

SCHEMA_BASE = "https://ns.adobe.com/experience/offer-management/"


@dataclass(frozen=True, slots=True)
class EntitySpec:
    kind: str
    """The id kind (`dps:<kind>:<hex>`) and the stored kind."""
    title: str
    collection: str
    """The path segment under `/data/core/dps`."""
    model: type[BaseModel]
    schema_id: str
    """The `schemas[0]` value of read models."""
    discriminator: tuple[str, str] | None = None
    """A query parameter and value that select this entity on a shared path (`offer-type`)."""
    lifecycle: Lifecycle | None = None
    references: tuple[Reference, ...] = ()
    checks: tuple[integrity.Check, ...] = ()
    dependents: Mapping[str, integrity.DependentCheck] = field(default_factory=dict)
    """For a referenced kind, how to re-check this entity when an object of that kind changes."""
    contract_fields: tuple[str, ...] = ()
    """Fields referrers depend on; a change to one re-checks every referrer."""
    count_limit: tuple[str, tuple[str, ...]] | None = None
    """(limit name, kinds counted together) checked when an object is created."""
    replaceable: bool = False
    """Whether PUT (and PATCH with a whole object) replaces the object."""
    zulu_timestamps: bool = False
    """Decisioning-era objects spell system timestamps with `Z` rather than `+00:00`."""
    aliases: tuple[str, ...] = ()
    """Other path segments that reach the same entity (documented typos, legacy names)."""

    @property
    def type_value(self) -> str | None:
        return self.discriminator[1] if self.discriminator else None


def _offer_references() -> tuple[Reference, ...]:
    return (
        Reference("representations/*/placement", ("offer-placement",)),
        Reference("tags/*", ("tag",)),
        Reference("selectionConstraint/eligibilityRule", ("eligibility-rule",)),
    )


def _tag_filter(doc: Mapping[str, Any]) -> bool:
    return models.filter_kind(doc.get("filterType", "")) != "offers"


def _offer_filter(doc: Mapping[str, Any]) -> bool:
    return models.filter_kind(doc.get("filterType", "")) == "offers"


PERSONALIZED_OFFER = EntitySpec(
    kind="personalized-offer",
    title="Personalized offer",
    collection="offers",
    discriminator=("offer-type", "personalized"),
    model=models.PersonalizedOffer,
    schema_id=SCHEMA_BASE + "personalized-offer;version=0.15",
    lifecycle=OFFER_LIFECYCLE,
    references=_offer_references(),
    checks=(integrity.check_offer, integrity.check_capping_conditions),
    dependents={"offer-placement": integrity.offer_on_placement_change},
    count_limit=("offers_per_sandbox", ("personalized-offer", "fallback-offer")),
)

FALLBACK_OFFER = EntitySpec(
    kind="fallback-offer",
    title="Fallback offer",
    collection="offers",
    discriminator=("offer-type", "fallback"),
    model=models.FallbackOffer,
    schema_id=SCHEMA_BASE + "fallback-offer;version=0.8",
    lifecycle=OFFER_LIFECYCLE,
    references=_offer_references(),
    checks=(integrity.check_offer,),
    dependents={"offer-placement": integrity.offer_on_placement_change},
    contract_fields=("status", "representations"),
    count_limit=("offers_per_sandbox", ("personalized-offer", "fallback-offer")),
)

PLACEMENT = EntitySpec(
    kind="offer-placement",
    title="Placement",
    collection="placements",
    model=models.Placement,
    schema_id=SCHEMA_BASE + "offer-placement;version=0.5",
    contract_fields=("channel", "componentType"),
    count_limit=("placements_per_sandbox", ("offer-placement",)),
)

COLLECTION = EntitySpec(
    kind="offer-filter",
    title="Collection",
    collection="offer-collections",
    model=models.Collection,
    schema_id=SCHEMA_BASE + "offer-filter;version=0.4",
    references=(
        Reference("ids/*", ("tag",), when=_tag_filter),
        Reference("ids/*", ("personalized-offer",), when=_offer_filter),
    ),
    checks=(integrity.check_collection,),
    count_limit=("collections_per_sandbox", ("offer-filter",)),
)

TAG = EntitySpec(
    kind="tag",
    title="Collection qualifier",
    collection="tags",
    model=models.Tag,
    schema_id=SCHEMA_BASE + "tag;version=0.1",
    count_limit=("tags_per_sandbox", ("tag",)),
)

DECISION_RULE = EntitySpec(
    kind="eligibility-rule",
    title="Decision rule",
    collection="offer-rules",
    model=models.DecisionRule,
    schema_id=SCHEMA_BASE + "eligibility-rule;version=0.3",
    checks=(integrity.check_rule,),
    count_limit=("rules_and_formulas_per_sandbox", ("eligibility-rule", "ranking-function")),
    replaceable=True,
    aliases=("eligibility-rules",),
)

DECISION = EntitySpec(
    kind="offer-activity",
    title="Decision",
    collection="offer-decisions",
    model=models.Decision,
    schema_id=SCHEMA_BASE + "offer-activity;version=0.8",
    lifecycle=DECISION_LIFECYCLE,
    references=(
        Reference("fallback", ("fallback-offer",)),
        Reference("criteria/*/placements/*", ("offer-placement",)),
        Reference("criteria/*/optionSelection/filter", ("offer-filter",)),
        Reference("criteria/*/profileConstraint/eligibilityRule", ("eligibility-rule",)),
        Reference("criteria/*/rank/order/function", ("ranking-function",)),
        Reference("criteria/*/rank/order/rankingStrategy", ("ranking-strategy",)),
    ),
    checks=(integrity.check_decision,),
    dependents={"fallback-offer": integrity.decision_on_fallback_change},
    count_limit=("decisions_per_sandbox", ("offer-activity",)),
)

RANKING_FORMULA = EntitySpec(
    kind="ranking-function",
    title="Ranking formula",
    collection="ranking-formulas",
    model=models.RankingFormula,
    schema_id=SCHEMA_BASE + "ranking-function;version=0.3",
    checks=(integrity.check_formula,),
    count_limit=("rules_and_formulas_per_sandbox", ("eligibility-rule", "ranking-function")),
    replaceable=True,
    zulu_timestamps=True,
)

RANKING_STRATEGY = EntitySpec(
    kind="ranking-strategy",
    title="Ranking strategy",
    collection="ranking-strategies",
    model=models.RankingStrategy,
    schema_id=SCHEMA_BASE + "ranking-strategy;version=0.1",
    checks=(integrity.check_strategy,),
    count_limit=("ranking_strategies_per_sandbox", ("ranking-strategy",)),
    replaceable=True,
    zulu_timestamps=True,
)

ENTITIES: tuple[EntitySpec, ...] = (
    TAG,
    PLACEMENT,
    DECISION_RULE,
    RANKING_FORMULA,
    RANKING_STRATEGY,
    PERSONALIZED_OFFER,
    FALLBACK_OFFER,
    COLLECTION,
    DECISION,
)
"""Every entity, in an order where each one only references entities before it."""

BY_KIND: Mapping[str, EntitySpec] = {spec.kind: spec for spec in ENTITIES}

KIND_TITLES: Mapping[str, str] = {spec.kind: spec.title.lower() for spec in ENTITIES}
