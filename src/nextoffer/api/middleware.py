"""ASGI middleware: bounded headers, tolerant paths and request ids."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class RequestId:
    """Echo `x-request-id` (or a fresh one) on every response, for tracing across services."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = scope.get("nextoffer.request_id")  # RequestTelemetry's, when it needed one
        request_id = chosen.encode("latin-1") if chosen is not None else None
        if request_id is None:
            for name, value in scope.get("headers", ()):
                if name == b"x-request-id":
                    request_id = value[:128]
                    break
        if request_id is None:
            request_id = str(uuid.uuid4()).encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)
