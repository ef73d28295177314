"""CORS for the Edge endpoints: the datastream lists the origins browsers may call it from.

CORS is not access control. It tells a browser which pages may read the answer; any other
client can send any `Origin` or none. So a request without `Origin` is a server-side call:
served, with no CORS headers. An origin the datastream lists exactly is answered credentialed
(`Access-Control-Allow-Origin: <origin>`, `Access-Control-Allow-Credentials: true`), as the
Web SDK, which sends its requests with credentials, needs. `"*"` allows every other origin
without credentials (`Access-Control-Allow-Origin: *`): a wildcard never reflects an arbitrary
origin with credentials. Preflights answer with the request headers the Edge reads, never an
echo of `Access-Control-Request-Headers`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from nextoffer.errors import Forbidden
from nextoffer.records.datastreams import Datastream

ALLOWED_HEADERS = "content-type"
"""The only request header a page needs (`text/plain` bodies need none; JSON ones need it)."""
ALLOWED_METHODS = "POST, OPTIONS"
PREFLIGHT_MAX_AGE = "600"


def cors_headers(request: Request, datastream: Datastream) -> dict[str, str]:
    """The CORS answer for the request's `Origin`; 403 for an origin the datastream does not
    allow (a browser would not let the page read the answer anyway)."""
    origin = request.headers.get("origin")
    if origin is None:
        return {}  # not a browser: nothing to allow
    if origin in datastream.allowed_origins:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }
    if "*" in datastream.allowed_origins:
        return {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}
    raise Forbidden.at(
        f"origin {origin} may not call datastream {datastream.id}; add it to the "
        "datastream's allowedOrigins",
        parameter="Origin",
        code="origin-not-allowed",
    )


def preflight(request: Request, datastream: Datastream) -> Response:
    """The answer to a browser's `OPTIONS` before it posts: the methods and headers the Edge
    accepts (whatever the browser asked for)."""
    headers = cors_headers(request, datastream)
    headers.update(
        {
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
    )
    return Response(status_code=204, headers=headers)
