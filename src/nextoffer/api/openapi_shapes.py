"""The shapes of the bodies routes build by hand (receipts, problems, decisions, pages, probes).

Each shape is declared once, as a msgspec struct, and `/openapi.json` takes its schema from
here; the schemathesis suite checks that real responses fit, so a route that changes its body
without its shape fails there. Request bodies are not here: their schemas come from the very
structs and models the routes decode (see `openapi_routes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType, field

from nextoffer.patterns import NOT_BLANK, described

Count = Annotated[int, Meta(ge=0)]
Etag = Annotated[int, Meta(ge=1)]


class Shape(msgspec.Struct, omit_defaults=True):
    """A response body; fields typed `X | UnsetType` are left out when they have nothing."""


# -- shared -----------------------------------------------------------------------------------


class Link(Shape):
    href: str
    type: str


class FieldProblem(Shape):
    """One wrong field: `pointer` (body) or `parameter` (query, header, path)."""

    message: str
    pointer: str | UnsetType = UNSET
    parameter: str | UnsetType = UNSET
    code: str | UnsetType = UNSET


class Problem(Shape):
    """An RFC 9457 problem; `errors` name the wrong fields."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem]


class Health(Shape):
    status: Literal["ok"]
    version: str


class Ready(Shape):
    """`ok` with 200 only when a decision can be made: every dependency answers (within 1 s
    each) and the schema is at head. 503 with `unavailable` naming the `failing` dependencies,
    or with `migrations-pending`."""

    status: Literal["ok", "migrations-pending", "unavailable"]
    schema: str | None
    dependencies: dict[str, Literal["ok", "unavailable"]]
    """`database`, and `redis` when it is the capping store."""
    failing: list[Literal["database", "redis"]] | UnsetType = UNSET


class Grant(Shape):
    org: str
    sandboxes: list[str]
    """The sandboxes granted; where every one is (`allSandboxes`), those that exist."""
    allSandboxes: bool


class WhoAmI(Shape):
    """The caller and the orgs and sandboxes it may use (the console's switcher lists them)."""

    openMode: bool
    user: str
    clientId: str | None
    grants: list[Grant]
    default: dict[str, str] | None
    """The org and sandbox to open on: the demo's when granted and present, else the first."""


# -- the Offer Library --------------------------------------------------------------------------


class WriteReceipt(Shape):
    """The write receipt returned by POST, PATCH and PUT."""

    etag: Etag
    createdBy: str
    lastModifiedBy: str
    id: str
    sandboxId: str
    createdDate: datetime
    lastModifiedDate: datetime
    createdByClientId: str
    lastModifiedByClientId: str


class PageLinks(Shape):
    self: Link
    next: Link | UnsetType = UNSET
    prev: Link | UnsetType = UNSET


class PatchOperation(Shape):
    """One RFC 6902 operation."""

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str
    from_: str | UnsetType = field(name="from", default=UNSET)
    value: Any = UNSET


# -- the Decisioning API --------------------------------------------------------------------------


class DecisionEntity(Shape):
    id: str = field(name="xdm:id")
    etag: str = field(name="repo:etag")
    name: str | UnsetType = field(name="xdm:name", default=UNSET)
    channel: str | UnsetType = field(name="xdm:channel", default=UNSET)
    component_type: str | UnsetType = field(name="xdm:componentType", default=UNSET)


class DecisionOption(Shape):
    id: str = field(name="xdm:id")
    etag: str = field(name="repo:etag")
    type: str | UnsetType = field(name="@type", default=UNSET)
    format: str | UnsetType = field(name="dc:format", default=UNSET)
    language: list[str] | UnsetType = field(name="dc:language", default=UNSET)
    content: str | UnsetType = field(name="xdm:content", default=UNSET)
    delivery_url: str | UnsetType = field(name="xdm:deliveryURL", default=UNSET)
    name: str | UnsetType = field(name="xdm:name", default=UNSET)
    score: float | UnsetType = field(name="xdm:score", default=UNSET)
    priority: float | UnsetType = field(name="xdm:priority", default=UNSET)
    characteristics: dict[str, str] | UnsetType = field(name="xdm:characteristics", default=UNSET)


class DecisionProposition(Shape):
    activity: DecisionEntity = field(name="xdm:activity")
    placement: DecisionEntity = field(name="xdm:placement")
    scope: str = field(name="xdm:scope")
    options: Annotated[list[DecisionOption], Meta(min_length=1)] | UnsetType = field(
        name="xdm:options", default=UNSET
    )
    fallback: DecisionOption | UnsetType = field(name="xdm:fallback", default=UNSET)
    explanation: dict[str, Any] | UnsetType = field(name="nextoffer:explanation", default=UNSET)


class DecisionResponse(Shape):
    proposition_id: str = field(name="xdm:propositionId")
    propositions: list[DecisionProposition] = field(name="xdm:propositions")
    create_date: int = field(name="ode:createDate")


class DecisionPropositionV09(Shape):
    activity: str = field(name="xdm:offerActivity")
    scope: str = field(name="xdm:scope")
    offers: list[str] | UnsetType = field(name="xdm:offers", default=UNSET)
    fallback: str | UnsetType = field(name="xdm:fallbackOffer", default=UNSET)
    explanation: dict[str, Any] | UnsetType = field(name="nextoffer:explanation", default=UNSET)


class DecisionResponseV09(Shape):
    proposition_id: str = field(name="xdm:propositionID")
    propositions: list[DecisionPropositionV09] = field(name="xdm:propositions")
    create_date: int = field(name="ode:createDate")


# -- datastreams and the Edge ---------------------------------------------------------------------

Origin = Annotated[
    str,
    Meta(
        pattern=described(
            r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$",
            "* or an origin (scheme, host, optional port; no path) such as "
            "https://shop.example.com or http://localhost:3000",
        )
    ),
]

DatastreamName = Annotated[str, Meta(min_length=1, max_length=256, pattern=NOT_BLANK)]


VerificationAlg = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
]  # fmt: skip


class VerificationKey(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A key that verifies identity tokens: an HMAC `secret`, or an RSA/EC PEM `publicKey`."""

    kid: Annotated[
        str,
        Meta(
            pattern=described(
                r"^[A-Za-z0-9._:-]{1,64}$",
                "a key id of 1 to 64 letters, digits, . _ : or -, such as shop-2026-01",
            )
        ),
    ]
    alg: VerificationAlg
    secret: Annotated[str, Meta(min_length=32, max_length=512)] | UnsetType = UNSET
    """HS* only; never shown back (write a key back without it to keep the stored one)."""
    publicKey: Annotated[str, Meta(min_length=1, max_length=8192)] | UnsetType = UNSET


class IdentityVerification(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which identity namespaces an anonymous Edge call must prove, and the keys of proof."""

    keys: Annotated[list[VerificationKey], Meta(min_length=1, max_length=10)]
    requiredNamespaces: (
        Annotated[
            list[Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]],
            Meta(max_length=20),
        ]
        | UnsetType
    ) = UNSET


class DatastreamLimits(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Rate limits of anonymous Edge calls; each left out takes the server's default, 0 is none."""

    requestsPerSecond: Annotated[int, Meta(ge=0, le=1_000_000_000)] | UnsetType = UNSET
    newProfilesPerMinute: Annotated[int, Meta(ge=0, le=1_000_000_000)] | UnsetType = UNSET
    eventsPerProfilePerMinute: Annotated[int, Meta(ge=0, le=1_000_000_000)] | UnsetType = UNSET


class DatastreamInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A datastream as created (POST); PATCH takes any part of it as a JSON merge patch."""

    name: DatastreamName
    description: str | UnsetType = UNSET
    allowedOrigins: list[Origin] | UnsetType = UNSET
    identityVerification: IdentityVerification | UnsetType = UNSET
    limits: DatastreamLimits | UnsetType = UNSET


class DatastreamPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A JSON merge patch of a datastream."""

    name: DatastreamName | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    """null removes the description."""
    allowedOrigins: list[Origin] | UnsetType = UNSET
    identityVerification: IdentityVerification | UnsetType | None = UNSET
    """Replaced whole; null removes it."""
    limits: DatastreamLimits | UnsetType | None = UNSET
    """Replaces the whole limits object; null removes it (the server's defaults apply)."""


class Datastream(Shape):
    id: str
    name: str
    allowedOrigins: list[str]
    created: datetime
    modified: datetime
    etag: int
    description: str | UnsetType = UNSET
    identityVerification: IdentityVerification | UnsetType = UNSET
    """Shown without HMAC secrets."""
    limits: DatastreamLimits | UnsetType = UNSET


class DatastreamList(Shape):
    results: list[Datastream]
    count: Count


class EdgeEntity(Shape):
    id: str
    etag: str
    name: str | UnsetType = UNSET
    channel: str | UnsetType = UNSET
    componentType: str | UnsetType = UNSET


class EdgeItemData(Shape):
    id: str
    format: str
    language: list[str] | UnsetType = UNSET
    deliveryURL: str | UnsetType = UNSET
    linkURL: str | UnsetType = UNSET
    content: str | UnsetType = UNSET
    characteristics: dict[str, str] | UnsetType = UNSET


class EdgeItem(Shape):
    id: str
    etag: str
    schema: str
    data: EdgeItemData
    name: str | UnsetType = UNSET
    priority: float | UnsetType = UNSET


class EdgeProposition(Shape):
    id: str
    scope: str
    activity: EdgeEntity
    placement: EdgeEntity
    items: list[EdgeItem]


class EdgeHandle(Shape):
    payload: list[EdgeProposition]
    type: Literal["personalization:decisions"]
    eventIndex: Count


class EdgeReport(Shape):
    eventIndex: Count


class EdgeWarning(Shape):
    type: str
    status: int
    title: str
    detail: str
    report: EdgeReport


class EdgeResponse(Shape):
    """The interact answer: one `personalization:decisions` handle per event that asked."""

    requestId: str
    handle: list[EdgeHandle]
    warnings: list[EdgeWarning] | UnsetType = UNSET


# -- profiles, events and decision events ----------------------------------------------------


Namespace = Annotated[
    str,
    Meta(
        pattern=described(
            r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
            "an identity namespace such as ECID or email: a letter or digit, then up to 127 "
            "letters, digits, _ . or -",
        )
    ),
]
AudienceId = Annotated[str, Meta(min_length=1, max_length=256)]


class IdentityValue(msgspec.Struct):
    id: Annotated[str, Meta(min_length=1, max_length=1024)]


class Membership(msgspec.Struct):
    status: Literal["realized", "existing", "exited"]


class ExperienceEvent(msgspec.Struct):
    """An XDM experience event; `timestamp` is required."""

    timestamp: datetime


class ProfileInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A profile, XDM style. Identity namespaces are case-insensitive; `profileId`, `etag`,
    `created` and `modified` are read-only and ignored on write."""

    identityMap: dict[Namespace, Annotated[list[IdentityValue], Meta(min_length=1)]] | UnsetType = (
        UNSET
    )
    attributes: dict[str, Any] | UnsetType = UNSET
    segmentMembership: dict[str, dict[AudienceId, Membership]] | UnsetType = UNSET
    events: list[ExperienceEvent] | UnsetType = UNSET
    profileId: Any = UNSET
    etag: Any = UNSET
    created: Any = UNSET
    modified: Any = UNSET


class ProfilePatch(msgspec.Struct):
    """A JSON merge patch (RFC 7396) of a profile; creates the profile when absent."""


class Profile(Shape):
    profileId: str
    identityMap: dict[str, list[IdentityValue]]
    attributes: dict[str, Any]
    segmentMembership: dict[str, Any]
    events: list[ExperienceEvent]
    etag: Etag
    created: datetime
    modified: datetime


class BulkResult(Shape):
    created: Count
    replaced: Count
    total: Count


class IngestResult(Shape):
    """What `POST /v1/events` did (or, with `dryRun`, would do)."""

    events: Count
    kept: Count
    impressions: Count
    clicks: Count
    custom: Count
    profiles: Count
    dryRun: bool


class EventIdentity(Shape):
    namespace: str
    id: str


class ServingModel(Shape):
    id: str
    version: int | None
    """None: the model was untrained (random ranking)."""


class EventOffer(Shape):
    id: str
    rank: Annotated[int, Meta(ge=1)]
    score: float | None
    propensity: float | UnsetType | None = UNSET
    """The probability the serving policy had of proposing this offer in this slot."""
    model: ServingModel | UnsetType | None = UNSET
    """The ranking model that ranked it, None when none did."""


class DecisionEvent(Shape):
    propositionId: str
    timestamp: datetime
    profileId: str | None
    identity: EventIdentity | None
    activityId: str
    placementId: str
    offers: list[EventOffer]
    fallbackId: str | None
    requestId: str | None


class DecisionEventLinks(Shape):
    self: Link
    next: Link | UnsetType = UNSET


class DecisionEventPage(Shape):
    results: list[DecisionEvent]
    count: Count
    links: DecisionEventLinks = field(name="_links")


# -- ranking models -------------------------------------------------------------------------------


class ModelWindow(Shape):
    days: int
    start: str | None
    end: str | None


class ModelCounts(Shape):
    decisionEvents: int
    impressions: int
    conversions: int


class Posterior(Shape):
    alpha: float
    beta: float
    mean: float


class ModelOffer(Shape):
    offerId: str
    impressions: int
    conversions: int
    rate: float | None
    new: bool
    posterior: Posterior


class ModelState(Shape):
    strategyId: str
    type: str
    status: Literal["untrained", "trained"]
    enabled: bool
    version: int | None
    trainedAt: str | None
    window: ModelWindow
    thresholds: dict[str, int]
    explorationShare: float
    counts: ModelCounts
    serving: str
    offers: list[ModelOffer]


# -- batch ----------------------------------------------------------------------------------------


class WorkloadOutput(Shape):
    dataSetId: str
    format: Literal["parquet", "jsonl"]
    path: str | UnsetType = UNSET
    """`<dataSetId>/<file>`; absent once the output expired."""
    expired: bool | UnsetType = UNSET
    """True once the output was deleted after its retention."""


class Workload(Shape):
    """A batch job, as Adobe's create and status responses show it."""

    id: str = field(name="@id")
    org: str = field(name="xdm:imsOrgId")
    create_date: int = field(name="ode:createDate")
    status: Literal["QUEUED", "PROCESSING", "INGESTING", "COMPLETED", "ERROR"] = field(
        name="ode:status"
    )
    container_id: str | UnsetType = field(name="xdm:containerId", default=UNSET)
    status_detail: dict[str, Any] | UnsetType = field(name="ode:statusDetail", default=UNSET)
    output: WorkloadOutput | UnsetType = field(name="nextoffer:output", default=UNSET)
    summary: dict[str, Any] | UnsetType = field(name="nextoffer:summary", default=UNSET)


# -- authoring and simulation -----------------------------------------------------------------


class ContextRead(Shape):
    type: str
    """The context data's `@type`, as the rule names it in `@{...}`."""
    path: str


class AliasRead(Shape):
    alias: str
    """A ranking formula's `definedOn` alias (its context data)."""
    path: str


class PqlReads(Shape):
    """What a rule or formula reads; a dotted path stands for its prefixes too."""

    profile: list[str]
    context: list[ContextRead]
    events: list[str]
    """Paths read in the profile's experience events (`xEvent`)."""
    audiences: list[str]
    """Audience (segment) ids tested by `inSegment` or `segmentMembership`."""
    offer: list[str]
    """Fields of the offer a ranking formula reads."""
    aliases: list[AliasRead]


class PqlDiagnostic(Shape):
    """One compile error: 1-based positions; `endColumn` is just after the offending text."""

    code: str
    phase: Literal["syntax", "type", "limit"]
    message: str
    line: int
    column: int
    endLine: int
    endColumn: int
    excerpt: str
    """The source line and a caret line under the offending text."""
    hint: str | UnsetType = UNSET
    """How to write it instead, for a recognised mistake."""


class PqlCheck(Shape):
    valid: bool
    kind: Literal["rule", "formula"]
    reads: PqlReads | UnsetType = UNSET
    """With `valid`: what the text reads."""
    errors: list[PqlDiagnostic] | UnsetType = UNSET
    """Without `valid`: what is wrong (each compile phase stops at its first error)."""


class SimulatedProfile(Shape):
    identity: str | None
    """The `namespace:id` asked for (null for an inline profile)."""
    profileId: str | None
    """The stored profile it found; null when unknown (an empty profile decided)."""
    found: bool
    inline: bool


class Simulation(Shape):
    """Explained dry runs, one proposition per scope (the Decisioning API's v1.0 shape with
    content, names and `nextoffer:explanation`)."""

    at: datetime
    profile: SimulatedProfile
    propositions: list[DecisionProposition]
    names: dict[str, str]
    """The name of every offer the propositions and explanations mention, by id."""
    truncated: bool
    """More than 200 scopes were asked for; the first 200 were decided."""
    recorded: bool
    """Always false: a simulation never records decision events nor counts toward caps."""
