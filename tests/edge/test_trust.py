"""The Edge's threat model (issue 15), through real HTTP: what an anonymous caller can and
cannot do with a datastream id alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.edge.conftest import ORIGIN
from tests.helpers import Api, assert_problem


def edge_call(
    edge: dict, action: str, events: list[dict], *, credentials: bool = False, **headers: str
) -> Any:
    """An Edge call as a page makes it (no credentials), or as a server does (`credentials`)."""
    api: Api = edge["api"]
    sent = {"Content-Type": "text/plain; charset=UTF-8", **headers}
    if credentials:
        sent.update(Authorization=f"Bearer {api.token}", **{"x-api-key": api.api_key})
    return api.client.post(
        f"/ee/v2/{action}?configId={edge['datastream']}",
        content=json.dumps({"events": events}).encode(),
        headers=sent,
    )


# -- one identity validation for the Edge and the profile API -----------------------------------


@pytest.mark.parametrize(
    ("identity_map", "pointer", "words"),
    [
        (
            {"ECID": [{"id": f"device-{i}"} for i in range(151)]},
            "/events/0/xdm/identityMap",
            "at most 100 identities",
        ),
        ({"n" * 200: [{"id": "x"}]}, "/events/0/xdm/identityMap/" + "n" * 200, "1 to 128"),
        ({"email": [{"id": "x" * 5000}]}, "/events/0/xdm/identityMap/email/0", "1 to 1024"),
        ({"email": []}, "/events/0/xdm/identityMap/email", "non-empty array"),
    ],
)
def test_the_edge_refuses_identities_the_profile_api_refuses(
    edge: dict, identity_map: dict, pointer: str, words: str
) -> None:
    for action in ("interact", "collect"):
        r = edge_call(edge, action, [{"xdm": {"eventType": "x", "identityMap": identity_map}}])
        body = assert_problem(r, 400, "invalid-body", pointer=pointer)
        assert words in json.dumps(body), body
    # the profile API applies the very same rules
    profile = {"identityMap": identity_map}
    r = edge["api"].put("/v1/profiles/crmid/1", profile)
    assert_problem(r, 400, pointer=pointer.removeprefix("/events/0/xdm"))


# -- allowedOrigins: not access control, never a credentialed wildcard --------------------------


def test_a_request_without_origin_is_served_as_a_server_side_call(edge: dict) -> None:
    r = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}])
    assert r.status_code == 204
    assert not [h for h in r.headers if h.startswith("access-control-")]


def test_a_wildcard_answers_star_without_credentials(edge: dict) -> None:
    api: Api = edge["api"]
    r = api.request(
        "PATCH", f"/v1/datastreams/{edge['datastream']}", json={"allowedOrigins": [ORIGIN, "*"]}
    )
    assert r.status_code == 200, r.text
    stranger = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}], Origin="https://x.test")
    assert stranger.status_code == 204
    assert stranger.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in stranger.headers
    listed = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}], Origin=ORIGIN)
    assert listed.headers["access-control-allow-origin"] == ORIGIN
    assert listed.headers["access-control-allow-credentials"] == "true"


def test_a_preflight_names_the_headers_the_edge_reads_not_an_echo(edge: dict) -> None:
    r = edge["api"].client.options(
        f"/ee/v2/interact?configId={edge['datastream']}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-evil, authorization",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert r.headers["access-control-allow-methods"] == "POST, OPTIONS"
