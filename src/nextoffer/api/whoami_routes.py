"""`GET /v1/whoami`: who the credentials are, and which orgs and sandboxes they may use.

The console's org and sandbox switcher lists these; API clients can check a credential with it.
A grant of every sandbox (`*`) lists the sandboxes that exist; open mode lists every one.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.auth import OPEN_MODE_USER
from nextoffer.api.context import json_response, offload, services
from nextoffer.config import Credential
from nextoffer.demo import DEMO_TENANT
from nextoffer.library.ports import LibraryStore

MAX_LISTED = 100
"""At most this many orgs, and sandboxes per org, listed."""


def grants_of(store: LibraryStore, cred: Credential | None) -> list[dict[str, Any]]:
    """Per org: the sandboxes granted (existing ones where the grant is `*`)."""
    orgs = {"*": ("*",)} if cred is None else dict(cred.orgs)
    wanted: dict[str, tuple[str, ...]] = {}
    for org, sandboxes in orgs.items():
        if org == "*":
            for known in store.sandbox_names(None, MAX_LISTED):
                wanted.setdefault(known, sandboxes)
        else:
            wanted[org] = sandboxes
    out = []
    for org, sandboxes in sorted(wanted.items()):
        every = "*" in sandboxes
        names = store.sandbox_names(org, MAX_LISTED) if every else sorted(sandboxes)
        out.append({"org": org, "sandboxes": names, "allSandboxes": every})
    return out


async def whoami(request: Request) -> Response:
    auth = request.app.state.auth
    cred = auth.authenticate(request.headers)
    grants = await offload(request, grants_of, services(request).library.store, cred)
    default = None
    for grant in grants:
        if grant["org"] == DEMO_TENANT.org and DEMO_TENANT.sandbox in grant["sandboxes"]:
            default = {"org": DEMO_TENANT.org, "sandbox": DEMO_TENANT.sandbox}
            break
        if default is None and grant["sandboxes"]:
            default = {"org": grant["org"], "sandbox": grant["sandboxes"][0]}
    body = {
        "openMode": cred is None,
        "user": OPEN_MODE_USER if cred is None else cred.user,
        "clientId": None if cred is None else cred.client_id,
        "grants": grants,
        "default": default,
    }
    return json_response(body, headers={"Cache-Control": "no-store"})


def whoami_routes() -> list[Route]:
    return [Route("/v1/whoami", whoami, methods=["GET"])]
