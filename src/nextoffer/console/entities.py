"""Each library entity as the console shows it: its pages' path, labels, columns and fields.

One `ConsoleEntity` per library entity; the generic list, detail and form pages read nothing
else, so a new entity is one declaration here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nextoffer.console.fields import Column, Field
from nextoffer.library import entities as lib
from nextoffer.library.entities import EntitySpec

CHANNELS = (
    "https://ns.adobe.com/xdm/channel-types/web",
    "https://ns.adobe.com/xdm/channel-types/email",
    "https://ns.adobe.com/xdm/channel-types/mobile",
    "https://ns.adobe.com/xdm/channel-types/messaging",
    "https://ns.adobe.com/xdm/channel-types/sms",
    "https://ns.adobe.com/xdm/channel-types/direct-mail",
    "https://ns.adobe.com/xdm/channel-types/push",
    "https://ns.adobe.com/xdm/channel-types/other",
)
COMPONENT_TYPES = ("html", "text", "imagelink", "json")
OFFER_STATUSES = ("draft", "approved", "archived")
DECISION_STATUSES = ("draft", "live", "complete", "archived")


@dataclass(frozen=True, slots=True)
class ConsoleEntity:
    slug: str
    """The console path segment (`/console/fallback-offers`)."""
    spec: EntitySpec
    plural: str
    """The navigation link and list heading."""
    singular: str
    fields: tuple[Field, ...]
    columns: tuple[Column, ...] = (Column("name", "Name"), Column("modified", "Last modified"))
    statuses: tuple[str, ...] = ()
    """The status filter's choices (none: no status)."""
    tagged: bool = False
    """Whether the list filters by collection qualifier."""
    actions: tuple[tuple[str, str], ...] = ()
    """(label, path suffix) of pages an object's detail page links to besides Edit
    (a decision's Simulate: `/console/decisions/<id>/simulate`)."""

    @property
    def api_path(self) -> str:
        """The JSON API collection URL, with its `offer-type` when the path is shared."""
        base = f"/data/core/dps/{self.spec.collection}"
        if self.spec.discriminator:
            name, value = self.spec.discriminator
            return f"{base}?{name}={value}"
        return base

    def item_api_path(self, object_id: str) -> str:
        base = f"/data/core/dps/{self.spec.collection}/{object_id}"
        if self.spec.discriminator:
            name, value = self.spec.discriminator
            return f"{base}?{name}={value}"
        return base

    @property
    def top_keys(self) -> tuple[str, ...]:
        """The top-level members the form writes (an edit patches exactly these)."""
        return tuple(dict.fromkeys(f.top for f in self.fields))


NAME = Field("name", "Name", required=True)
DESCRIPTION = Field("description", "Description", "textarea")


def _pql(key: str) -> tuple[Field, Field]:
    """The members a PQL expression object always carries besides its `value`."""
    return (
        Field(f"{key}/type", "Type", "fixed", fixed="PQL"),
        Field(f"{key}/format", "Format", "fixed", fixed="pql/text"),
    )


def _representations() -> Field:
    return Field(
        "representations",
        "Representations",
        "group",
        item_label="representation",
        min_items=1,
        hint="One representation per placement: where the offer shows and what it shows there.",
        fields=(
            Field("placement", "Placement", "ref", ref_kinds=("offer-placement",), required=True),
            Field("channel", "Channel", "select", options=CHANNELS, required=True),
            Field(
                "components",
                "Content",
                "group",
                item_label="content",
                min_items=1,
                fields=(
                    Field("type", "Type", "select", options=COMPONENT_TYPES, required=True),
                    Field(
                        "format",
                        "Format",
                        hint="A media type: text/html, text/plain, application/json, image/png",
                        required=True,
                    ),
                    Field("language", "Language", "list", hint="One language tag a line (en-us)"),
                    Field("content", "Content", "textarea", hint="HTML, text or JSON"),
                    Field("deliveryURL", "Delivery URL", hint="An image's URL (imagelink)"),
                    Field("linkURL", "Link URL", hint="Where a click on the image leads"),
                ),
            ),
        ),
    )


def _audiences(key: str) -> Field:
    return Field(
        key,
        "Audiences",
        "group",
        item_label="audience",
        hint="Used when Eligibility is anySegments or allSegments",
        fields=(
            Field("_id", "Audience ID", required=True),
            Field("namespace/code", "Namespace", hint="ups for Adobe audiences"),
        ),
    )


def _capping() -> Field:
    return Field(
        "frequencyCappingConstraints",
        "Capping",
        "group",
        item_label="capping rule",
        hint="How often the offer may be proposed (or shown, or clicked), in total or per profile",
        fields=(
            Field("event", "Capping event", "select", options=("decision", "impression", "click")),
            Field("limit", "Capping count limit", "integer", required=True),
            Field(
                "scope",
                "Capping type",
                "select",
                options=("global", "profile"),
                hint="global: in total; profile: per profile",
            ),
            Field("entity", "Counted per", "select", options=("offer", "placement")),
            Field("repeat/enabled", "Reset capping frequency", "boolean"),
            Field("repeat/unitCount", "Every", "integer"),
            Field("repeat/unit", "Period", "select", options=("day", "week", "month")),
            Field("startDate", "Start date", "datetime"),
            Field("endDate", "End date", "datetime"),
            Field("enabled", "Enabled", "boolean"),
        ),
    )


def _offer_fields(*, personalized: bool) -> tuple[Field, ...]:
    fields = [
        NAME,
        DESCRIPTION,
        Field("status", "Status", "select", options=OFFER_STATUSES),
        _representations(),
        Field("tags", "Collection qualifiers", "refs", ref_kinds=("tag",)),
    ]
    if personalized:
        fields[3:3] = [
            Field("selectionConstraint/startDate", "Start date", "datetime", required=True),
            Field("selectionConstraint/endDate", "End date", "datetime", required=True),
            Field(
                "selectionConstraint/profileConstraintType",
                "Eligibility",
                "select",
                options=("none", "eligibilityRule", "anySegments", "allSegments"),
            ),
            Field(
                "selectionConstraint/eligibilityRule",
                "Decision rule",
                "ref",
                ref_kinds=("eligibility-rule",),
                hint="Used when Eligibility is eligibilityRule",
            ),
            _audiences("selectionConstraint/segmentIdentities"),
            Field("rank/priority", "Priority", "integer", hint="0 to 1000; higher wins ties"),
            _capping(),
        ]
    return tuple(fields)


PERSONALIZED_OFFERS = ConsoleEntity(
    slug="offers",
    spec=lib.PERSONALIZED_OFFER,
    plural="Offers",
    singular="Personalized offer",
    fields=_offer_fields(personalized=True),
    columns=(
        Column("name", "Name"),
        Column("status", "Status"),
        Column("rank/priority", "Priority"),
        Column("selectionConstraint/endDate", "End date"),
        Column("modified", "Last modified"),
    ),
    statuses=OFFER_STATUSES,
    tagged=True,
)

FALLBACK_OFFERS = ConsoleEntity(
    slug="fallback-offers",
    spec=lib.FALLBACK_OFFER,
    plural="Fallback offers",
    singular="Fallback offer",
    fields=_offer_fields(personalized=False),
    columns=(
        Column("name", "Name"),
        Column("status", "Status"),
        Column("modified", "Last modified"),
    ),
    statuses=OFFER_STATUSES,
    tagged=True,
)

PLACEMENTS = ConsoleEntity(
    slug="placements",
    spec=lib.PLACEMENT,
    plural="Placements",
    singular="Placement",
    fields=(
        NAME,
        DESCRIPTION,
        Field("channel", "Channel", "select", options=CHANNELS, required=True),
        Field("componentType", "Content type", "select", options=COMPONENT_TYPES, required=True),
        Field("itemCount", "Number of items", "integer", hint="1 to 30"),
        Field("allowDuplicatePlacements", "Allow duplicates across placements", "boolean"),
        Field("returnContent", "Return content", "boolean"),
    ),
    columns=(
        Column("name", "Name"),
        Column("channel", "Channel"),
        Column("componentType", "Content type"),
        Column("modified", "Last modified"),
    ),
)

COLLECTIONS = ConsoleEntity(
    slug="collections",
    spec=lib.COLLECTION,
    plural="Collections",
    singular="Collection",
    fields=(
        NAME,
        DESCRIPTION,
        Field(
            "filterType",
            "Type",
            "select",
            options=("offers", "any-tags", "all-tags"),
            required=True,
            hint="offers: a static list; any-tags / all-tags: offers by collection qualifiers",
        ),
        Field(
            "ids",
            "Offers or collection qualifiers",
            "refs",
            ref_kinds=("personalized-offer", "tag"),
        ),
    ),
    columns=(
        Column("name", "Name"),
        Column("filterType", "Type"),
        Column("modified", "Last modified"),
    ),
)

TAGS = ConsoleEntity(
    slug="collection-qualifiers",
    spec=lib.TAG,
    plural="Collection qualifiers",
    singular="Collection qualifier",
    fields=(NAME, DESCRIPTION),
)

RULES = ConsoleEntity(
    slug="rules",
    spec=lib.DECISION_RULE,
    plural="Rules",
    singular="Decision rule",
    fields=(
        NAME,
        DESCRIPTION,
        Field(
            "condition/value",
            "Condition",
            "textarea",
            required=True,
            hint="A PQL condition, e.g. person.birthDate.getAge() >= 18",
        ),
        *_pql("condition"),
    ),
)

RANKING_FORMULAS = ConsoleEntity(
    slug="ranking-formulas",
    spec=lib.RANKING_FORMULA,
    plural="Ranking formulas",
    singular="Ranking formula",
    fields=(
        NAME,
        DESCRIPTION,
        Field(
            "expression/value",
            "Formula",
            "textarea",
            required=True,
            hint="A numeric PQL expression over offer, profile and context data",
        ),
        *_pql("expression"),
    ),
)

DECISIONS = ConsoleEntity(
    slug="decisions",
    spec=lib.DECISION,
    plural="Decisions",
    singular="Decision",
    fields=(
        NAME,
        DESCRIPTION,
        Field("status", "Status", "select", options=DECISION_STATUSES),
        Field("startDate", "Start date", "datetime"),
        Field("endDate", "End date", "datetime"),
        Field(
            "criteria",
            "Evaluation criteria",
            "group",
            item_label="criterion",
            min_items=1,
            fields=(
                Field("placements", "Placement", "refs", ref_kinds=("offer-placement",)),
                Field(
                    "optionSelection/filter",
                    "Collection",
                    "ref",
                    ref_kinds=("offer-filter",),
                    required=True,
                ),
                Field(
                    "profileConstraint/profileConstraintType",
                    "Eligibility",
                    "select",
                    options=("none", "eligibilityRule", "anySegments", "allSegments"),
                ),
                Field(
                    "profileConstraint/eligibilityRule",
                    "Decision rule",
                    "ref",
                    ref_kinds=("eligibility-rule",),
                ),
                _audiences("profileConstraint/segmentIdentities"),
                Field(
                    "rank/order/orderEvaluationType",
                    "Ranking method",
                    "select",
                    options=("static", "scoringFunction", "rankingStrategy"),
                ),
                Field(
                    "rank/order/function",
                    "Ranking formula",
                    "ref",
                    ref_kinds=("ranking-function",),
                ),
                Field("rank/priority", "Priority", "integer"),
            ),
        ),
        Field("fallback", "Fallback offer", "ref", ref_kinds=("fallback-offer",)),
    ),
    columns=(
        Column("name", "Name"),
        Column("status", "Status"),
        Column("endDate", "End date"),
        Column("modified", "Last modified"),
    ),
    statuses=DECISION_STATUSES,
    actions=(("Simulate", "simulate"),),
)

AI_MODELS = ConsoleEntity(
    slug="ai-models",
    spec=lib.RANKING_STRATEGY,
    plural="AI models",
    singular="Ranking strategy",
    fields=(
        NAME,
        DESCRIPTION,
        Field(
            "type",
            "Type",
            "select",
            options=("auto-optimization", "personalized-optimization"),
            required=True,
        ),
        Field("status", "Status", "select", options=("enabled", "disabled")),
        Field(
            "optimizationMetric/conversionEventType",
            "Conversion event type",
            hint="The experience event type that counts as a conversion "
            "(default decisioning.propositionInteract)",
        ),
        Field("audiences", "Audiences", "list", hint="Personalized only: at most 5 audience ids"),
        Field("training/windowDays", "Training window (days)", "integer"),
        Field("training/newOfferImpressions", "New offer below impressions", "integer"),
        Field("training/newOfferConversions", "New offer below conversions", "integer"),
    ),
    columns=(
        Column("name", "Name"),
        Column("type", "Type"),
        Column("status", "Status"),
        Column("modified", "Last modified"),
    ),
    statuses=("enabled", "disabled"),
)
"""Ranking strategies (issue 18's AI models): the library object; the model's state and training
are `/v1/ranking-strategies/{id}/model` and `/train`, not shown here yet."""

CONSOLE_ENTITIES: tuple[ConsoleEntity, ...] = (
    PERSONALIZED_OFFERS,
    FALLBACK_OFFERS,
    PLACEMENTS,
    COLLECTIONS,
    TAGS,
    RULES,
    RANKING_FORMULAS,
    AI_MODELS,
    DECISIONS,
)
BY_SLUG: Mapping[str, ConsoleEntity] = {e.slug: e for e in CONSOLE_ENTITIES}
BY_KIND: Mapping[str, ConsoleEntity] = {e.spec.kind: e for e in CONSOLE_ENTITIES}
