"""The application object: it only assembles services, routes, middleware and error handlers."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from nextoffer import __version__
from nextoffer.api import openapi, problems, readiness
from nextoffer.api.auth import Authenticator
from nextoffer.api.batch_routes import batch_routes
from nextoffer.api.console_routes import console_routes
from nextoffer.api.context import json_response, services
from nextoffer.api.datastream_routes import datastream_routes
from nextoffer.api.decision_event_routes import decision_event_routes
from nextoffer.api.decisioning_api import decisioning_routes
from nextoffer.api.edge_routes import edge_routes
from nextoffer.api.event_routes import event_routes
from nextoffer.api.http_protocol import header_timeout
from nextoffer.api.lanes import Lanes
from nextoffer.api.library_routes import library_routes
from nextoffer.api.metrics_routes import metrics_routes
from nextoffer.api.middleware import HeaderLimits, NormalizePath
from nextoffer.api.model_routes import model_routes
from nextoffer.api.pql_routes import pql_routes
from nextoffer.api.profile_routes import profile_routes
from nextoffer.api.request_telemetry import RequestTelemetry
from nextoffer.api.simulation_routes import simulation_routes
from nextoffer.api.whoami_routes import whoami_routes
from nextoffer.composition import DEPENDENCY_ERRORS, Services, dependency_outage
from nextoffer.config import Settings
from nextoffer.errors import NextofferError
from nextoffer.observability.logs import use_json_logs
from nextoffer.observability.prometheus import process_exited

log = logging.getLogger("nextoffer")

HTTP_PROTOCOL = "nextoffer.api.http_protocol:BoundedHeadProtocol"
"""uvicorn's `http` for `nextoffer serve`: httptools with a deadline and a size cap on each
request's head (uvicorn bounds neither)."""

__all__ = ["HTTP_PROTOCOL", "app_from_env", "create_app", "header_timeout", "served_app"]


def create_app(
    settings: Settings | None = None, *, services_: Services | None = None, announce: bool = True
) -> FastAPI:
    """The app; `announce`: warn of open mode here (`nextoffer serve` said it once already)."""
    settings = settings or (services_.settings if services_ else Settings.from_env())
    svc = services_ or Services.build(settings)
    if settings.open_mode and announce:
        log.warning(
            "nextoffer runs in OPEN MODE: no credentials are checked. Use it on your own machine "
            "only; set NEXTOFFER_CREDENTIALS for anything else."
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        svc.batch.start()  # jobs left queued or abandoned by a previous run go on
        svc.periodic_training.start()
        yield
        svc.periodic_training.stop()
        svc.batch.stop()  # a job still running goes back to the queue
        svc.close()  # buffered decision events reach the database before the process ends
        process_exited(os.getpid())  # its live gauges leave the other workers' sums

    app = FastAPI(
        lifespan=lifespan,
        title="nextoffer",
        version=__version__,
        description="Offer decisioning that speaks Adobe Decision Management's APIs.",
        docs_url=None,  # openapi.install serves /docs from local assets
        redoc_url=None,
    )
    app.state.nextoffer = svc
    app.state.lanes = Lanes(settings.write_wait_seconds)
    app.state.auth = Authenticator(settings.credentials, settings.open_mode)
    app.add_exception_handler(NextofferError, problems.handle_nextoffer_error)
    app.add_exception_handler(HTTPException, problems.handle_http_exception)
    app.add_exception_handler(RequestValidationError, problems.handle_validation_error)
    for dependency_error in DEPENDENCY_ERRORS:
        app.add_exception_handler(dependency_error, problems.dependency_handler(dependency_outage))
    app.add_exception_handler(ClientDisconnect, problems.handle_client_disconnect)
    app.add_exception_handler(Exception, problems.handle_unexpected)

    @app.get("/v1/health", include_in_schema=False)  # described in openapi_routes
    async def health() -> Response:
        return json_response({"status": "ok", "version": __version__})

    @app.get("/v1/ready", include_in_schema=False)
    async def ready(request: Request) -> Response:
        svc = services(request)
        results = await readiness.probe(svc.dependency_checks())
        failing = sorted(name for name, r in results.items() if isinstance(r, BaseException))
        body: dict[str, object] = {
            "dependencies": {n: "unavailable" if n in failing else "ok" for n in results}
        }
        if failing:
            body |= {"status": "unavailable", "schema": None, "failing": failing}
            return json_response(body, 503)
        current = results["database"]
        ok = current == svc.db.head_revision()
        body |= {"status": "ok" if ok else "migrations-pending", "schema": current}
        return json_response(body, 200 if ok else 503)

    app.router.routes.extend(library_routes())
    app.router.routes.extend(decisioning_routes())
    app.router.routes.extend(datastream_routes())
    app.router.routes.extend(event_routes())
    app.router.routes.extend(edge_routes())
    app.router.routes.extend(profile_routes())
    app.router.routes.extend(pql_routes())
    app.router.routes.extend(simulation_routes())
    app.router.routes.extend(decision_event_routes())
    app.router.routes.extend(model_routes())
    app.router.routes.extend(batch_routes())
    app.router.routes.extend(metrics_routes())
    app.router.routes.extend(whoami_routes())
    app.router.routes.extend(console_routes())  # last: its shell answers every /console path
    app.add_middleware(HeaderLimits)  # before anything reads a header but the telemetry,
    app.add_middleware(  # which counts every answer (431s too) and echoes `x-request-id`
        RequestTelemetry, observer=svc.telemetry, json_logs=settings.log_format == "json"
    )
    app.add_middleware(NormalizePath)  # outermost: the router sees (and fills in) its scope

    openapi.install(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory`: settings come from the environment (uvicorn configured
    its own loggers only: JSON logs need a handler for nextoffer's)."""
    settings = Settings.from_env()
    if settings.log_format == "json":
        use_json_logs()
    return create_app(settings)


def served_app() -> FastAPI:
    """Factory of `nextoffer serve`, which printed the start-up banner once already (uvicorn
    calls this in every worker process)."""
    return create_app(Settings.from_env(), announce=False)
