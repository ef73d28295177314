"""The Decisioning API end to end: Adobe's envelopes, versions, options, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.decisioning.conftest import GOLD_US, post, request_body, scope
from tests.helpers import Api, assert_problem

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "spec"
XDM = "application/vnd.adobe.xdm+json"
SCHEMA = "https://ns.adobe.com/experience/offer-management/"


def swagger_validator(definition: str) -> Draft7Validator:
    """A JSON Schema validator for one definition of Adobe's decision runtime Swagger."""
    doc = yaml.safe_load((SPEC / "adobe-ods-swagger.yaml").read_text())
    schema = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return Draft7Validator(schema)


def example(name: str) -> dict:
    return json.loads((SPEC / "examples" / f"{name}.json").read_text())


def test_a_documented_request_gets_a_response_that_fits_the_swagger(demo: Api) -> None:
    body = example("decisioning.api.request")
    body["xdm:propositionRequests"] = [
        scope("homepage-and-email", "web-hero", 2),
        scope("app-home", "app-card"),
    ]
    r = post(demo, body)
    assert r.status_code == 200, r.text
    out = r.json()
    errors = sorted(swagger_validator("decision-response-v1.0").iter_errors(out), key=str)
    assert not errors, errors
    assert set(out) == {"xdm:propositionId", "xdm:propositions", "ode:createDate"}
    first = out["xdm:propositions"][0]
    assert first["xdm:activity"] == {
        "xdm:id": "dps:offer-activity:homepage-and-email",
        "repo:etag": "1",
        "xdm:name": "Homepage and email",
    }
    assert first["xdm:placement"]["xdm:name"] == "Homepage hero"
    decoded = json.loads(base64.b64decode(first["xdm:scope"]))
    assert decoded == {
        "xdm:activityId": "dps:offer-activity:homepage-and-email",
        "xdm:placementId": "dps:offer-placement:web-hero",
    }
    # an unknown identity decides as an empty profile: offers without constraints qualify
    options = first["xdm:options"]
    assert [o["xdm:id"] for o in options] == [
        "dps:personalized-offer:double-points",  # the loyalty criteria group comes first
        "dps:personalized-offer:city-break",  # then travel and deals (black friday needs the US)
    ]
    assert "xdm:score" not in options[1]  # ranked by priority: no score
    assert options[0]["@type"] == SCHEMA + "content-component-html"
    assert options[0]["xdm:content"].startswith("<h2>Double points")
    assert options[0]["xdm:name"] == "Double points weekend"
    assert options[0]["xdm:score"] == 30  # ranked by the decision's ranking formula


def test_the_dry_run_example_with_context_data(demo: Api) -> None:
    body = example("decisioning.api.request-with-context-and-dryrun")
    body["xdm:propositionRequests"] = [scope("app-home", "app-card", 3)]
    body["xdm:profiles"][0]["xdm:attributes"] = {}
    r = post(demo, body)
    assert r.status_code == 200, r.text
    [prop] = r.json()["xdm:propositions"]
    ids = [o["xdm:id"] for o in prop["xdm:options"]]
    # context xdm:channel = mobile makes the app-only offer eligible
    assert "dps:personalized-offer:app-only" in ids
    assert swagger_validator("decision-response-v1.0").is_valid(r.json())


def test_inline_attributes_are_the_profile(demo: Api) -> None:
    body = request_body(scope("homepage-and-email", "web-hero"), attributes=GOLD_US)
    [prop] = post(demo, body).json()["xdm:propositions"]
    assert [o["xdm:id"] for o in prop["xdm:options"]] == ["dps:personalized-offer:gold-lounge"]


def test_include_content_and_metadata_follow_the_request_then_the_placement(demo: Api) -> None:
    body = request_body(
        scope("homepage-and-email", "email-banner"),
        attributes=GOLD_US,
        **{"xdm:responseFormat": {"xdm:includeContent": False}},
    )
    [prop] = post(demo, body).json()["xdm:propositions"]
    assert all(set(o) <= {"xdm:id", "repo:etag", "xdm:score"} for o in prop["xdm:options"])
    body["xdm:responseFormat"] = {
        "xdm:includeContent": True,
        "xdm:includeMetadata": {
            "xdm:option": ["name", "characteristics", "priority"],
            "xdm:placement": ["channel", "componentType"],
        },
    }
    [prop] = post(demo, body).json()["xdm:propositions"]
    option = prop["xdm:options"][0]
    assert option["@type"] == SCHEMA + "content-component-imagelink"
    assert option["xdm:deliveryURL"].startswith("https://cdn.example.com/")
    assert option["xdm:content"].startswith("https://www.example.com/")  # the link
    assert option["xdm:priority"] == 50 and option["xdm:characteristics"]["category"] == "travel"
    assert prop["xdm:placement"]["xdm:componentType"] == SCHEMA + "content-component-imagelink"
    # without xdm:responseFormat the placement's own settings apply (returnContent: true)
    [prop] = post(demo, request_body(scope("homepage-and-email", "email-banner"))).json()[
        "xdm:propositions"
    ]
    assert "@type" in prop["xdm:options"][0]


def test_the_fallback_comes_when_nothing_qualifies(demo: Api) -> None:
    demo.patch(
        "/offers/dps:personalized-offer:double-points?offer-type=personalized",
        [{"op": "replace", "path": "/status", "value": "draft"}],
    )
    body = request_body(scope("app-home", "app-card", 3), attributes={"loyalty": {"tier": "none"}})
    [prop] = post(demo, body).json()["xdm:propositions"]
    assert "xdm:options" not in prop
    fallback = prop["xdm:fallback"]
    assert fallback["xdm:id"] == "dps:fallback-offer:welcome"
    assert fallback["@type"] == SCHEMA + "content-component-json"
    assert json.loads(fallback["xdm:content"]) == {"title": "Welcome", "cta": "Explore"}


def test_explanations_are_attached_on_request(demo: Api) -> None:
    body = request_body(
        scope("homepage-and-email", "web-hero"), attributes={"loyalty": {"tier": "silver"}}
    )
    body["nextoffer:explain"] = True
    [prop] = post(demo, body).json()["xdm:propositions"]
    trace = prop["nextoffer:explanation"]
    reasons = {c["offer"]: c for c in trace["candidates"]}
    gold = reasons["dps:personalized-offer:gold-lounge"]
    assert gold["reason"] == "ineligible"
    assert gold["rule"]["id"] == "dps:eligibility-rule:gold-members"
    assert gold["rule"]["failed"] == 'loyalty.tier = "gold"'
    assert reasons["dps:personalized-offer:double-points"]["reason"] == "selected"


def test_version_0_9_requests_and_responses(demo: Api) -> None:
    body = example("decisioning.runtime-v0.9.request")
    body["xdm:offerActivities"] = [{"xdm:offerActivity": "dps:offer-activity:homepage-and-email"}]
    ctype = f'{XDM}; schema="{SCHEMA}decision-request;version=0.9"'
    r = demo.client.post(
        "/data/core/ode/container-1/decisions",
        content=json.dumps(body),
        headers={**demo.headers, "Content-Type": ctype},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert not list(swagger_validator("decision-response-v0.9").iter_errors(out))
    [prop] = out["xdm:propositions"]
    assert prop["xdm:offerActivity"] == "dps:offer-activity:homepage-and-email"
    assert prop["xdm:offers"] == ["dps:personalized-offer:double-points"]


def test_the_accept_header_chooses_the_response_version(demo: Api) -> None:
    accept = f'{XDM}; schema="{SCHEMA}decision-response;version=1.0"'
    r = post(demo, request_body(scope("app-home", "app-card")), Accept=accept)
    assert r.headers["content-type"] == accept
    r = post(
        demo,
        request_body(scope("app-home", "app-card")),
        Accept=f'{XDM}; schema="{SCHEMA}decision-response;version=0.9"',
    )
    assert "xdm:propositionID" in r.json()


@pytest.mark.parametrize(
    ("mutate", "status", "code", "pointer"),
    [
        (
            lambda b: b["xdm:propositionRequests"][0].update(
                {"xdm:activityId": "dps:offer-activity:nope"}
            ),
            422,
            "unknown-decision",
            "/xdm:propositionRequests/0/xdm:activityId",
        ),
        (
            lambda b: b["xdm:propositionRequests"][0].update(
                {"xdm:placementId": "dps:offer-placement:nope"}
            ),
            422,
            "unknown-placement",
            "/xdm:propositionRequests/0/xdm:placementId",
        ),
        (
            lambda b: b["xdm:propositionRequests"][0].update(
                {"xdm:placementId": "dps:offer-placement:app-card"}
            ),
            422,
            "placement-not-in-decision",
            "/xdm:propositionRequests/0/xdm:placementId",
        ),
        (
            lambda b: b["xdm:propositionRequests"][0].update({"xdm:itemCount": 31}),
            400,
            "invalid-body",
            "/xdm:propositionRequests/0/xdm:itemCount",
        ),
        (
            lambda b: b["xdm:propositionRequests"][0].update({"xdm:itemCount": 0}),
            400,
            "invalid-body",
            "/xdm:propositionRequests/0/xdm:itemCount",
        ),
        (
            lambda b: b.update({"xdm:propositionRequests": b["xdm:propositionRequests"] * 31}),
            400,
            "invalid-body",
            "/xdm:propositionRequests",
        ),
        (
            lambda b: b.update({"xdm:propositionRequests": []}),
            400,
            "invalid-body",
            "/xdm:propositionRequests",
        ),
        (
            lambda b: b["xdm:propositionRequests"][0].pop("xdm:placementId"),
            400,
            "invalid-body",
            "/xdm:propositionRequests/0/xdm:placementId",
        ),
        (lambda b: b.pop("xdm:profiles"), 400, "invalid-body", "/xdm:profiles"),
        (
            lambda b: b["xdm:profiles"][0]["xdm:identityMap"].update(
                {"Email": [{"primary": True}]}
            ),
            400,
            "invalid-body",
            "/xdm:profiles/0/xdm:identityMap/Email/0",
        ),
        (lambda b: b.update({"xdm:dryRun": "yes"}), 400, "invalid-body", "/xdm:dryRun"),
    ],
)
def test_bad_requests_are_problems_naming_the_field(
    demo: Api, mutate, status, code, pointer
) -> None:
    body = request_body(scope("homepage-and-email", "web-hero"))
    mutate(body)
    assert_problem(post(demo, body), status, code, pointer=pointer)


def test_a_decision_that_is_not_live_is_422(demo: Api) -> None:
    decision = "dps:offer-activity:app-home"
    demo.patch(
        f"/offer-decisions/{decision}", [{"op": "replace", "path": "/status", "value": "complete"}]
    )
    r = post(demo, request_body(scope("app-home", "app-card")))
    assert_problem(r, 422, "decision-not-live", pointer="/xdm:propositionRequests/0/xdm:activityId")


def test_library_changes_reach_the_next_decision(demo: Api) -> None:
    body = request_body(scope("homepage-and-email", "web-hero"))
    first = post(demo, body).json()["xdm:propositions"][0]["xdm:options"][0]["xdm:id"]
    demo.patch(
        f"/offers/{first}?offer-type=personalized",
        [{"op": "replace", "path": "/status", "value": "draft"}],
    )
    second = post(demo, body).json()["xdm:propositions"][0]["xdm:options"][0]["xdm:id"]
    assert second != first


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        (f'{XDM}; schema="{SCHEMA}decision-request;version=2.0"', 415),
        (f'{XDM}; schema="{SCHEMA}decision-request;version=1.0"', 200),
    ],
)
def test_media_types(demo: Api, content_type: str, status: int) -> None:
    r = demo.client.post(
        "/data/core/ods/decisions",
        content=json.dumps(request_body(scope("app-home", "app-card"))),
        headers={**demo.headers, "Content-Type": content_type},
    )
    assert r.status_code == status, r.text


def test_malformed_json_and_auth(demo: Api) -> None:
    r = demo.client.post(
        "/data/core/ods/decisions",
        content=b"{",
        headers={**demo.headers, "Content-Type": "application/json"},
    )
    assert_problem(r, 400, "malformed-json")
    headers = {**demo.headers, "Authorization": "Bearer nope"}
    assert_problem(post(demo, request_body(scope("app-home", "app-card")), **headers), 401)
    tenantless = {k: v for k, v in demo.headers.items() if k != "x-sandbox-name"}
    r = demo.client.post(
        "/data/core/ods/decisions",
        json=request_body(scope("app-home", "app-card")),
        headers=tenantless,
    )
    assert_problem(r, 400, "missing-tenant")


def test_a_tenant_without_a_library_gets_422_not_500(api: Api) -> None:
    problem = assert_problem(post(api, request_body(scope("x", "y"))), 422, "rule-violation")
    assert [e["code"] for e in problem["errors"]] == ["unknown-decision", "unknown-placement"]
