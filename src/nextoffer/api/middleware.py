"""ASGI middleware: bounded headers and tolerant paths (request ids: `request_telemetry`)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from nextoffer.api.problems import problem_response

_SLASHES = re.compile(r"/{2,}")

MAX_HEADER_VALUE_BYTES = 8 * 1024
"""The longest header value served (nginx's default buffer for one header line is 8 KB)."""
MAX_HEADERS_BYTES = 32 * 1024
"""The most header bytes, names and values together, of one request."""


class HeaderLimits:
    """431 for a header value over MAX_HEADER_VALUE_BYTES or headers over MAX_HEADERS_BYTES in
    all, before any route parses them: the server's parser (httptools) takes headers of any
    size, and no route should spend time on a 224 KB Content-Type (issue 15)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            total = 0
            for name, value in scope.get("headers", ()):
                total += len(name) + len(value)
                if len(value) > MAX_HEADER_VALUE_BYTES or total > MAX_HEADERS_BYTES:
                    too_long = len(value) > MAX_HEADER_VALUE_BYTES
                    header = name.decode("latin-1") if too_long else "headers"
                    limit = MAX_HEADER_VALUE_BYTES if too_long else MAX_HEADERS_BYTES
                    what = f"the {header} header is" if too_long else "the headers are"
                    response = problem_response(
                        431,
                        "header-too-large",
                        "Request header fields too large",
                        f"{what} longer than {limit} bytes",
                        [{"parameter": header, "message": f"at most {limit} bytes"}],
                        {"maxBytes": limit},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class NormalizePath:
    """Collapse `//` and drop a trailing `/`, as Adobe's doc paths produce both (AMB-1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            fixed = _SLASHES.sub("/", path)
            if len(fixed) > 1 and fixed.endswith("/"):
                fixed = fixed.rstrip("/") or "/"
            if fixed != path:
                scope = dict(scope)
                scope["path"] = fixed
                scope["raw_path"] = fixed.encode()
        await self.app(scope, receive, send)
