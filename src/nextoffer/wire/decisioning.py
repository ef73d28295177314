"""The Decisioning API's wire format: v1.0 and v0.9 request bodies, versions, responses.

Bodies decode straight into these msgspec structs (the hot path: no pydantic, no copies); a
request translates to the service's `DecideCall`, its result shapes back into the response
of the version asked for (the `Accept` header's schema version, else the request's;
`decisioning_responses`). The HTTP route, the CLI and the Batch Decisioning API all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from nextoffer.engine import Catalog, ScopeRequest
from nextoffer.errors import InvalidInput, UnsupportedMediaType
from nextoffer.profiles.xdm import flatten_segments, identity_pairs
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import DecideCall, PointerFor, proposition_request_pointer

SCHEMA = "https://ns.adobe.com/experience/offer-management/"
XDM_JSON = "application/vnd.adobe.xdm+json"
Count = Annotated[int, msgspec.Meta(ge=1, le=30)]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""An RFC 3339 date-time with its offset (`Z` or `+hh:mm`)."""
AT = "nextoffer:at"


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
    at: Instant | None = msgspec.field(name=AT, default=None)
    """nextoffer extension: decide as at this instant (a dry run or explanation only)."""


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
    at: Instant | None = msgspec.field(name=AT, default=None)
    """nextoffer extension: decide as at this instant (a dry run or explanation only)."""


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

_SCHEMA_VERSION = re.compile(r"decision-(request|response);version=([0-9.]+)")


def schema_version(header: str) -> tuple[str, str] | None:
    """("request" | "response", version) of the first `schema=...decision-<kind>;version=<v>`
    parameter in a Content-Type or Accept header, in time linear in the header's length.

    Each candidate `decision-...;version=` is checked against the text since the previous one
    only (a `schema=` before it, nothing but the schema URI in between), so no byte is read
    twice: a regex scanning back and forth over `schema=schema=...` was quadratic (issue 15).
    """
    start = 0
    for m in _SCHEMA_VERSION.finditer(header):
        at = header.rfind("schema=", start, m.start())
        start = m.end()
        if at < 0:
            continue
        uri = header[at + len("schema=") : m.start()].removeprefix('"')
        if not any(c in uri for c in '";, '):
            return m.group(1), m.group(2)
    return None


def request_version(content_type: str | None, body: bytes) -> str:
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("application/json", XDM_JSON):
            raise UnsupportedMediaType.at(
                f"send the decision request as application/json or {XDM_JSON}",
                parameter="Content-Type",
            )
        found = schema_version(content_type)
        if found:
            if found[0] != "request" or found[1] not in ("1.0", "0.9"):
                raise UnsupportedMediaType.at(
                    f"unsupported schema in Content-Type: {content_type[:200]}; "
                    "decision-request versions 1.0 and 0.9 are served",
                    parameter="Content-Type",
                )
            return found[1]
    return (
        "0.9"
        if b'"xdm:offerActivities"' in body and b'"xdm:propositionRequests"' not in body
        else "1.0"
    )


def response_version(accept: str | None, default: str) -> tuple[str, str]:
    """(version, media type) of the response."""
    if accept:
        found = schema_version(accept)
        if found and found[0] == "response" and found[1] in ("1.0", "0.9"):
            version = found[1]
            return version, f'{XDM_JSON}; schema="{SCHEMA}decision-response;version={version}"'
    return default, "application/json"


# -- requests to calls -------------------------------------------------------------------------

AnyRequest = DecisionRequest | DecisionRequestV09


def request_type(version: str) -> type[AnyRequest]:
    """The struct a body of schema `version` decodes into."""
    return DecisionRequest if version == "1.0" else DecisionRequestV09


def _context(items: list[ContextData]) -> dict[str, Any]:
    return {item.type: item.data for item in items}


def decision_time(req: AnyRequest) -> datetime | None:
    """The request's `nextoffer:at`: honoured for a dry run or an explanation only, which
    record and count nothing; a real decision happens now (400 naming the field)."""
    if req.at is not None and not (req.dry_run or req.explain):
        raise InvalidInput.at(
            f'{AT} (a decision time) is only taken with "xdm:dryRun": true or '
            '"nextoffer:explain": true: a decision that counts happens now',
            pointer=f"/{AT}",
        )
    return req.at


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
        at=decision_time(req),
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
        at=decision_time(req),
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
