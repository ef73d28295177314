"""Per-request context shared by every route: who calls, for which tenant, with which services."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from nextoffer.api.lanes import Lanes
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


def lanes(request: Request) -> Lanes:
    return request.app.state.lanes  # type: ignore[no-any-return]


async def offload(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a request's blocking work (decisions, reads) in the read lane, never on the event
    loop: even a SQLite read may wait (a checkpoint, a page from disk), and a capped decision
    writes its counters. One hop per request: the route does all its database work in `fn`."""
    return await lanes(request).reads.run(fn, *args)


async def offload_write(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a request's writes in the write lane: they may wait for the database's writer (up
    to `NEXTOFFER_WRITE_WAIT_SECONDS`, then `503 busy`) without holding a read thread."""
    return await lanes(request).writes.run(fn, *args)


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
