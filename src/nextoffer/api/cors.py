"""Credentialed CORS for the Edge endpoints: the datastream lists the origins it allows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from nextoffer.errors import Forbidden
from nextoffer.records.datastreams import Datastream


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


def preflight(request: Request, datastream: Datastream) -> Response:
    """The answer to a browser's `OPTIONS` before it posts with credentials."""
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
