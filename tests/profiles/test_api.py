"""`/v1/profiles` over real HTTP: upserts, merge patches, reads, deletes, bulk loads, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nextoffer.timeutil import format_utc
from tests.helpers import Api, assert_problem

RECENT = format_utc(datetime.now(UTC) - timedelta(hours=1))
"""An event time inside the store's window (today's clock: the server's)."""

ADA = {
    "identityMap": {"email": [{"id": "ada@example.com"}], "ecid": [{"id": "E1"}]},
    "attributes": {"loyalty": {"tier": "gold"}, "homeAddress": {"countryCode": "US"}},
    "segmentMembership": {"ups": {"frequent-flyers": {"status": "realized"}}},
    "events": [{"eventType": "web.pageView", "timestamp": RECENT}],
}
MERGE = {"Content-Type": "application/merge-patch+json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def jsonl(*docs: object) -> bytes:
    return b"".join(json.dumps(d).encode() + b"\n" for d in docs)


def test_put_creates_then_replaces_and_get_reads_through_any_identity(api: Api) -> None:
    r = api.put("/v1/profiles/email/ada@example.com", ADA)
    assert r.status_code == 201, r.text
    assert (
        r.headers["ETag"] == '"1"' and r.headers["Location"] == "/v1/profiles/email/ada@example.com"
    )
    created = r.json()
    assert created["identityMap"] == ADA["identityMap"]
    assert created["segmentMembership"] == {"ups": {"frequent-flyers": {"status": "realized"}}}
    assert created["events"][0]["timestamp"] == RECENT
    got = api.get("/v1/profiles/ECID/E1")
    assert got.status_code == 200 and got.json() == created and got.headers["ETag"] == '"1"'
    r = api.put("/v1/profiles/ecid/E1", {"attributes": {"x": 1}, "segments": {"a": "exited"}})
    assert r.status_code == 200, r.text
    replaced = r.json()
    assert replaced["profileId"] == created["profileId"] and replaced["etag"] == 2
    assert replaced["identityMap"] == {"ecid": [{"id": "E1"}]}
    assert replaced["segmentMembership"] == {"ups": {"a": {"status": "exited"}}}
    assert_problem(api.get("/v1/profiles/email/ada@example.com"), 404, "no-profile")


def test_post_upserts_by_the_identity_map(api: Api) -> None:
    r = api.post("/v1/profiles", ADA)
    assert r.status_code == 201, r.text
    again = api.post("/v1/profiles", {**ADA, "attributes": {"v": 2}})
    assert again.status_code == 200 and again.json()["profileId"] == r.json()["profileId"]
    assert_problem(
        api.post("/v1/profiles", {"attributes": {}}), 400, "invalid-profile", "/identityMap"
    )


def test_identities_with_slashes_are_addressable(api: Api) -> None:
    r = api.put("/v1/profiles/crm/acct/42", {})
    assert r.status_code == 201, r.text
    assert r.json()["identityMap"] == {"crm": [{"id": "acct/42"}]}
    assert api.get("/v1/profiles/crm/acct/42").status_code == 200


def test_identities_with_line_breaks_are_addressable(api: Api) -> None:
    """`:path` stops at a line break; the identity route takes the whole rest of the path."""
    r = api.put("/v1/profiles/crm/a%0Ab", {"identityMap": {}})
    assert r.status_code == 201 and r.headers["Location"] == "/v1/profiles/crm/a%0Ab"
    assert r.json()["identityMap"] == {"crm": [{"id": "a\nb"}]}
    assert api.get("/v1/profiles/crm/a%0Ab").json()["etag"] == 1
    assert api.delete("/v1/profiles/crm/a%0Ab").status_code == 200


def test_merge_patch(api: Api) -> None:
    r = api.patch(
        "/v1/profiles/email/new@example.com", {"attributes": {"a": {"b": 1, "c": 2}}}, headers=MERGE
    )
    assert r.status_code == 201, r.text
    r = api.patch(
        "/v1/profiles/email/new@example.com",
        {"attributes": {"a": {"c": None}}, "segments": {"s": "realized"}},
        headers={**MERGE, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["attributes"] == {"a": {"b": 1}} and body["etag"] == 2
    assert body["segmentMembership"] == {"ups": {"s": {"status": "realized"}}}
    # application/json is read as a merge patch too; a JSON Patch is not
    assert api.patch("/v1/profiles/email/new@example.com", {"attributes": None}).status_code == 200
    assert_problem(
        api.patch(
            "/v1/profiles/email/new@example.com",
            [{"op": "add", "path": "/x", "value": 1}],
            headers={"Content-Type": "application/json-patch+json"},
        ),
        415,
        parameter="Content-Type",
    )
    assert_problem(
        api.patch("/v1/profiles/email/new@example.com", [1], headers=MERGE), 400, "invalid-patch"
    )
    assert_problem(
        api.patch(
            "/v1/profiles/email/new@example.com", {"segments": {"s": "maybe"}}, headers=MERGE
        ),
        400,
        "invalid-profile",
        "/segmentMembership/ups/s/status",
    )
    assert_problem(
        api.patch("/v1/profiles/email/new@example.com", {}, headers={**MERGE, "If-Match": '"1"'}),
        412,
        parameter="If-Match",
    )


def test_delete(api: Api) -> None:
    api.put("/v1/profiles/email/ada@example.com", ADA)
    assert_problem(api.delete("/v1/profiles/ecid/E1", headers={"If-Match": '"9"'}), 412)
    r = api.delete("/v1/profiles/ecid/E1")
    assert r.status_code == 200 and r.content == b""
    assert_problem(api.delete("/v1/profiles/ecid/E1"), 404, "no-profile", parameter="identity")
    assert_problem(api.get("/v1/profiles/email/ada@example.com"), 404)


def test_identity_conflicts_are_409_and_change_nothing(api: Api) -> None:
    api.put("/v1/profiles/email/a", {})
    api.put("/v1/profiles/email/b", {"attributes": {"keep": True}})
    r = api.put("/v1/profiles/email/a", {"identityMap": {"email": [{"id": "b"}]}})
    body = assert_problem(r, 409, "identity-conflict", "/identityMap/email")
    assert "email:b" in body["errors"][0]["message"]
    assert api.get("/v1/profiles/email/b").json()["attributes"] == {"keep": True}
    assert api.get("/v1/profiles/email/a").json()["identityMap"] == {"email": [{"id": "a"}]}


def test_validation_errors_name_the_field(api: Api) -> None:
    bad = {"identityMap": {"email": [{"id": 3}]}, "events": [{"eventType": "x"}], "extra": 1}
    body = assert_problem(api.put("/v1/profiles/email/a", bad), 400, "invalid-profile")
    assert {e["pointer"] for e in body["errors"]} == {
        "/identityMap/email/0",
        "/events/0/timestamp",
        "/extra",
    }
    assert_problem(api.put("/v1/profiles/email/a", [1]), 400, pointer="")
    assert_problem(api.put("/v1/profiles/bad%20ns/a", {}), 400, parameter="namespace")
    assert_problem(api.get("/v1/profiles/email/" + "x" * 1025), 400, parameter="identity")
    assert_problem(
        api.request(
            "PUT",
            "/v1/profiles/email/a",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "malformed-json",
    )
    assert_problem(
        api.request(
            "PUT", "/v1/profiles/email/a", content=b"x", headers={"Content-Type": "text/plain"}
        ),
        415,
    )


def test_tenancy_and_auth_apply(api: Api) -> None:
    api.put("/v1/profiles/email/a", {})
    assert_problem(api.other_sandbox("dev").get("/v1/profiles/email/a"), 404)
    assert_problem(
        api.get("/v1/profiles/email/a", headers={"x-sandbox-name": None}), 400, "missing-tenant"
    )
    assert_problem(api.get("/v1/profiles/email/a", headers={"Authorization": None}), 401)
    limited = Api(api.client, api.org, "prod", "limited-token", "limited-key")
    assert_problem(limited.get("/v1/profiles/email/a"), 403)


def test_bulk_load(api: Api) -> None:
    lines = jsonl(ADA, {"identityMap": {"email": [{"id": "b"}]}}, {**ADA, "attributes": {"v": 2}})
    for path in ("/v1/profiles/bulk", "/v1/profiles:bulk"):
        r = api.request("POST", path, content=lines, headers=NDJSON)
        assert r.status_code == 200, r.text
    assert r.json() == {"created": 0, "replaced": 3, "total": 3}
    assert api.get("/v1/profiles/email/ada@example.com").json()["attributes"] == {"v": 2}


def test_bulk_load_is_all_or_nothing_and_names_the_line(api: Api) -> None:
    good = {"identityMap": {"email": [{"id": "fresh"}]}}
    r = api.request("POST", "/v1/profiles/bulk", content=jsonl(good) + b"\n{oops\n", headers=NDJSON)
    body = assert_problem(r, 400, "malformed-json")
    assert body["line"] == 3 and body["errors"][0]["line"] == 3 and "line 3" in body["detail"]
    bad = jsonl(good, {"identityMap": {"email": [{"id": "x"}]}, "segments": {"s": 1}})
    body = assert_problem(
        api.request("POST", "/v1/profiles/bulk", content=bad, headers=NDJSON),
        400,
        "invalid-profile",
        "/segments/s",
    )
    assert body["line"] == 2
    conflict = jsonl(good, {"identityMap": {"email": [{"id": "fresh"}], "ecid": [{"id": "1"}]}})
    api.put("/v1/profiles/ecid/1", {})
    body = assert_problem(
        api.request("POST", "/v1/profiles/bulk", content=conflict, headers=NDJSON),
        409,
        "identity-conflict",
    )
    assert body["line"] == 2
    assert_problem(api.get("/v1/profiles/email/fresh"), 404)
    assert_problem(  # application/json is taken as a JSON array of profiles: one line is not
        api.request(
            "POST",
            "/v1/profiles/bulk",
            content=jsonl(good),
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid-body",
        "",
    )
    assert_problem(
        api.request(
            "POST", "/v1/profiles/bulk", content=jsonl(good), headers={"Content-Type": "text/csv"}
        ),
        415,
    )
    empty = api.request("POST", "/v1/profiles/bulk", content=b"", headers=NDJSON)
    assert empty.json() == {"created": 0, "replaced": 0, "total": 0}


def test_bulk_load_size_limit(make_api) -> None:
    small = make_api(max_bulk_bytes=100)
    r = small.request("POST", "/v1/profiles/bulk", content=jsonl(ADA, ADA), headers=NDJSON)
    assert_problem(r, 413, "too-large")
    assert_problem(small.get("/v1/profiles/email/ada@example.com"), 404)


def test_a_bulk_line_holding_a_nul_character_is_refused_by_line(api: Api) -> None:
    """PostgreSQL keeps no NUL in text: the fuzz suite's NUL in a bulk line was a 500 there."""
    good = {"identityMap": {"email": [{"id": "nul-first"}]}}
    nul = {"identityMap": {"email": [{"id": "nul-second"}]}, "attributes": {"a": "x\u0000y"}}
    body = assert_problem(
        api.request("POST", "/v1/profiles/bulk", content=jsonl(good, nul), headers=NDJSON),
        400,
        "malformed-json",
    )
    assert body["line"] == 2 and "NUL" in body["detail"]
    assert_problem(api.get("/v1/profiles/email/nul-first"), 404)
