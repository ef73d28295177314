"""The one table from domain errors to HTTP: `application/problem+json` (RFC 9457) bodies.

Every error body has `type`, `title`, `status`, `detail`, a stable `code`, and `errors`, each
naming the wrong field by JSON `pointer` (body) or `parameter` (query, header, path).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from nextoffer import errors

log = logging.getLogger("nextoffer.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://nextoffer.dev/problems/"

STATUS: dict[type[errors.NextofferError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.MethodNotAllowed: 405,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.TooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.RuleViolation: 422,
    errors.Busy: 503,
    errors.RateLimited: 429,
    errors.DependencyUnavailable: 503,
}


def status_of(exc: errors.NextofferError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    field_errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": field_errors or [],
    }
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def from_error(exc: errors.NextofferError) -> Response:
    status = status_of(exc)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="nextoffer"'}
    elif status == 405 and "allow" in exc.extra:
        headers = {"Allow": str(exc.extra["allow"])}
    elif "retryAfter" in exc.extra:
        headers = {"Retry-After": str(exc.extra["retryAfter"])}  # kept in the body too
    return problem_response(
        status,
        exc.code,
        exc.title,
        exc.detail,
        [e.as_dict() for e in exc.errors],
        {k: v for k, v in exc.extra.items() if k != "allow"},
        headers,
    )


async def handle_nextoffer_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.NextofferError)
    return from_error(exc)


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404:
        detail = "no such endpoint; the Offer Library lives under /data/core/dps"
    return problem_response(exc.status_code, code, title, detail, headers=exc.headers)


async def handle_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = []
    for e in exc.errors():
        loc = list(e.get("loc", ()))
        where = loc[0] if loc else "body"
        rest = loc[1:]
        if where == "body":
            items.append({"pointer": "".join(f"/{p}" for p in rest), "message": str(e.get("msg"))})
        else:
            items.append(
                {"parameter": str(rest[0] if rest else where), "message": str(e.get("msg"))}
            )
    return problem_response(
        400, "invalid-input", "Invalid request", "the request is invalid", items
    )


def dependency_handler(
    classify: Callable[[BaseException], errors.DependencyUnavailable | None],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The handler of database and Redis errors: 503 `dependency-unavailable` when `classify`
    calls one an outage (the connection stays open, a later request may succeed), else the
    unexpected-error 500. The classifier comes from the composition root: the HTTP layer does
    not know the drivers."""

    async def handle(request: Request, exc: Exception) -> Response:
        outage = classify(exc)
        if outage is None:
            return await handle_unexpected(request, exc)
        log.warning("%s: %s", outage.code, outage.detail)
        return from_error(outage)

    return handle


async def handle_client_disconnect(_request: Request, _exc: Exception) -> Response:
    """The client left before its body arrived (a load generator stopping, a closed tab): no
    one reads the answer, and it is no server error to log with a traceback."""
    log.debug("the client disconnected before its request body arrived")
    return Response(status_code=499)  # nginx's "client closed request"; never sent


async def handle_unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return problem_response(
        500, "internal-error", "Internal error", "the server failed; the error has been logged"
    )
