"""The Edge endpoints as the Adobe Web SDK and the Edge Network Server API call them.

`POST /ee/v1|v2/interact` answers with `personalization:decisions` handles; `/collect` takes
events without answering (the flows are `EdgeService`'s). A browser sends no tenant headers and
no credentials: the datastream named by `configId` (or `dataStreamId`) selects the org and
sandbox and lists the origins browsers may call from (CORS, which is not access control).

A call without `Authorization` or `x-api-key` is anonymous (a page); one with them is checked
like any API call (401 when wrong, 403 when they do not grant the datastream's sandbox) and is
then trusted as the tenant's own server (`edge.callers`).
"""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_body
from nextoffer.api.context import json_response, offload, services
from nextoffer.api.cors import cors_headers, preflight
from nextoffer.api.msgspec_errors import decode
from nextoffer.api.problems import from_error
from nextoffer.edge.callers import EdgeCaller, page
from nextoffer.errors import InvalidInput, NextofferError, NotFound, UnsupportedMediaType
from nextoffer.records.datastreams import Datastream
from nextoffer.tenants import Tenant
from nextoffer.wire.edge import EdgeRequest

EDGE_MAX_BODY = 64 * 1024
"""Adobe's Edge Network refuses requests over 64 KB; so does nextoffer."""


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


def caller_of(request: Request, datastream: Datastream) -> EdgeCaller:
    """A page (no credentials sent), or a server whose credentials grant the datastream's
    sandbox (401 / 403 otherwise: credentials sent are never ignored)."""
    headers = request.headers
    if "authorization" not in headers and "x-api-key" not in headers:
        return page(datastream)
    auth = request.app.state.auth
    credential = auth.authenticate(headers)
    auth.authorize(credential, Tenant(datastream.org, datastream.sandbox), headers)
    return EdgeCaller(trusted=True, datastream_id=datastream.id)


async def read_edge_request(request: Request) -> EdgeRequest:
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("text/plain", "application/json"):
            raise UnsupportedMediaType.at(
                "send events as JSON (text/plain or application/json)", parameter="Content-Type"
            )
    parsed = decode(await read_body(request, EDGE_MAX_BODY), EdgeRequest, "the Edge request")
    assert isinstance(parsed, EdgeRequest)
    return parsed


async def _edge(request: Request) -> Response:
    action = request.path_params["action"]
    if action not in ("interact", "collect"):
        raise NotFound.at(f"no Edge action {action!r}; use interact or collect", parameter="path")
    datastream = datastream_of(request)
    if request.method == "OPTIONS":
        return preflight(request, datastream)
    headers = cors_headers(request, datastream)
    edge = services(request).edge
    tenant = Tenant(datastream.org, datastream.sandbox)
    try:
        caller = caller_of(request, datastream)
        req = await read_edge_request(request)
        if action == "collect":
            await offload(request, partial(edge.collect, caller=caller), tenant, req)
            return Response(status_code=204, headers=headers)
        request_id = request.query_params.get("requestId")
        interact = partial(edge.interact, caller=caller, request_id=request_id)
        return json_response(await offload(request, interact, tenant, req), headers=headers)
    except NextofferError as exc:
        response = from_error(exc)
        response.headers.update(headers)  # the browser must be able to read the error too
        return response


def edge_routes() -> list[Route]:
    paths = (
        "/ee/v1/{action}",
        "/ee/v2/{action}",
        "/ee/{hint}/v1/{action}",
        "/ee/{hint}/v2/{action}",
    )
    return [Route(path, _edge, methods=["POST", "OPTIONS"]) for path in paths]
