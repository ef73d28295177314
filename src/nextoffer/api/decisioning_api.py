"""The Decisioning API: `POST /data/core/ods/decisions` and its `/data/core/ode/...` twin.

The hot path: plain Starlette, msgspec decoding straight into typed structs, orjson out; no
pydantic per request (DESIGN.md §1). Reading the v1.0/v0.9 bodies and shaping the responses
is `wire.decisioning`'s; this module only translates HTTP.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_body
from nextoffer.api.context import call_of, offload, services
from nextoffer.api.msgspec_errors import decode
from nextoffer.wire.calls import DecideResult
from nextoffer.wire.decisioning import (
    DecisionRequest,
    DecisionRequestV09,
    request_type,
    request_version,
    response_version,
    to_call,
)
from nextoffer.wire.decisioning_responses import respond


async def post_decisions(request: Request) -> Response:
    call = call_of(request)
    svc = services(request)
    body = await read_body(request, svc.settings.max_body_bytes)
    version = request_version(request.headers.get("content-type"), body)
    req = decode(body, request_type(version), "the decision request")
    assert isinstance(req, DecisionRequest | DecisionRequestV09)
    request_id = request.headers.get("x-request-id")

    def decide() -> DecideResult:  # one hop: a 0.9 request reads the catalog, then decides
        decide_call, pointer = to_call(req, call.tenant, request_id, svc.decisions.catalog)
        return svc.decisions.decide(decide_call, pointer)

    result = await offload(request, decide)
    out_version, media = response_version(request.headers.get("accept"), version)
    payload = respond(result, req, out_version)
    return Response(orjson.dumps(payload), media_type=media)


def decisioning_routes() -> list[Route]:
    return [
        Route("/data/core/ods/decisions", post_decisions, methods=["POST"]),
        Route("/data/core/ode/{container_id}/decisions", post_decisions, methods=["POST"]),
    ]
