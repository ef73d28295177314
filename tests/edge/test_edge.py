"""The Edge endpoints as the Web SDK and the Server API call them, through datastreams."""

from __future__ import annotations

import json

import pytest

from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.scopes import scope_token
from tests.conftest import new_org
from tests.edge.conftest import ORIGIN, example, interact, scope
from tests.helpers import Api, assert_problem, assert_same_shape


def test_the_documented_server_api_request_decides(edge: dict) -> None:
    body = example("decisioning.edge.interact.request")  # event + top-level query, documented scope
    r = interact(edge, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["requestId"] == "req-1"
    [handle] = out["handle"]
    assert handle["type"] == "personalization:decisions" and handle["eventIndex"] == 0
    [prop] = handle["payload"]
    assert prop["scope"] == body["query"]["personalization"]["decisionScopes"][0]
    assert prop["activity"]["id"] == "xcore:offer-activity:14efca8941895181"
    [item] = prop["items"]
    assert item["id"] == "xcore:personalized-offer:173b4e05676d87f5"
    documented = example("decisioning.edge.interact.response")
    assert_same_shape(
        out["handle"][0], {k: documented["handle"][0][k] for k in ("payload", "type", "eventIndex")}
    )


def test_a_web_sdk_request_is_answered_in_full(edge: dict) -> None:
    """text/plain body, events[] with their own query, a __view__ scope, credentials."""
    body = {
        "events": [
            {
                "xdm": {
                    "eventType": "web.webpagedetails.pageViews",
                    "identityMap": {"ECID": [{"id": "1234567890", "primary": True}]},
                    "web": {"webPageDetails": {"URL": "https://www.example.com/"}},
                    "timestamp": "2026-11-26T10:00:00.000Z",
                },
                "query": {
                    "personalization": {
                        "schemas": ["https://ns.adobe.com/personalization/default-content-item"],
                        "decisionScopes": [
                            "__view__",
                            scope("homepage-and-email", "web-hero"),
                            scope("app-home", "app-card", 2),
                        ],
                    }
                },
            }
        ],
        "meta": {"state": {"domain": "example.com", "cookiesEnabled": True}},
    }
    r = interact(edge, body, Origin=ORIGIN)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    [handle] = r.json()["handle"]
    hero, app = handle["payload"]
    assert hero["placement"]["componentType"].endswith("content-component-html")
    assert hero["items"][0]["data"]["content"].startswith("<h2>")
    assert hero["items"][0]["schema"].endswith("content-component-html")
    # the hero took double-points; the hero placement forbids duplicates, so the app card,
    # with nothing else eligible for this visitor, gets the fallback (as an item)
    [fallback] = app["items"]
    assert fallback["id"] == "dps:fallback-offer:welcome"
    assert json.loads(fallback["data"]["content"]) == {"title": "Welcome", "cta": "Explore"}
    assert hero["id"] != app["id"]


def test_versions_and_location_hints(edge: dict) -> None:
    body = {
        "event": {"xdm": {}},
        "query": {"personalization": {"decisionScopes": [scope("app-home", "app-card")]}},
    }
    for path in ("v1", "v2", "irl1/v1", "va6/v2"):
        r = interact(edge, body, version=path)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["handle"][0]["payload"][0]["items"]


def test_cors_preflight_echoes_allowed_origins_only(edge: dict) -> None:
    api: Api = edge["api"]
    url = f"/ee/v2/interact?configId={edge['datastream']}"
    r = api.client.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "content-type"
    evil = api.client.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert_problem(evil, 403, "origin-not-allowed", parameter="Origin")
    assert "access-control-allow-origin" not in evil.headers
    posted = interact(edge, {"event": {"xdm": {}}}, Origin="https://evil.example")
    assert_problem(posted, 403, "origin-not-allowed")


def test_datastreams_are_required_and_must_exist(edge: dict) -> None:
    api: Api = edge["api"]
    body = json.dumps({"event": {"xdm": {}}})
    assert_problem(
        api.client.post("/ee/v2/interact", content=body),
        400,
        "missing-datastream",
        parameter="configId",
    )
    r = api.client.post(
        "/ee/v2/interact?dataStreamId=00000000-0000-0000-0000-000000000000", content=body
    )
    assert_problem(r, 400, "unknown-datastream", parameter="configId")
    r = api.client.post(f"/ee/v2/interact?dataStreamId={edge['datastream']}", content=body)
    assert r.status_code == 200


def test_a_datastream_never_reaches_another_tenants_library(edge: dict, services) -> None:
    api: Api = edge["api"]
    other = Api(api.client, new_org(), "prod")
    import_library(
        services.library, Tenant(other.org, other.sandbox), Actor("t", "t"), demo_library()
    )
    theirs = other.post("/v1/datastreams", {"name": "theirs"}).json()["id"]
    # a scope of our library through their datastream does not decide in our library
    body = {
        "event": {"xdm": {}},
        "query": {
            "personalization": {
                "decisionScopes": [
                    scope_token(
                        "xcore:offer-activity:14efca8941895181",
                        "xcore:offer-placement:12d544ae54e7e7db",
                    )
                ]
            }
        },
    }
    r = api.client.post(f"/ee/v2/interact?configId={theirs}", content=json.dumps(body))
    assert r.status_code == 200
    assert r.json()["handle"] == [] and r.json()["warnings"][0]["status"] == 422
    # and the tenants' datastream lists are separate
    assert [d["id"] for d in other.get("/v1/datastreams").json()["results"]] == [theirs]


@pytest.mark.parametrize(
    ("raw", "status", "code", "pointer"),
    [
        (b"{", 400, "malformed-json", ""),
        (b"{}", 400, "invalid-body", "/events"),
        (b'{"events": [{"xdm": []}]}', 400, "invalid-body", "/events/0/xdm"),
        (
            json.dumps(
                {"events": [{"xdm": {"identityMap": {"ECID": [{"primary": True}]}}}]}
            ).encode(),
            400,
            "invalid-body",
            "/events/0/xdm/identityMap/ECID/0",
        ),
        (
            json.dumps(
                {
                    "events": [
                        {
                            "xdm": {},
                            "query": {
                                "personalization": {"decisionScopes": [scope_token("a", "b", 31)]}
                            },
                        }
                    ]
                }
            ).encode(),
            400,
            "bad-scope",
            "/events/0/query/personalization/decisionScopes/0",
        ),
        (
            json.dumps(
                {
                    "events": [
                        {
                            "xdm": {},
                            "query": {
                                "personalization": {
                                    "decisionScopes": [scope_token("a", f"b{i}") for i in range(31)]
                                }
                            },
                        }
                    ]
                }
            ).encode(),
            400,
            "too-many-scopes",
            "/events/0/query/personalization/decisionScopes",
        ),
        (b"{" + b'"pad": "' + b"x" * 70000 + b'"}', 413, "too-large", ""),
    ],
)
def test_bad_edge_requests(edge: dict, raw: bytes, status: int, code: str, pointer: str) -> None:
    r = interact(edge, None, raw=raw, Origin=ORIGIN)
    problem = assert_problem(r, status, code)
    if pointer:
        assert any(e.get("pointer") == pointer for e in problem["errors"]), problem
    assert r.headers["access-control-allow-origin"] == ORIGIN  # browsers can read the error


def test_unknown_scopes_are_warnings_not_failures(edge: dict) -> None:
    body = {
        "event": {"xdm": {}},
        "query": {
            "personalization": {
                "decisionScopes": [scope("nope", "web-hero"), scope("app-home", "app-card")]
            }
        },
    }
    r = interact(edge, body)
    assert r.status_code == 200
    assert len(r.json()["handle"][0]["payload"]) == 1
    assert "there is no decision" in r.json()["warnings"][0]["detail"]


def test_collect_takes_events_without_answering(edge: dict) -> None:
    api: Api = edge["api"]
    r = api.client.post(
        f"/ee/v2/collect?configId={edge['datastream']}",
        content=json.dumps({"events": [{"xdm": {"eventType": "web.webinteraction.linkClicks"}}]}),
        headers={"Origin": ORIGIN},
    )
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == ORIGIN


def test_datastream_administration(api: Api) -> None:
    r = api.post(
        "/v1/datastreams",
        {"name": "site", "allowedOrigins": ["https://a.example", "http://localhost:3000"]},
    )
    assert r.status_code == 201
    ds = r.json()
    assert ds["etag"] == 1 and r.headers["Location"] == f"/v1/datastreams/{ds['id']}"
    assert api.get(f"/v1/datastreams/{ds['id']}").json()["name"] == "site"
    r = api.request(
        "PATCH",
        f"/v1/datastreams/{ds['id']}",
        json={"allowedOrigins": ["*"]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["allowedOrigins"] == ["*"] and r.json()["etag"] == 2
    stale = api.request(
        "PATCH", f"/v1/datastreams/{ds['id']}", json={"name": "x"}, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    assert_problem(
        api.post("/v1/datastreams", {"name": "", "allowedOrigins": ["ftp://x"]}),
        400,
        "invalid-body",
        pointer="/allowedOrigins/0",
    )
    assert_problem(
        api.post("/v1/datastreams", {"name": "n", "colour": 1}),
        400,
        "invalid-body",
        pointer="/colour",
    )
    other = Api(api.client, new_org(), "prod")
    assert_problem(other.get(f"/v1/datastreams/{ds['id']}"), 404)
    assert api.delete(f"/v1/datastreams/{ds['id']}").status_code == 200
    assert_problem(api.get(f"/v1/datastreams/{ds['id']}"), 404)
    anonymous = api.client.get(
        "/v1/datastreams", headers={"x-gw-ims-org-id": api.org, "x-sandbox-name": "prod"}
    )
    assert_problem(anonymous, 401)
