"""Per-request context shared by every route: who calls, for which tenant, with which services."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from nextoffer.api.sandboxes import check_sandbox
from nextoffer.api.tenancy import tenant_from_headers
from nextoffer.tenants import Actor, Tenant

if TYPE_CHECKING:
    from nextoffer.composition import Services

T = TypeVar("T")
_OBJECT_ID = re.compile(r"[A-Za-z0-9._:@-]{1,256}")
"""Matched whole (`fullmatch`): a pattern ending in `$` would let a final newline in."""


@dataclass(frozen=True, slots=True)
class Call:
    tenant: Tenant
    actor: Actor


def services(request: Request) -> Services:
    return request.app.state.nextoffer  # type: ignore[no-any-return]


async def offload(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work: inline when every store is local, in a worker thread otherwise.

    A decision is ~0.2 ms of Python plus local SQLite reads; handing it to a thread costs more
    than doing it (the GIL serialises the work anyway). A round trip to PostgreSQL or to a
    Redis counter store would stall the event loop while it waits, so there the work goes to a
    thread and other requests proceed meanwhile.
    """
    svc = services(request)
    if svc.db.dialect == "sqlite" and svc.settings.capping_store != "redis":
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def call_of(request: Request, *, creates: bool = False) -> Call:
    """Authenticate (401), read the tenant (400), check the grant (403), then that the sandbox
    exists (404 unknown-sandbox) unless the call `creates` it (a credentialed write)."""
    auth = request.app.state.auth
    credential = auth.authenticate(request.headers)
    tenant = tenant_from_headers(request.headers)
    call = Call(tenant, auth.authorize(credential, tenant, request.headers))
    check_sandbox(services(request).library, tenant, credential, creates=creates)
    return call


def is_object_id(value: str) -> bool:
    return bool(_OBJECT_ID.fullmatch(value))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
