"""The Decisioning API's wire format: v1.0 and v0.9 request bodies, versions, responses.

Bodies decode straight into these msgspec structs (the hot path: no pydantic, no copies); a
request translates to the service's `DecideCall`, its result shapes back into the response
of the version asked for (the `Accept` header's schema version, else the request's). The HTTP
route, the CLI and the Batch Decisioning API all use it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
import orjson

from nextoffer.engine import Catalog, Offer, Placement, Proposition, ScopeRequest
from nextoffer.errors import UnsupportedMediaType
from nextoffer.profiles.xdm import flatten_segments, identity_pairs
from nextoffer.tenants import Tenant
from nextoffer.vocabulary import component_uri
from nextoffer.wire.calls import DecideCall, DecideResult, PointerFor, proposition_request_pointer
from nextoffer.wire.content import content_fields

SCHEMA = "https://ns.adobe.com/experience/offer-management/"
XDM_JSON = "application/vnd.adobe.xdm+json"
Count = Annotated[int, msgspec.Meta(ge=1, le=30)]


class _Struct(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Adobe bodies carry fields we do not use (mergePolicy, enrichedAudience...): allowed."""


class PropositionRequest(_Struct):
    activity_id: str = msgspec.field(name="xdm:activityId")
    placement_id: str = msgspec.field(name="xdm:placementId")
    item_count: Count | None = msgspec.field(name="xdm:itemCount", default=None)


class ContextData(_Struct):
    type: str = msgspec.field(name="@type")
    data: dict[str, Any] = msgspec.field(name="xdm:data", default_factory=dict)


class ProfileRef(_Struct):
    identity_map: dict[str, list[dict[str, Any]]] = msgspec.field(name="xdm:identityMap")
    context: list[ContextData] = msgspec.field(name="xdm:contextData", default_factory=list)
    decision_request_id: str | None = msgspec.field(name="xdm:decisionRequestId", default=None)
    attributes: dict[str, Any] | None = msgspec.field(name="xdm:attributes", default=None)
    """Adobe's undocumented inline profile; with it no profile is looked up."""
    events: list[dict[str, Any]] | None = msgspec.field(name="nextoffer:events", default=None)
    """nextoffer extension: experience events of an inline profile, most recent first."""


class AllowDuplicates(_Struct):
    across_activities: bool = msgspec.field(name="xdm:acrossActivities", default=False)
    across_placements: bool = msgspec.field(name="xdm:acrossPlacements", default=False)


class IncludeMetadata(_Struct):
    activity: list[Literal["name"]] = msgspec.field(name="xdm:activity", default_factory=list)
    option: list[Literal["name", "characteristics", "priority"]] = msgspec.field(
        name="xdm:option", default_factory=list
    )
    placement: list[Literal["name", "channel", "componentType"]] = msgspec.field(
        name="xdm:placement", default_factory=list
    )


class ResponseFormat(_Struct):
    include_content: bool | None = msgspec.field(name="xdm:includeContent", default=None)
    include_metadata: IncludeMetadata | None = msgspec.field(
        name="xdm:includeMetadata", default=None
    )


class DecisionRequest(_Struct):
    scopes: Annotated[list[PropositionRequest], msgspec.Meta(min_length=1, max_length=30)] = (
        msgspec.field(name="xdm:propositionRequests")
    )
    profiles: Annotated[list[ProfileRef], msgspec.Meta(min_length=1, max_length=1)] = msgspec.field(
        name="xdm:profiles"
    )
    allow_duplicates: AllowDuplicates | None = msgspec.field(
        name="xdm:allowDuplicatePropositions", default=None
    )
    response_format: ResponseFormat | None = msgspec.field(name="xdm:responseFormat", default=None)
    dry_run: bool = msgspec.field(name="xdm:dryRun", default=False)
    explain: bool = msgspec.field(name="nextoffer:explain", default=False)
    seed: int | None = msgspec.field(name="nextoffer:seed", default=None)


class ActivityRef(_Struct):
    activity_id: str = msgspec.field(name="xdm:offerActivity")


class AllowDuplicatesV09(_Struct):
    across_activities: bool = msgspec.field(name="xdm:acrossActivities", default=False)


class DecisionRequestV09(_Struct):
    activities: Annotated[list[ActivityRef], msgspec.Meta(min_length=1, max_length=30)] = (
        msgspec.field(name="xdm:offerActivities")
    )
    identity_map: dict[str, list[dict[str, Any]]] = msgspec.field(name="xdm:identityMap")
    context: list[ContextData] = msgspec.field(name="xdm:contextData", default_factory=list)
    allow_duplicates: AllowDuplicatesV09 | None = msgspec.field(
        name="xdm:allowDuplicatePropositions", default=None
    )
    dry_run: bool = msgspec.field(name="xdm:dryRun", default=False)
    explain: bool = msgspec.field(name="nextoffer:explain", default=False)
    seed: int | None = msgspec.field(name="nextoffer:seed", default=None)


@dataclass(frozen=True, slots=True)
class InlineProfile:
    """A profile passed in the request (`xdm:attributes`)."""

    attributes: Mapping[str, Any]
    segments: Mapping[str, str]
    events: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def segments_of(attributes: Mapping[str, Any]) -> dict[str, str]:
    """`segmentMembership.<namespace>.<audience id>.status`, flattened over namespaces."""
    return flatten_segments(attributes.get("segmentMembership"))


# -- versions -----------------------------------------------------------------------------------

_VERSION = re.compile(r'schema="?[^";]*decision-(request|response);version=([0-9.]+)"?')


def request_version(content_type: str | None, body: bytes) -> str:
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("application/json", XDM_JSON):
            raise UnsupportedMediaType.at(
                f"send the decision request as application/json or {XDM_JSON}",
                parameter="Content-Type",
            )
        m = _VERSION.search(content_type)
        if m:
            if m.group(1) != "request" or m.group(2) not in ("1.0", "0.9"):
                raise UnsupportedMediaType.at(
                    f"unsupported schema in Content-Type: {content_type}; "
                    "decision-request versions 1.0 and 0.9 are served",
                    parameter="Content-Type",
                )
            return m.group(2)
    return (
        "0.9"
        if b'"xdm:offerActivities"' in body and b'"xdm:propositionRequests"' not in body
        else "1.0"
    )


def response_version(accept: str | None, default: str) -> tuple[str, str]:
    """(version, media type) of the response."""
    if accept:
        m = _VERSION.search(accept)
        if m and m.group(1) == "response" and m.group(2) in ("1.0", "0.9"):
            version = m.group(2)
            return version, f'{XDM_JSON}; schema="{SCHEMA}decision-response;version={version}"'
    return default, "application/json"


# -- responses ----------------------------------------------------------------------------------


def scope_token(activity_id: str, placement_id: str | None = None) -> str:
    """The base64 "encoded decision scope" Adobe returns with each proposition."""
    scope = {"xdm:activityId": activity_id}
    if placement_id is not None:
        scope["xdm:placementId"] = placement_id
    return base64.b64encode(orjson.dumps(scope)).decode()


@dataclass(frozen=True, slots=True)
class Shape:
    """What to put in each proposition: content, and which metadata of which entity."""

    content: bool
    activity: frozenset[str]
    option: frozenset[str]
    placement: frozenset[str]

    @classmethod
    def of(cls, fmt: ResponseFormat | None, placement: Placement) -> Shape:
        flags = placement.doc.get("returnMetaData") or {}
        content = fmt.include_content if fmt and fmt.include_content is not None else None
        if content is None:
            content = bool(placement.return_content)
        if fmt and fmt.include_metadata is not None:
            meta = fmt.include_metadata
            return cls(
                content, frozenset(meta.activity), frozenset(meta.option), frozenset(meta.placement)
            )
        option = {
            "name": "offerName",
            "characteristics": "offerAttributes",
            "priority": "offerPriority",
        }
        place = {"name": "placementName", "channel": "channelType", "componentType": "contentType"}
        return cls(
            content,
            frozenset({"name"} if flags.get("decisionName") else ()),
            frozenset(k for k, flag in option.items() if flags.get(flag)),
            frozenset(k for k, flag in place.items() if flags.get(flag)),
        )


def option_detail(
    offer: Offer, placement_id: str, shape: Shape, score: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"xdm:id": offer.id, "repo:etag": str(offer.etag)}
    if shape.content:
        out.update(content_fields(offer, placement_id))
    if "name" in shape.option:
        out["xdm:name"] = offer.name
    if "characteristics" in shape.option and offer.characteristics:
        out["xdm:characteristics"] = dict(offer.characteristics)
    if "priority" in shape.option:
        out["xdm:priority"] = offer.priority
    if score is not None:
        out["xdm:score"] = score
    return out


def proposition_v1(prop: Proposition, fmt: ResponseFormat | None) -> dict[str, Any]:
    placement = prop.placement
    shape = Shape.of(fmt, placement)
    activity: dict[str, Any] = {"xdm:id": prop.decision.id, "repo:etag": str(prop.decision.etag)}
    if "name" in shape.activity:
        activity["xdm:name"] = prop.decision.name
    place: dict[str, Any] = {"xdm:id": placement.id, "repo:etag": str(placement.etag)}
    if "name" in shape.placement:
        place["xdm:name"] = placement.name
    if "channel" in shape.placement:
        place["xdm:channel"] = placement.channel
    if "componentType" in shape.placement:
        place["xdm:componentType"] = component_uri(placement.component_type)
    out: dict[str, Any] = {
        "xdm:activity": activity,
        "xdm:placement": place,
        "xdm:scope": scope_token(prop.decision.id, placement.id),
    }
    if prop.options:
        out["xdm:options"] = [
            option_detail(c.offer, placement.id, shape, c.score) for c in prop.options
        ]
    elif prop.fallback is not None:
        out["xdm:fallback"] = option_detail(prop.fallback, placement.id, shape, None)
    if prop.trace is not None:
        out["nextoffer:explanation"] = prop.trace.as_dict()
    return out


def response_v1(result: DecideResult, fmt: ResponseFormat | None) -> dict[str, Any]:
    return {
        "xdm:propositionId": result.proposition_id,
        "xdm:propositions": [proposition_v1(p, fmt) for p in result.propositions],
        "ode:createDate": int(result.created.timestamp() * 1000),
    }


def response_v09(result: DecideResult) -> dict[str, Any]:
    out = []
    for prop in result.propositions:
        entry: dict[str, Any] = {
            "xdm:offerActivity": prop.decision.id,
            "xdm:scope": scope_token(prop.decision.id),
        }
        if prop.options:
            entry["xdm:offers"] = [c.offer.id for c in prop.options]
        elif prop.fallback is not None:
            entry["xdm:fallbackOffer"] = prop.fallback.id
        if prop.trace is not None:
            entry["nextoffer:explanation"] = prop.trace.as_dict()
        out.append(entry)
    return {
        "xdm:propositionID": result.proposition_id,
        "xdm:propositions": out,
        "ode:createDate": int(result.created.timestamp() * 1000),
    }


# -- requests to calls -------------------------------------------------------------------------

AnyRequest = DecisionRequest | DecisionRequestV09


def request_type(version: str) -> type[AnyRequest]:
    """The struct a body of schema `version` decodes into."""
    return DecisionRequest if version == "1.0" else DecisionRequestV09


def _context(items: list[ContextData]) -> dict[str, Any]:
    return {item.type: item.data for item in items}


def call_v1(req: DecisionRequest, tenant: Tenant, request_id: str | None) -> DecideCall:
    profile = req.profiles[0]
    inline = None
    if profile.attributes is not None:
        inline = InlineProfile(
            profile.attributes, segments_of(profile.attributes), tuple(profile.events or ())
        )
    dup = req.allow_duplicates
    return DecideCall(
        tenant=tenant,
        scopes=[ScopeRequest(s.activity_id, s.placement_id, s.item_count) for s in req.scopes],
        identities=identity_pairs(profile.identity_map, "/xdm:profiles/0/xdm:identityMap"),
        inline=inline,
        context=_context(profile.context),
        allow_duplicates=(dup.across_activities, dup.across_placements) if dup else None,
        dry_run=req.dry_run,
        explain=req.explain,
        seed=req.seed,
        request_id=profile.decision_request_id or request_id,
    )


def call_v09(
    req: DecisionRequestV09, tenant: Tenant, request_id: str | None, catalog: Catalog | None
) -> DecideCall:
    """0.9 names activities only: each decides for the activity's first placement in the
    tenant's current `catalog` (an unknown activity stays unknown, for the 422 to name)."""
    scopes = []
    for ref in req.activities:
        decision = catalog.decisions.get(ref.activity_id) if catalog else None
        placements = decision.placement_ids if decision else ()
        scopes.append(ScopeRequest(ref.activity_id, placements[0] if placements else ""))
    dup = req.allow_duplicates
    return DecideCall(
        tenant=tenant,
        scopes=scopes,
        identities=identity_pairs(req.identity_map, "/xdm:identityMap"),
        context=_context(req.context),
        allow_duplicates=(dup.across_activities, True) if dup else None,
        dry_run=req.dry_run,
        explain=req.explain,
        seed=req.seed,
        request_id=request_id,
    )


def pointer_v09(index: int, field_name: str) -> str:
    """Where scope `index` is in a 0.9 request: its activity names both."""
    return f"/xdm:offerActivities/{index}/xdm:offerActivity"


def to_call(
    req: AnyRequest,
    tenant: Tenant,
    request_id: str | None,
    catalog_of: Callable[[Tenant], Catalog | None],
) -> tuple[DecideCall, PointerFor]:
    """The service's call for a decoded request, and where its scopes are (for 422s);
    `catalog_of` is asked only for a 0.9 request."""
    if isinstance(req, DecisionRequest):
        return call_v1(req, tenant, request_id), proposition_request_pointer
    return call_v09(req, tenant, request_id, catalog_of(tenant)), pointer_v09


def respond(result: DecideResult, req: AnyRequest, version: str) -> dict[str, Any]:
    """The response body of schema `version` (a 0.9 request has no response format)."""
    if version == "1.0":
        return response_v1(
            result, req.response_format if isinstance(req, DecisionRequest) else None
        )
    return response_v09(result)
