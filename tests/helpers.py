"""Test helpers: an HTTP client bound to one tenant, and builders of coherent libraries."""

from __future__ import annotations

import ast
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

DPS = "/data/core/dps"
WEB = "https://ns.adobe.com/xdm/channel-types/web"
EMAIL = "https://ns.adobe.com/xdm/channel-types/email"


class Api:
    """Calls the real ASGI app with one tenant's headers and acme-app's credentials.

    The tenant's sandbox is created first (as `nextoffer sandbox create` does), so a test may
    read before it writes; `create_sandbox=False` leaves an unknown sandbox unknown.
    """

    def __init__(
        self,
        client: TestClient,
        org: str,
        sandbox: str,
        token: str = "acme-token",
        api_key: str = "acme-key",
        *,
        create_sandbox: bool = True,
    ) -> None:
        self.client = client
        self.org = org
        self.sandbox = sandbox
        self.token = token
        self.api_key = api_key
        if create_sandbox:
            create_sandbox_of(client.app, org, sandbox)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.api_key,
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": self.sandbox,
        }

    def other_sandbox(self, sandbox: str) -> Api:
        """The same org and credentials in another sandbox (created)."""
        return Api(self.client, self.org, sandbox, self.token, self.api_key)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        for name in [k for k, v in headers.items() if v is None]:
            del headers[name]
        url = path if path.startswith("/v1") or path.startswith("/openapi") else DPS + path
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, ops: Any, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, json=ops, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, path: str, body: Any) -> str:
        """POST and return the new id; fails the test unless the server answers 201."""
        r = self.post(path, body)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    # -- builders of a coherent library ------------------------------------------------------

    def placement(self, channel: str = WEB, component: str = "html", **extra: Any) -> str:
        body = {
            "name": f"placement {uuid.uuid4().hex[:6]}",
            "channel": channel,
            "componentType": component,
        }
        return self.create("/placements", {**body, **extra})

    def strategy(self, kind: str = "auto-optimization", **extra: Any) -> str:
        body = {"name": f"model {uuid.uuid4().hex[:6]}", "type": kind}
        return self.create("/ranking-strategies", {**body, **extra})

    def tag(self, name: str | None = None) -> str:
        return self.create("/tags", {"name": name or f"tag {uuid.uuid4().hex[:6]}"})

    def rule(self, pql: str = 'profile.person.name.firstName.equals("Joe", false)') -> str:
        return self.create(
            "/offer-rules",
            {
                "name": f"rule {uuid.uuid4().hex[:6]}",
                "condition": {"type": "PQL", "format": "pql/text", "value": pql},
            },
        )

    def formula(self, pql: str = "offer.rank.priority * 2") -> str:
        return self.create(
            "/ranking-formulas",
            {"name": f"formula {uuid.uuid4().hex[:6]}", "expression": {"value": pql}},
        )

    def offer(
        self,
        placements: list[str],
        *,
        status: str = "approved",
        kind: str = "personalized",
        component: str = "html",
        channel: str = WEB,
        **extra: Any,
    ) -> str:
        body = offer_body(placements, status=status, component=component, channel=channel, **extra)
        return self.create(f"/offers?offer-type={kind}", body)

    def collection(self, ids: list[str], filter_type: str = "offers") -> str:
        return self.create(
            "/offer-collections",
            {"name": f"collection {uuid.uuid4().hex[:6]}", "filterType": filter_type, "ids": ids},
        )

    def decision(
        self, placements: list[str], collection: str, fallback: str | None, status: str = "draft"
    ) -> str:
        body: dict[str, Any] = {
            "name": f"decision {uuid.uuid4().hex[:6]}",
            "status": status,
            "criteria": [
                {
                    "placements": placements,
                    "optionSelection": {"filter": collection},
                    "rank": {"priority": 0},
                }
            ],
        }
        if fallback:
            body["fallback"] = fallback
        return self.create("/offer-decisions", body)


def create_sandbox_of(app: Any, org: str, sandbox: str) -> None:
    """Create a sandbox in the app's database, as `nextoffer sandbox create` does."""
    from nextoffer.tenants import Tenant

    app.state.nextoffer.library.create_sandbox(Tenant(org, sandbox))


def component_for(kind: str) -> dict[str, Any]:
    if kind == "imagelink":
        return {
            "type": "imagelink",
            "format": "image/png",
            "deliveryURL": "https://cdn.example.com/a.png",
        }
    if kind == "json":
        return {"type": "json", "format": "application/json", "content": '{"a": 1}'}
    if kind == "text":
        return {"type": "text", "format": "text/plain", "content": "Hello"}
    return {"type": "html", "format": "text/html", "language": ["en-us"], "content": "<p>Hello</p>"}


def offer_body(
    placements: list[str],
    *,
    status: str = "approved",
    component: str = "html",
    channel: str = WEB,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"offer {uuid.uuid4().hex[:6]}",
        "status": status,
        "representations": [
            {"channel": channel, "placement": p, "components": [component_for(component)]}
            for p in placements
        ],
        "selectionConstraint": {
            "startDate": "2024-01-01T00:00:00.000+00:00",
            "endDate": "2034-01-01T00:00:00.000+00:00",
            "profileConstraintType": "none",
        },
        "rank": {"priority": 1},
    }
    body.update(extra)
    return body


def assert_problem(
    r: httpx.Response,
    status: int,
    code: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """The response is a problem+json of `status` (and code), naming the field when given."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].endswith(body["code"])
    if code is not None:
        assert body["code"] == code, body
    if pointer is not None:
        assert any(e.get("pointer") == pointer for e in body["errors"]), body
    if parameter is not None:
        assert any(e.get("parameter") == parameter for e in body["errors"]), body
    return body


class AsgiClient:
    """A synchronous facade over an in-process ASGI transport, without TestClient's threads.

    Ten times cheaper per request than `TestClient`, for tests that make thousands of calls.
    """

    def __init__(self, app: Any) -> None:
        import asyncio

        self.app = app
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


OPTIONAL = {"datasetId"}
"""Members only one documented example shows (AMB-6: the fallback update receipt's datasetId)."""


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(ours: Any, documented: Any, where: str = "") -> None:
    """Every documented member is present in ours, with the same JSON type, recursively."""
    assert json_type(ours) == json_type(documented), f"{where}: {ours!r} vs {documented!r}"
    if isinstance(documented, dict):
        for key, value in documented.items():
            if key in OPTIONAL:
                continue
            assert key in ours, f"{where}/{key} is missing from {ours}"
            assert_same_shape(ours[key], value, f"{where}/{key}")
    elif isinstance(documented, list) and documented and ours:
        assert_same_shape(ours[0], documented[0], f"{where}/0")


def parse_source(path: Path) -> ast.Module:
    """`ast.parse` of a source file, in a thread of its own.

    CPython 3.11 checks that building the tree leaves the thread's recursion counters as it
    found them; in a test process that drove a browser, a garbage-collected greenlet of
    Playwright's sync API can run in the middle of it on the main thread and trip that check
    (`SystemError: AST constructor recursion depth mismatch`, seen twice in full runs). A
    fresh thread has no greenlets to collect.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ast.parse, path.read_text(encoding="utf-8"), str(path)).result()
