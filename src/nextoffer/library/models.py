"""Entity schemas of the Offer Library, field for field as Adobe documents them.

Only the shape is checked here (400 on violation); rules that need other objects or the
previous version (references, lifecycle, dates, limits) live in `integrity.py` (422).
Top-level keys starting with `_` are XDM tenant fields (`_acme.x`) and are kept as sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nextoffer.library.types import (
    Description,
    Label,
    LanguageTag,
    MediaType,
    Name,
    ObjectId,
    PositiveInt,
    Priority,
    Timestamp,
    Uri,
)
from nextoffer.patterns import described
from nextoffer.vocabulary import content_kind, filter_kind  # noqa: F401 - re-exported

ComponentType = Literal[
    "html",
    "text",
    "component-text",
    "imagelink",
    "json",
    "https://ns.adobe.com/experience/offer-management/content-component-html",
    "https://ns.adobe.com/experience/offer-management/content-component-text",
    "https://ns.adobe.com/experience/offer-management/content-component-imagelink",
    "https://ns.adobe.com/experience/offer-management/content-component-json",
]
PlacementComponentType = Literal[
    "html",
    "text",
    "imagelink",
    "json",
    "https://ns.adobe.com/experience/offer-management/content-component-html",
    "https://ns.adobe.com/experience/offer-management/content-component-text",
    "https://ns.adobe.com/experience/offer-management/content-component-imagelink",
    "https://ns.adobe.com/experience/offer-management/content-component-json",
]


class Strict(BaseModel):
    """Nested objects: JSON types only (no "1" for 1), unknown members rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _tenant_fields(schema: dict[str, Any]) -> None:
    schema["additionalProperties"] = False
    schema["patternProperties"] = {"^_": {}}


class EntityBody(Strict):
    """A top-level entity body; `_`-prefixed tenant fields are split off before validation."""

    model_config = ConfigDict(
        extra="forbid", strict=True, populate_by_name=True, json_schema_extra=_tenant_fields
    )


class PqlExpression(Strict):
    """`{"type": "PQL", "format": "pql/text", "value": "<pql>"}` as rules and formulas carry it."""

    type: Literal["PQL"] = "PQL"
    format: Literal["pql/text"] = "pql/text"
    value: str = Field(min_length=1, max_length=64_000)


class SegmentNamespace(Strict):
    code: str = Field(min_length=1, max_length=256)


class SegmentIdentity(Strict):
    """An audience: `_id` is its id, `namespace.code` its namespace (e.g. `ups`)."""

    id_: str = Field(alias="_id", min_length=1, max_length=256)
    namespace: SegmentNamespace | None = None
    xid: str | None = Field(default=None, max_length=512)


ProfileConstraintType = Literal["none", "eligibilityRule", "anySegments", "allSegments"]


class ProfileConstraint(Strict):
    """Who is eligible: everyone, a decision rule, or audience membership (any / all)."""

    profileConstraintType: ProfileConstraintType = "none"
    eligibilityRule: ObjectId | None = None
    segmentIdentities: list[SegmentIdentity] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _fields_match_type(self) -> ProfileConstraint:
        kind = self.profileConstraintType
        if kind == "eligibilityRule" and not self.eligibilityRule:
            raise ValueError("profileConstraintType eligibilityRule needs an eligibilityRule id")
        if kind != "eligibilityRule" and self.eligibilityRule is not None:
            raise ValueError(
                "eligibilityRule is only used with profileConstraintType eligibilityRule, "
                f"not {kind}"
            )
        if kind in ("anySegments", "allSegments") and not self.segmentIdentities:
            raise ValueError(
                f"profileConstraintType {kind} needs at least one segmentIdentities item"
            )
        if kind not in ("anySegments", "allSegments") and self.segmentIdentities:
            raise ValueError(
                f"segmentIdentities are only used with anySegments or allSegments, not {kind}"
            )
        return self


class SelectionConstraint(ProfileConstraint):
    """An offer's calendar and eligibility."""

    startDate: Timestamp | None = None
    endDate: Timestamp | None = None


class OfferRank(Strict):
    priority: Priority = 0


class Component(Strict):
    """One content variant of a representation (by language and format)."""

    type: ComponentType
    format: MediaType
    language: list[LanguageTag] | None = Field(default=None, max_length=100)
    content: str | None = None
    deliveryURL: Uri | None = None
    linkURL: Uri | None = None
    repo_id: str | None = Field(default=None, alias="repo:id", max_length=2048)
    repo_name: str | None = Field(default=None, alias="repo:name", max_length=2048)
    repo_resolveURL: Uri | None = Field(default=None, alias="repo:resolveURL")

    @model_validator(mode="after")
    def _has_content(self) -> Component:
        if self.content is None and self.deliveryURL is None and self.repo_resolveURL is None:
            raise ValueError("a component needs content, deliveryURL or repo:resolveURL")
        return self


class Representation(Strict):
    """The content of an offer for one placement."""

    channel: Uri
    placement: ObjectId
    components: list[Component] = Field(min_length=1, max_length=100)


class CappingConstraint(Strict):
    """Legacy xcore caps: total proposals and proposals per profile."""

    globalCap: PositiveInt | None = None
    profileCap: PositiveInt | None = None


class Repeat(Strict):
    enabled: bool = False
    unit: Literal["day", "week", "month"] = "month"
    unitCount: PositiveInt = 1

    @model_validator(mode="after")
    def _at_most_two_years(self) -> Repeat:
        most = {"day": 731, "week": 104, "month": 24}[self.unit]
        if self.unitCount > most:
            raise ValueError(f"a capping period cannot exceed 2 years ({most} {self.unit}s)")
        return self


class FrequencyCappingConstraint(Strict):
    """One capping rule: how many events of a kind, per profile or in total, per period."""

    enabled: bool = True
    limit: PositiveInt
    startDate: Timestamp | None = None
    endDate: Timestamp | None = None
    scope: Literal["global", "profile"] = "global"
    entity: Literal["offer", "placement"] = "offer"
    repeat: Repeat | None = None
    event: Literal["decision", "impression", "click", "custom"] = "decision"
    eventCondition: PqlExpression | None = None

    @model_validator(mode="after")
    def _custom_needs_condition(self) -> FrequencyCappingConstraint:
        if self.event == "custom" and self.eventCondition is None:
            raise ValueError("a custom capping event needs an eventCondition (PQL over the event)")
        if self.event != "custom" and self.eventCondition is not None:
            raise ValueError("eventCondition is only used with event custom")
        return self


class _OfferFields(EntityBody):
    name: Name
    description: Description | None = None
    status: Literal["draft", "approved", "archived"] = "draft"
    representations: list[Representation] = Field(default_factory=list, max_length=1000)
    selectionConstraint: SelectionConstraint | None = None
    rank: OfferRank | None = None


class PersonalizedOffer(_OfferFields):
    """A marketing option: content per placement, a calendar, eligibility, priority and caps."""

    cappingConstraint: CappingConstraint | None = None
    frequencyCappingConstraints: list[FrequencyCappingConstraint] | None = Field(
        default=None, max_length=1000
    )
    tags: list[ObjectId] | None = Field(default=None, max_length=10_000)
    characteristics: dict[str, str] | None = None
    labels: list[Label] | None = Field(default=None, max_length=1000)

    @field_validator("characteristics")
    @classmethod
    def _characteristic_keys(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key in value or {}:
            if not key or len(key) > 256:
                raise ValueError("characteristic names must be 1 to 256 characters")
        return value


class FallbackOffer(_OfferFields):
    """What a decision returns when nothing qualifies; its constraints and rank are never used."""

    tags: list[ObjectId] | None = Field(default=None, max_length=10_000)
    characteristics: dict[str, str] | None = None
    labels: list[Label] | None = Field(default=None, max_length=1000)


class ReturnMetaData(Strict):
    decisionName: bool | None = None
    offerName: bool | None = None
    offerAttributes: bool | None = None
    offerPriority: bool | None = None
    placementName: bool | None = None
    channelType: bool | None = None
    contentType: bool | None = None


class Placement(EntityBody):
    """A typed slot in a message: a channel plus a content type, and response defaults."""

    name: Name
    description: Description | None = None
    componentType: PlacementComponentType
    channel: Uri
    itemCount: int | None = Field(default=None, ge=1, le=30)
    allowDuplicatePlacements: bool | None = None
    returnContent: bool | None = None
    returnMetaData: ReturnMetaData | None = None
    contentTypes: list[MediaType] | None = Field(default=None, max_length=100)


class Collection(EntityBody):
    """A static list of offers (`offers`) or a set by qualifiers (`any-tags`, `all-tags`)."""

    name: Name
    description: Description | None = None
    filterType: Literal["offers", "any-tags", "all-tags", "anyTags", "allTags"]
    ids: list[ObjectId] = Field(default_factory=list, max_length=100_000)
    labels: list[Label] | None = Field(default=None, max_length=1000)


class Tag(EntityBody):
    """A collection qualifier: a plain label on offers, used by dynamic collections."""

    name: Name
    description: Description | None = None


class DecisionRule(EntityBody):
    """A named boolean PQL condition over the profile, its events and context data."""

    name: Name
    description: Description | None = None
    condition: PqlExpression
    definedOn: dict[str, dict[str, Any]] | None = None
    exdRule: bool | None = None
    segmentModel: dict[str, Any] | None = None


class OrderSpec(Strict):
    """How a criterion ranks: offer priority, a ranking formula, or a model (ranking strategy)."""

    orderEvaluationType: Literal[
        "static", "scoringFunction", "rankingStrategy", "ranking-strategy"
    ] = "static"
    function: ObjectId | None = None
    rankingStrategy: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _fields_match_type(self) -> OrderSpec:
        kind = self.orderEvaluationType
        if kind == "scoringFunction" and not self.function:
            raise ValueError(
                "orderEvaluationType scoringFunction needs a function (ranking formula id)"
            )
        if kind in ("rankingStrategy", "ranking-strategy") and not self.rankingStrategy:
            raise ValueError(f"orderEvaluationType {kind} needs a rankingStrategy (model id)")
        if kind != "scoringFunction" and self.function is not None:
            raise ValueError("function is only used with orderEvaluationType scoringFunction")
        return self


class CriterionRank(Strict):
    priority: Priority = 0
    order: OrderSpec | None = None


class OptionSelection(Strict):
    filter: ObjectId
    description: Description | None = None


class Criterion(Strict):
    """One evaluation criterion: a collection, for some placements, with eligibility and ranking."""

    placements: list[ObjectId] = Field(default_factory=list, max_length=10_000)
    optionSelection: OptionSelection
    profileConstraint: ProfileConstraint | None = None
    rank: CriterionRank | None = None
    description: Description | None = None


class Decision(EntityBody):
    """An offer activity: criteria per placement plus one fallback; what the runtime evaluates."""

    name: Name
    description: Description | None = None
    status: Literal["draft", "live", "complete", "archived"] = "draft"
    startDate: Timestamp | None = None
    endDate: Timestamp | None = None
    fallback: ObjectId | None = None
    criteria: list[Criterion] = Field(default_factory=list, max_length=100_000)
    labels: list[Label] | None = Field(default=None, max_length=1000)


class ReturnType(Strict):
    type: str = Field(
        pattern=described(
            r"^(?i:integer|long|double|float|number|decimal)$",
            "one of integer, long, double, float, number, decimal (in any case)",
        )
    )

    @field_validator("type")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class RankingFormula(EntityBody):
    """A named numeric PQL expression over the offer, the profile and context data."""

    name: Name
    description: Description | None = None
    exdFunction: bool | None = None
    isPure: bool | None = None
    returnType: ReturnType | None = None
    expression: PqlExpression
    definedOn: dict[str, dict[str, Any]] | None = None


STRATEGY_DEFAULTS: dict[str, dict[str, Any]] = {
    "auto-optimization": {"windowDays": 14, "explorationShare": 0.1},
    "personalized-optimization": {"windowDays": 30, "explorationShare": 0.1},
}
"""Adobe's training defaults per strategy type (`decisioning.md` §2.4): a 14-day window for
auto-optimization, 30 days for personalized; the exploration share is nextoffer's (10 %)."""

DISPLAY_EVENT = "decisioning.propositionDisplay"
INTERACT_EVENT = "decisioning.propositionInteract"


class OptimizationMetric(Strict):
    """What the model counts: impressions, and the experience event type that is a conversion."""

    impressionEventType: str = Field(default=DISPLAY_EVENT, min_length=1, max_length=256)
    conversionEventType: str = Field(default=INTERACT_EVENT, min_length=1, max_length=256)


class TrainingSettings(Strict):
    """How a model trains: its window, when an offer stops being *new*, how much it explores."""

    windowDays: int | None = Field(default=None, ge=1, le=365)
    newOfferImpressions: int = Field(default=100, ge=1, le=10_000_000)
    """An offer is new while it has fewer impressions than this in the window..."""
    newOfferConversions: int = Field(default=5, ge=1, le=10_000_000)
    """...and fewer conversions than this."""
    explorationShare: float | None = Field(default=None, ge=0.0, le=1.0)
    """The share of decisions ranked uniformly at random so that new offers can graduate."""


class RankingStrategy(EntityBody):
    """An AI model a criterion may rank by (`rank.order.rankingStrategy`).

    Adobe documents no API for AI models (`offer-library-api.md` §3.9); this shape is
    nextoffer's (issue 18). Omitted settings are filled with their defaults, so the read model
    always shows what the model trains with.
    """

    name: Name
    description: Description | None = None
    type: Literal["auto-optimization", "personalized-optimization"]
    optimizationMetric: OptimizationMetric | None = None
    audiences: list[str] | None = Field(default=None, max_length=5)
    """Personalized only: the audience ids the model uses as features (at most 5)."""
    status: Literal["enabled", "disabled"] = "enabled"
    training: TrainingSettings | None = None

    @field_validator("audiences")
    @classmethod
    def _audience_ids(cls, value: list[str] | None) -> list[str] | None:
        for item in value or ():
            if not item or len(item) > 256:
                raise ValueError("audience ids must be 1 to 256 characters")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("an audience is listed twice")
        return value

    @model_validator(mode="after")
    def _defaults_and_type(self) -> RankingStrategy:
        if self.audiences and self.type != "personalized-optimization":
            raise ValueError(
                f"audiences are only used by personalized-optimization strategies, not {self.type}"
            )
        metric = self.optimizationMetric or OptimizationMetric()
        self.optimizationMetric = OptimizationMetric(
            impressionEventType=metric.impressionEventType,
            conversionEventType=metric.conversionEventType,
        )
        defaults = STRATEGY_DEFAULTS[self.type]
        given = self.training or TrainingSettings()
        self.training = TrainingSettings(
            windowDays=given.windowDays or defaults["windowDays"],
            newOfferImpressions=given.newOfferImpressions,
            newOfferConversions=given.newOfferConversions,
            explorationShare=(
                defaults["explorationShare"]
                if given.explorationShare is None
                else given.explorationShare
            ),
        )
        self.status = self.status
        return self
