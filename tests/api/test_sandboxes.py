"""Sandboxes exist explicitly: an unknown one is `404 unknown-sandbox` on every route family,
naming the org's sandboxes the caller may use; a credentialed write (only) creates one."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from nextoffer.api.app import create_app
from nextoffer.cli import app as cli_app
from nextoffer.config import parse_credentials
from nextoffer.library.library_service import MAX_LISTED
from nextoffer.store.database import Database
from tests.conftest import build_services, new_org
from tests.helpers import Api, assert_problem, create_sandbox_of

DECIDE = {
    "xdm:propositionRequests": [
        {"xdm:activityId": "dps:offer-activity:a", "xdm:placementId": "dps:offer-placement:p"}
    ],
    "xdm:profiles": [{"xdm:identityMap": {"Email": [{"xdm:id": "a@example.com"}]}}],
}
WORKLOAD = {
    "xdm:segmentIds": ["aud"],
    "xdm:dataSetId": "ds",
    "xdm:propositionRequests": DECIDE["xdm:propositionRequests"],
}
# every route family that takes a tenant, as (method, path, body)
READS = [
    ("GET", "/tags", None),
    ("GET", "/tags/dps:tag:1234", None),
    ("GET", "/offers?offer-type=personalized", None),
    ("PATCH", "/tags/dps:tag:1234", [{"op": "replace", "path": "/name", "value": "x"}]),
    ("DELETE", "/tags/dps:tag:1234", None),
    ("POST", "/data/core/ods/decisions", DECIDE),
    ("POST", "/data/core/ode/0948b1c5-fff8-3b76-ba17-909c6b93b5a2/decisions", DECIDE),
    ("GET", "/v1/profiles/email/a@example.com", None),
    ("DELETE", "/v1/profiles/email/a@example.com", None),
    ("GET", "/v1/decision-events", None),
    ("GET", "/v1/datastreams", None),
    ("GET", "/v1/datastreams/ds-1", None),
    ("POST", "/v1/events", []),
    ("POST", "/data/core/dwm/workloads/decisions", WORKLOAD),
    ("GET", "/data/core/dwm/workloads/decisions/0948b1c5-fff8-3b76-ba17-909c6b93b5a2", None),
]


def call(api: Api, method: str, path: str, body: object):
    url = path if path.startswith(("/v1", "/data/core/o", "/data/core/dwm")) else None
    if url is not None:
        return api.client.request(method, url, headers=api.headers, json=body)
    return api.request(method, path, json=body) if body is not None else api.request(method, path)


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
def test_an_unknown_sandbox_is_named_on_every_route_family(
    api: Api, method: str, path: str, body: object
) -> None:
    api.other_sandbox("dev")  # the org has prod (the fixture's) and dev
    typo = Api(api.client, api.org, "prd", create_sandbox=False)
    problem = assert_problem(call(typo, method, path, body), 404, "unknown-sandbox", None)
    assert problem["knownSandboxes"] == ["dev", "prod"]
    assert problem["errors"] == [{"parameter": "x-sandbox-name", "message": problem["detail"]}]
    assert problem["detail"].startswith(f"there is no sandbox 'prd' in org {api.org}")
    assert "the sandboxes of" in problem["detail"] and "dev, prod" in problem["detail"]


def test_an_unknown_org_names_no_other_orgs_to_a_credentialed_caller(api: Api) -> None:
    stranger = Api(api.client, new_org(), "prod", create_sandbox=False)
    problem = assert_problem(stranger.get("/tags"), 404, "unknown-sandbox")
    assert problem["knownSandboxes"] == []
    assert "knownOrgs" not in problem  # other tenants' names stay private
    assert f"org {stranger.org} has no sandbox" in problem["detail"]


def test_a_credentialed_write_creates_its_sandbox(api: Api) -> None:
    new = Api(api.client, api.org, "staging", create_sandbox=False)
    assert_problem(new.get("/tags"), 404, "unknown-sandbox")
    assert new.post("/tags", {"name": "first"}).status_code == 201
    assert new.get("/tags").json()["total"] == 1

    profiles = Api(api.client, api.org, "people", create_sandbox=False)
    body = {"identityMap": {"email": [{"id": "a@example.com"}]}, "attributes": {}}
    r = profiles.client.put("/v1/profiles/email/a@example.com", json=body, headers=profiles.headers)
    assert r.status_code == 201, r.text
    streams = Api(api.client, api.org, "web", create_sandbox=False)
    r = streams.client.post("/v1/datastreams", json={"name": "site"}, headers=streams.headers)
    assert r.status_code == 201, r.text


def test_only_the_sandboxes_a_client_is_granted_are_named(make_api) -> None:
    org = new_org()
    scoped = {"client_id": "scoped", "api_key": "scoped-key", "token": "scoped-token"}
    credentials = parse_credentials([{**scoped, "user": "u@acme", "orgs": {org: ["dev"]}}])
    api = make_api(credentials=credentials)
    create_sandbox_of(api.client.app, org, "secret-project")
    client = Api(api.client, org, "dev", "scoped-token", "scoped-key", create_sandbox=False)
    problem = assert_problem(client.get("/tags"), 404, "unknown-sandbox")
    assert problem["knownSandboxes"] == []  # secret-project is not scoped's to know of
    assert "secret-project" not in problem["detail"]
    assert client.post("/tags", {"name": "x"}).status_code == 201  # its grant creates dev
    assert client.get("/tags").json()["total"] == 1


def test_the_list_of_known_sandboxes_is_bounded(api: Api) -> None:
    for i in range(MAX_LISTED + 5):
        api.other_sandbox(f"s{i:02d}")
    typo = Api(api.client, api.org, "nope", create_sandbox=False)
    known = assert_problem(typo.get("/tags"), 404, "unknown-sandbox")["knownSandboxes"]
    assert len(known) == MAX_LISTED and known == sorted(known)


def test_open_mode_creates_no_sandbox_on_a_write_and_names_the_orgs(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'open.db'}")  # its own: the orgs listed are known
    db.upgrade()
    try:
        with TestClient(
            create_app(services_=build_services(db, credentials=(), open_mode=True))
        ) as client:
            api = Api(client, new_org(), "prod")
            typo = Api(client, api.org, "prdo", create_sandbox=False)
            problem = assert_problem(typo.post("/tags", {"name": "x"}), 404, "unknown-sandbox")
            assert problem["knownSandboxes"] == ["prod"]
            assert f"nextoffer sandbox create {api.org} prdo" in problem["detail"]
            assert_problem(typo.get("/tags"), 404, "unknown-sandbox")  # nothing was made

            wrong_org = Api(client, api.org.lower(), "prod", create_sandbox=False)
            problem = assert_problem(wrong_org.get("/tags"), 404, "unknown-sandbox")
            assert problem["knownOrgs"] == [api.org]  # open mode is local: the orgs are named
            assert f"orgs with sandboxes: {api.org}" in problem["detail"]
    finally:
        db.dispose()


def test_the_sandbox_cli_creates_what_the_api_then_answers(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    runner = CliRunner()
    org = new_org()
    created = runner.invoke(cli_app, ["sandbox", "create", org, "prod", "--db", str(path)])
    assert created.exit_code == 0, created.output
    assert f"sandbox prod of {org} created" in created.output
    again = runner.invoke(cli_app, ["sandbox", "create", org, "prod", "--db", str(path)])
    assert "already exists" in again.output
    listed = runner.invoke(cli_app, ["sandbox", "list", "--org", org, "--db", str(path)])
    assert listed.stdout == f"{org}\tprod\n"
    bad = runner.invoke(cli_app, ["sandbox", "create", org, "no spaces", "--db", str(path)])
    assert bad.exit_code == 2
    assert "a sandbox name is 1 to 128 letters" in bad.output

    db = Database(f"sqlite:///{path}")
    try:
        with TestClient(create_app(services_=build_services(db, open_mode=True))) as client:
            known = Api(client, org, "prod", create_sandbox=False)
            assert known.get("/tags").json()["total"] == 0
            typo = Api(client, org, "prod2", create_sandbox=False)
            assert assert_problem(typo.get("/tags"), 404)["knownSandboxes"] == ["prod"]
    finally:
        db.dispose()


def test_every_tenant_operation_documents_the_unknown_sandbox_404(client) -> None:
    document = client.get("/openapi.json").json()
    tenant_ops = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if any(p.get("name") == "x-sandbox-name" for p in op.get("parameters", ()))
    ]
    assert len(tenant_ops) > 20
    for path, method, op in tenant_ops:
        assert "404" in op["responses"], f"{method} {path}"
