"""`GET /metrics` (and `/v1/metrics`): Prometheus's text format, for scrapers only.

Guarded apart from the tenant APIs, since a scraper holds no tenant credential: with
`NEXTOFFER_METRICS_TOKEN` set, a scrape must send `Authorization: Bearer <that token>` (401
otherwise), from anywhere; without it, only a client on the loopback interface is answered (403
for any other: a Prometheus on the same host, or a sidecar). `NEXTOFFER_METRICS=off` removes
the metrics altogether (404).
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.context import services
from nextoffer.errors import Forbidden, NotFound, Unauthenticated


def is_loopback_client(request: Request) -> bool:
    client = request.client
    if client is None:  # a Unix socket: only local processes reach it
        return True
    host = client.host
    if host in ("testclient", "localhost"):  # starlette's TestClient names itself so
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_scraper(request: Request, token: str | None) -> None:
    """401 without the metrics token when one is set; 403 off loopback when none is."""
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise Unauthenticated.at(
                "scraping /metrics needs Authorization: Bearer <NEXTOFFER_METRICS_TOKEN>",
                parameter="Authorization",
                code="metrics-unauthenticated",
            )
        return
    if not is_loopback_client(request):
        raise Forbidden.at(
            "/metrics answers loopback clients only; set NEXTOFFER_METRICS_TOKEN to scrape "
            "from another host",
            parameter="client",
            code="metrics-forbidden",
        )


async def metrics(request: Request) -> Response:
    svc = services(request)
    prometheus = getattr(svc.telemetry, "prometheus", None)
    if prometheus is None:
        raise NotFound.at(
            "metrics are off on this server (NEXTOFFER_METRICS=off)",
            parameter="path",
            code="metrics-off",
        )
    check_scraper(request, svc.settings.metrics_token)
    body, content_type = await run_in_threadpool(prometheus.exposition)
    return Response(body, media_type=content_type)


def metrics_routes() -> list[Route]:
    return [
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
        Route("/v1/metrics", metrics, methods=["GET"], include_in_schema=False),
    ]
