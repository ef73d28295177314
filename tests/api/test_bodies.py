"""Bulk routes take a JSON array as well as JSON Lines (client generators can send an array)."""

from __future__ import annotations

from tests.helpers import Api, assert_problem

JSON = {"Content-Type": "application/json"}
NOW = "2026-01-01T00:00:00Z"


def test_bulk_profiles_from_a_json_array(api: Api) -> None:
    people = [{"identityMap": {"email": [{"id": f"p{i}@example.com"}]}} for i in range(3)]
    r = api.request("POST", "/v1/profiles/bulk", json=people)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 3, "replaced": 0, "total": 3}
    assert api.get("/v1/profiles/email/p2@example.com").status_code == 200
    empty = api.request("POST", "/v1/profiles/bulk", json=[])
    assert empty.json() == {"created": 0, "replaced": 0, "total": 0}


def test_bulk_profiles_array_errors_name_the_item(api: Api) -> None:
    good = {"identityMap": {"email": [{"id": "fresh@example.com"}]}}
    bad = {"identityMap": {"email": [{"id": "x"}]}, "segments": {"s": 1}}
    body = assert_problem(
        api.request("POST", "/v1/profiles/bulk", json=[good, bad]),
        400,
        "invalid-profile",
        "/segments/s",
    )
    assert body["line"] == 2 and "line 2" in body["detail"]
    assert_problem(api.get("/v1/profiles/email/fresh@example.com"), 404)  # all or nothing
    assert_problem(api.request("POST", "/v1/profiles/bulk", json=good), 400, "invalid-body", "")
    broken = api.request("POST", "/v1/profiles/bulk", content=b"[{", headers=JSON)
    assert_problem(broken, 400, "malformed-json", "")


def test_events_from_a_json_array(api: Api) -> None:
    events = [
        {"xdm": {"eventType": "web.webpagedetails.pageViews", "timestamp": NOW}},
        {"eventType": "commerce.purchases", "timestamp": NOW},
    ]
    r = api.request("POST", "/v1/events?dryRun=true", json=events)
    assert r.status_code == 200, r.text
    assert r.json()["events"] == 2 and r.json()["dryRun"] is True


def test_events_array_errors_point_into_the_array(api: Api) -> None:
    events = [{"xdm": {"timestamp": NOW}}, {"xdm": {"timestamp": "yesterday"}}]
    body = assert_problem(
        api.request("POST", "/v1/events", json=events), 400, pointer="/1/xdm/timestamp"
    )
    assert body["line"] == 2
    assert_problem(api.request("POST", "/v1/events", json=[]), 400, "invalid-body", "")
    assert_problem(api.request("POST", "/v1/events", json={"xdm": {}}), 400, "invalid-body", "")
    assert_problem(
        api.request("POST", "/v1/events", content=b"{}", headers={"Content-Type": "text/csv"}),
        415,
    )
