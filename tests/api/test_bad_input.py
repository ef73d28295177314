"""Hostile bodies, paths and fields are 4xx problems naming what is wrong, never a 500 (issue 15).

All through the real ASGI app, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from nextoffer.jsonlines import MAX_DEPTH
from tests.helpers import Api, assert_problem

ODS = "/data/core/ods/decisions"
JSON = {"Content-Type": "application/json"}
DEEP = 10_000
SCOPE = {"xdm:activityId": "dps:offer-activity:x", "xdm:placementId": "dps:offer-placement:y"}


def nested(levels: int, leaf: Any = 1) -> Any:
    """`{"a": {"a": ... leaf}}`, `levels` objects deep."""
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def deep_text(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def decision_body(attributes_json: str) -> bytes:
    return (
        '{"xdm:propositionRequests": [{"xdm:activityId": "dps:offer-activity:x", '
        '"xdm:placementId": "dps:offer-placement:y"}], "xdm:profiles": [{"xdm:identityMap": '
        '{"email": [{"xdm:id": "a@example.com"}]}, "xdm:attributes": ' + attributes_json + "}]}"
    ).encode()


def datastream(api: Api) -> str:
    return api.create("/v1/datastreams", {"name": "web", "allowedOrigins": ["https://a.example"]})


def assert_too_deep(r: Any) -> None:
    body = assert_problem(r, 400, "too-deep", pointer="")
    assert body["maxDepth"] == MAX_DEPTH and f"at most {MAX_DEPTH} levels" in body["detail"]


def test_ten_thousand_deep_json_is_a_400_on_the_decisioning_api_and_the_edge(api: Api) -> None:
    r = api.client.post(
        ODS, content=decision_body(deep_text(DEEP)), headers={**api.headers, **JSON}
    )
    assert_too_deep(r)
    arrays = b'{"xdm:propositionRequests": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    assert_too_deep(api.client.post(ODS, content=arrays, headers={**api.headers, **JSON}))
    config = datastream(api)
    edge = '{"events": [{"xdm": ' + deep_text(DEEP) + "}]}"
    r = api.client.post(
        f"/ee/v2/interact?configId={config}",
        content=edge,
        headers={"Content-Type": "text/plain"},
    )
    assert_too_deep(r)


def test_the_depth_limit_is_the_same_on_every_api(api: Api) -> None:
    """MAX_DEPTH counts the whole body: attributes one level short of it are stored and decide;
    300 deep (250 worked before, 300 was a 500) is a 400 naming the limit, everywhere."""
    ok = {"identityMap": {"email": [{"id": "deep@example.com"}]}, "attributes": nested(60)}
    assert api.request("PUT", "/v1/profiles/email/deep@example.com", json=ok).status_code == 201
    too_deep = {**ok, "attributes": nested(300)}
    assert_too_deep(api.request("PUT", "/v1/profiles/email/deep@example.com", json=too_deep))
    assert_too_deep(api.post("/v1/profiles", too_deep))
    line = (
        '{"identityMap": {"email": [{"id": "x@example.com"}]}, "attributes": '
        + deep_text(300)
        + "}\n"
    )
    r = api.request(
        "POST",
        "/v1/profiles/bulk",
        content='{"identityMap": {"email": [{"id": "y@example.com"}]}}\n' + line,
        headers={"Content-Type": "application/x-ndjson"},
    )
    body = assert_problem(r, 400, "too-deep")
    assert body["line"] == 2
    event = {"xdm": {"timestamp": "2026-01-01T00:00:00Z", "deep": nested(300)}}
    assert_too_deep(api.request("POST", "/v1/events", json=[event]))
    assert_too_deep(api.post("/tags", {"name": "t", "x": nested(300)}))
    r = api.client.post(ODS, content=decision_body(deep_text(300)), headers={**api.headers, **JSON})
    assert_too_deep(r)
    config = datastream(api)
    edge = '{"events": [{"xdm": ' + deep_text(300) + "}]}"
    assert_too_deep(api.client.post(f"/ee/v2/collect?configId={config}", content=edge))


COLLECTIONS = {
    "tags": "dps:tag:0123456789abcdef",
    "placements": "dps:offer-placement:0123456789abcdef",
    "eligibility-rules": "dps:eligibility-rule:0123456789abcdef",
    "ranking-formulas": "dps:ranking-function:0123456789abcdef",
    "offers?offer-type=personalized": "dps:personalized-offer:0123456789abcdef",
    "offers?offer-type=fallback": "dps:fallback-offer:0123456789abcdef",
    "offer-collections": "dps:offer-filter:0123456789abcdef",
    "offer-decisions": "dps:offer-activity:0123456789abcdef",
}


@pytest.mark.parametrize("op", [["replace"], {"op": "replace"}, 1, None, True])
def test_a_json_patch_op_that_is_not_a_string_is_a_400(api: Api, op: Any) -> None:
    ops = [{"op": op, "path": "/name", "value": "x"}]
    for collection, object_id in COLLECTIONS.items():
        segment, _, query = collection.partition("?")
        path = f"/{segment}/{object_id}" + (f"?{query}" if query else "")
        assert_problem(api.patch(path, ops), 400, "invalid-patch", pointer="/0/op")


def test_null_where_the_schema_wants_a_list_or_an_object(api: Api) -> None:
    r = api.post("/v1/datastreams", {"name": "web", "allowedOrigins": None})
    assert_problem(r, 400, "invalid-body", pointer="/allowedOrigins")
    r = api.post("/v1/datastreams", {"name": "web", "description": None})
    assert_problem(r, 400, "invalid-body", pointer="/description")
    config = datastream(api)
    r = api.request(
        "PATCH",
        f"/v1/datastreams/{config}",
        json={"allowedOrigins": None},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(r, 400, "invalid-body", pointer="/allowedOrigins")
    who = {"identityMap": {"email": [{"id": "n@example.com"}]}}
    for key in ("segments", "segmentMembership"):
        r = api.request("PUT", "/v1/profiles/email/n@example.com", json={**who, key: None})
        assert_problem(r, 400, "invalid-profile", pointer=f"/{key}")


def test_nul_in_a_profile_identity_in_the_url_is_a_400(api: Api) -> None:
    who = {"identityMap": {"email": [{"id": "a@example.com"}]}}
    for method, body in (("GET", None), ("PUT", who), ("DELETE", None)):
        r = api.request(method, "/v1/profiles/email/a%00b@example.com", json=body)
        assert_problem(r, 400, parameter="identity")


def test_a_final_newline_does_not_slip_past_a_pattern(api: Api) -> None:
    """Python's `$` matches before a final newline: every pattern is matched whole."""
    workload = {
        "xdm:segmentIds": ["aud"],
        "xdm:dataSetId": "abc\n",
        "xdm:propositionRequests": [SCOPE],
    }
    r = api.client.post("/data/core/dwm/workloads/decisions", json=workload, headers=api.headers)
    assert_problem(r, 400, "invalid-body", pointer="/xdm:dataSetId")
    r = api.post("/v1/datastreams", {"name": "web", "allowedOrigins": ["https://a.example\n"]})
    assert_problem(r, 400, "invalid-body", pointer="/allowedOrigins/0")
    r = api.post("/v1/profiles", {"identityMap": {"email\n": [{"id": "nl@example.com"}]}})
    assert_problem(r, 400, "invalid-profile", pointer="/identityMap/email\n")
    assert_problem(api.get("/v1/profiles/email%0A/nl@example.com"), 400, parameter="namespace")
    event = {"xdm": {"timestamp": "2026-01-01T00:00:00Z\n"}}
    assert_problem(api.request("POST", "/v1/events", json=[event]), 400)
    assert_problem(api.get("/tags/dps:tag:0123456789abcdef%0A"), 404, parameter="id")
    r = api.get("/tags", params={"property": "name==1\n"})
    assert r.status_code == 200, r.text
