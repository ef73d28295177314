"""The Edge endpoints as the Adobe Web SDK and the Edge Network Server API call them.

`POST /ee/v1|v2/interact` decides the decision scopes each event carries and answers with
`personalization:decisions` handles; `/collect` takes events without answering. A browser sends
no tenant headers and no credentials: the datastream named by `configId` (or `dataStreamId`)
selects the org and sandbox and lists the origins allowed to call with credentials (CORS).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_body
from nextoffer.api.context import offload, services
from nextoffer.api.msgspec_errors import to_invalid_input
from nextoffer.api.problems import from_error
from nextoffer.decisioning.service import DecideCall, DecideResult
from nextoffer.edge.events import parse_event
from nextoffer.edge.scopes import DecisionScope, ScopeError, decode_scope
from nextoffer.engine import Offer, Placement, Proposition, ScopeRequest, scope_problems
from nextoffer.errors import (
    Forbidden,
    InvalidInput,
    NextofferError,
    NotFound,
    UnsupportedMediaType,
)
from nextoffer.records.datastreams import Datastream
from nextoffer.tenants import Tenant
from nextoffer.vocabulary import component_uri

EDGE_MAX_BODY = 64 * 1024
"""Adobe's Edge Network refuses requests over 64 KB; so does nextoffer."""
MAX_SCOPES = 30


class _Loose(msgspec.Struct, forbid_unknown_fields=False):
    pass


class Personalization(_Loose):
    decision_scopes: list[str] = msgspec.field(name="decisionScopes", default_factory=list)


class EdgeQuery(_Loose):
    personalization: Personalization | None = None


class EdgeEvent(_Loose):
    xdm: dict[str, Any] = msgspec.field(default_factory=dict)
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    query: EdgeQuery | None = None


class EdgeRequest(_Loose):
    events: list[EdgeEvent] | None = None
    event: EdgeEvent | None = None
    """The Server API's single-event form."""
    query: EdgeQuery | None = None


# -- datastreams and CORS -----------------------------------------------------------------------


def datastream_of(request: Request) -> Datastream:
    params = request.query_params
    datastream_id = params.get("configId") or params.get("dataStreamId")
    if not datastream_id:
        raise InvalidInput.at(
            "name the datastream with ?configId=<id> (or ?dataStreamId=<id>)",
            parameter="configId",
            code="missing-datastream",
        )
    found = services(request).datastreams.resolve(datastream_id)
    if found is None:
        raise InvalidInput.at(
            f"there is no datastream {datastream_id}; create one with POST /v1/datastreams",
            parameter="configId",
            code="unknown-datastream",
        )
    return found


def cors_headers(request: Request, datastream: Datastream) -> dict[str, str]:
    """Credentialed CORS: the caller's own origin echoed, when the datastream allows it."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}  # not a browser: nothing to allow
    if not datastream.allows(origin):
        raise Forbidden.at(
            f"origin {origin} may not call datastream {datastream.id}; add it to the "
            "datastream's allowedOrigins",
            parameter="Origin",
            code="origin-not-allowed",
        )
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


async def preflight(request: Request) -> Response:
    datastream = datastream_of(request)
    headers = cors_headers(request, datastream)
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": request.headers.get(
                "access-control-request-headers", "content-type"
            ),
            "Access-Control-Max-Age": "600",
        }
    )
    return Response(status_code=204, headers=headers)


# -- requests -----------------------------------------------------------------------------------


async def read_edge_request(request: Request) -> EdgeRequest:
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("text/plain", "application/json"):
            raise UnsupportedMediaType.at(
                "send events as JSON (text/plain or application/json)", parameter="Content-Type"
            )
    body = await read_body(request, EDGE_MAX_BODY)
    try:
        parsed = msgspec.json.decode(body, type=EdgeRequest)
    except msgspec.ValidationError as exc:
        raise to_invalid_input(exc, "the Edge request") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput.at(
            f"the body is not valid JSON: {exc}", pointer="", code="malformed-json"
        ) from None
    if not parsed.events and parsed.event is None:
        raise InvalidInput.at(
            "an Edge request carries events[] (or event)", pointer="/events", code="invalid-body"
        )
    return parsed


def events_of(req: EdgeRequest) -> tuple[list[EdgeEvent], str]:
    if req.events:
        return req.events, "/events"
    assert req.event is not None
    return [req.event], "/event"


def scopes_of(req: EdgeRequest, event: EdgeEvent, index: int, where: str) -> list[DecisionScope]:
    tokens = (
        list(event.query.personalization.decision_scopes)
        if event.query and event.query.personalization
        else []
    )
    base = (
        f"{where}/{index}/query/personalization/decisionScopes"
        if where == "/events"
        else ("/query/personalization/decisionScopes")
    )
    if index == 0 and req.query and req.query.personalization:
        tokens += req.query.personalization.decision_scopes  # the Server API's top-level form
    scopes = []
    for j, token in enumerate(tokens):
        try:
            scope = decode_scope(token)
        except ScopeError as exc:
            raise InvalidInput.at(
                f"decision scope {token!r}: {exc}", pointer=f"{base}/{j}", code="bad-scope"
            ) from None
        if scope is not None:
            scopes.append(scope)
    if len(scopes) > MAX_SCOPES:
        raise InvalidInput.at(
            f"at most {MAX_SCOPES} decision scopes per event", pointer=base, code="too-many-scopes"
        )
    return scopes


def dry_run(event: EdgeEvent) -> bool:
    adobe = event.data.get("__adobe") if isinstance(event.data, dict) else None
    ajo = adobe.get("ajo") if isinstance(adobe, dict) else None
    return isinstance(ajo, dict) and ajo.get("dryRun") is True


# -- responses ----------------------------------------------------------------------------------


def item(offer: Offer, placement: Placement) -> dict[str, Any]:
    flags = placement.doc.get("returnMetaData") or {}
    content = offer.contents.get(placement.id)
    component = content.components[0] if content and content.components else {}
    data: dict[str, Any] = {"id": offer.id, "format": component.get("format", "")}
    if component.get("language"):
        data["language"] = list(component["language"])
    if component.get("deliveryURL"):
        data["deliveryURL"] = component["deliveryURL"]
        if component.get("linkURL"):
            data["linkURL"] = component["linkURL"]
    if component.get("content") is not None:
        data["content"] = component["content"]
    if flags.get("offerAttributes", True) and offer.characteristics:
        data["characteristics"] = dict(offer.characteristics)
    out: dict[str, Any] = {"id": offer.id, "etag": str(offer.etag)}
    if flags.get("offerName", True):
        out["name"] = offer.name
    if flags.get("offerPriority", True) and offer.kind == "personalized-offer":
        out["priority"] = offer.priority
    out["schema"] = component_uri(component.get("type", placement.component_type))
    out["data"] = data
    return out


def proposition(prop: Proposition, scope_id: str, token: str) -> dict[str, Any]:
    placement = prop.placement
    flags = placement.doc.get("returnMetaData") or {}
    activity: dict[str, Any] = {"id": prop.decision.id, "etag": str(prop.decision.etag)}
    if flags.get("decisionName", True):
        activity["name"] = prop.decision.name
    place: dict[str, Any] = {"id": placement.id, "etag": str(placement.etag)}
    if flags.get("placementName", True):
        place["name"] = placement.name
    if flags.get("channelType", True):
        place["channel"] = placement.channel
    if flags.get("contentType", True):
        place["componentType"] = component_uri(placement.component_type)
    offers = [c.offer for c in prop.options] or ([prop.fallback] if prop.fallback else [])
    return {
        "id": scope_id,
        "scope": token,
        "activity": activity,
        "placement": place,
        "items": [item(o, placement) for o in offers],
    }


def warning(status: int, code: str, title: str, detail: str, index: int) -> dict[str, Any]:
    return {
        "type": f"https://nextoffer.dev/problems/{code}",
        "status": status,
        "title": title,
        "detail": detail,
        "report": {"eventIndex": index},
    }


# -- the endpoints ------------------------------------------------------------------------------


async def interact(request: Request) -> Response:
    return await _edge(request, answer=True)


async def collect(request: Request) -> Response:
    return await _edge(request, answer=False)


async def _edge(request: Request, *, answer: bool) -> Response:
    datastream = datastream_of(request)
    headers = cors_headers(request, datastream)
    try:
        return await _handle(request, datastream, answer, headers)
    except NextofferError as exc:
        response = from_error(exc)
        response.headers.update(headers)  # the browser must be able to read the error too
        return response


async def _handle(
    request: Request, datastream: Datastream, answer: bool, headers: dict[str, str]
) -> Response:
    svc = services(request)
    tenant = Tenant(datastream.org, datastream.sandbox)
    req = await read_edge_request(request)
    events, where = events_of(req)
    now = svc.decisions.clock()
    planned = []
    for index, event in enumerate(events):
        pointer = f"{where}/{index}/xdm" if where == "/events" else "/event/xdm"
        parsed = parse_event(event.xdm, pointer, now)
        scopes = scopes_of(req, event, index, where) if answer else []
        planned.append((index, event, parsed, scopes))
    kept = [p for _, _, p, _ in planned if p.kept]
    if kept:  # every notification is checked before anything is decided or written
        await offload(request, svc.feedback.check, tenant, kept)
    request_id = request.query_params.get("requestId") or str(uuid.uuid4())
    handles, warnings = [], []
    if answer:
        handles, warnings = await _decide_all(request, tenant, planned, request_id)
    wet = [p for _, e, p, _ in planned if p.kept and not dry_run(e)]
    if wet:  # after deciding: a decision sees its own event once, as the current one
        await offload(request, svc.feedback.ingest, tenant, wet)
    if not answer:
        return Response(status_code=204, headers=headers)
    body: dict[str, Any] = {"requestId": request_id, "handle": handles}
    if warnings:
        body["warnings"] = warnings
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


async def _decide_all(
    request: Request, tenant: Tenant, planned: list[Any], request_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    svc = services(request)
    catalog = svc.decisions.catalog(tenant)
    handles, warnings = [], []
    for index, event, parsed, scopes in planned:
        if not scopes:
            continue
        requests = [ScopeRequest(s.activity_id, s.placement_id, s.item_count) for s in scopes]
        kept = []
        for scope, scope_request in zip(scopes, requests, strict=True):
            problems = scope_problems(catalog, [scope_request]) if catalog else None
            if catalog is None or problems:
                detail = problems[0].message if problems else "this sandbox has no decisions"
                warnings.append(
                    warning(
                        422, "bad-scope", "Scope not decided", f"{scope.token}: {detail}", index
                    )
                )
            else:
                kept.append((scope, scope_request))
        if not kept:
            continue
        call = DecideCall(
            tenant=tenant,
            scopes=[r for _, r in kept],
            identities=list(parsed.identities),
            current_event=parsed.xdm,
            dry_run=dry_run(event),
            request_id=request_id,
        )
        result: DecideResult = await offload(request, svc.decisions.decide, call, lambda i, f: "")
        payload = [
            proposition(p, scope_id, scope.token)
            for p, scope_id, (scope, _) in zip(
                result.propositions, result.scope_ids, kept, strict=True
            )
        ]
        handles.append(
            {"payload": payload, "type": "personalization:decisions", "eventIndex": index}
        )
    return handles, warnings


def edge_routes() -> list[Route]:
    routes = []
    for path in (
        "/ee/v1/{action}",
        "/ee/v2/{action}",
        "/ee/{hint}/v1/{action}",
        "/ee/{hint}/v2/{action}",
    ):
        routes.append(Route(path, _dispatch, methods=["POST", "OPTIONS"]))
    return routes


async def _dispatch(request: Request) -> Response:
    action = request.path_params["action"]
    if action not in ("interact", "collect"):
        raise NotFound.at(f"no Edge action {action!r}; use interact or collect", parameter="path")
    if request.method == "OPTIONS":
        return await preflight(request)
    return await (interact(request) if action == "interact" else collect(request))
