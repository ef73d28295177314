"""`GET /v1/whoami`: the caller and the orgs and sandboxes it may use."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.store.database import Database
from tests.conftest import build_services
from tests.helpers import Api, create_sandbox_of


def test_whoami_needs_credentials(client: TestClient) -> None:
    r = client.get("/v1/whoami")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "missing-credentials"
    r = client.get("/v1/whoami", headers={"Authorization": "Bearer nope", "x-api-key": "acme-key"})
    assert r.status_code == 401 and r.json()["code"] == "bad-credentials"


def test_whoami_lists_the_sandboxes_granted_by_name(client: TestClient) -> None:
    r = client.get(
        "/v1/whoami", headers={"Authorization": "Bearer limited-token", "x-api-key": "limited-key"}
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "openMode": False,
        "user": "intern@acme",
        "clientId": "limited-app",
        "grants": [{"org": "LIMITED@AdobeOrg", "sandboxes": ["dev"], "allSandboxes": False}],
        "default": {"org": "LIMITED@AdobeOrg", "sandbox": "dev"},
    }


def _fresh_client(tmp_path: Path, **settings: object) -> TestClient:
    db = Database(f"sqlite:///{tmp_path / 'whoami.db'}")
    db.upgrade()
    return TestClient(create_app(services_=build_services(db, **settings), announce=False))


def test_a_grant_of_every_sandbox_lists_those_that_exist(tmp_path: Path) -> None:
    with _fresh_client(tmp_path) as client:
        for org, sandbox in [("B@AdobeOrg", "prod"), ("A@AdobeOrg", "prod"), ("A@AdobeOrg", "dev")]:
            create_sandbox_of(client.app, org, sandbox)
        api = Api(client, "A@AdobeOrg", "prod", create_sandbox=False)
        body = api.get("/v1/whoami").json()
    assert body["user"] == "marketer@acme" and body["clientId"] == "acme-app"
    assert body["grants"] == [
        {"org": "A@AdobeOrg", "sandboxes": ["dev", "prod"], "allSandboxes": True},
        {"org": "B@AdobeOrg", "sandboxes": ["prod"], "allSandboxes": True},
    ]
    assert body["default"] == {"org": "A@AdobeOrg", "sandbox": "dev"}


def test_open_mode_lists_every_sandbox_and_prefers_the_demo(tmp_path: Path) -> None:
    with _fresh_client(tmp_path, credentials=(), open_mode=True) as client:
        create_sandbox_of(client.app, "A@AdobeOrg", "prod")
        create_sandbox_of(client.app, "demo@AdobeOrg", "prod")
        body = client.get("/v1/whoami").json()
    assert body["openMode"] is True and body["user"] == "anonymous@nextoffer"
    assert [g["org"] for g in body["grants"]] == ["A@AdobeOrg", "demo@AdobeOrg"]
    assert body["default"] == {"org": "demo@AdobeOrg", "sandbox": "prod"}
