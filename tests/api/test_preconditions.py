"""If-Match and If-None-Match over HTTP: read once by `api.preconditions`, one comparison."""

from __future__ import annotations

import pytest

from tests.helpers import Api, assert_problem

RENAME = [{"op": "replace", "path": "/name", "value": "renamed"}]


def test_a_stale_if_match_is_412_quoting_the_header_and_the_current_etag(api: Api) -> None:
    tag = api.tag()
    assert api.patch(f"/tags/{tag}", RENAME).status_code == 200
    body = assert_problem(
        api.patch(f"/tags/{tag}", RENAME, headers={"If-Match": 'W/"1", "5"'}),
        412,
        "stale-etag",
        parameter="If-Match",
    )
    assert body["detail"] == (
        'If-Match W/"1", "5" does not match the current etag 2; '
        "read the object again and reapply your change"
    )
    assert body["current_etag"] == 2


@pytest.mark.parametrize("header", ["abc", '"02"', ""])
def test_a_malformed_if_match_matches_nothing_and_is_412(api: Api, header: str) -> None:
    tag = api.tag()
    r = api.patch(f"/tags/{tag}", RENAME, headers={"If-Match": header})
    body = assert_problem(r, 412, "stale-etag", parameter="If-Match")
    assert body["detail"].startswith(f"If-Match {header} does not match the current etag 1")


@pytest.mark.parametrize("header", ['"1"', "1", 'W/"1"', '"7", "1"', "*"])
def test_if_match_and_if_none_match_read_etags_alike(api: Api, header: str) -> None:
    tag = api.tag()
    assert api.get(f"/tags/{tag}", headers={"If-None-Match": header}).status_code == 304
    r = api.patch(f"/tags/{tag}", RENAME, headers={"If-Match": header})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'


def test_datastreams_and_profiles_take_the_same_if_match(api: Api) -> None:
    ds = api.post("/v1/datastreams", {"name": "site"}).json()
    stale = api.request(
        "PATCH", f"/v1/datastreams/{ds['id']}", json={"name": "x"}, headers={"If-Match": '"2"'}
    )
    assert assert_problem(stale, 412, parameter="If-Match")["detail"] == (
        'If-Match "2" does not match the current etag 1'
    )
    ok = api.request(
        "PATCH", f"/v1/datastreams/{ds['id']}", json={"name": "x"}, headers={"If-Match": 'W/"1"'}
    )
    assert ok.status_code == 200
    profile = {"identityMap": {"email": [{"id": "ada@example.com"}]}}
    assert api.put("/v1/profiles/email/ada@example.com", profile).status_code == 201
    r = api.delete("/v1/profiles/email/ada@example.com", headers={"If-Match": '"2", "3"'})
    assert assert_problem(r, 412, parameter="If-Match")["detail"] == (
        'If-Match "2", "3" does not match the current etag 1'
    )
    assert (
        api.delete("/v1/profiles/email/ada@example.com", headers={"If-Match": "*"}).status_code
        == 200
    )
