"""Per request: its id, the request metrics, the request's span, and its JSON log line.

One ASGI middleware, just inside `NormalizePath` (so the route the router found is in the scope
it hands down) and outside everything else (431s and errors are counted too). It reads the
route template the router left in the scope (never the raw path), the status of the answer
and, for a problem+json answer, its `code`.

- the request id: the caller's `x-request-id`, else a fresh one, echoed on the answer (the one
  thing done with metrics off, no tracing and text logs);
- metrics: `nextoffer_http_requests_total` and `..._duration_seconds` by method, route, status;
- tracing: a SERVER span named `METHOD /route/{template}`, continuing a caller's W3C
  `traceparent`, current while the request is served, so the services' spans are its children;
- `NEXTOFFER_LOG_FORMAT=json`: one `nextoffer.access` line with request id, tenant, route,
  status, duration and problem code, and the request id on every line logged meanwhile.

A dependency error (a database or Redis failure reaching the HTTP layer as an exception, or a
`dependency-unavailable` problem naming one) is counted by dependency.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nextoffer.observability import Observer
from nextoffer.observability.logs import request_id as request_id_var

log = logging.getLogger("nextoffer.access")

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 for any path: never the path)."""
_PROBLEM = b"application/problem+json"
_MAX_PROBLEM_BYTES = 64 * 1024
_DEPENDENCY_MODULES = (("redis", "redis"), ("sqlalchemy", "database"), ("psycopg", "database"))


class RouteTemplates:
    """The template of the route that answered a request, from what the router left in the
    scope: the route itself (starlette, FastAPI's APIRoute) or only its endpoint (FastAPI's
    router with starlette routes), then looked up among the app's routes with that endpoint."""

    def __init__(self) -> None:
        self._by_endpoint: dict[Any, tuple[Any, ...]] = {}
        self._indexed = -1

    def of(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        routes = self._by_endpoint.get(endpoint)
        if routes is None:
            routes = self._index(scope).get(endpoint, ())
        if len(routes) == 1:
            return routes[0].path  # type: ignore[no-any-return]
        path = scope["path"]
        for route in routes:  # one endpoint, several paths (`/ods/...` and `/ode/{id}/...`)
            if route.path_regex.match(path):
                return route.path  # type: ignore[no-any-return]
        return UNMATCHED

    def _index(self, scope: Scope) -> dict[Any, tuple[Any, ...]]:
        router = getattr(scope.get("app"), "router", None)
        routes = list(getattr(router, "routes", ()))
        if len(routes) != self._indexed:
            index: dict[Any, list[Any]] = {}
            for route in routes:
                endpoint = getattr(route, "endpoint", None)
                if endpoint is not None and hasattr(route, "path_regex"):
                    index.setdefault(endpoint, []).append(route)
            self._by_endpoint = {k: tuple(v) for k, v in index.items()}
            self._indexed = len(routes)
        return self._by_endpoint


def dependency_of(exc: BaseException) -> str | None:
    """The dependency an exception (or one it was raised from) came from, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        for prefix, name in _DEPENDENCY_MODULES:
            if module == prefix or module.startswith(prefix + "."):
                return name
        current = current.__cause__ or current.__context__
    return None


def _request_id(scope: Scope) -> bytes:
    """The caller's `x-request-id` (its first 128 bytes), else a fresh one."""
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            return value[:128]  # type: ignore[no-any-return]
    return str(uuid.uuid4()).encode()


def _header(scope: Scope, name: bytes, limit: int = 128) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value[:limit].decode("latin-1")
    return None


class RequestTelemetry:
    def __init__(self, app: ASGIApp, observer: Observer, *, json_logs: bool = False) -> None:
        self.app = app
        self.observer = observer
        self.json_logs = json_logs
        self.tracer = observer.tracer
        self.active = observer.prometheus is not None or self.tracer is not None or json_logs
        self.detailed = json_logs or self.tracer is not None
        """Whether the request id is needed here (a log line or a span carries it)."""
        self.routes = RouteTemplates()
        self.record = observer.prometheus.request if observer.prometheus is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw_id = _request_id(scope)
        if not self.active:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), (b"x-request-id", raw_id)]
                await send(message)

            await self.app(scope, receive, send_with_id)
            return
        rid = raw_id.decode("latin-1") if self.detailed else None
        status = 500
        problem: list[bytes] | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, problem
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                if status >= 400:
                    for key, value in headers:
                        if key == b"content-type" and value.startswith(_PROBLEM):
                            problem = []
                            break
                message["headers"] = [*headers, (b"x-request-id", raw_id)]
            elif (
                problem is not None
                and kind == "http.response.body"
                and sum(map(len, problem)) < _MAX_PROBLEM_BYTES
            ):
                problem.append(message.get("body", b""))
            await send(message)

        failure: BaseException | None = None
        span_scope = None
        token = None
        if rid is not None and self.json_logs:
            token = request_id_var.set(rid)
        if self.tracer is not None:
            span_scope = self._start_span(scope, rid)
            span = span_scope.__enter__()
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            seconds = time.perf_counter() - started
            route = self.routes.of(scope)
            if self.record is not None:
                self.record(scope["method"], route, status, seconds)
            code = dependency = None
            if problem is not None:
                code, dependency = _problem_of(problem)
            if failure is not None:
                dependency = dependency_of(failure)
                code = code or "internal-error"
            if dependency is not None:
                self.observer.dependency_error(dependency)
            if span_scope is not None:
                _end_span(span, scope, route, status, code, failure)
                span_scope.__exit__(None, None, None)
            if self.json_logs:
                self._log(scope, rid, route, status, seconds, code, dependency)
            if token is not None and failure is None:  # else kept for the error's own line,
                request_id_var.reset(token)  # logged outside (the request's task ends there)

    def _start_span(self, scope: Scope, rid: str | None) -> Any:
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
            if k in (b"traceparent", b"tracestate", b"baggage")
        }
        assert self.tracer is not None
        return self.tracer.start_as_current_span(
            scope["method"],
            context=extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": scope["method"],
                "url.path": scope["path"][:1024],
                "nextoffer.request_id": rid or "",
            },
            record_exception=False,
            set_status_on_exception=False,
        )

    def _log(
        self,
        scope: Scope,
        rid: str | None,
        route: str,
        status: int,
        seconds: float,
        code: str | None,
        dependency: str | None,
    ) -> None:
        fields: dict[str, Any] = {
            "requestId": rid,
            "method": scope["method"],
            "route": route,
            "status": status,
            "durationMs": round(seconds * 1000, 3),
        }
        org = _header(scope, b"x-gw-ims-org-id")
        if org is not None:
            fields["org"] = org
        sandbox = _header(scope, b"x-sandbox-name")
        if sandbox is not None:
            fields["sandbox"] = sandbox
        if code is not None:
            fields["problem"] = code
        if dependency is not None:
            fields["dependency"] = dependency
        level = logging.ERROR if status >= 500 else logging.INFO
        log.log(level, "%s %s %d", scope["method"], route, status, extra={"fields": fields})


def _problem_of(chunks: list[bytes] | None) -> tuple[str | None, str | None]:
    """A problem answer's code, and the dependency a `dependency-unavailable` one names."""
    if not chunks:
        return None, None
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    code = code if isinstance(code, str) else None
    dependency = body.get("dependency")
    if code == "dependency-unavailable" and dependency in ("database", "redis"):
        return code, dependency
    return code, None


def _end_span(
    span: Any, scope: Scope, route: str, status: int, code: str | None, failure: Any
) -> None:
    from opentelemetry.trace import Status, StatusCode

    if route != UNMATCHED:
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if code is not None:
        span.set_attribute("nextoffer.problem", code)
    if failure is not None:
        span.record_exception(failure)
    if status >= 500:
        span.set_attribute("error.type", code or str(status))
        span.set_status(Status(StatusCode.ERROR, code))
